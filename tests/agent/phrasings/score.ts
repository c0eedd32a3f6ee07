import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import { understand } from '../../../src/agent/guided/nlu.js';
import { demoContext } from '../../../src/business/context/demo.js';
import { contextSchema } from '../../../src/business/context/schema.js';

/** Scores the rule NLU against the phrasing set (see README.md beside this file). */

export interface Phrasing {
  say: string;
  intent: string;
  also?: string[];
  service?: string;
  units?: number;
  modifiers?: string[];
  date?: string;
  time?: string;
  loose?: ('service' | 'units' | 'modifiers' | 'date' | 'time')[];
  why?: string;
}

export const SLOTS = ['service', 'units', 'modifiers', 'date', 'time'] as const;
type Slot = (typeof SLOTS)[number];

/** The moment every phrasing is said: a Monday morning in the demo business's zone. */
export const phrasingNow = DateTime.fromISO('2026-06-01T09:00', { zone: demoContext.timezone }).toJSDate();

const dir = fileURLToPath(new URL('.', import.meta.url));

/**
 * The phrasing set: 'main' (written before the rules were tuned on it); 'holdout' and 'fresh'
 * (each written later and scored once before any tuning on it); 'unseen' (never tuned on: the
 * estimate for new phrasings; see README.md).
 */
export type PhrasingSet = 'main' | 'holdout' | 'fresh' | 'unseen';
export const PHRASING_SETS: readonly PhrasingSet[] = ['main', 'holdout', 'fresh', 'unseen'];

export function loadPhrasings(set: PhrasingSet = 'main'): Map<string, Phrasing[]> {
  const sets = new Map<string, Phrasing[]>();
  const from = set === 'main' ? dir : join(dir, set);
  for (const f of readdirSync(from).filter((f) => f.endsWith('.json')).sort()) {
    sets.set(basename(f, '.json'), JSON.parse(readFileSync(join(from, f), 'utf8')) as Phrasing[]);
  }
  return sets;
}

export interface Miss {
  say: string;
  want: string;
  got: string;
}

export interface Score {
  /** Per intent file: items, intent right, slots right (all of the item's slots, nothing extra). */
  perIntent: Record<string, { n: number; intent: number; slots: number }>;
  /** Per slot: items where that slot was scored, and right. */
  perSlot: Record<Slot, { n: number; right: number }>;
  overall: { n: number; intent: number; slots: number; both: number };
  misses: Miss[];
}

export function score(sets = loadPhrasings()): Score {
  const ctx = contextSchema.parse(demoContext);
  const perIntent: Score['perIntent'] = {};
  const perSlot = Object.fromEntries(SLOTS.map((s) => [s, { n: 0, right: 0 }])) as Score['perSlot'];
  const overall = { n: 0, intent: 0, slots: 0, both: 0 };
  const misses: Miss[] = [];
  for (const [name, items] of sets) {
    const row = (perIntent[name] = { n: 0, intent: 0, slots: 0 });
    for (const p of items) {
      const u = understand(ctx, p.say, phrasingNow);
      const top = u.intents[0] ?? 'none';
      const intentOk = top === p.intent && (p.also ?? []).every((a) => u.intents.includes(a as never));
      const at = u.when ? DateTime.fromJSDate(u.when.at, { zone: ctx.timezone }) : undefined;
      const got: Record<Slot, unknown> = {
        service: u.service,
        units: u.units,
        modifiers: u.modifiers.length ? [...u.modifiers].sort().join(',') : undefined,
        date: at && u.when!.hasDate ? at.toISODate() : undefined,
        time: at && u.when!.hasTime ? at.toFormat('HH:mm') : undefined,
      };
      const want: Record<Slot, unknown> = { service: p.service, units: p.units, modifiers: p.modifiers?.length ? [...p.modifiers].sort().join(',') : undefined, date: p.date, time: p.time };
      let slotsOk = true;
      const wrong: string[] = [];
      for (const s of SLOTS) {
        if (p.loose?.includes(s)) continue;
        // Scored where the item names the slot, or where the NLU heard one nobody said.
        if (want[s] === undefined && got[s] === undefined) continue;
        perSlot[s].n++;
        if (want[s] === got[s]) perSlot[s].right++;
        else {
          slotsOk = false;
          wrong.push(`${s}=${String(got[s] ?? '-')} (want ${String(want[s] ?? '-')})`);
        }
      }
      row.n++;
      overall.n++;
      if (intentOk) row.intent++, overall.intent++;
      if (slotsOk) row.slots++, overall.slots++;
      if (intentOk && slotsOk) overall.both++;
      if (!intentOk || !slotsOk) {
        misses.push({
          say: p.say,
          want: [p.intent, ...(p.also ?? []).map((a) => `+${a}`)].join(' '),
          got: [u.intents.join(',') || 'none', ...wrong].join('; '),
        });
      }
    }
  }
  return { perIntent, perSlot, overall, misses };
}
