import type { TurnMemory } from '../types.js';
import type { TurnOptions } from '../options.js';

/** A barge-in stopped the agent but brought no words: the caller was not really taking the turn. */
export function isFalseInterruption(m: TurnMemory, o: TurnOptions, at: number): boolean {
  return m.bargedInAt !== undefined && !m.partial && m.state !== 'thinking' && at - m.bargedInAt >= o.falseInterruptionTimeoutMs
    && m.interruptedReply !== undefined;
}
