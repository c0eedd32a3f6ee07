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

/** The running service, configured only through its settings, answering a text end to end. */
describe('frontdesk with Telnyx configured', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-sms-app-'));
  const telnyx = new FakeTelnyx();
  let app: App;
  let base = '';

  beforeAll(async () => {
    await telnyx.start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    app = await createApp(loadConfig({
      FRONTDESK_DATA_DIR: join(dir, 'data'), FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR, FRONTDESK_HTTP_HOST: '127.0.0.1', FRONTDESK_HTTP_PORT: String(port),
      FRONTDESK_TELEPHONY: 'none', FRONTDESK_PUBLIC_URL: base,
      FRONTDESK_TELNYX_API_KEY: telnyx.apiKey, FRONTDESK_TELNYX_PUBLIC_KEY: telnyx.publicKey, FRONTDESK_TELNYX_API_URL: telnyx.url,
    }), silentLogger);
    await app.start();
    // A bound for starting the whole app (models, embedded database) on a loaded machine: 60 s was not.
  }, 180_000);
  afterAll(async () => {
    await app?.stop();
    await telnyx.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('acknowledges a signed webhook and texts the answer back through Telnyx', async () => {
    const w = telnyx.inbound('+15125550501', '+15125550100', 'Are you open on Saturday?');
    // Acknowledged on its own (the reply follows from the queue); ingest speed lives in `npm run bench sms`.
    const res = await fetch(`${base}/webhooks/sms/telnyx`, { method: 'POST', body: w.body, headers: w.headers });
    expect(res.status).toBe(200);
    await vi.waitFor(() => expect(telnyx.sent.length).toBeGreaterThan(0), { timeout: 10_000, interval: 100 });
    expect(telnyx.sent).toHaveLength(1);
    expect(telnyx.sent[0]).toMatchObject({ from: '+15125550100', to: '+15125550501' });
    expect(telnyx.sent[0]!.text).toMatch(/^We're open Monday to Friday 8 AM to 6 PM; Saturday 9 AM to 2 PM; closed Sunday\./);
  });

  it('refuses to start with half an SMS provider configured', () => {
    expect(() => loadConfig({ FRONTDESK_TELNYX_API_KEY: 'KEY123' })).toThrow(/FRONTDESK_TELNYX_PUBLIC_KEY: needed together with FRONTDESK_TELNYX_API_KEY/);
  });
});
