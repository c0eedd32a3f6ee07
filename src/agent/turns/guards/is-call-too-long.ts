import type { TurnMemory } from '../types.js';
import type { TurnOptions } from '../options.js';

export function isCallTooLong(m: TurnMemory, o: TurnOptions, at: number): boolean {
  return at - m.startedAt >= o.maxCallMs && m.state !== 'ended' && m.state !== 'transferring';
}
