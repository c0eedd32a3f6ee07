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
  /** Give up on the model's understanding after this long and use the rules, ms. */
  timeoutMs: 1_200,
  /** Reply cap, tokens: the JSON object is short. */
  maxTokens: 80,
  /** How many days ahead a date may name. */
  days: 21,
} as const satisfies Record<string, number>;

const INTENTS: Intent[] = ['quote', 'book', 'reschedule', 'cancel', 'hours', 'services', 'message', 'human', 'greeting', 'thanks', 'goodbye', 'yes', 'no', 'my_appointments'];

export interface LlmReading {
  intents: Intent[];
  service: string | null;
  units: number | null;
  date: string | null;
  time: string | null;
  name: string | null;
  phone: string | null;
}

/** The schema for one business on one day. */
export function readingSchema(ctx: BusinessContext, now: Date, days: number = llmNluDefaults.days): object {
  const today = DateTime.fromJSDate(now, { zone: ctx.timezone }).startOf('day');
  const dates = Array.from({ length: days }, (_, i) => today.plus({ days: i }).toISODate()!);
  const times: string[] = [];
  for (let m = 6 * 60; m <= 21 * 60; m += 30) times.push(`${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`);
  const orNull = (s: object) => ({ anyOf: [s, { type: 'null' }] });
  return {
    type: 'object',
    properties: {
      intents: { type: 'array', items: { enum: INTENTS }, maxItems: 3 },
      service: orNull({ enum: ctx.services.map((s) => s.id) }),
      units: orNull({ type: 'integer', minimum: 1, maximum: 20 }),
      date: orNull({ enum: dates }),
      time: orNull({ enum: times }),
      name: orNull({ type: 'string', maxLength: 40 }),
      phone: orNull({ type: 'string', pattern: '^\\+?[0-9]{7,15}$' }),
    },
    required: ['intents', 'service', 'units', 'date', 'time', 'name', 'phone'],
    additionalProperties: false,
  };
}

export function readingPrompt(ctx: BusinessContext, now: Date, state: GuidedState, text: string): ChatMessage[] {
  const today = DateTime.fromJSDate(now, { zone: ctx.timezone });
  const unit = ctx.services.find((s) => s.price.perUnit)?.price.perUnit?.unit ?? 'bedroom';
  const system = [
    `You read what a customer of ${ctx.displayName} said and reply with JSON only.`,
    `Today is ${today.toFormat('cccc yyyy-LL-dd')}, ${today.toFormat('HH:mm')} local time.`,
    `Intents: ${INTENTS.join(', ')} (several if they ask for several; yes/no for an answer to a question).`,
    `Services (use the id): ${ctx.services.map((s) => `${s.id} = ${s.name}`).join('; ')}.`,
    `units: how many ${unit}s. date: YYYY-MM-DD they named. time: HH:MM (24 h) they named. name, phone: only if they said them. null for anything not said.`,
    ...(state.pending ? [`The last question to them was about: ${state.pending.kind.replace(/_/g, ' ')}.`] : []),
  ].join('\n');
  return [{ role: 'system', content: system }, { role: 'user', content: text }];
}

/** The model's reading as the guided flow's Understanding; undefined when it said nothing usable. */
export function toUnderstanding(ctx: BusinessContext, r: LlmReading, text: string): Understanding | undefined {
  const intents = [...new Set((r.intents ?? []).filter((i) => INTENTS.includes(i)))];
  const service = r.service && ctx.services.some((s) => s.id === r.service) ? r.service : undefined;
  let when: Understanding['when'];
  if (r.date || r.time) {
    const day = r.date ? DateTime.fromISO(r.date, { zone: ctx.timezone }) : DateTime.now().setZone(ctx.timezone);
    const [h, m] = (r.time ?? '').split(':').map(Number);
    const at = r.time && day.isValid ? day.set({ hour: h!, minute: m!, second: 0, millisecond: 0 }) : day.startOf('day');
    // A time without a date is not enough to place a visit; leave it to the rules.
    if (at.isValid && r.date) when = { at: at.toJSDate(), hasTime: Boolean(r.time), hasDate: true };
  }
  const units = r.units && Number.isInteger(r.units) && r.units >= 1 && r.units <= 20 ? r.units : undefined;
  if (!intents.length && !service && !when && !units) return undefined;
  return { intents, ...(service ? { service } : {}), ...(units ? { units } : {}), modifiers: [], ...(when ? { when } : {}), text: normalize(text) };
}

/**
 * Asks the model; resolves its reading merged over the rules' (the rules fill what it left out),
 * or undefined when it was too slow, failed or said nothing usable.
 */
export async function understandWithLlm(
  llm: Llm, ctx: BusinessContext, text: string, now: Date, state: GuidedState, rules: Understanding,
  o: { timeoutMs?: number; conversation?: string } = {},
): Promise<Understanding | undefined> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  // The deadline covers waiting for the model too (every sequence busy with other calls).
  const late = new Promise<undefined>((done) => {
    timer = setTimeout(() => {
      ac.abort();
      done(undefined);
    }, o.timeoutMs ?? llmNluDefaults.timeoutMs);
  });
  try {
    const asked = llm.structured<LlmReading>(readingPrompt(ctx, now, state, text), readingSchema(ctx, now), {
      signal: ac.signal, maxTokens: llmNluDefaults.maxTokens, ...(o.conversation ? { conversation: o.conversation } : {}),
    });
    asked.catch(() => {});
    const r = await Promise.race([asked, late]);
    if (!r || ac.signal.aborted) return undefined;
    const u = toUnderstanding(ctx, r, text);
    if (!u) return undefined;
    return {
      ...rules,
      intents: u.intents.length ? u.intents : rules.intents,
      ...(u.service ? { service: u.service } : {}),
      ...(u.units ? { units: u.units } : {}),
      ...(u.when ? { when: u.when } : {}),
    };
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
