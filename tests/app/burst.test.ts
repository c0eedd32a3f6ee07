import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { demoContext } from '../../src/business/context/demo.js';
import { SipEndpoint } from '../../src/telephony/sip/endpoint.js';
import type { SipCall } from '../../src/telephony/sip/call.js';
import { parseCidrList } from '../../src/util/cidr.js';
import { aroundTheClock } from '../helpers/contexts.js';
import { freePort } from '../helpers/ports.js';
import { BUILT_MODELS_DIR, MODELS_DIR, rms } from '../helpers/audio.js';

/**
 * Fifty calls arrive at once (the burst that once froze the process for 17 s while each call loaded
 * its recognizer and VAD on the media thread). Every caller is answered and hears the greeting;
 * afterwards no call is left live. How evenly RTP kept flowing meanwhile is `npm run bench burst`.
 */
describe('a burst of fifty simultaneous calls', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-burst-'));
  const calls = 50;
  let app: App;
  let phone: SipEndpoint;

  beforeAll(async () => {
    const sipPort = await freePort();
    const phonePort = await freePort();
    app = await createApp(loadConfig({
      FRONTDESK_DATA_DIR: join(dir, 'data'), FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR, FRONTDESK_MODELS_DIR: MODELS_DIR,
      FRONTDESK_HTTP_HOST: '127.0.0.1', FRONTDESK_HTTP_PORT: String(await freePort()),
      FRONTDESK_SIP_BIND: '127.0.0.1', FRONTDESK_SIP_PORT: String(sipPort), FRONTDESK_RTP_PORT_MIN: '43000', FRONTDESK_RTP_PORT_MAX: '43199',
      FRONTDESK_MAX_CALLS: String(calls),
    }), silentLogger);
    await app.contexts.save({ ...demoContext, hours: aroundTheClock, holidays: [] }, 'test');
    await app.start();
    await app.speechReady;
    phone = new SipEndpoint({
      bind: '127.0.0.1', port: phonePort, trusted: parseCidrList([]), rtpPortMin: 43200, rtpPortMax: 43399,
      trunk: { host: '127.0.0.1', port: sipPort, transport: 'UDP', register: false, callerId: '+15125550142' },
    });
    await phone.start();
  }, 180_000);
  afterAll(async () => {
    await phone?.stop();
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers every caller, each hears the greeting, and none is left live', async () => {
    const heard = new Set<number>();

    // All fifty INVITEs go out in the same turn of the event loop.
    const dialled = Array.from({ length: calls }, (_, i) => phone.dial(`+15125550100`).then((c) => {
      const call = c as SipCall;
      const onAudio = (f: { pcm: Int16Array }) => {
        if (rms(f.pcm) <= 250) return;
        heard.add(i);
        call.off('audio', onAudio);
      };
      call.on('audio', onAudio);
      return call;
    }));
    const answered = await Promise.allSettled(dialled);
    const refused = answered.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
    expect(refused).toEqual([]);
    const up = answered.map((r) => (r as PromiseFulfilledResult<SipCall>).value);
    expect((app.telephony as SipEndpoint).activeCalls()).toBe(calls);
    // Every caller hears the greeting (speech, not the silence of an answered line).
    await vi.waitFor(() => expect(heard.size).toBe(calls), { timeout: 120_000, interval: 200 });
    await Promise.all(up.map((c) => c.hangup('normal')));
    await vi.waitFor(async () => {
      const rows = await app.store.db.selectFrom('calls').select(['state']).execute();
      expect(rows).toHaveLength(calls);
      expect(rows.filter((r) => r.state !== 'ended')).toEqual([]);
    }, { timeout: 60_000, interval: 200 });
    await vi.waitFor(() => expect((app.telephony as SipEndpoint).activeCalls()).toBe(0));
  }, 300_000);
});
