import type { TimeSource } from '../../src/telephony/rtp/clock.js';

/** A time source the test moves by hand: a timer fires only when the test says the process woke. */
export class FakeTime implements TimeSource {
  t = 1000;
  private pending: { fn: () => void; id: number; ms: number } | undefined;
  private ids = 0;
  readonly delays: number[] = [];

  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    this.pending = { fn, id: ++this.ids, ms };
    this.delays.push(ms);
    return this.pending.id;
  }
  clearTimeout(handle: unknown): void {
    if (this.pending?.id === handle) this.pending = undefined;
  }
  get armed(): boolean {
    return this.pending !== undefined;
  }
  /** The process wakes `lateMs` after the timer was due (an event loop busy elsewhere). */
  fire(lateMs = 0): void {
    const p = this.pending;
    if (!p) throw new Error('no timer armed');
    this.pending = undefined;
    this.t += p.ms + lateMs;
    p.fn();
  }
}
