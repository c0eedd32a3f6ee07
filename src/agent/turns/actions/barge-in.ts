import type { Effect, TurnMemory } from '../types.js';

/** The caller took the turn: stop talking now and drop the reply being prepared. */
export function bargeIn(m: TurnMemory, at: number): Effect[] {
  m.interruptedReply = m.speaking?.text;
  m.speaking = undefined;
  m.bargedInAt = at;
  m.interruptionSince = undefined;
  m.partial = '';
  m.state = 'user_speaking';
  return [{ type: 'stop_playback' }, { type: 'abort_reply' }, { type: 'log', event: 'barge_in' }];
}
