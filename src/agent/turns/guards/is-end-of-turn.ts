import type { TurnMemory } from '../types.js';
import type { TurnOptions } from '../options.js';

/** The caller has stopped long enough, and either the transcript is final or we waited the maximum. */
export function endpointingExpired(m: TurnMemory, o: TurnOptions, at: number): boolean {
  return m.state === 'endpointing' && m.speechEndedAt !== undefined && at - m.speechEndedAt >= o.maxEndpointingDelayMs;
}

export function minDelayPassed(m: TurnMemory, o: TurnOptions, at: number): boolean {
  return m.speechEndedAt !== undefined && at - m.speechEndedAt >= o.minEndpointingDelayMs;
}
