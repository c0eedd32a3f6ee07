import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { FakeTelnyx } from '../fakes/telnyx.js';
import { BUILT_MODELS_DIR } from '../helpers/audio.js';
import { freePort } from '../helpers/ports.js';
import { createServerDatabase } from '../helpers/stores.js';

/**
 * Texts through two nodes on one Postgres server: the carrier delivers every text to one node and
 * retries it on the other (a load balancer in front, a timeout on the first try). Each text is
 * stored once and answered once, whichever node's workers pick its job and its reply.
 */
describe('texts through two nodes on one Postgres', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-cluster-sms-'));
  const telnyx = new FakeTelnyx();
  let database: Awaited<ReturnType<typeof createServerDatabase>>;
  const apps: App[] = [];
  const bases: string[] = [];

  beforeAll(async () => {
    await telnyx.start();
    database = await createServerDatabase();
    for (const id of ['sms-a', 'sms-b']) {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const app = await createApp(loadConfig({
        DATABASE_URL: database.url, FRONTDESK_NODE_ID: id,
        FRONTDESK_DATA_DIR: join(dir, id), FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR, FRONTDESK_HTTP_HOST: '127.0.0.1', FRONTDESK_HTTP_PORT: String(port),
        FRONTDESK_TELEPHONY: 'none', FRONTDESK_PUBLIC_URL: 'http://frontdesk.example', FRONTDESK_SMS_RATE_PER_S: '1000',
        FRONTDESK_TELNYX_API_KEY: telnyx.apiKey, FRONTDESK_TELNYX_PUBLIC_KEY: telnyx.publicKey, FRONTDESK_TELNYX_API_URL: telnyx.url,
      }), silentLogger);
      await app.start();
      apps.push(app);
      bases.push(base);
    }
  }, 120_000);

  afterAll(async () => {
    for (const app of apps) await app.stop();
    await telnyx.stop();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('1,000 texts, each delivered to both nodes: every one stored once and answered exactly once', async () => {
    const n = 1_000;
    const texts = Array.from({ length: n }, (_, i) => telnyx.inbound(`+1512556${String(i).padStart(4, '0')}`, '+15125550100', 'Are you open on Saturday?'));
    const post = (base: string, w: (typeof texts)[number]) => fetch(`${base}/webhooks/sms/telnyx`, { method: 'POST', body: w.body, headers: w.headers }).then((r) => r.status);
    // Ten at a time, each text to one node and its retry to the other at once.
    for (let i = 0; i < n; i += 10) {
      const batch = texts.slice(i, i + 10);
      const statuses = await Promise.all(batch.flatMap((w, k) => [post(bases[k % 2]!, w), post(bases[(k + 1) % 2]!, w)]));
      expect(new Set(statuses)).toEqual(new Set([200]));
    }
    const db = apps[0]!.store.db;
    await vi.waitFor(async () => {
      const open = await db.selectFrom('outbox').select((eb) => eb.fn.countAll<string>().as('n')).where('status', 'in', ['pending', 'sending']).executeTakeFirstOrThrow();
      const jobs = await db.selectFrom('jobs').select((eb) => eb.fn.countAll<string>().as('n')).where('status', 'in', ['pending', 'running']).executeTakeFirstOrThrow();
      expect(telnyx.sent.length).toBeGreaterThanOrEqual(n);
      expect([Number(open.n), Number(jobs.n)]).toEqual([0, 0]);
    }, { timeout: 240_000, interval: 250 });

    const inbound = await db.selectFrom('sms_messages').select((eb) => eb.fn.countAll<string>().as('n')).where('direction', '=', 'inbound').executeTakeFirstOrThrow();
    expect(Number(inbound.n)).toBe(n);
    expect(telnyx.sent).toHaveLength(n);
    expect(new Set(telnyx.sent.map((s) => s.to)).size).toBe(n);
    expect(telnyx.sent.every((s) => /^We're open Monday to Friday/.test(s.text))).toBe(true);
  }, 300_000);
});
