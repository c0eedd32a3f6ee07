import type { Effect, TurnMemory } from '../types.js';

/** Start saying something; `then` runs when it has been heard in full. */
export function speak(m: TurnMemory, text: string, kind: Extract<Effect, { type: 'play' }>['kind'], then?: 'transfer' | 'end'): Effect[] {
  m.state = kind === 'greeting' ? 'greeting' : 'speaking';
  m.speaking = { text, then };
  m.interruptionSince = undefined;
  return [{ type: 'play', text, kind }];
}
