import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBusiness } from '../../src/business/index.js';
import { demoContext } from '../../src/business/context/demo.js';
import { openStore } from '../../src/store/db.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { SmsService } from '../../src/sms/service.js';
import { TelnyxProvider } from '../../src/sms/telnyx.js';
import { buildHttpServer } from '../../src/http/server.js';
import { createMetrics } from '../../src/http/metrics.js';
import { silentLogger } from '../../src/util/logger.js';
import { FakeTelnyx } from '../../tests/fakes/telnyx.js';
import { createServerDatabase } from '../../tests/helpers/stores.js';
import { round, type Suite } from '../lib.js';

/** Inbound Telnyx webhooks per second accepted (signature verified, persisted, job queued) on the Postgres server. */
const TOTAL = Number(process.env.BENCH_SMS_WEBHOOKS ?? 4000);
const CONCURRENCY = 32;

const suite: Suite = {
  description: 'SMS webhook ingest over HTTP: verify + persist + queue, Postgres server',
  async run() {
    const server = await createServerDatabase();
    // Same-host Postgres is reached over its Unix socket when there is one (as a co-located deployment would).
    const socketDir = process.env.BENCH_PG_SOCKET_DIR ?? '/var/run/postgresql';
    const url = new URL(server.url);
    const databaseUrl = existsSync(socketDir) ? `postgres://${url.username}@localhost${url.pathname}?host=${encodeURIComponent(socketDir)}` : server.url;
    const store = await openStore({ databaseUrl, poolSize: 16 });
    const telnyx = new FakeTelnyx();
    try {
      await migrateToLatest(store.db);
      const biz = createBusiness(store.db);
      await biz.contexts.save(demoContext, 'bench');
      const sms = new SmsService(store.db, biz, { providers: [new TelnyxProvider({ apiKey: 'k', publicKey: telnyx.publicKey })] });
      const http = await buildHttpServer({ store, business: biz, sms, metrics: createMetrics(), logger: silentLogger, version: 'bench' });
      const base = await http.listen({ host: '127.0.0.1', port: 0 });
      // Signed up front, so the clock measures only the service.
      const hooks = Array.from({ length: TOTAL }, (_, i) => telnyx.inbound(`+1512555${String(1000 + (i % 9000)).padStart(4, '0')}`, '+15125550100', `message ${i}`, randomUUID()));
      // The load comes from another process, as a provider's would, not from the server's own event loop.
      const file = join(mkdtempSync(join(tmpdir(), 'fd-bench-')), 'hooks.json');
      writeFileSync(file, JSON.stringify(hooks));
      const script = fileURLToPath(new URL('../load/post-webhooks.ts', import.meta.url));
      const cpu0 = process.cpuUsage();
      const out = await new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ['--import', 'tsx', script, `${base}/webhooks/sms/telnyx`, file, String(CONCURRENCY)], { maxBuffer: 1 << 20 }, (err, stdout) => (err ? reject(err) : resolve(stdout))));
      const { ok, secs } = JSON.parse(out) as { ok: number; secs: number };
      const cpu = process.cpuUsage(cpu0);
      await http.close();
      const jobs = await store.db.selectFrom('jobs').select(store.db.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
      return {
        sms_ingest_per_s: round(ok / secs, 1),
        sms_ingest_over_unix_socket: databaseUrl === server.url ? 0 : 1,
        sms_ingest_ok: ok,
        sms_ingest_jobs_queued: Number(jobs.n),
        sms_ingest_mean_ms: round((secs * 1000 * CONCURRENCY) / TOTAL, 2),
        sms_ingest_server_cpu_ms_per_webhook: round((cpu.user + cpu.system) / 1000 / TOTAL, 3),
      };
    } finally {
      await store.close();
      await server.drop();
    }
  },
};
export default suite;
