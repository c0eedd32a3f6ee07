// npm run nlu-accuracy [-- --misses]: the rule NLU's intent and slot accuracy on tests/agent/phrasings.
import { loadPhrasings, PHRASING_SETS, score } from '../tests/agent/phrasings/score.js';

const pct = (a: number, n: number) => (n ? `${((100 * a) / n).toFixed(1)} %` : '-');
for (const set of PHRASING_SETS) {
  const s = score(loadPhrasings(set));
  console.log(`\n== ${set} set`);
  console.table(Object.fromEntries(Object.entries(s.perIntent).map(([k, r]) => [k, { items: r.n, intent: pct(r.intent, r.n), slots: pct(r.slots, r.n) }])));
  console.table(Object.fromEntries(Object.entries(s.perSlot).map(([k, r]) => [k, { scored: r.n, right: pct(r.right, r.n) }])));
  const o = s.overall;
  console.log(`${set}: ${o.n} phrasings; intent ${pct(o.intent, o.n)}, slots ${pct(o.slots, o.n)}, both ${pct(o.both, o.n)}`);
  if (process.argv.includes('--misses')) for (const m of s.misses) console.log(`  "${m.say}" → want ${m.want}; got ${m.got}`);
}
