import type { AudioFrame, Call } from './call.js';

/**
 * Joins two answered calls so their people hear each other (click-to-call: the owner's leg and the
 * customer's), on any backend, through the one Call interface: each side's audio in is played to
 * the other, keys too. Used by click-to-call and by ring-first (the owner picked up while the caller
 * rang). Hand-written: no library joins two of our Calls; a PBX bridge would tie it to one backend.
 */

/** At most this much audio waits for the far leg (a leg that stalls loses its oldest audio, not the call's timing). */
export const BRIDGE_MAX_QUEUED_MS = 200;

/** A stream of PCM fed by 'audio' events and read by play(); bounded, ends when closed. */
class FramePipe implements AsyncIterable<Int16Array> {
  private readonly queue: Int16Array[] = [];
  private waiting: ((r: IteratorResult<Int16Array>) => void) | undefined;
  private closed = false;
  private queuedSamples = 0;

  constructor(private readonly maxSamples: number) {}

  push(pcm: Int16Array): void {
    if (this.closed) return;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ value: pcm, done: false });
      return;
    }
    this.queue.push(pcm);
    this.queuedSamples += pcm.length;
    while (this.queuedSamples > this.maxSamples && this.queue.length > 1) this.queuedSamples -= this.queue.shift()!.length;
  }

  close(): void {
    this.closed = true;
    this.waiting?.({ value: undefined, done: true });
    this.waiting = undefined;
  }

  [Symbol.asyncIterator](): AsyncIterator<Int16Array> {
    return {
      next: () => {
        const v = this.queue.shift();
        if (v) {
          this.queuedSamples -= v.length;
          return Promise.resolve({ value: v, done: false });
        }
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((r) => (this.waiting = r));
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

/** A frame at `to` Hz: copied (the Call reuses its buffer), linearly resampled when the rates differ. */
function convert(f: AudioFrame, to: number): Int16Array {
  if (f.sampleRate === to) return f.pcm.slice();
  const n = Math.round((f.pcm.length * to) / f.sampleRate);
  const out = new Int16Array(n);
  const step = f.sampleRate / to;
  for (let i = 0; i < n; i++) {
    const x = i * step;
    const j = Math.floor(x);
    const a = f.pcm[j] ?? 0;
    const b = f.pcm[Math.min(j + 1, f.pcm.length - 1)] ?? a;
    out[i] = Math.round(a + (b - a) * (x - j));
  }
  return out;
}

export interface Bridge {
  /** Resolves with who ended it ('a' or 'b') once either call ends; the other is hung up. */
  readonly done: Promise<'a' | 'b'>;
}

/** Joins `a` and `b` (both answered). When either ends, the other is hung up with `reason`. */
export function bridge(a: Call, b: Call, reason = 'bridge_ended'): Bridge {
  const toB = new FramePipe((b.sampleRate * BRIDGE_MAX_QUEUED_MS) / 1000);
  const toA = new FramePipe((a.sampleRate * BRIDGE_MAX_QUEUED_MS) / 1000);
  const fromA = (f: AudioFrame) => toB.push(convert(f, b.sampleRate));
  const fromB = (f: AudioFrame) => toA.push(convert(f, a.sampleRate));
  // Keys pressed on one phone reach the other (a voicemail PIN, an IVR on the far side).
  const keysToB = (d: string) => void b.sendDtmf(d).catch(() => {});
  const keysToA = (d: string) => void a.sendDtmf(d).catch(() => {});
  a.on('audio', fromA);
  b.on('audio', fromB);
  a.on('dtmf', keysToB);
  b.on('dtmf', keysToA);
  const playA = a.play(toA);
  const playB = b.play(toB);
  let finish!: (who: 'a' | 'b') => void;
  const done = new Promise<'a' | 'b'>((r) => (finish = r));
  let over = false;
  const stop = (who: 'a' | 'b') => {
    if (over) return;
    over = true;
    a.off('audio', fromA);
    b.off('audio', fromB);
    a.off('dtmf', keysToB);
    b.off('dtmf', keysToA);
    toA.close();
    toB.close();
    playA.cancel();
    playB.cancel();
    a.off('ended', endA);
    b.off('ended', endB);
    const other = who === 'a' ? b : a;
    if (other.state !== 'ended') void other.hangup(reason).catch(() => {});
    finish(who);
  };
  const endA = () => stop('a');
  const endB = () => stop('b');
  a.once('ended', endA);
  b.once('ended', endB);
  if (a.state === 'ended') stop('a');
  else if (b.state === 'ended') stop('b');
  return { done };
}
