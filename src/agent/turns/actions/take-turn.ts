import type { Effect, TurnMemory } from '../types.js';

/** End of the caller's turn: hand the words to the brain. Empty words mean back to listening. */
export function takeTurn(m: TurnMemory, text: string, at: number): Effect[] {
  const words = text.trim();
  m.speechEndedAt = undefined;
  m.verdict = undefined;
  m.partial = '';
  if (!words) {
    m.state = 'listening';
    m.idleSince = at;
    return [];
  }
  m.bargedInAt = undefined;
  m.interruptedReply = undefined;
  m.reprompts = 0;
  m.state = 'thinking';
  return [{ type: 'think', text: words }];
}
