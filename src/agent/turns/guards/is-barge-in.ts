import type { TurnMemory } from '../types.js';
import type { TurnOptions } from '../options.js';

/** Caller speech over the agent has lasted long enough to be an interruption, not a cough. */
export function isBargeIn(m: TurnMemory, o: TurnOptions, at: number): boolean {
  return m.interruptionSince !== undefined && at - m.interruptionSince >= o.bargeInMinSpeechMs;
}
