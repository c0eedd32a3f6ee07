import type { AudioSource, PlaybackHandle, PlaybackResult } from './call.js';

/**
 * Playback on our own playout clock (built-in SIP and Asterisk externalMedia RTP, the console's
 * browser test call): items queue in order, each pulled from its source at most about a second
 * ahead of the wire (a cancelled reply is never synthesised in full), and the sender takes
 * exactly one frame's samples per tick, so a cancel is heard at the next frame. When the far side
 * owns the clock instead, see remote-playout.ts.
 */

class Item implements PlaybackHandle {
  readonly done: Promise<PlaybackResult>;
  private resolveDone!: (r: PlaybackResult) => void;
  private chunks: Int16Array[] = [];
  private pos = 0;
  private buffered = 0;
  private ended = false;
  private played = 0;
  private wake: (() => void) | undefined;
  cancelled = false;
  finished = false;

  constructor(source: AudioSource, private readonly rate: number) {
    this.done = new Promise((r) => (this.resolveDone = r));
    if (source instanceof Int16Array) {
      this.push(source);
      this.ended = true;
    } else void this.pull(source);
  }

  private push(c: Int16Array): void {
    if (c.length === 0) return;
    this.chunks.push(c);
    this.buffered += c.length;
  }

  private async pull(source: AsyncIterable<Int16Array>): Promise<void> {
    try {
      for await (const c of source) {
        if (this.cancelled || this.finished) break;
        this.push(c);
        while (this.buffered > this.rate && !this.cancelled && !this.finished) await new Promise<void>((r) => (this.wake = r));
      }
    } catch {
      // A failing source (TTS error) ends this item; the agent hears of it on its own path.
    }
    this.ended = true;
  }

  /** Copies up to n samples into dst at offset; returns how many were available. */
  take(dst: Int16Array, offset: number, n: number): number {
    let got = 0;
    while (got < n && this.chunks.length) {
      const c = this.chunks[0]!;
      const k = Math.min(n - got, c.length - this.pos);
      dst.set(c.subarray(this.pos, this.pos + k), offset + got);
      got += k;
      this.pos += k;
      if (this.pos >= c.length) {
        this.chunks.shift();
        this.pos = 0;
      }
    }
    this.buffered -= got;
    this.played += got;
    if (this.wake && this.buffered <= this.rate / 2) {
      const w = this.wake;
      this.wake = undefined;
      w();
    }
    return got;
  }

  get drained(): boolean {
    return this.ended && this.chunks.length === 0;
  }

  playedMs(): number {
    return Math.round((this.played / this.rate) * 1000);
  }

  cancel(): void {
    this.cancelled = true;
  }

  finish(completed: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.chunks = [];
    this.wake?.();
    this.resolveDone({ completed, playedMs: this.playedMs() });
  }
}

export class PlayoutQueue {
  private readonly items: Item[] = [];
  private closed = false;

  constructor(private readonly rate: number) {}

  play(source: AudioSource): PlaybackHandle {
    const item = new Item(source, this.rate);
    if (this.closed) item.finish(false);
    else this.items.push(item);
    return item;
  }

  /** Barge-in: every queued item is cancelled; they leave at the next dropCancelled(). */
  stop(): void {
    for (const p of this.items) p.cancel();
  }

  /** Ends cancelled items at the head of the queue; true if there were any (a cut to make heard). */
  dropCancelled(): boolean {
    let dropped = false;
    while (this.items.length && this.items[0]!.cancelled) {
      this.items.shift()!.finish(false);
      dropped = true;
    }
    return dropped;
  }

  /** Fills dst[0, n) from the queue in order; returns the samples written (0: nothing to play). */
  fill(dst: Int16Array, n: number): number {
    let got = 0;
    while (got < n && this.items.length) {
      const p = this.items[0]!;
      got += p.take(dst, got, n - got);
      if (p.drained) {
        this.items.shift();
        p.finish(true);
      } else if (got < n) break; // underrun: the source is still producing
    }
    return got;
  }

  /** The call ended: everything queued ends unplayed, and so does anything played later. */
  close(): void {
    this.closed = true;
    for (const p of this.items.splice(0)) p.finish(false);
  }
}
