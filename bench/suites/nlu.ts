import { DateTime } from 'luxon';
import { understand } from '../../src/agent/guided/nlu.js';
import { demoContext } from '../../src/business/context/demo.js';
import { contextSchema } from '../../src/business/context/schema.js';
import { loadPhrasings, PHRASING_SETS, score } from '../../tests/agent/phrasings/score.js';
import { percentile, type Suite } from '../lib.js';

/** The rule NLU on the phrasing set (tests/agent/phrasings): accuracy per set, and its time per turn. */
const suite: Suite = {
  description: 'rule NLU: intent and slot accuracy on the phrasing sets, time per turn',
  async run() {
    const metrics: Record<string, number> = {};
    const said: string[] = [];
    for (const set of PHRASING_SETS) {
      const phrasings = loadPhrasings(set);
      const s = score(phrasings);
      metrics[`${set}_phrasings`] = s.overall.n;
      metrics[`${set}_intent_pct`] = (100 * s.overall.intent) / s.overall.n;
      metrics[`${set}_slots_pct`] = (100 * s.overall.slots) / s.overall.n;
      for (const items of phrasings.values()) said.push(...items.map((p) => p.say));
    }
    const ctx = contextSchema.parse(demoContext);
    const now = DateTime.fromISO('2026-06-01T09:00', { zone: demoContext.timezone }).toJSDate();
    const times: number[] = [];
    for (let round = 0; round < 5; round++) {
      for (const t of said) {
        const t0 = performance.now();
        understand(ctx, t, now);
        times.push(performance.now() - t0);
      }
    }
    times.sort((a, b) => a - b);
    metrics.understand_p50_ms = percentile(times, 50);
    metrics.understand_p99_ms = percentile(times, 99);
    return metrics;
  },
};
export default suite;
