import type { AudioFrame, Call } from './call.js';

/**
 * Two answered calls talking to each other through us (the owner picked up during the ring phase):
 * each side's audio in is queued as the other's audio out, keys are passed on, and when either
 * hangs up the other is hung up too. Works on any backend's Call; resolves with the first end reason.
 */
export function bridge(a: Call, b: Call): Promise<string> {
  if (a.sampleRate !== b.sampleRate) throw new Error(`cannot bridge ${a.sampleRate} Hz with ${b.sampleRate} Hz`);
  const ab = new FramePipe();
  const ba = new FramePipe();
  const toB = (f: AudioFrame) => ab.push(f.pcm);
  const toA = (f: AudioFrame) => ba.push(f.pcm);
  const keysToB = (d: string) => void b.sendDtmf(d).catch(() => {});
  const keysToA = (d: string) => void a.sendDtmf(d).catch(() => {});
  a.on('audio', toB);
  b.on('audio', toA);
  a.on('dtmf', keysToB);
  b.on('dtmf', keysToA);
  b.play(ab);
  a.play(ba);
  return new Promise<string>((resolve) => {
    let done = false;
    const end = (other: Call) => (reason: string) => {
      if (done) return;
      done = true;
      ab.close();
      ba.close();
      a.off('audio', toB);
      b.off('audio', toA);
      a.off('dtmf', keysToB);
      b.off('dtmf', keysToA);
      void other.hangup(reason === 'remote_hangup' ? 'bridged_hangup' : reason).catch(() => {});
      resolve(reason);
    };
    if (a.state === 'ended' || b.state === 'ended') {
      end(a.state === 'ended' ? b : a)('ended');
      return;
    }
    a.once('ended', end(b));
    b.once('ended', end(a));
  });
}

/**
 * One direction of a bridge: frames copied into a small ring of reused buffers and handed to the
 * other call's play() as a stream. A backlog past `maxQueued` frames is dropped rather than let the
 * delay grow (the far side's clock runs slightly slower than ours).
 */
class FramePipe implements AsyncIterable<Int16Array> {
  // The reader (a Playback) holds at most ~1 s of audio (50 frames) plus this queue.
  private readonly pool: (Int16Array | undefined)[] = new Array(64);
  private next = 0;
  private readonly queue: Int16Array[] = [];
  private wake: (() => void) | undefined;
  private closed = false;
  private static readonly maxQueued = 10;

  push(pcm: Int16Array): void {
    if (this.closed || this.queue.length >= FramePipe.maxQueued) return;
    let buf = this.pool[this.next];
    if (!buf || buf.length !== pcm.length) buf = this.pool[this.next] = new Int16Array(pcm.length);
    buf.set(pcm);
    this.next = (this.next + 1) % this.pool.length;
    this.queue.push(buf);
    this.wakeUp();
  }

  close(): void {
    this.closed = true;
    this.wakeUp();
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Int16Array> {
    while (!this.closed) {
      const f = this.queue.shift();
      if (f) yield f;
      else await new Promise<void>((r) => (this.wake = r));
    }
  }
}
