import { describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { understand } from '../../src/agent/guided/nlu.js';
import { demoContext } from '../../src/business/context/demo.js';
import { contextSchema } from '../../src/business/context/schema.js';

/** The rule reading under the LLM, on what callers say that it used to get wrong. */
const now = DateTime.fromISO('2026-06-01T09:00', { zone: demoContext.timezone }).toJSDate(); // a Monday
const ctx = contextSchema.parse(demoContext);
const heard = (text: string) => understand(ctx, text, now);

describe('the rule NLU', () => {
  it('hears goodbye only in a turn of closing words, never "bye" inside digits or an address', () => {
    for (const t of ['bye', 'okay bye', 'thanks, bye bye', "no that's all, thank you", 'alright have a good day', 'goodbye then']) {
      expect(heard(t).intents, t).toContain('goodbye');
    }
    for (const t of ['five one two bye three four', 'my address is 12 bye street', 'bye the way how much is a deep clean', "I'll call back, bye the time you open"]) {
      expect(heard(t).intents, t).not.toContain('goodbye');
    }
  });

  it('takes a yes or a no after a filler', () => {
    for (const t of ['um yes', 'uh, yeah sure', 'well, okay', 'oh yes please', 'hmm yep that works']) expect(heard(t).intents, t).toContain('yes');
    for (const t of ['um no', 'uh, nope', 'well no, not really']) expect(heard(t).intents, t).toContain('no');
  });

  it('answers the request, not the hello, when a greeting comes with one', () => {
    expect(heard('hi, how much is a deep clean?').intents).toEqual(['quote']);
    expect(heard('hello I need a deep cleaning').intents).not.toContain('greeting');
    expect(heard('hello there').intents).toEqual(['greeting']);
  });

  it('takes the time said last when a sentence names two (a move from one day to another)', () => {
    const u = heard('can you move my cleaning from Tuesday to Thursday at 10');
    const at = DateTime.fromJSDate(u.when!.at, { zone: demoContext.timezone });
    expect(at.weekday).toBe(4);
    expect(at.hour).toBe(10);
  });
});
