import type { Logger } from 'pino';
import type { AudioSource, Call } from '../../telephony/call.js';
import type { Business } from '../../business/index.js';
import type { StoredContext } from '../../business/context/service.js';
import type { Tts, Vad } from '../../speech/types.js';
import { speech } from '../../speech/speak.js';
import { retrying } from '../../util/retry.js';
import type { CallRecorder } from '../voice/call-recorder.js';

/**
 * What every call verb (transfer, voicemail, message, recording consent) works on: the call, who
 * it is for, and how to say a line on it. The voice session and the keypad menu each build one, so
 * both get the same verbs; how a line is said (and whether a key press cuts it short) is theirs.
 */

export interface CallLegDeps {
  business: Business;
  tts: Tts;
  newVad: () => Vad;
  dataDir: string;
  logger?: Logger | undefined;
  /** Speech to text for voicemail, when a recognizer is installed. */
  transcribe?: ((pcm: Int16Array, sampleRate: number) => Promise<string>) | undefined;
}

export interface CallLeg extends CallLegDeps {
  call: Call;
  callId: string;
  context: StoredContext;
  customerId: string | null;
  /**
   * Says a line and resolves once it has played. `interruptible` false: nothing cuts it short; a
   * runtime that lets a key interrupt (the keypad menu's transfer key) may throw to abandon the verb.
   */
  say(text: string, interruptible?: boolean): Promise<void>;
  /** Our own recording of the call, where the backend does not record: the agent's side goes in too. */
  recorder?: CallRecorder | undefined;
}

export type LegEventKind = 'state' | 'dtmf' | 'transfer' | 'error' | 'note';

/** Writes a step to the call's events; retried, then logged, never thrown. */
export function legEvent(leg: Pick<CallLeg, 'business' | 'callId' | 'logger'>, kind: LegEventKind, text: string, data?: unknown): Promise<void> {
  return retrying(() => leg.business.calls.event(leg.callId, kind, { role: 'system', text, ...(data !== undefined ? { data } : {}) }))
    .then(() => undefined, (err: unknown) => leg.logger?.warn({ err, callId: leg.callId, kind }, 'call event not saved'));
}

/** What the caller hears, also into our recording when we record. */
export function recorded(src: AudioSource, rec: CallRecorder | undefined): AudioSource {
  if (!rec) return src;
  if (src instanceof Int16Array) {
    rec.addAgent(src);
    return src;
  }
  return (async function* () {
    for await (const c of src) {
      rec.addAgent(c);
      yield c;
    }
  })();
}

/** The plain way to say a line: synthesized, played whole, noted on the call. */
export async function playLine(leg: CallLeg, text: string, onPlaying?: (h: { cancel(): void } | undefined) => void): Promise<void> {
  const h = leg.call.play(recorded(speech(leg.tts, text, leg.call.sampleRate), leg.recorder));
  onPlaying?.(h);
  await h.done;
  onPlaying?.(undefined);
  await legEvent(leg, 'note', `agent: ${text}`);
}
