// npm run bench [suite ...]: runs benchmark suites, prints a table, writes bench/results/<suite>.json.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine, round, type Suite } from './lib.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(join(here, 'suites'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => basename(f, '.ts'))
  .sort();
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !available.includes(w));
if (unknown.length) {
  console.error(`unknown suite(s): ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}
const suites = wanted.length ? wanted : available;
const outDir = join(here, 'results');
mkdirSync(outDir, { recursive: true });

let failed = false;
for (const name of suites) {
  const suite = (await import(`./suites/${name}.ts`)).default as Suite;
  console.log(`\n== ${name}: ${suite.description}`);
  try {
    const t0 = performance.now();
    const metrics = await suite.run();
    const rows = Object.entries(metrics).map(([metric, value]) => ({ metric, value: round(value) }));
    console.table(rows);
    const result = { ...Object.fromEntries(rows.map((r) => [r.metric, r.value])), machine: { ...machine(), models: suite.models?.() ?? [] } };
    writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`wrote bench/results/${name}.json (${round((performance.now() - t0) / 1000, 1)} s)`);
  } catch (e) {
    failed = true;
    console.error(`suite ${name} failed:`, e);
  }
}
process.exit(failed ? 1 : 0);
