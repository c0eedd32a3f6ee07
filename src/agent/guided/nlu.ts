import * as chrono from 'chrono-node';
import { DateTime } from 'luxon';
import type { BusinessContext, Service } from '../../business/context/schema.js';
import { spokenToText } from '../voice/transcript.js';

/**
 * Understanding for the guided-flow engine: intents by phrase, slots by pattern, dates and times by
 * chrono-node in the business's time zone. Small on purpose: it is the floor under the LLM, and
 * what it does not understand it asks about. Measured on tests/agent/phrasings (`npm run nlu-accuracy`).
 */

export type Intent =
  | 'quote' | 'book' | 'reschedule' | 'cancel' | 'hours' | 'services' | 'message' | 'human'
  | 'greeting' | 'thanks' | 'goodbye' | 'yes' | 'no' | 'my_appointments';

/**
 * What to act on first when a turn says several things: a closing, then an answer to the question
 * asked, then the requests in the guided engine's order (a change to a visit over a new one).
 */
export const INTENT_ORDER: readonly Intent[] = [
  'goodbye', 'yes', 'no', 'reschedule', 'cancel', 'my_appointments', 'human', 'message', 'book', 'quote', 'hours', 'services', 'thanks', 'greeting',
];

const DAY = '(?:mon|tues|wednes|thurs|fri|satur|sun)day';
const OWNER = '__owner__';

/**
 * Phrases per intent. Each is read on the repaired text (recognizer slips fixed, numbers as
 * digits). A phrase that also occurs in a higher-ranked request is harmless; one that occurs in a
 * lower-ranked one takes it over, so those are written narrowly ("available" books only after
 * "have" or before a day).
 */
