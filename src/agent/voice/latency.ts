import type { SpeakTimes } from './speaker.js';

/**
 * One turn's latency, stage by stage: the caller stops (their last voiced frame) → the VAD decides
 * → final transcript → reply ready (the brain's first token) → first synthesized audio → first
 * packet out.
 */
export interface TurnLatency {
  /** The caller's last voiced frame → the VAD's decision: its hang-over, as it was this turn. */
  vadHangoverMs: number;
  sttMs: number;
  thinkMs: number;
  ttsMs: number;
  sendMs: number;
  /** VAD decision → first packet out. */
  totalMs: number;
  /**
   * The caller's last voiced frame → the first frame of the agent's voice out (after the
   * synthesizer's leading silence): the silence the caller waits on the wire.
   */
  fromSpeechEndMs: number;
}

export class TurnTimer {
  private endAt: number | undefined;
  private heardEndAt = 0;
  private sttMs = 0;
  private finalAt: number | undefined;
  private replyAt: number | undefined;

  /** The VAD decided at `at` that the caller had stopped, at `heardEndAt` (their last voiced frame). */
  speechEnded(at: number, heardEndAt = at): void {
    this.endAt = at;
    this.heardEndAt = Math.min(at, heardEndAt);
    this.finalAt = undefined;
    this.replyAt = undefined;
  }

  final(at: number, sttMs: number): void {
    this.finalAt = at;
    this.sttMs = sttMs;
  }

  replied(at: number): void {
    this.replyAt = at;
  }

  /** The reply reached the wire: the turn's breakdown (once per caller turn). */
  spoken(t: SpeakTimes): TurnLatency | undefined {
    const { endAt, finalAt, replyAt } = this;
    if (endAt === undefined || finalAt === undefined || replyAt === undefined || t.firstAudioAt === undefined || t.firstPacketAt === undefined) return undefined;
    this.endAt = undefined;
    return {
      vadHangoverMs: endAt - this.heardEndAt,
      sttMs: this.sttMs,
      thinkMs: replyAt - Math.max(finalAt, endAt),
      // A reply rendered during the endpointing pause has its audio before the turn is taken.
      ttsMs: Math.max(0, t.firstAudioAt - replyAt),
      sendMs: t.firstPacketAt - Math.max(t.firstAudioAt, replyAt),
      totalMs: t.firstPacketAt - endAt,
      fromSpeechEndMs: (t.firstVoiceAt ?? t.firstPacketAt) - this.heardEndAt,
    };
  }
}
