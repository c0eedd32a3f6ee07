import { DateTime } from 'luxon';
import type { BusinessContext } from '../../business/context/schema.js';
import type { ChatMessage, Llm } from '../../speech/types.js';
import { normalize, type Intent, type Understanding } from './nlu.js';
import type { GuidedState } from './engine.js';

/**
 * Understanding by the LLM: one grammar-constrained JSON reply (intent and slots) against a schema
 * built from the business's own context — its service ids, the next days as dates, times on the
 * half hour — so whatever the model says parses and names only things that exist. The guided flow
 * keeps the state and runs the validated tools with it; the rule NLU fills in when the model is
 * slow, fails or says nothing usable.
 */

export const llmNluDefaults = {
  /** Give up on the model's understanding after this long (from the turn being taken) and use the rules, ms. */
  timeoutMs: 1_200,
  /** Reply cap, tokens: a reading is a handful of short labels. */
  maxTokens: 48,
  /** How many days ahead a date may name. */
  days: 21,
  /** Labels in one reading (intents, a service, a size, a day, a time). */
  maxLabels: 6,
} as const satisfies Record<string, number>;

const INTENTS: Intent[] = ['quote', 'book', 'reschedule', 'cancel', 'hours', 'services', 'message', 'human', 'greeting', 'thanks', 'goodbye', 'yes', 'no', 'my_appointments'];

/**
 * The model's reply: only what the caller said, as a list of labels from this business's own
 * vocabulary — intents, service ids, "3 bedrooms", "tuesday", "9:30am" — e.g. `{"r":["book","deep","tuesday","9am"]}`.
 * A JSON object with a field per slot cost ~45 generated tokens a turn (every null and key is a
 * decoding step, and ISO dates are a token per digit); this is ~12–15 for a booking.
 */
export interface LlmReading {
  r: string[];
}

/** What each label of one business on one day means. */
interface Labels {
  intents: Map<string, Intent>;
  services: Map<string, string>;
  units: Map<string, number>;
  dates: Map<string, string>;
  times: Map<string, string>;
}

const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

function labels(ctx: BusinessContext, now: Date, days: number): Labels {
  const intents = new Map(INTENTS.map((i) => [i, i]));
  // A service id that is also an intent word is told apart by a prefix.
  const services = new Map(ctx.services.map((s) => [intents.has(s.id as Intent) ? `service:${s.id}` : s.id, s.id]));
  const unit = ctx.services.find((s) => s.price.perUnit)?.price.perUnit?.unit;
  const units = new Map<string, number>();
  if (unit) for (let n = 1; n <= 20; n++) units.set(`${n} ${unit}${n === 1 ? '' : 's'}`, n);
  const today = DateTime.fromJSDate(now, { zone: ctx.timezone }).startOf('day');
  const dates = new Map<string, string>();
  for (let i = 0; i < days; i++) {
    const d = today.plus({ days: i });
    // Short words a model reads a caller's "on Tuesday" into: a week of names, then "dec 3".
    const label = i === 0 ? 'today' : i === 1 ? 'tomorrow' : i < 7 ? WEEKDAYS[d.weekday - 1]! : `${d.toFormat('LLL').toLowerCase()} ${d.day}`;
    dates.set(label, d.toISODate()!);
  }
  const times = new Map<string, string>();
  for (let m = 6 * 60; m <= 21 * 60; m += 30) {
    const h = Math.floor(m / 60);
    const hh = String(h).padStart(2, '0');
    const mm = String(m % 60).padStart(2, '0');
    times.set(`${h % 12 || 12}${m % 60 ? `:${mm}` : ''}${h < 12 ? 'am' : 'pm'}`, `${hh}:${mm}`);
  }
  return { intents, services, units, dates, times };
}

/** The schema for one business on one day: a short list of this business's own labels. */
export function readingSchema(ctx: BusinessContext, now: Date, days: number = llmNluDefaults.days): object {
  const l = labels(ctx, now, days);
  const all = [...l.intents.keys(), ...l.services.keys(), ...l.units.keys(), ...l.dates.keys(), ...l.times.keys()];
  return {
    type: 'object',
    properties: { r: { type: 'array', items: { enum: all }, maxItems: llmNluDefaults.maxLabels } },
    required: ['r'],
    additionalProperties: false,
  };
}

/**
 * The system part is the same for every turn of a business on one day, so a sequence keeps it
 * evaluated between readings; what changes per turn (the time, the question pending) goes with the words.
 */
export function readingPrompt(ctx: BusinessContext, now: Date, state: GuidedState, text: string): ChatMessage[] {
  const today = DateTime.fromJSDate(now, { zone: ctx.timezone });
  const l = labels(ctx, now, llmNluDefaults.days);
  const system = [
    `You read what a customer of ${ctx.displayName} said and reply with JSON only: {"r":[labels]}, only labels for what they said.`,
    `Today is ${today.toFormat('cccc yyyy-LL-dd')}.`,
    `Intents: ${INTENTS.join(', ')} (several if they ask for several; yes/no for an answer to a question).`,
    `Services: ${ctx.services.map((s) => `${[...l.services].find(([, id]) => id === s.id)![0]} = ${s.name}`).join('; ')}.`,
    ...(l.units.size ? [`Size: like "3 ${[...l.units.keys()][2]!.split(' ')[1]}".`] : []),
    `Day: today, tomorrow, a weekday name within the week, later like "${[...l.dates.keys()].at(-1)}". Time: like "9am", "2:30pm".`,
  ].join('\n');
  const asked = state.pending ? ` (we asked about: ${state.pending.kind.replace(/_/g, ' ')})` : '';
  return [{ role: 'system', content: system }, { role: 'user', content: `[${today.toFormat('HH:mm')}${asked}] ${text}` }];
}

