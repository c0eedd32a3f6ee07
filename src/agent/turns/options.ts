/** Turn-taking options, with their units in the names; defaults tuned for telephone conversation. */
export interface TurnOptions {
  /**
   * Wait at least this long after the caller stops before answering (lets "uh, and…" continue).
   * The Silero VAD already needs 300 ms of silence to decide, so the caller hears ~500 ms of pause.
   */
  minEndpointingDelayMs: number;
  /** Answer with what we have if the final transcript takes longer than this. */
  maxEndpointingDelayMs: number;
  /** Caller speech over the agent must last this long to count as barge-in (a cough does not). */
  bargeInMinSpeechMs: number;
  /**
   * And its partial transcript must hold at least this many words (livekit's `interruption.minWords`):
   * "mm-hm" or "okay" over the agent does not stop it. 0: the speech's length alone decides, for a
   * recognizer whose partials come late on a busy machine would otherwise let nobody interrupt.
   */
  interruptionMinWords: number;
  /** A barge-in that yields no words within this time was not one: resume the interrupted reply. */
  falseInterruptionTimeoutMs: number;
  /** Silence before the agent prompts again. */
  idleRepromptMs: number;
  /** Prompts before the agent gives up on silence. */
  maxIdleReprompts: number;
  /** Then: say goodbye and hang up, or hand the caller to the owner (their voicemail when nobody answers). */
  afterIdleReprompts: 'goodbye' | 'transfer';
  /** Longest call, greeting to goodbye. */
  maxCallMs: number;
  /** DTMF digit that transfers to the owner at any time. */
  transferDigit: string;
  /**
   * Ask a semantic end-of-turn model (Smart Turn) at each end of speech: "complete" answers as
   * soon as the words are in, "incomplete" ("I'd like to book, um…") waits longer. Off without a model.
   */
  semanticTurn: boolean;
  /** After the model says the caller is not done, answer anyway once they have been quiet this long. */
  incompleteTurnDelayMs: number;
  /** Wait at most this long after the end of speech for the model's verdict, then use the delays above. */
  turnVerdictTimeoutMs: number;
}

export const turnDefaults = {
  minEndpointingDelayMs: 200,
  maxEndpointingDelayMs: 2_500,
  bargeInMinSpeechMs: 350,
  interruptionMinWords: 0,
  falseInterruptionTimeoutMs: 1_500,
  idleRepromptMs: 8_000,
  maxIdleReprompts: 2,
  afterIdleReprompts: 'goodbye',
  maxCallMs: 15 * 60_000,
  transferDigit: '0',
  semanticTurn: false,
  incompleteTurnDelayMs: 2_000,
  turnVerdictTimeoutMs: 600,
} as const satisfies TurnOptions;
