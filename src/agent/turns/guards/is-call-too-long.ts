import type { TurnMemory } from '../types.js';
import type { TurnOptions } from '../options.js';

/** The call has gone on past its limit (counted from the greeting; a call not yet started has no age). */
export function isCallTooLong(m: TurnMemory, o: TurnOptions, at: number): boolean {
  return m.state !== 'idle' && at - m.startedAt >= o.maxCallMs && m.state !== 'ended' && m.state !== 'transferring';
}
