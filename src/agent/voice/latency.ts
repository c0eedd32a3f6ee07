import type { SpeakTimes } from './speaker.js';

/**
 * One turn's latency, stage by stage: the caller stops (VAD decision) → final transcript → reply
 * ready (the brain's first token) → first synthesized audio → first packet out.
 */
export interface TurnLatency {
  sttMs: number;
  thinkMs: number;
  ttsMs: number;
  sendMs: number;
  /** VAD decision → first packet out. */
  totalMs: number;
}

export class TurnTimer {
  private endAt: number | undefined;
  private sttMs = 0;
  private finalAt: number | undefined;
  private replyAt: number | undefined;

  speechEnded(at: number): void {
    this.endAt = at;
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
      sttMs: this.sttMs,
      thinkMs: replyAt - Math.max(finalAt, endAt),
      // A reply rendered during the endpointing pause has its audio before the turn is taken.
      ttsMs: Math.max(0, t.firstAudioAt - replyAt),
      sendMs: t.firstPacketAt - Math.max(t.firstAudioAt, replyAt),
      totalMs: t.firstPacketAt - endAt,
    };
  }
}
