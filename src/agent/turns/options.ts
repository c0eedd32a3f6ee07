/**
 * Turn-taking options in groups (as livekit agents-js `voice/turn_config/*`), units in the names;
 * defaults tuned for telephone conversation, each group's in one place.
 */

/** When the caller has finished speaking. */
export interface EndpointingOptions {
  /**
   * Wait at least this long after the caller stops before answering (lets "uh, and…" continue), ms.
   * The Silero VAD already needs 300 ms of silence to decide, so the caller hears ~500 ms of pause.
   */
  minDelayMs: number;
  /** Answer with what we have if the final transcript takes longer than this, ms. */
  maxDelayMs: number;
}

export const endpointingDefaults = {
  minDelayMs: 200,
  maxDelayMs: 2_500,
} as const satisfies EndpointingOptions;

/** When caller speech over the agent stops it. */
export interface InterruptionOptions {
  /** Caller speech over the agent must last this long to count as barge-in (a cough does not), ms. */
  minSpeechMs: number;
  /**
   * And its partial transcript must hold at least this many words (livekit's `interruption.minWords`):
   * "mm-hm" or "okay" over the agent does not stop it. 0: the speech's length alone decides, for a
   * recognizer whose partials come late on a busy machine would otherwise let nobody interrupt.
   */
  minWords: number;
  /** A barge-in that yields no words within this time was not one: resume the interrupted reply, ms. */
  falseInterruptionTimeoutMs: number;
}

export const interruptionDefaults = {
  minSpeechMs: 350,
  minWords: 0,
  falseInterruptionTimeoutMs: 1_500,
} as const satisfies InterruptionOptions;

/** What the agent does while the caller says nothing. */
export interface IdleOptions {
  /** Silence before the agent prompts again, ms. */
  repromptMs: number;
  /** Prompts before the agent gives up on silence. */
  maxReprompts: number;
  /** Then: say goodbye and hang up, or hand the caller to the owner (their voicemail when nobody answers). */
  after: 'goodbye' | 'transfer';
}

export const idleDefaults = {
  repromptMs: 8_000,
  maxReprompts: 2,
  after: 'goodbye',
} as const satisfies IdleOptions;

/**
 * A semantic end-of-turn model (Smart Turn) asked at each end of speech: "complete" answers as soon
 * as the words are in, "incomplete" ("I'd like to book, um…") waits longer.
 */
export interface SemanticTurnOptions {
  /** Ask the model; off without one. */
  enabled: boolean;
  /** After the model says the caller is not done, answer anyway once they have been quiet this long, ms. */
  incompleteDelayMs: number;
  /** Wait at most this long after the end of speech for the model's verdict, then use the endpointing delays, ms. */
  verdictTimeoutMs: number;
}

export const semanticTurnDefaults = {
  enabled: false,
  incompleteDelayMs: 2_000,
  verdictTimeoutMs: 600,
} as const satisfies SemanticTurnOptions;

export interface TurnOptions {
  endpointing: EndpointingOptions;
  interruption: InterruptionOptions;
  idle: IdleOptions;
  semantic: SemanticTurnOptions;
  /** Longest call, greeting to goodbye, ms. */
  maxCallMs: number;
  /** DTMF digit that transfers to the owner at any time. */
  transferDigit: string;
}

export const turnDefaults = {
  endpointing: endpointingDefaults,
  interruption: interruptionDefaults,
  idle: idleDefaults,
  semantic: semanticTurnDefaults,
  maxCallMs: 15 * 60_000,
  transferDigit: '0',
} as const satisfies TurnOptions;

/** What a caller of the machine may set: any group in part. */
export interface TurnOptionsInput {
  endpointing?: Partial<EndpointingOptions>;
  interruption?: Partial<InterruptionOptions>;
  idle?: Partial<IdleOptions>;
  semantic?: Partial<SemanticTurnOptions>;
  maxCallMs?: number;
  transferDigit?: string;
}

/** The defaults with each layer over them in turn, group by group (a later layer wins). */
export function resolveTurnOptions(...layers: (TurnOptionsInput | undefined)[]): TurnOptions {
  const o: TurnOptions = {
    endpointing: { ...turnDefaults.endpointing },
    interruption: { ...turnDefaults.interruption },
    idle: { ...turnDefaults.idle },
    semantic: { ...turnDefaults.semantic },
    maxCallMs: turnDefaults.maxCallMs,
    transferDigit: turnDefaults.transferDigit,
  };
  for (const l of layers) {
    if (!l) continue;
    Object.assign(o.endpointing, l.endpointing);
    Object.assign(o.interruption, l.interruption);
    Object.assign(o.idle, l.idle);
    Object.assign(o.semantic, l.semantic);
    if (l.maxCallMs !== undefined) o.maxCallMs = l.maxCallMs;
    if (l.transferDigit !== undefined) o.transferDigit = l.transferDigit;
  }
  return o;
}
