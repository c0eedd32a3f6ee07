import type { TurnMemory } from '../types.js';
import type { TurnOptions } from '../options.js';

/** Nobody has said anything since the agent stopped talking for the reprompt interval. */
export function isIdleTooLong(m: TurnMemory, o: TurnOptions, at: number): boolean {
  return m.state === 'listening' && at - m.idleSince >= o.idle.repromptMs;
}
