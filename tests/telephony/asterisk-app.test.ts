import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { aroundTheClock } from '../helpers/contexts.js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { demoContext } from '../../src/business/context/demo.js';
import { FakeAsterisk } from '../fakes/ari/server.js';
import { freePort } from '../helpers/ports.js';
import { MODELS_DIR, rms, BUILT_MODELS_DIR } from '../helpers/audio.js';


/** The same caller experience with FRONTDESK_TELEPHONY=asterisk: the agent does not know the backend. */
describe('frontdesk on Asterisk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-ari-app-'));
  const pbx = new FakeAsterisk();
  let app: App;

  beforeAll(async () => {
    await pbx.start();
    app = await createApp(loadConfig({
      FRONTDESK_DATA_DIR: join(dir, 'data'), FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR, FRONTDESK_HTTP_HOST: '127.0.0.1', FRONTDESK_HTTP_PORT: String(await freePort()),
      FRONTDESK_TELEPHONY: 'asterisk', FRONTDESK_ARI_URL: pbx.url, FRONTDESK_ARI_USER: pbx.user, FRONTDESK_ARI_PASSWORD: pbx.pass,
      FRONTDESK_MODELS_DIR: MODELS_DIR, FRONTDESK_RTP_PORT_MIN: '38000', FRONTDESK_RTP_PORT_MAX: '38099',
    }), silentLogger);
    await app.contexts.save({
      ...demoContext, greeting: 'Hi there.', holidays: [],
      hours: aroundTheClock,
      recording: { enabled: true, consentMessage: 'This call is recorded.' },
    }, 'test');
    await app.start();
  });
  afterAll(async () => {
    await app.stop();
    await pbx.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('greets with the consent line, records the bridge, and warm-transfers to the owner on 0', async () => {
    const chan = pbx.inboundCall('+15125550177', '+15125550100');
    // Bounds, not targets: each step waits for its event however loaded the machine is.
    await vi.waitFor(() => expect(pbx.recordings).toHaveLength(1), { timeout: 60_000 });
    // The notice has been heard when recording starts; 0 pressed at once, before the greeting, still reaches the owner.
    expect(rms(pbx.heardBy(chan))).toBeGreaterThan(300);
    pbx.dtmf(chan, '0');
    await vi.waitFor(() => expect(pbx.originates.some((o) => o.endpoint === 'PJSIP/101')).toBe(true), { timeout: 60_000 });
    expect(pbx.originates[0]).toEqual({ endpoint: 'PJSIP/101', appArgs: 'warm' });
    // The caller ends up in the owner's bridge once the whisper has played.
    const ownerBridge = () => [...pbx.bridges.values()].some((b) => b.has(chan) && [...b].some((id) => pbx.channels.get(id)?.name.startsWith('PJSIP/101')));
    await vi.waitFor(() => expect(ownerBridge()).toBe(true), { timeout: 60_000 });
    const call = await app.store.db.selectFrom('calls').selectAll().executeTakeFirstOrThrow();
    expect(call.backend).toBe('asterisk');
    // The bridge recording lives in frontdesk's storage once the call is over (fetched over ARI).
    expect(call.recording_path).toBe(join(dir, 'data', 'recordings', `frontdesk-${call.id}.wav`));
  }, 200_000);

  it('says on /health and /metrics whether Asterisk is connected', async () => {
    const health = await fetch(`${app.url}/health`);
    expect(health.status).toBe(200);
    expect((await health.json()) as unknown).toMatchObject({ status: 'ok', checks: { telephony: { ok: true, backend: 'asterisk' } } });
    expect(await (await fetch(`${app.url}/metrics`)).text()).toMatch(/^frontdesk_telephony_up\{backend="asterisk"\} 1$/m);
    const down = new Promise((r) => (app.telephony as unknown as NodeJS.EventEmitter).once('down', r));
    await pbx.down();
    await down;
    const h2 = await fetch(`${app.url}/health`);
    expect(h2.status).toBe(503);
    expect((await h2.json()) as unknown).toMatchObject({ status: 'unhealthy', checks: { telephony: { ok: false, backend: 'asterisk' } } });
    expect(await (await fetch(`${app.url}/metrics`)).text()).toMatch(/^frontdesk_telephony_up\{backend="asterisk"\} 0$/m);
    // Asterisk back: ari-client reconnects, healthy again.
    const up = new Promise((r) => (app.telephony as unknown as NodeJS.EventEmitter).once('up', r));
    await pbx.up();
    await up;
    expect((await fetch(`${app.url}/health`)).status).toBe(200);
  });
});
