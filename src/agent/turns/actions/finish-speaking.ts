import type { Effect, TurnMemory } from '../types.js';

/** The agent's audio is done: carry out what was to follow it, or listen. */
export function finishSpeaking(m: TurnMemory, at: number): Effect[] {
  const then = m.speaking?.then;
  m.speaking = undefined;
  if (then === 'transfer') {
    m.state = 'transferring';
    return [{ type: 'transfer' }];
  }
  if (then === 'end') {
    m.state = 'ended';
    return [{ type: 'hangup', reason: 'agent_goodbye' }];
  }
  m.state = 'listening';
  m.idleSince = at;
  return [];
}
