import type { Call } from '../../src/telephony/call.js';
import { FliteTts } from '../../src/speech/tts/flite.js';
import { concat, rms } from './audio.js';

/**
 * The far end of a test call: it listens to what the agent says (turn by turn, split on silence)
 * and speaks synthesized sentences in real time through its own RTP stream.
 */
export class TestCaller {
  private frames: Int16Array[] = [];
  private loudAt = -1;
  private quietFrames = 0;
  private waiter: { resolve: (pcm: Int16Array) => void; quietFrames: number } | undefined;
  /**
   * Every frame received, in order, with whether it carried speech, dated by the call's own audio
   * (`at`: ms of audio received through this frame), so a busy test process does not move it.
   */
  readonly timeline: { at: number; loud: boolean }[] = [];
  private heard = 0;
  private readonly voice = new FliteTts();

  constructor(readonly call: Call, private readonly threshold = 250) {
    call.on('audio', (f) => {
      const loud = rms(f.pcm) > this.threshold;
      this.heard += (f.pcm.length / f.sampleRate) * 1000;
      this.timeline.push({ at: this.heard, loud });
      this.frames.push(Int16Array.from(f.pcm));
      if (loud) {
        if (this.loudAt < 0) this.loudAt = this.frames.length - 1;
        this.quietFrames = 0;
      } else this.quietFrames++;
      const w = this.waiter;
      if (w && this.loudAt >= 0 && this.quietFrames >= w.quietFrames) {
        this.waiter = undefined;
        const turn = concat(this.frames.slice(this.loudAt));
        this.frames = [];
        this.loudAt = -1;
        w.resolve(turn);
      }
    });
  }

  /** Forgets what was heard so far (the next turn starts after this). */
  reset(): void {
    this.frames = [];
    this.loudAt = -1;
    this.quietFrames = 0;
  }

  /** Resolves with the agent's next turn: speech followed by `silenceMs` of quiet. */
  nextTurn(silenceMs = 900, timeoutMs = 20_000): Promise<Int16Array> {
    this.frames = this.loudAt >= 0 ? this.frames.slice(this.loudAt) : [];
    this.loudAt = this.loudAt >= 0 ? 0 : -1;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`the agent said nothing within ${timeoutMs} ms`)), timeoutMs);
      this.waiter = { resolve: (pcm) => (clearTimeout(t), resolve(pcm)), quietFrames: Math.ceil(silenceMs / 20) };
    });
  }

  /** Resolves when the agent starts talking. */
  agentStartsTalking(timeoutMs = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAudio = (f: { pcm: Int16Array }) => {
        if (rms(f.pcm) <= this.threshold) return;
        clearTimeout(t);
        this.call.off('audio', onAudio);
        resolve();
      };
      const t = setTimeout(() => {
        this.call.off('audio', onAudio);
        reject(new Error('the agent never started talking'));
      }, timeoutMs);
      this.call.on('audio', onAudio);
    });
  }

  /** Ms of the call's audio received so far: the clock `timeline` is dated by. */
  get heardMs(): number {
    return this.heard;
  }

  /** Resolves once `ms` more of the call's audio has reached the caller (packets, not wall time). */
  hear(ms: number, timeoutMs = 20_000): Promise<void> {
    let left = ms;
    return new Promise((resolve, reject) => {
      const onAudio = (f: { pcm: Int16Array; sampleRate: number }) => {
        left -= (f.pcm.length / f.sampleRate) * 1000;
        if (left > 0) return;
        clearTimeout(t);
        this.call.off('audio', onAudio);
        resolve();
      };
      const t = setTimeout(() => {
        this.call.off('audio', onAudio);
        reject(new Error(`the call carried less than ${ms} ms of audio within ${timeoutMs} ms`));
      }, timeoutMs);
      this.call.on('audio', onAudio);
    });
  }

  async synthesize(text: string): Promise<Int16Array> {
    const parts: Int16Array[] = [];
    for await (const c of this.voice.synthesize(text)) parts.push(c.pcm);
    return concat(parts);
  }

  /** Says `text` in real time; resolves when the last packet is sent. */
  async say(text: string): Promise<void> {
    await this.call.play(await this.synthesize(text)).done;
  }
}
