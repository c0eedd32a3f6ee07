import type { TurnMemory } from '../types.js';
import type { TurnOptions } from '../options.js';

/** The caller has stopped long enough, and either the transcript is final or we waited the maximum. */
export function endpointingExpired(m: TurnMemory, o: TurnOptions, at: number): boolean {
  return m.state === 'endpointing' && m.speechEndedAt !== undefined && at - m.speechEndedAt >= o.endpointing.maxDelayMs;
}

/**
 * The pause is long enough to answer once the words are in: at once when the end-of-turn model
 * said "complete"; after `semantic.incompleteDelayMs` when it said "incomplete"; while its verdict is
 * pending, not before `semantic.verdictTimeoutMs`; without a model, after `endpointing.minDelayMs`.
 */
export function minDelayPassed(m: TurnMemory, o: TurnOptions, at: number): boolean {
  if (m.speechEndedAt === undefined) return false;
  const quiet = at - m.speechEndedAt;
  switch (m.verdict) {
    case 'complete':
      return true;
    case 'incomplete':
      return quiet >= Math.max(o.endpointing.minDelayMs, o.semantic.incompleteDelayMs);
    case 'pending':
      return quiet >= Math.max(o.endpointing.minDelayMs, o.semantic.verdictTimeoutMs);
    default:
      return quiet >= o.endpointing.minDelayMs;
  }
}
