/**
 * The playout clock for every RTP session in the process: one drift-free timer (deadlines are
 * start + n × tick, never "now + tick") that wakes each sending session. One timer for all calls
 * keeps 200 calls at 100 wake-ups a second instead of 10,000.
 */

export interface ClockListener {
  /** Called each tick with the monotonic time in ms. */
  onTick(nowMs: number): void;
  /** onTick threw: the listener has been removed from the clock; it should end its own call. */
  onFault?(err: unknown): void;
}

/** Where the clock reads the time and sets its wake-ups: real by default, a fake in tests. */
export interface TimeSource {
  /** Monotonic milliseconds. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTime: TimeSource = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class MediaClock {
  private readonly listeners = new Set<ClockListener>();
  private timer: unknown;
  private start = 0;
  private n = 0;

  constructor(
    readonly tickMs = 10,
    private readonly time: TimeSource = realTime,
  ) {}

  add(l: ClockListener): void {
    this.listeners.add(l);
    if (this.timer === undefined) {
      this.start = this.time.now();
      this.n = 0;
      this.schedule();
    }
  }

  /** The time on this clock's source (monotonic ms): what sessions compare tick times with. */
  now(): number {
    return this.time.now();
  }

  /** When the next tick fires: sessions put their deadlines on the tick grid so none waits a whole tick. */
  nextTickAt(): number {
    if (this.timer === undefined) return this.time.now();
    return this.start + this.n * this.tickMs;
  }

  remove(l: ClockListener): void {
    this.listeners.delete(l);
    if (this.listeners.size === 0 && this.timer !== undefined) {
      this.time.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private schedule(): void {
    this.n++;
    const due = this.start + this.n * this.tickMs;
    this.timer = this.time.setTimeout(this.tick, Math.max(0, due - this.time.now()));
  }

  private readonly tick = (): void => {
    const now = this.time.now();
    for (const l of this.listeners) {
      // One session's fault ends that session, never the clock every other call is paced by.
      try {
        l.onTick(now);
      } catch (err) {
        this.listeners.delete(l);
        try {
          l.onFault?.(err);
        } catch {
          // nothing more can be done for that listener
        }
      }
    }
    if (this.listeners.size > 0) this.schedule();
    else this.timer = undefined;
  };
}

/** The process-wide clock. */
export const mediaClock = new MediaClock();
