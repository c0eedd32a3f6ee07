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
    await vi.waitFor(() => expect(pbx.recordings).toHaveLength(1), { timeout: 10_000 });
    await vi.waitFor(() => expect(rms(pbx.heardBy(chan))).toBeGreaterThan(300), { timeout: 10_000 });
    pbx.dtmf(chan, '0');
    await vi.waitFor(() => expect(pbx.originates.some((o) => o.endpoint === 'PJSIP/101')).toBe(true), { timeout: 10_000 });
    expect(pbx.originates[0]).toEqual({ endpoint: 'PJSIP/101', appArgs: 'warm' });
    // The caller ends up in the owner's bridge once the whisper has played.
    const ownerBridge = () => [...pbx.bridges.values()].some((b) => b.has(chan) && [...b].some((id) => pbx.channels.get(id)?.name.startsWith('PJSIP/101')));
    await vi.waitFor(() => expect(ownerBridge()).toBe(true), { timeout: 20_000 });
    const call = await app.store.db.selectFrom('calls').selectAll().executeTakeFirstOrThrow();
    expect(call.backend).toBe('asterisk');
    expect(call.recording_path).toMatch(/^asterisk:.*frontdesk-.*\.wav$/);
  }, 30_000);
});