const INTENTS: [Intent, RegExp][] = [
  ['reschedule', new RegExp([
    String.raw`\b(re-?schedule|postpone|rearrange|push (it|my|the)|bump (it|my|the)|different (time|day)|another (time|day))\b`,
    // "Move my cleaning", "change it"; not "move the furniture".
    String.raw`\b(move|switch|swap|shift|change) (my|it|our|that)\b|\b(move|switch|swap|shift|change) the (appointment|booking|cleaning|clean|visit|time|date|day)\b`,
    String.raw`\b(an hour|a bit|a little|half an hour|\d+ minutes?) (later|earlier)\b`,
    String.raw`\bchange the (time|date|day)\b`,
    String.raw`\bcan'?t make it\b`,
    String.raw`\bwould rather (have|do|make it)\b`,
    String.raw`\bmake it (a (little|bit) )?(later|earlier)\b`,
    String.raw`\bnot ${DAY} any ?more\b`,
    String.raw`\b(can|could) we do\b.*\binstead\b`,
    String.raw`\b(doesn'?t|does not|won'?t|will not) work (for (me|us) )?any ?more\b|\bno longer works?\b`,
  ].join('|'))],
  ['cancel', new RegExp([
    String.raw`\b(cancel|call (\w+ ){0,2}off|scratch (my|the|that))\b`,
    String.raw`\b(won'?t|will not|don'?t|do not|no longer|not going to|not gonna) need (you|the|it|a|any|anyone|our)\b`,
    String.raw`\b(don'?t|do not) (send|come)\b`,
    String.raw`\bforget (about )?(the|my|our) (appointment|booking|cleaning|visit)\b`,
    String.raw`\btake (me|us|it) off the (schedule|books|calendar)\b`,
  ].join('|'))],
  ['my_appointments', new RegExp([
    String.raw`\bwhen is my\b|\bwhen'?s my\b`,
    String.raw`\bmy (next )?(appointment|booking|cleaning|visit)s?\b(?! for)`,
    String.raw`\bdo i (still )?have (an? |any ?)?(appointment|booking|cleaning|visit|thing)`,
    String.raw`\bwhat (do )?i have (scheduled|booked)\b|\bwhat (day|time) (is )?my\b|\bwhen my (appointment|booking|cleaning|visit) is\b`,
    String.raw`\b(anything|something) (booked|scheduled)\b|\bdid i book\b|\bam i (on the schedule|booked|scheduled)\b`,
    String.raw`\b(when|what time) (is|are) (you|you guys|the crew|the cleaners?|someone|somebody|they) (coming|showing up|arriving|getting here)\b`,
    String.raw`\b(cleaners?|crew) (coming|showing up|arriving)\b|\b(are|is) (you|you guys|they|someone|somebody|anyone|the crew|the cleaners?) (still )?coming\b`,
    String.raw`\bmake sure my\b|\bstill on\b`,
  ].join('|'))],
  ['human', new RegExp([
    // "I'm a real estate agent", "the property manager asked me": a title alone is no ask for a person.
    String.raw`^(an? |the |your )?(human|person|operator|representative|agent|manager|boss)( please)?$|\b(real|live|actual) (person|human)\b`,
    String.raw`\b(get|want|need|give) (me )?(an? |the |your )?(human|person|operator|representative|agent|manager|boss)\b`,
    String.raw`\b(i need|i want|get me|give me) (${OWNER}|the owner)\b(?! to)`,
    String.raw`\b(speak|talk) (to|with) (?!you\b)`,
    String.raw`\b(transfer|connect) (me|us)\b|\bput (me|us) through\b`,
    String.raw`\b(anybody|anyone|someone|somebody)\b.*\b(talk|speak) (to|with)\b`,
    String.raw`\bis (the owner|${OWNER}|the manager|the boss|someone|somebody|anyone|anybody) (there|in|around|available)\b`,
    String.raw`\bget (me )?(${OWNER}|the owner|someone|somebody) on the (phone|line)\b|\bput (${OWNER}|her|him|the owner|someone|somebody) on\b`,
    String.raw`\b(whoever|someone|somebody)( who)?( is|'?s) in charge\b`,
  ].join('|'))],
  ['message', new RegExp([
    String.raw`\b(leave|take|pass (along|on)) (a|the|my) (message|note)\b|\bmessage for\b|\bvoice ?mail\b|\bcallback\b`,
    String.raw`\b(call|ring) (me|us) back\b|\bget back to (me|us)\b|\bgive (me|us) a (call|ring|shout|buzz)\b`,
    String.raw`\b(tell|let|ask|have) (her|him|them|the owner|${OWNER}|someone|somebody)\b.*\b(know|that|call|ring|give|get back)\b`,
    String.raw`\btell (her|him|them|the owner|${OWNER})\b|\brelay\b|\bget (a |the )?word to\b|\bpass (it |this |that )?(on|along) to\b`,
    String.raw`\b(get|have|ask) (${OWNER}|her|him|them|the owner|someone|somebody) to (call|ring|phone|text|get back)\b|\bleave (\w+ ){0,2}(a )?(message|note|voice ?mail)\b`,
  ].join('|'))],
  ['book', new RegExp([
    String.raw`\b(book|schedule|appointment|reserve|sign me up|squeeze (me|us) in|put (me|us) down)\b(?<!\b(before|if|when) (i|we) book)`,
    String.raw`\bset (it|one|me|us) up\b|\bbook (me|us) in\b`,
    String.raw`\b(come|stop) (out|over|by)\b|\b(can|could) (you|someone|somebody|a crew|the crew|your crew|a cleaner)( guys)? come\b`,
    String.raw`\b(have|got|anything|any|something|what'?s) (\w+ )?(available|open|free)\b|\bavailability\b|\bavailable (on|at|this|next|tomorrow|today|${DAY})\b`,
    String.raw`\b(openings?(?! (time|times|hours))|slots?|free (on|at))\b|\bhow soon\b`,
    String.raw`\b((could|can) you|you (could|can)|are you able to|would you be able to) (do|fit|come)\b.*\b(${DAY}|tomorrow|\d)\b`,
    String.raw`\bon (your|the) (calendar|schedule|books)\b`,
  ].join('|'))],
  ['quote', new RegExp([
    String.raw`\b(how much|price|prices|pricing|cost|costs|quote|estimate|rates?|expensive|cheap|ballpark|total)\b`,
    String.raw`\b(?<!in )charge\b|\brun me\b|\bwhat('?s| does| do| would)\b.{0,40}\bgo for\b|\blooking at for\b|\b(would|will|do) (i|we) (pay|owe)\b|\bpay for\b`,
  ].join('|'))],
  ['hours', new RegExp([
    String.raw`\bhours\b|\bopening (time|times)\b|\bhow (late|early)\b|\btill what time\b|\buntil when\b|\btake calls\b`,
    String.raw`\b(are|r) (you|ya)( guys)?( still)? (open|closed)\b`,
    String.raw`\b(when|what time) do (you|ya)( guys)? (open|close|shut|start|finish)\b`,
    String.raw`\bwhat days are you\b|\bdo (you|ya)( guys)? work\b|\b(open|work) (on )?(the )?weekends?\b`,
  ].join('|'))],
  ['services', new RegExp([
    String.raw`\bservices?\b(?<!\bis this (the |a )?(\w+ )?services?)|\boffer\b|\bwhat'?s in (a|the)\b|\boptions\b|\bdifferen(ce|t) (between|from)\b|\bwhat'?s included\b|\bwhat is included\b`,
    String.raw`\bwhat (kind|kinds|sort|sorts|type|types) of\b`,
    String.raw`\bdo (you|ya)( guys| lot)? (do|clean|handle)\b(?! with\b)|\bcan (you|ya)( guys)? (do|clean|handle) (?!it\b|that\b)[a-z]`,
    String.raw`\bwhat (do|can) (you|ya)( guys| lot)? do\b`,
  ].join('|'))],
  ['thanks', /\b(thanks|thank you|thx|ty|appreciate it|much appreciated|cheers)\b/],
  ['greeting', /^(hi|hello|hey|hiya|howdy|yo|good (morning|afternoon|evening)|morning|afternoon|evening)\b/],
];

