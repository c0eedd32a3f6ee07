// Load generator in its own process: posts pre-signed webhooks with N connections, prints {ok, secs}.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';

const [url, file, conc] = process.argv.slice(2) as [string, string, string];
const hooks = JSON.parse(readFileSync(file, 'utf8')) as { body: string; headers: Record<string, string> }[];
const concurrency = Number(conc);
const agent = new Agent({ connections: concurrency, pipelining: 1 });
let next = 0;
let ok = 0;
const t0 = performance.now();
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (next < hooks.length) {
    const w = hooks[next++]!;
    const res = await request(url, { method: 'POST', body: w.body, headers: w.headers, dispatcher: agent });
    await res.body.dump();
    if (res.statusCode === 200) ok++;
  }
}));
process.stdout.write(JSON.stringify({ ok, secs: (performance.now() - t0) / 1000 }));
await agent.close();
