/**
 * How the guided dialogue treats an imperfect hearing. Confidences are the recognizer's, 0..1
 * (SttHypothesis.confidence); a text or a key press is taken as said.
 */
export interface DialogueOptions {
  /** At or above this recognizer confidence, act on what was heard. */
  actAtConfidence: number;
  /** From this confidence up to actAtConfidence, confirm what was heard first ("Did you say Thursday at 10 AM?"); below, it was not heard. */
  confirmAtConfidence: number;
  /** Turns in a row not understood before the keypad choices are offered (the first miss gets a narrower question). */
  keypadAfterMisses: number;
  /** Turns in a row not understood before the caller is put through to the owner or to a message. */
  handOffAfterMisses: number;
}

// Measured with pocketsphinx on the telephone model: words heard right score 0.9-1.0, a time
// misheard by one word ~0.67, audio of other words altogether 0.41-0.47.
export const dialogueDefaults = {
  actAtConfidence: 0.75,
  confirmAtConfidence: 0.5,
  keypadAfterMisses: 2,
  handOffAfterMisses: 3,
} as const satisfies DialogueOptions;

/** What the recognizer made of a turn, or the key the caller pressed instead of speaking. */
export interface Hearing {
  confidence?: number | undefined;
  /** Other readings, best first. */
  nbest?: readonly string[] | undefined;
  /** A keypad digit (DTMF) pressed instead of speaking. */
  keyed?: string | undefined;
  /** Where the caller's own audio of this turn was saved (kept for addresses and names). */
  audio?: string | undefined;
}

/** Sure enough to act on without confirming (a text or a key press always is). */
export function heardSurely(h: Hearing | undefined, o: Pick<DialogueOptions, 'actAtConfidence'> = dialogueDefaults): boolean {
  return h?.keyed === undefined && (h?.confidence === undefined || h.confidence >= o.actAtConfidence);
}