/**
 * Wanting a cleaning without asking for a time ("I need my place cleaned") is a booking unless the
 * turn asks what it costs ("is it expensive to get a deep clean?").
 */
const WANTS_CLEANING = new RegExp([
  String.raw`\b(need|want|get|getting|(?<!you )have|having|like|love|looking (to|for)|see about) (a|an|my|the|our|some|someone|somebody|the place|my (house|place|home|apartment))\b.*\b(clean|cleaned|cleaning|cleaners?)\b`,
  String.raw`\b(clean|cleaning) (my|our) (house|place|home|apartment|flat|condo)\b|\bneed a cleaner\b`,
].join('|'));

// A goodbye is a turn made only of closing words: "bye" inside a sentence (digits, an address) is not one.
const CLOSING = /\b(bye|goodbye|buh bye|see (ya|you)|talk to you later|take care|that'?s (all|it|everything)|that is (all|it)|that'?ll be all|nothing else|(i'?m|i am) all set|have a (good|nice|great) (day|one|night|evening|weekend))\b/;
const CLOSING_WORDS = new Set(
  "ok okay alright all right thanks thank you bye goodbye bye-bye buh that's thats that is it i i'm im am think everything that'll be nothing else have a good nice great day one night evening weekend perfect so no nope too then now um uh cool awesome cheers see ya talk to later take care set much needed again for"
    .split(' '),
);
/** Fillers before an answer ("um, yes"): they do not make it something else. */
const FILLERS = /^((um+|uh+|er+|erm|ah+|oh|well|so|hmm+|like|actually|sorry)[\s,.!]+)+/;

const YES = /^(y|yes|yeah|yah|ya|yep|yup|sure|ok|okay|alright|all right|correct|right|please do|please(?=\s*[.!]?$)|do it|sounds (good|great|perfect|fine)|perfect|confirm|that works|works for me|absolutely|definitely|go ahead|of course|you bet|uh huh|uh-huh|mm hmm|mhm|mm-hmm|let'?s do it|i think so|no problem|no worries|not a problem|that'?d be (great|good|fine|perfect|lovely)|(that|that'?s|that is|that should be) (fine|good|great|perfect|right|correct))\b/;
/** "Okay, how much…" opens a request: it is an answer only when nothing else is asked. */
const WEAK_YES = /^(ok|okay|alright|all right|right|so)\b/;
const NO = /^(n|no(?! longer| problem| worries)|nope|nah|negative|not really|not quite|not exactly|not that|no way|wrong|incorrect|never ?mind|(that'?s|that is) (not|wrong)|i don'?t think so|(that|it) (doesn'?t|does not|won'?t|will not) work|don'?t( do it| book it)?(?=\s*[.!]?$))\b/;
/** An answer is not one when a greeting follows it ("yes hello?"). */
const YES_THEN_GREETING = /^(y|yes|yeah|yep|ok|okay)[\s,.!]+(hi|hello|hey)\b/;

const NUMBER_WORDS: Record<string, number> = { one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, a: 1, an: 1, single: 1 };
const DIGITS: Record<string, string> = { zero: '0', oh: '0', o: '0', one: '1', two: '2', three: '3', four: '4', five: '5', six: '6', seven: '7', eight: '8', nine: '9' };
const ORDINAL_DAYS: Record<string, number> = {
  first: 1, second: 2, third: 3, fourth: 4, fifth: 5, sixth: 6, seventh: 7, eighth: 8, ninth: 9, tenth: 10, eleventh: 11, twelfth: 12,
  thirteenth: 13, fourteenth: 14, fifteenth: 15, sixteenth: 16, seventeenth: 17, eighteenth: 18, nineteenth: 19, twentieth: 20, thirtieth: 30,
};
const MONTHS = 'january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec';
const HOUR_WORDS: Record<string, number> = { one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, eleven: 11, twelve: 12 };

/**
 * What a phone recognizer writes for words it did not know (seen on the project's calls and in the
 * phrasing set): "can sell" for cancel, "we schedule" for reschedule, "to bedroom" for two bedroom.
 */
const SLIPS: [RegExp, string][] = [
  [/\bcan (sell|so)( my| the| it| our| that)\b/g, 'cancel$2'],
  [/\bcan sell\b/g, 'cancel'],
  [/\b(re|we|three) schedule\b/g, 'reschedule'],
  [/\bbrook\b/g, 'book'],
  [/\b(to|too) (bed|bedroom|bedrooms|br)\b/g, 'two $2'],
  [/\bhow mulch\b/g, 'how much'],
  // Texting shorthand.
  [/\bu\b/g, 'you'], [/\bur\b/g, 'your'], [/\br\b/g, 'are'], [/\bhrs\b/g, 'hours'], [/\b(pls|plz)\b/g, 'please'],
  [/\bappts?\b/g, 'appointment'], [/\b(tmrw|tmr|tmw|tomm|2moro|2morrow)\b/g, 'tomorrow'], [/\b4 (a|an|the|my)\b/g, 'for $1'],
  [/\b(thurs|thur|thu)\b/g, 'thursday'], [/\b(tues|tue)\b/g, 'tuesday'], [/\bweds\b/g, 'wednesday'], [/\bfri\b/g, 'friday'],
];

export interface Understanding {
  intents: Intent[];
  service?: string;
  units?: number;
  modifiers: string[];
  /** A time the customer named, with whether they gave a time of day and a date. */
  when?: { at: Date; hasTime: boolean; hasDate: boolean };
  /** What to pass on, said in the same breath as asking to leave a message ("tell Maria the key is under the mat"). */
  message?: string;
  text: string;
}

export function normalize(text: string): string {
  return text.toLowerCase().replace(/[’`]/g, "'").replace(/\s+/g, ' ').trim();
}

/** The text the patterns read: punctuation dropped, recognizer slips fixed, numbers as digits. */
function repair(text: string, now: DateTime): string {
  let t = ` ${text.replace(/[^a-z0-9':\- ]+/g, ' ').replace(/-/g, ' ').replace(/\s+/g, ' ').trim()} `;
  for (const [re, to] of SLIPS) t = t.replace(re, to);
  // Three or more single digits in a row are a number read out (a phone number, a house number), never a time.
  t = t.replace(new RegExp(`(?:\\b(?:${Object.keys(DIGITS).join('|')})\\b ?){3,}`, 'g'), (run) => `${run.trim().split(' ').map((w) => DIGITS[w]).join('')} `);
  // "the twelfth", "June 12th": a day of the month chrono reads only with its month.
  t = t.replace(new RegExp(`\\b(twenty|thirty)[ -](${Object.keys(ORDINAL_DAYS).slice(0, 9).join('|')})\\b`, 'g'), (_, tens: string, o: string) => `${(tens === 'twenty' ? 20 : 30) + ORDINAL_DAYS[o]!}th`);
  t = t.replace(new RegExp(`\\b(${MONTHS}|the|on) (${Object.keys(ORDINAL_DAYS).join('|')})\\b(?! (one|option|slot|time|visit|appointment))`, 'g'), (_, lead: string, o: string) => `${lead} ${ORDINAL_DAYS[o]}th`);
  t = spokenToText(t.trim());
  // "around two", "say 3": a clock time when no home size or count follows.
  t = t.replace(new RegExp(`\\b(around|about|say|by|at|said|meant|make it|how about|what about) (${Object.keys(HOUR_WORDS).join('|')}|\\d{1,2})\\b(?! ?(bed|bedroom|bedrooms|br|bath|baths|bathroom|bathrooms|people|hours?|minutes?|days?|weeks?|times|of))`, 'g'),
    (_, _lead: string, h: string) => `at ${HOUR_WORDS[h] ?? h}`);
  // "the 15th" with no month: the next such day (this month or the next).
  // (Not "on 5th street", "the 3rd floor".)
  t = t.replace(new RegExp(`(?<!(?:${MONTHS}) )\\b(?:the|on the|on) (\\d{1,2})(?:st|nd|rd|th)\\b(?! (of|street|st|avenue|ave|road|rd|floor|place|court|drive|lane|way|boulevard|blvd))`, 'g'), (all, d: string) => {
    const day = Number(d);
    if (day < 1 || day > 31) return all;
    // This month if that day is still to come, else the next month that has it ("the 31st" in June is July's).
    let month = now.startOf('month');
    for (let i = 0; i < 3 && (day > (month.daysInMonth ?? 28) || (i === 0 && day < now.day)); i++) month = month.plus({ months: 1 });
    return `on ${month.toFormat('LLLL')} ${day}`;
  });
  return t.replace(/\s+/g, ' ').trim();
}

/**
 * A service named in the text: name, alias or id, with "clean"/"cleans"/"cleaning", "moving"/"move"
 * and plurals ("move outs") as one.
 */
function findService(ctx: BusinessContext, text: string): Service | undefined {
  const stem = (s: string) => ` ${s.toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim()} `
    .replace(/ clean(s|ing|ings)? /g, ' clean ').replace(/ (moving|moved) /g, ' move ').replace(/ clean(s|ing|ings)? /g, ' clean ')
    .replace(/(?<= \w{2,}[^s ])s(?= )/g, '');
  const t = stem(text);
  const found: { s: Service; at: number; len: number }[] = [];
  for (const s of ctx.services) {
    for (const name of [s.name, ...s.aliases, s.id]) {
      const n = stem(name).trim();
      if (n.length <= 2) continue;
      for (let at = t.indexOf(` ${n} `); at >= 0; at = t.indexOf(` ${n} `, at + 1)) {
        // "a deep clean, not a standard": the service said after "not" is the one not wanted.
        if (/ (not|no|instead of|rather than)( a| an| the)? $/.test(t.slice(0, at + 1))) continue;
        found.push({ s, at, len: n.length });
      }
    }
  }
  return found.sort((a, b) => b.len - a.len || b.at - a.at)[0]?.s;
}

/** Said right before a date or time it means "not this one": "not Tuesday", "instead of 10". */
const NEGATED = /\b(not|instead of|rather than|can'?t (do|make it)|except)( on| at)?( the)? $/;
/**
 * "I need to … my cleaning next Friday at 10": the recognizer lost the verb (seen with "move" on the
 * dialogue bench); a visit of theirs and a new time is a move.
 */
const LOST_VERB = /\b(need|want|like|have|going) to (my|the|our) (cleaning|appointment|booking|visit)\b/;
/** In a move, the day the visit is booked on now: "my Thursday appointment", "booked for Tuesday". */
const BOOKED_ON = /\b(my|booked (for|on)|scheduled (for|on)|it'?s (on|for)|is (on|for))( the)? $/;
/** Intents a day or time belongs to; with only others ("is Maria in today?", "have a good weekend") it is small talk. */
const TIMELY: readonly Intent[] = ['book', 'reschedule', 'cancel', 'my_appointments', 'hours', 'quote', 'yes', 'no'];

type Parsed = chrono.ParsedResult;
/** A clock time: a part of the day ("Wednesday afternoon") is not one; the engine offers that day's times. */
const timeOf = (r: Parsed, c = r.start) => c.isCertain('hour') && /\d|noon|midnight/.test(r.text);
const dateOf = (r: Parsed, c = r.start) => c.isCertain('day') || c.isCertain('weekday') || /\b(today|tomorrow|tonight)\b/.test(r.text);

function findWhen(ctx: BusinessContext, t: string, now: Date, intents: Intent[]): Understanding['when'] {
  const offset = DateTime.fromJSDate(now, { zone: ctx.timezone }).offset;
  const results = chrono.parse(t, { instant: now, timezone: offset }, { forwardDate: true })
    // "bye now", "are you open right now": now is no time anybody asked for; "in the morning"
    // alone names neither a day nor a clock time.
    // "an hour later" needs the visit's own time, which the engine has and this does not.
    .filter((r) => !/^(right )?now$|^(in )?the (day|week|month|year)$|(later|earlier|from now|ago)$|^in (a|an|\d+) (hour|minute)/.test(r.text.trim()) && (timeOf(r) || dateOf(r)))
    // "How are you doing today?", "is Maria in today?": today is no day asked for unless something is being scheduled.
    .filter((r) => intents.some((i) => TIMELY.includes(i)) || !intents.length || !/^(today|tonight)$/.test(r.text.trim()));
  const moving = intents.includes('reschedule');
  const wanted = results.filter((r, i) => {
    const before = t.slice(0, r.index);
    // "From Tuesday to Thursday at 10": the day after "from" is the old one when another follows.
    return !NEGATED.test(before) && !(moving && BOOKED_ON.test(before)) && !(/\bfrom( the)? $/.test(before) && i < results.length - 1);
  });
  // "not Monday, Wednesday", "Tuesday, no, Thursday": the time wanted is said last.
  const parsed = wanted.at(-1);
  if (!parsed) return undefined;
  // A move "from Tuesday to Thursday at 10" parses as one range: the new time is its end.
  const c = parsed.end && intents.includes('reschedule') ? parsed.end : parsed.start;
  let hasTime = timeOf(parsed, c);
  let hasDate = dateOf(parsed, c);
  let at = DateTime.fromJSDate(c.date(), { zone: ctx.timezone });
  // "Thursday … say around 10" read as two: the day from one, the time from the other.
  const other = wanted.find((r) => r !== parsed);
  if (other && hasTime !== hasDate) {
    const o = DateTime.fromJSDate(other.start.date(), { zone: ctx.timezone });
    if (!hasDate && dateOf(other)) {
      at = o.set({ hour: at.hour, minute: at.minute });
      hasDate = true;
    } else if (!hasTime && timeOf(other)) {
      at = at.set({ hour: o.hour, minute: o.minute });
      hasTime = true;
    }
  }
  if (!hasTime && !hasDate) return undefined;
  // "at 2" during business hours means 2 PM, not 2 AM.
  if (hasTime && !c.isCertain('meridiem') && at.hour >= 1 && at.hour <= 6) at = at.plus({ hours: 12 });
  if (!hasTime) at = at.startOf('day');
  return { at: at.toJSDate(), hasTime, hasDate };
}

/** Where a message's own words start, after the asking: "tell Maria (that) …", "leave a message for her saying …". */
const MESSAGE_BODY = [
  String.raw`\b(?:tell|let) (?:her|him|them|the owner|${OWNER})(?: know)?(?: that)? (.+)`,
  String.raw`\b(?:leave|take|pass (?:along|on)) (?:a|the|my) (?:message|note)(?: for (?:her|him|them|the owner|${OWNER}|the cleaners?|the crew))?(?: (?:saying|that|to say|about))? (.+)`,
  String.raw`\b(?:relay|pass (?:it |this |that )?(?:on|along)) to (?:her|him|them|the owner|${OWNER})(?: that)? (.+)`,
  String.raw`\b(?:ask|have|get) (?:her|him|them|the owner|${OWNER}|someone|somebody) to (.+)`,
  String.raw`\b(?:call|ring) (?:me|us) back (?:about|regarding|re) (.+)`,
];
/** Not a message by itself: "…for Maria please", "…if that's okay". */
const NO_BODY = /^(please|for me|now|today|if (that'?s|it'?s) (ok|okay|alright|possible))?$/;
const FOR_WHOM = String.raw`^for (her|him|them|the owner|${OWNER}|the cleaners?|the crew)\b[ ,]*`;

function messageBody(t: string, owner: string): string | undefined {
  for (const source of MESSAGE_BODY) {
    const m = new RegExp(source.replaceAll(OWNER, owner || OWNER)).exec(t);
    const body = m?.[1]?.replace(new RegExp(FOR_WHOM.replaceAll(OWNER, owner || OWNER)), '').trim();
    if (body && body.split(' ').length >= 2 && !NO_BODY.test(body)) return body;
  }
  return undefined;
}

/** The intent patterns with the owner's name in them ("tell Maria…", "is Maria there"), made once per name. */
const byOwner = new Map<string, [Intent, RegExp][]>();
function patternsFor(owner: string): [Intent, RegExp][] {
  let p = byOwner.get(owner);
  if (!p) {
    const name = owner.replace(/[^a-z ]/g, '') || OWNER;
    p = INTENTS.map(([i, re]) => [i, new RegExp(re.source.replaceAll(OWNER, name))]);
    if (byOwner.size > 100) byOwner.clear();
    byOwner.set(owner, p);
  }
  return p;
}

export function understand(ctx: BusinessContext, raw: string, now: Date): Understanding {
  const text = normalize(raw);
  const t = repair(text, DateTime.fromJSDate(now, { zone: ctx.timezone }));
  const owner = normalize(ctx.owner.name).replace(/[^a-z ]/g, '');
  const found = new Set<Intent>();
  for (const [intent, re] of patternsFor(owner)) if (re.test(t)) found.add(intent);
  if (!found.has('quote') && WANTS_CLEANING.test(t)) found.add('book');
  const asked = () => [...found].some((i) => i !== 'thanks' && i !== 'greeting');
  // "Can I speak to Maria", "is Maria there": the owner by name.
  if (owner && new RegExp(`\\b(speak|talk) (to|with) ${owner}\\b|\\b${owner} (directly|please)$|^${owner}$`).test(t)) found.add('human');

  const answer = t.replace(FILLERS, '');
  // "Okay, book it" still answers "Shall I book it?"; "okay, how much is it?" asks something else.
  const elsewhere = [...found].some((i) => i !== 'thanks' && i !== 'greeting' && i !== 'book');
  if ((YES.test(answer) || YES.test(t)) && !YES_THEN_GREETING.test(answer) && !(WEAK_YES.test(answer) && elsewhere)) found.add('yes');
  else if (NO.test(answer)) found.add('no');
  const words = t.replace(/[^a-z' -]/g, ' ').split(/\s+/).filter(Boolean);
  if (CLOSING.test(t) && words.length && words.every((w) => CLOSING_WORDS.has(w))) found.add('goodbye');
  // "yes hello?" is a hello.
  if (YES_THEN_GREETING.test(answer)) found.add('greeting');

  const svc = findService(ctx, t);
  const unitName = ctx.services.find((s) => s.price.perUnit)?.price.perUnit?.unit ?? 'bedroom';
  const unitRe = new RegExp(`\\b(\\d{1,2}|${Object.keys(NUMBER_WORDS).join('|')})[ -]?(${unitName}s?|${unitName.slice(0, 3)}s?|br|bd)\\b`);
  const um = unitRe.exec(t);
  const units = um ? Number(um[1]) || NUMBER_WORDS[um[1]!] : undefined;

  const modifiers: string[] = [];
  for (const m of ctx.pricing.modifiers) {
    if (m.firstVisitOnly) continue;
    const names = [m.id, m.label, ...m.label.split(/\s+/).filter((w) => w.length > 3)].map(normalize);
    const stems = names.map((w) => w.replace(/s$/, ''));
    if (stems.some((w) => new RegExp(`\\b${w.replace(/[^a-z0-9 ]/g, '')}s?\\b`).test(t))) modifiers.push(m.id);
  }

  // A cleaning and a day with nothing else asked ("any chance of a cleaning Saturday?") is a booking.
  let when = found.has('goodbye') ? undefined : findWhen(ctx, t, now, [...found]);
  if (!asked() && when?.hasDate && (svc || /\b(clean|cleaning|cleaners?|crew|visit)\b/.test(t))) found.add('book');
  if (when && !found.has('reschedule') && !found.has('cancel') && LOST_VERB.test(t)) {
    found.add('reschedule');
    found.delete('my_appointments');
  }
  // A message's words are its own: "ask her to call me back tonight" names no visit's time.
  if (found.has('message') && !found.has('book') && !found.has('reschedule') && !found.has('cancel')) when = undefined;

  // "Hi, how much is a deep clean?": the greeting is manners; the request is what to answer.
  if (found.has('greeting') && (found.size > 1 || svc || when)) found.delete('greeting');
  // "Great, thank you": thanks, unless the turn only closes the call.
  if (found.has('goodbye')) found.delete('thanks');

  const message = found.has('message') ? messageBody(t, owner) : undefined;
  return {
    intents: INTENT_ORDER.filter((i) => found.has(i)),
    ...(message ? { message } : {}),
    ...(svc ? { service: svc.id } : {}),
    ...(units ? { units } : {}),
    modifiers,
    ...(when ? { when } : {}),
    text,
  };
}