/** The model's reading as the guided flow's Understanding; undefined when it said nothing usable. */
export function toUnderstanding(ctx: BusinessContext, now: Date, r: LlmReading, text: string): Understanding | undefined {
  const l = labels(ctx, now, llmNluDefaults.days);
  const said = Array.isArray(r?.r) ? r.r : [];
  const intents = [...new Set(said.map((x) => l.intents.get(x)).filter((i): i is Intent => !!i))];
  const service = said.map((x) => l.services.get(x)).find(Boolean);
  const units = said.map((x) => l.units.get(x)).find(Boolean);
  const date = said.map((x) => l.dates.get(x)).find(Boolean);
  const time = said.map((x) => l.times.get(x)).find(Boolean);
  let when: Understanding['when'];
  // A time without a date is not enough to place a visit; leave it to the rules.
  if (date) {
    const day = DateTime.fromISO(date, { zone: ctx.timezone });
    const [h, m] = (time ?? '').split(':').map(Number);
    const at = time ? day.set({ hour: h!, minute: m!, second: 0, millisecond: 0 }) : day.startOf('day');
    if (at.isValid) when = { at: at.toJSDate(), hasTime: Boolean(time), hasDate: true };
  }
  if (!intents.length && !service && !when && !units) return undefined;
  return { intents, ...(service ? { service } : {}), ...(units ? { units } : {}), modifiers: [], ...(when ? { when } : {}), text: normalize(text) };
}

/**
 * A reading under way. It has no side effects, so it may start before the turn is taken (on the
 * final transcript, during the endpointing pause) and be used if the turn's words are the same.
 */
export interface Reading {
  text: string;
  state: GuidedState;
  /** performance.now() when the model was asked. */
  startedAt: number;
  /** The model's reading; undefined when it failed or was aborted. */
  result: Promise<LlmReading | undefined>;
  abort(): void;
}

export function startReading(llm: Llm, ctx: BusinessContext, text: string, now: Date, state: GuidedState, o: { conversation?: string } = {}): Reading {
  const ac = new AbortController();
  const result = llm.structured<LlmReading>(readingPrompt(ctx, now, state, text), readingSchema(ctx, now), {
    signal: ac.signal, maxTokens: llmNluDefaults.maxTokens, ...(o.conversation ? { conversation: o.conversation } : {}),
  }).then((r) => (ac.signal.aborted ? undefined : r), () => undefined);
  return { text, state, startedAt: performance.now(), result, abort: () => ac.abort() };
}

export interface ReadingOutcome {
  /** The model's reading merged over the rules' (the rules fill what it left out); undefined: use the rules. */
  understood: Understanding | undefined;
  /** False when the budget ran out first (the reading was then aborted). */
  inTime: boolean;
  /** From asking the model to its reading (or to giving up), ms. */
  ms: number;
}

/** Waits for `reading` at most `timeoutMs` from now (the turn being taken), aborting it when late. */
export async function finishReading(reading: Reading, ctx: BusinessContext, now: Date, rules: Understanding, timeoutMs: number = llmNluDefaults.timeoutMs): Promise<ReadingOutcome> {
  let timer: NodeJS.Timeout | undefined;
  // The deadline covers waiting for the model too (every sequence busy with other calls).
  const late = new Promise<'late'>((done) => (timer = setTimeout(() => done('late'), timeoutMs)));
  try {
    const r = await Promise.race([reading.result, late]);
    const ms = Math.round(performance.now() - reading.startedAt);
    if (r === 'late') {
      reading.abort();
      return { understood: undefined, inTime: false, ms };
    }
    const u = r ? toUnderstanding(ctx, now, r, reading.text) : undefined;
    const understood = u && {
      ...rules,
      intents: u.intents.length ? u.intents : rules.intents,
      ...(u.service ? { service: u.service } : {}),
      ...(u.units ? { units: u.units } : {}),
      ...(u.when ? { when: u.when } : {}),
    };
    return { understood, inTime: true, ms };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Asks the model; resolves its reading merged over the rules', or undefined when it was too slow,
 * failed or said nothing usable.
 */
export async function understandWithLlm(
  llm: Llm, ctx: BusinessContext, text: string, now: Date, state: GuidedState, rules: Understanding,
  o: { timeoutMs?: number; conversation?: string } = {},
): Promise<Understanding | undefined> {
  const reading = startReading(llm, ctx, text, now, state, o.conversation ? { conversation: o.conversation } : {});
  return (await finishReading(reading, ctx, now, rules, o.timeoutMs)).understood;
}
