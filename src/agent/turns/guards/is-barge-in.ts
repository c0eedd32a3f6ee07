import type { TurnMemory } from '../types.js';
import type { TurnOptions } from '../options.js';

/** Caller speech over the agent has lasted long enough, with words enough, to be an interruption, not a cough or an "mm-hm". */
export function isBargeIn(m: TurnMemory, o: TurnOptions, at: number): boolean {
  if (m.interruptionSince === undefined || at - m.interruptionSince < o.interruption.minSpeechMs) return false;
  return o.interruption.minWords <= 0 || wordCount(m.partial) >= o.interruption.minWords;
}

function wordCount(text: string): number {
  const t = text.trim();
  return t ? t.split(/\s+/).length : 0;
}
