import type { Effect, TurnMemory } from '../types.js';
import type { TurnOptions } from '../options.js';
import { speak } from './speak.js';

/**
 * Silence: ask again (the line may say more each time: the question narrower, then its keypad
 * choices), and after the last prompt either say goodbye or hand the caller on to the owner or a message.
 */
export function reprompt(m: TurnMemory, o: TurnOptions, lines: { reprompt: string | ((n: number) => string); goodbye: string; noInput?: string | undefined }): Effect[] {
  if (m.reprompts >= o.idle.maxReprompts) {
    if (o.idle.after === 'transfer' && lines.noInput) return speak(m, lines.noInput, 'reply', 'transfer');
    return speak(m, lines.goodbye, 'goodbye', 'end');
  }
  m.reprompts++;
  return speak(m, typeof lines.reprompt === 'function' ? lines.reprompt(m.reprompts) : lines.reprompt, 'reprompt');
}
