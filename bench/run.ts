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
// Flags (`--minutes 5`, `--minutes=5`) belong to the suites; the rest name suites.
const args = process.argv.slice(2);
const wanted = args.filter((a, i) => !a.startsWith('--') && !(args[i - 1]?.startsWith('--') && !args[i - 1]!.includes('=')));
const unknown = wanted.filter((w) => !available.includes(w));
if (unknown.length) {
  console.error(`unknown suite(s): ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}
// The soak runs for minutes: only when asked for by name.
const suites = wanted.length ? wanted : available.filter((s) => s !== 'soak');
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
