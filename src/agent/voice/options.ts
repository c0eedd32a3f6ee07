import type { Logger } from 'pino';
import type { Call } from '../../telephony/call.js';
import type { Business } from '../../business/index.js';
import type { StoredContext } from '../../business/context/service.js';
import type { Customer } from '../../store/schema.js';
import type { Llm, Stt, TurnDetector, Tts, Vad } from '../../speech/types.js';
import type { TurnOptionsInput } from '../turns/options.js';
import type { GuidedState } from '../guided/engine.js';
import type { DialogueOptions } from '../guided/options.js';
import type { TurnLatency } from './latency.js';
import type { KeypadOptions } from './keypad-entry.js';

/** What a voice session is given (engines, the business, option groups) and its own defaults. */

export interface VoiceDeps {
  business: Business;
  /** Each answered turn's latency, as recorded on the call (the metrics' reply-time histogram). */
  onTurnLatency?: ((l: TurnLatency) => void) | undefined;
  tts: Tts;
  stt: Stt;
  newVad: () => Vad;
  dataDir: string;
  logger?: Logger | undefined;
  turn?: TurnOptionsInput;
  now?: () => number;
  transcribe?: ((pcm: Int16Array, sampleRate: number) => Promise<string>) | undefined;
  /** A local LLM for open questions; without one the guided-flow engine answers everything. */
  llm?: Llm | undefined;
  llmMaxTokens?: number;
  /** The LLM reads transactional turns for the guided flow (FRONTDESK_LLM_UNDERSTANDS; default true). */
  llmUnderstands?: boolean;
  /** Give up on the LLM's first token after this long and answer from the guided flow, ms. */
  llmFirstTokenMs?: number;
  /** A semantic end-of-turn model (Smart Turn); without one the endpointing delays decide. */
  turnDetector?: TurnDetector | undefined;
  /** How unsure hearings are handled (confidence thresholds, no-match escalation). */
  dialogue?: Partial<DialogueOptions>;
  /** How numbers keyed on the keypad are collected (the pause that ends one). */
  keypad?: Partial<KeypadOptions>;
}

export interface VoiceInput {
  call: Call;
  callId: string;
  context: StoredContext;
  /** What the agent says first: the context's greeting, or an outbound call's opening line. */
  greeting: string;
  /** Where the conversation starts (an outbound reminder waits for "is that still good?"). */
  initialState?: GuidedState;
  customer: Customer | undefined;
}

export const voiceDefaults = {
  /** How often the machine's timers are checked, ms. */
  tickMs: 50,
  /** Pause between answering and the greeting, so media has settled at both ends, ms. */
  greetingDelayMs: 400,
} as const satisfies Record<string, number>;
