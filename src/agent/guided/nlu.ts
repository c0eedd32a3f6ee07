import * as chrono from 'chrono-node';
import { DateTime } from 'luxon';
import type { BusinessContext } from '../../business/context/schema.js';
import { resolveService } from '../../business/quotes.js';

/**
 * Understanding for the guided-flow engine: intents by phrase, slots by pattern, dates and times by
 * chrono-node in the business's time zone. Small on purpose: it is the floor under the LLM, and
 * what it does not understand it asks about.
 */

export type Intent =
  | 'quote' | 'book' | 'reschedule' | 'cancel' | 'hours' | 'services' | 'message' | 'human'
  | 'greeting' | 'thanks' | 'goodbye' | 'yes' | 'no' | 'my_appointments';

const INTENTS: [Intent, RegExp][] = [
  ['reschedule', /\b(re-?schedule|move (my|the|it)|change (my|the) (appointment|booking|cleaning|time|date)|different (time|day)|push (it|my))\b/],
  ['cancel', /\b(cancel|call off)\b/],
  ['my_appointments', /\b(when is my|my (next )?(appointment|booking|cleaning)s?\b(?! for)|do i have (an? )?(appointment|booking))/],
  ['quote', /\b(how much|price|prices|pricing|cost|costs|quote|estimate|rate|rates|charge)\b/],
  ['book', /\b(book|schedule|appointment|set (it|one|me) up|come (out|over|by)|availab\w*|opening|openings|slot|slots|free (on|at)|sign me up|reserve)\b/],
  ['hours', /\b(hours|open|close|closing|opening time)\b/],
  ['services', /\b(what (services|do you (do|offer))|services|offer)\b/],
  ['human', /\b(owner|human|real person|a person|manager|speak (to|with)|talk (to|with)|operator|representative)\b/],
  ['message', /\b(leave a message|take a message|message for|call me back|callback|tell (her|him|them|the owner))\b/],
  ['thanks', /\b(thanks|thank you|thx|appreciate it)\b/],
  ['greeting', /^(hi|hello|hey|good (morning|afternoon|evening))\b/],
];

// A goodbye is a turn made only of closing words: "bye" inside a sentence (digits, an address) is not one.
const CLOSING = /\b(bye|goodbye|that'?s all|that is all|nothing else|have a good (day|one|night|evening|weekend))\b/;
const CLOSING_WORDS = new Set("ok okay alright all right thanks thank you bye goodbye bye-bye that's thats that is it nothing else have a good day one night evening weekend great perfect so no nope too then um uh cool awesome".split(' '));
/** Fillers before an answer ("um, yes"): they do not make it something else. */
const FILLERS = /^((um+|uh+|er+|erm|ah+|oh|well|so|hmm+|mm+|like)[\s,.!]+)+/;

const YES = /^(y|yes|yeah|yep|yup|sure|ok|okay|correct|right|please do|please(?=\s*[.!]?$)|do it|sounds good|perfect|confirm|that works|works for me|absolutely|definitely|go ahead)\b/;
const NO = /^(n|no|nope|nah|not really|don'?t|do not|wrong|incorrect|never ?mind)\b/;

const NUMBER_WORDS: Record<string, number> = { one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, a: 1, an: 1, single: 1 };

export interface Understanding {
  intents: Intent[];
  service?: string;
  units?: number;
  modifiers: string[];
  /** A time the customer named, with whether they gave a time of day and a date. */
  when?: { at: Date; hasTime: boolean; hasDate: boolean };
  text: string;
}

export function normalize(text: string): string {
  return text.toLowerCase().replace(/[’`]/g, "'").replace(/\s+/g, ' ').trim();
}

export function understand(ctx: BusinessContext, raw: string, now: Date): Understanding {
  const text = normalize(raw);
  const intents: Intent[] = [];
  const answer = text.replace(FILLERS, '');
  if (YES.test(answer)) intents.push('yes');
  else if (NO.test(answer)) intents.push('no');
  for (const [intent, re] of INTENTS) if (re.test(text)) intents.push(intent);
  const words = text.replace(/[^a-z' -]/g, ' ').split(/\s+/).filter(Boolean);
  if (CLOSING.test(text) && words.length && words.every((w) => CLOSING_WORDS.has(w))) intents.push('goodbye');

  const svc = resolveService(ctx, text);
  const unitName = ctx.services.find((s) => s.price.perUnit)?.price.perUnit?.unit ?? 'bedroom';
  const unitRe = new RegExp(`\\b(\\d{1,2}|${Object.keys(NUMBER_WORDS).join('|')})[ -]?(${unitName}s?|${unitName.slice(0, 3)}s?|br|bd)\\b`);
  const um = unitRe.exec(text);
  const units = um ? Number(um[1]) || NUMBER_WORDS[um[1]!] : undefined;

  const modifiers: string[] = [];
  for (const m of ctx.pricing.modifiers) {
    if (m.firstVisitOnly) continue;
    const words = [m.id, m.label, ...m.label.split(/\s+/).filter((w) => w.length > 3)].map(normalize);
    const stems = words.map((w) => w.replace(/s$/, ''));
    if (stems.some((w) => new RegExp(`\\b${w.replace(/[^a-z0-9 ]/g, '')}s?\\b`).test(text))) modifiers.push(m.id);
  }

  const offset = DateTime.fromJSDate(now, { zone: ctx.timezone }).offset;
  // "From Tuesday to Thursday at 10", "not Monday, Wednesday": the time wanted is said last.
  const parsed = chrono.parse(raw, { instant: now, timezone: offset }, { forwardDate: true }).at(-1);
  let when: Understanding['when'];
  if (parsed) {
    // A move "from Tuesday to Thursday at 10" parses as one range: the new time is its end.
    const c = parsed.end && intents.includes('reschedule') ? parsed.end : parsed.start;
    const hasTime = c.isCertain('hour');
    const hasDate = c.isCertain('day') || c.isCertain('weekday') || /\b(today|tomorrow|tonight)\b/.test(text);
    let at = DateTime.fromJSDate(c.date(), { zone: ctx.timezone });
    // "at 2" during business hours means 2 PM, not 2 AM.
    if (hasTime && !c.isCertain('meridiem') && at.hour >= 1 && at.hour <= 6) at = at.plus({ hours: 12 });
    if (!hasTime) at = at.startOf('day');
    when = { at: at.toJSDate(), hasTime, hasDate };
  }

  // "Hi, how much is a deep clean?": the greeting is manners; the request is what to answer.
  const greeting = intents.indexOf('greeting');
  if (greeting >= 0 && (intents.length > 1 || svc || when)) intents.splice(greeting, 1);

  return {
    intents,
    ...(svc ? { service: svc.id } : {}),
    ...(units ? { units } : {}),
    modifiers,
    ...(when ? { when } : {}),
    text,
  };
}
