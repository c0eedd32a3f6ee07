/** The turn-taking machine's states, events and effects. The machine is pure: effects are commands. */

export type TurnState = 'idle' | 'greeting' | 'listening' | 'user_speaking' | 'endpointing' | 'thinking' | 'speaking' | 'transferring' | 'ended';

export type TurnEvent =
  | { type: 'start'; at: number }
  | { type: 'vad_start'; at: number }
  | { type: 'vad_end'; at: number }
  | { type: 'stt_partial'; at: number; text: string }
  | { type: 'stt_final'; at: number; text: string }
  | { type: 'reply'; at: number; text: string; then?: 'transfer' | 'end' }
  /** `text`: what was said (a streamed reply's words are known only now); `heardText`: what the caller heard of it before a cut. */
  | { type: 'playback_done'; at: number; completed: boolean; heardMs: number; text?: string; heardText?: string }
  | { type: 'dtmf'; at: number; digit: string }
  /** A whole turn keyed rather than spoken (the owner's PIN): taken at once, cutting off any reply. */
  | { type: 'keyed'; at: number; text: string }
  | { type: 'tick'; at: number }
  /** The end-of-turn model's verdict on the speech that ended at `speechEndedAt`. */
  | { type: 'turn_verdict'; at: number; speechEndedAt: number; complete: boolean; probability: number }
  | { type: 'hangup'; at: number };

export type Effect =
  | { type: 'play'; text: string; kind: 'greeting' | 'reply' | 'reprompt' | 'goodbye' | 'resume' }
  | { type: 'stop_playback' }
  | { type: 'abort_reply' }
  | { type: 'think'; text: string }
  /** Ask the end-of-turn model about the speech that ended at `speechEndedAt`. */
  | { type: 'check_turn'; speechEndedAt: number }
  | { type: 'transfer' }
  | { type: 'hangup'; reason: string }
  | { type: 'log'; event: string; data?: Record<string, unknown> };

/** What the machine remembers between events. */
export interface TurnMemory {
  state: TurnState;
  startedAt: number;
  /** When the caller went quiet (listening) or the agent finished talking. */
  idleSince: number;
  reprompts: number;
  /** Caller speech that started while the agent was talking, not yet a barge-in. */
  interruptionSince: number | undefined;
  /** A barge-in happened at this time and has produced no words yet. */
  bargedInAt: number | undefined;
  /** The rest of the reply that was cut off, from the sentence the caller stopped hearing in, for a false-interruption resume. */
  interruptedReply: string | undefined;
  speechEndedAt: number | undefined;
  /** The end-of-turn model's verdict on the current pause (semantic.enabled only). */
  verdict: 'pending' | 'complete' | 'incomplete' | undefined;
  partial: string;
  /** Speech over the agent was let pass (too short, too few words): its transcript, when it comes, is not a turn. */
  ignoredInterruption: boolean;
  /** What the agent is saying now, and what to do when it is done. */
  speaking: { text: string; then: 'transfer' | 'end' | undefined } | undefined;
}
