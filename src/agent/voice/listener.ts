import { concatPcm } from '../../speech/audio.js';
import type { Stt, SttStream, SttStreamOptions, Vad } from '../../speech/types.js';

/**
 * The ear of a call: every 20 ms frame goes through the VAD; while the caller speaks, frames (and
 * the pre-roll the VAD needed to decide) stream into the recognizer, so the transcript is ready
 * moments after they stop. Allocation-free per frame apart from the recognizer's own buffers.
 */

export const listenerDefaults = {
  /** Audio kept from before the VAD fired, so the first syllable reaches the recognizer, ms. */
  preRollMs: 400,
  /** The caller's latest audio kept for the end-of-turn model (Smart Turn reads 8 s), ms. */
  historyMs: 8_000,
  /**
   * A frame is the caller's voice (for when their speech ended) above this RMS and within
   * `voicedBelowPeak` of the utterance's loudest frame (0.1: 20 dB); quieter is line noise.
   */
  voicedFloorRms: 200,
  voicedBelowPeak: 0.1,
} as const satisfies Record<string, number>;

export type HeardEvent =
  | { type: 'vad_start'; at: number }
  /**
   * `at`: when the VAD decided (after its hang-over, and a worker's round trip); `speechEndedAt`:
   * when the caller's last voiced frame arrived, the start of the wait they hear on the wire.
   */
  | { type: 'vad_end'; at: number; speechEndedAt: number }
  | { type: 'stt_partial'; at: number; text: string }
  | { type: 'stt_final'; at: number; text: string; sttMs: number; confidence?: number | undefined; nbest?: string[] | undefined; audio?: Int16Array | undefined };

export class Listener {
  private ring: Int16Array;
  private ringPos = 0;
  private ringFill = 0;
  private stream: SttStream | undefined;
  private lastPartial = '';
  private closed = false;
  /** The caller's last `historyMs`, for the end-of-turn model (only when one is asked). */
  private readonly history: Int16Array | undefined;
  private historyPos = 0;
  private historyFill = 0;
  /** What the agent asked last: the recognizer expects its answers. */
  private question: SttStreamOptions['question'];
  /** The caller's audio of each utterance, while kept (an address, a name): frames copied, joined at the end. */
  private keeping = false;
  private kept: Int16Array[] = [];
  /**
   * The loudest frame since the last end of speech (RMS), and when the last voiced one arrived:
   * kept whatever the VAD says, whose decisions may come back from its worker well after the frames.
   */
  private peakRms = 0;
  private lastVoicedAt: number | undefined;

  constructor(
    private readonly vad: Vad,
    private readonly stt: Stt | undefined,
    private readonly hints: readonly string[],
    private readonly sampleRate: number,
    private readonly emit: (e: HeardEvent) => void,
    private readonly now: () => number = Date.now,
    preRollMs: number = listenerDefaults.preRollMs,
    keepHistory = false,
  ) {
    this.ring = new Int16Array(Math.round((sampleRate * preRollMs) / 1000));
    if (keepHistory) this.history = new Int16Array(Math.round((sampleRate * listenerDefaults.historyMs) / 1000));
  }

  /** The question the next utterances answer (undefined: anything). */
  expect(question: SttStreamOptions['question']): void {
    this.question = question;
  }

  /** Keep the caller's own audio of the next utterances (handed over with each final transcript). */
  keepAudio(on: boolean): void {
    this.keeping = on;
  }

  /** A copy of the caller's latest audio, oldest first (up to `historyMs`). */
  recent(): Int16Array {
    const h = this.history;
    if (!h) return new Int16Array(0);
    const out = new Int16Array(this.historyFill);
    const from = (this.historyPos - this.historyFill + h.length) % h.length;
    const first = Math.min(this.historyFill, h.length - from);
    out.set(h.subarray(from, from + first));
    out.set(h.subarray(0, this.historyFill - first), first);
    return out;
  }

