import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { FakeTelnyx } from '../fakes/telnyx.js';
import { BUILT_MODELS_DIR, MODELS_DIR } from '../helpers/audio.js';
import { proxiedDatabase, type FaultProxy } from '../helpers/fault-proxy.js';
import { freePort } from '../helpers/ports.js';
import { runSipp } from '../helpers/sipp.js';

/**
 * frontdesk on the Postgres server through a proxy that resets and blackholes its connections
 * while a call is up and while texts arrive. Afterwards: the call completed, every text was
 * answered (a provider retries a webhook that did not get 200, as Telnyx does), /health is ok.
 */
describe('database faults during a call and during SMS ingest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-dbfault-'));
  const telnyx = new FakeTelnyx();
  let app: App;
  let proxy: FaultProxy;
  let drop: () => Promise<void>;
  let base = '';
  let sipTarget = '';

  beforeAll(async () => {
    const db = await proxiedDatabase();
    ({ proxy, drop } = db);
    await telnyx.start();
    const port = await freePort();
    const sipPort = await freePort();
    base = `http://127.0.0.1:${port}`;
    sipTarget = `127.0.0.1:${sipPort}`;
    app = await createApp(loadConfig({
      DATABASE_URL: db.url,
      FRONTDESK_DATA_DIR: join(dir, 'data'), FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR, FRONTDESK_MODELS_DIR: MODELS_DIR,
      FRONTDESK_HTTP_HOST: '127.0.0.1', FRONTDESK_HTTP_PORT: String(port), FRONTDESK_PUBLIC_URL: base,
      FRONTDESK_SIP_BIND: '127.0.0.1', FRONTDESK_SIP_PORT: String(sipPort), FRONTDESK_RTP_PORT_MIN: '36400', FRONTDESK_RTP_PORT_MAX: '36499',
      FRONTDESK_TELNYX_API_KEY: telnyx.apiKey, FRONTDESK_TELNYX_PUBLIC_KEY: telnyx.publicKey, FRONTDESK_TELNYX_API_URL: telnyx.url,
    }), silentLogger);
    await app.start();
  }, 120_000);
  afterAll(async () => {
    await app?.stop();
    await telnyx.stop();
    await proxy.stop();
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const health = async () => (await fetch(`${base}/health`)).status;

  it('keeps a call up through a connection reset and a short outage, and records it', async () => {
    const sipp = runSipp({ scenario: 'uac-media.xml', target: sipTarget, timeoutS: 40 });
    // Once the call is on the books, pull the database out from under it.
    await vi.waitFor(async () => expect(await app.store.db.selectFrom('calls').select('id').executeTakeFirst()).toBeDefined(), { timeout: 30_000, interval: 100 });
    proxy.reset();
    proxy.blackhole();
    expect(await health()).toBe(503);
    proxy.heal();
    const run = await sipp;
    expect(run.code, run.output).toBe(0); // the caller's call ran to its own BYE
    await vi.waitFor(async () => expect(await health()).toBe(200), { timeout: 20_000, interval: 200 });
    // The record catches up: the call ended, nothing left "answered".
    await vi.waitFor(async () => {
      const rows = await app.store.db.selectFrom('calls').select(['state', 'disposition']).execute();
      expect(rows.length).toBe(1);
      expect(rows[0]!.state).toBe('ended');
    }, { timeout: 30_000, interval: 200 });
  }, 120_000);

  it('loses no text when connections reset in the middle of ingest', async () => {
    const n = 12;
    const texts = Array.from({ length: n }, (_, i) => telnyx.inbound(`+151255506${String(i).padStart(2, '0')}`, '+15125550100', 'What are your hours?'));
    // The provider delivers each webhook until it gets a 200 (Telnyx retries failed deliveries).
    const deliver = async (w: (typeof texts)[number]) => {
      for (let attempt = 0; attempt < 40; attempt++) {
        const res = await fetch(`${base}/webhooks/sms/telnyx`, { method: 'POST', body: w.body, headers: w.headers }).catch(() => undefined);
        if (res?.status === 200) return;
        // The provider's own back-off between deliveries (time passing is the behaviour copied here).
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error('webhook never accepted');
    };
    const first = Promise.all(texts.slice(0, n / 2).map(deliver));
    proxy.reset();
    const second = Promise.all(texts.slice(n / 2).map(deliver));
    proxy.reset();
    await Promise.all([first, second]);
    // Every texter got exactly one answer.
    await vi.waitFor(() => expect(new Set(telnyx.sent.map((s) => s.to)).size).toBe(n), { timeout: 60_000, interval: 200 });
    expect(telnyx.sent).toHaveLength(n);
    expect(await health()).toBe(200);
  }, 120_000);
});
