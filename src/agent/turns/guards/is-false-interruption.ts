import type { TurnMemory } from '../types.js';
import type { TurnOptions } from '../options.js';

/**
 * A barge-in stopped the agent but brought no words: the caller was not really taking the turn.
 * Never while they are still talking: a long sentence is not a false interruption just because
 * the recognizer has not produced a word yet.
 */
export function isFalseInterruption(m: TurnMemory, o: TurnOptions, at: number): boolean {
  if (m.bargedInAt === undefined || m.partial || m.interruptedReply === undefined) return false;
  if (m.state !== 'listening' && m.state !== 'endpointing') return false;
  // Counted from when they went quiet: the transcript of a long sentence arrives after it ends.
  return at - Math.max(m.bargedInAt, m.speechEndedAt ?? 0) >= o.interruption.falseInterruptionTimeoutMs;
}
