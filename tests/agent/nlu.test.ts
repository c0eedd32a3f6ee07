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

  it('takes a correction: the day or service said after "not" is the one not wanted', () => {
    const day = (t: string) => DateTime.fromJSDate(heard(t).when!.at, { zone: demoContext.timezone }).weekday;
    expect(day('no, not Tuesday, Thursday')).toBe(4);
    expect(day('Thursday, not Tuesday')).toBe(4);
    expect(day("i can't make it on wednesday, could we do friday")).toBe(5);
    expect(heard('no I need a deep clean not a standard').service).toBe('deep');
    expect(heard('the standard, not the deep clean').service).toBe('standard');
  });

  it('reads numbers said as words, and never a phone or house number as a clock time', () => {
    const at = (t: string) => DateTime.fromJSDate(heard(t).when!.at, { zone: demoContext.timezone }).toFormat('MM-dd HH:mm');
    expect(at('thursday at ten thirty')).toBe('06-04 10:30');
    expect(at('set me up for the tenth at two')).toBe('06-10 14:00');
    expect(at('june twelfth at nine in the morning')).toBe('06-12 09:00');
    // A day of the month alone: the next one that has it (June has no 31st).
    expect(at('book me for the thirty first at ten')).toBe('07-31 10:00');
    expect(heard('call me back at five one two five five five zero one nine nine').when).toBeUndefined();
    expect(heard('one two three main street apartment four').when).toBeUndefined();
    expect(heard('one two three main street apartment four').units).toBeUndefined();
  });

  it('hears both requests in one breath, and acts on the weightier first', () => {
    expect(heard('how much is a deep clean and can you come friday at 9').intents.slice(0, 2)).toEqual(['book', 'quote']);
    const both = heard('cancel my cleaning and what are your hours by the way').intents;
    expect(both[0]).toBe('cancel');
    expect(both).toContain('hours');
  });

  it('takes "okay" as an answer only when nothing else is asked', () => {
    expect(heard('okay').intents).toEqual(['yes']);
    expect(heard('okay book it').intents).toContain('yes');
    expect(heard('okay so how much is it').intents).toEqual(['quote']);
  });

  it('keeps a message said in the same breath as asking to leave one', () => {
    expect(heard('tell maria the key is under the mat').message).toBe('the key is under the mat');
    expect(heard('leave a message for maria saying i will pay on friday').message).toBe('i will pay on friday');
    expect(heard('could you ask her to call me back tonight').message).toBe('call me back tonight');
    for (const t of ['Can I leave a message for Maria?', 'I want to leave a message.', 'take a message please']) expect(heard(t).message, t).toBeUndefined();
  });

  it('hears "no problem" as a yes, a corrected hour as the time, and "on 5th street" as no day', () => {
    for (const t of ['no problem', 'no worries', 'not a problem']) expect(heard(t).intents, t).toEqual(['yes']);
    const at = DateTime.fromJSDate(heard('i said ten not nine').when!.at, { zone: demoContext.timezone });
    expect(at.hour).toBe(10);
    expect(heard('the office on 5th street').when).toBeUndefined();
    expect(heard('bye for now').intents).toEqual(['goodbye']);
  });
});
