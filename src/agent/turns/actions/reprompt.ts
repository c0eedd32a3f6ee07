import type { Effect, TurnMemory } from '../types.js';
import type { TurnOptions } from '../options.js';
import { speak } from './speak.js';

/** Silence: ask again, and after the last prompt say goodbye. */
export function reprompt(m: TurnMemory, o: TurnOptions, lines: { reprompt: string; goodbye: string }): Effect[] {
  if (m.reprompts >= o.maxIdleReprompts) return speak(m, lines.goodbye, 'goodbye', 'end');
  m.reprompts++;
  return speak(m, lines.reprompt, 'reprompt');
}
