import type { AudioFrame } from './call.js';
import { mediaClock, type ClockListener, type MediaClock } from './rtp/clock.js';

/**
 * The `Call.audioIn` contract, the same on every backend: one frame per 20 ms of wall clock while
 * the call is up. Phones and PBXs stop sending while the caller is quiet (DTX, silence suppression,
 * Asterisk between talkspurts); without frames the VAD never sees the pause and a question followed
 * by no RTP is never answered. So each Call passes the far end's frames through an AudioIn, which
 * tracks how much wall-clock time the delivered audio covers and synthesises silent frames once the
 * far end is more than `jitterMs` behind. Driven by the process-wide MediaClock: no timer per call.
 */

export const audioInDefaults = {
  /** Length of a synthesised silent frame, ms. */
  frameMs: 20,
  /** How far real audio may lag wall clock (network jitter, reorder window) before silence fills in, ms. */
  jitterMs: 60,
  /** At most this many silent frames per tick after an event-loop stall (no burst of silence). */
  maxCatchUpFrames: 5,
} as const satisfies Record<string, number>;

export class AudioIn implements ClockListener {
  /** Wall-clock time (performance.now) up to which audio has been delivered. */
  private covered = 0;
  private running = false;
  private readonly silent: AudioFrame;
  private readonly frameMs: number;
  private readonly jitterMs: number;
  /** Frames synthesised so far (the call's quality record can show how much was silence). */
  synthesised = 0;

  constructor(
    private readonly deliver: (f: AudioFrame) => void,
    readonly sampleRate: number,
    private readonly clock: MediaClock = mediaClock,
    opts: { frameMs?: number; jitterMs?: number } = {},
  ) {
    this.frameMs = opts.frameMs ?? audioInDefaults.frameMs;
    this.jitterMs = opts.jitterMs ?? audioInDefaults.jitterMs;
    this.silent = { pcm: new Int16Array((sampleRate * this.frameMs) / 1000), sampleRate };
  }

  /** The call is up: from now on a frame goes out every `frameMs`. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.covered = performance.now();
    this.clock.add(this);
  }

  /** A frame from the far end: passed on as is. */
  push(f: AudioFrame): void {
    if (this.running) {
      const floor = performance.now() - this.jitterMs;
      if (this.covered < floor) this.covered = floor;
      this.covered += (f.pcm.length * 1000) / f.sampleRate;
    }
    this.deliver(f);
  }

  onTick(now: number): void {
    if (!this.running) return;
    let n = 0;
    while (now - this.covered >= this.jitterMs + this.frameMs && n < audioInDefaults.maxCatchUpFrames) {
      // A listener may have written into the last frame it got: hand out zeros every time.
      this.silent.pcm.fill(0);
      this.covered += this.frameMs;
      this.synthesised++;
      n++;
      this.deliver(this.silent);
      if (!this.running) return;
    }
    // After a long stall, resume the cadence from now rather than owe a backlog.
    if (now - this.covered > this.jitterMs + audioInDefaults.maxCatchUpFrames * this.frameMs) this.covered = now - this.jitterMs;
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.clock.remove(this);
  }
}