  /** One frame of caller audio (the buffer may be reused by the caller after this returns). */
  accept(pcm: Int16Array): void {
    if (this.closed) return;
    if (this.history) {
      const h = this.history;
      for (let i = 0; i < pcm.length; i++) {
        h[this.historyPos] = pcm[i]!;
        this.historyPos = this.historyPos + 1 === h.length ? 0 : this.historyPos + 1;
      }
      this.historyFill = Math.min(h.length, this.historyFill + pcm.length);
    }
    let energy = 0;
    for (let i = 0; i < pcm.length; i++) energy += pcm[i]! * pcm[i]!;
    const rms = Math.sqrt(energy / Math.max(1, pcm.length));
    if (rms > this.peakRms) this.peakRms = rms;
    if (rms >= listenerDefaults.voicedFloorRms && rms >= this.peakRms * listenerDefaults.voicedBelowPeak) this.lastVoicedAt = this.now();
    const events = this.vad.accept(pcm, this.sampleRate);
    if (this.stream) {
      this.stream.accept(pcm, this.sampleRate);
      if (this.keeping) this.kept.push(pcm.slice());
    } else this.remember(pcm);
    for (const e of events) {
      if (e.type === 'speech_start') this.start();
      else this.end(e.silenceMs ?? 0);
    }
    if (this.stream) {
      const p = this.stream.partial();
      if (p && p !== this.lastPartial) {
        this.lastPartial = p;
        this.emit({ type: 'stt_partial', at: this.now(), text: p });
      }
    }
  }

  private remember(pcm: Int16Array): void {
    const n = this.ring.length;
    for (let i = 0; i < pcm.length; i++) {
      this.ring[this.ringPos] = pcm[i]!;
      this.ringPos = (this.ringPos + 1) % n;
    }
    this.ringFill = Math.min(n, this.ringFill + pcm.length);
  }

  private start(): void {
    this.emit({ type: 'vad_start', at: this.now() });
    if (!this.stt) return;
    this.stream = this.stt.stream(this.hints, this.question ? { question: this.question } : {});
    this.lastPartial = '';
    this.kept = [];
    const n = this.ring.length;
    const from = (this.ringPos - this.ringFill + n) % n;
    // Oldest first: the tail of the ring, then its head.
    const pre = from + this.ringFill <= n ? [this.ring.slice(from, from + this.ringFill)] : [this.ring.slice(from), this.ring.slice(0, this.ringPos)];
    for (const p of pre) {
      this.stream.accept(p, this.sampleRate);
      if (this.keeping) this.kept.push(p);
    }
    this.ringFill = 0;
  }

  private end(silenceMs: number): void {
    const endAt = this.now();
    // The caller stopped at their last voiced frame, never later than the VAD's own reckoning (its
    // decision less the silence it waited for); the VAD's speech probability lingers after the
    // voice, and a worker's answer comes a little after the frame that decided it.
    const byVad = endAt - silenceMs;
    const speechEndedAt = this.lastVoicedAt !== undefined ? Math.min(byVad, this.lastVoicedAt) : byVad;
    this.peakRms = 0;
    this.lastVoicedAt = undefined;
    this.emit({ type: 'vad_end', at: endAt, speechEndedAt });
    const s = this.stream;
    this.stream = undefined;
    if (!s) return;
    const kept = this.keeping && this.kept.length ? this.kept : undefined;
    this.kept = [];
    s.finish().then(
      (h) => {
        if (this.closed) return;
        const audio = kept ? concatPcm(kept) : undefined;
        this.emit({ type: 'stt_final', at: this.now(), text: h.text, sttMs: this.now() - endAt, confidence: h.confidence, nbest: h.nbest, audio });
      },
      () => {
        if (!this.closed) this.emit({ type: 'stt_final', at: this.now(), text: '', sttMs: this.now() - endAt });
      },
    );
  }

  close(): void {
    this.closed = true;
    this.stream?.close();
    this.stream = undefined;
  }
}
