import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { checkPbx, checkPublicUrl, checkRtpRange, checkSipAddress, checkSmsCredentials, checkTrunkRegistration } from '../../src/cli/doctor-checks.js';
import { startCliEndpoint, type ServerStatus } from '../../src/http/cli-endpoint.js';
import { openStore } from '../../src/store/db.js';
import { silentLogger } from '../../src/util/logger.js';
import { FakeTelnyx } from '../fakes/telnyx.js';
import { FakeSignalWire } from '../fakes/signalwire.js';
import { FakeAsterisk } from '../fakes/ari/server.js';
import { FakeDrachtioServer, FakeEslServer } from '../fakes/pbx-sockets.js';
import { freePort } from '../helpers/ports.js';
import { PGLITE_TEST_MS } from '../helpers/stores.js';

const cfg = (env: NodeJS.ProcessEnv) => loadConfig({ FRONTDESK_LOG_LEVEL: 'silent', ...env });

describe('doctor: the SIP address peers are told to use', () => {
  it('flags a private address while the trunk is on the internet, and one that is not this machine', async () => {
    expect(await checkSipAddress(cfg({ FRONTDESK_SIP_ADVERTISE: '127.0.0.1', FRONTDESK_SIP_TRUNK: '8.8.8.8' }))).toMatchObject({
      status: 'warn', detail: expect.stringMatching(/127\.0\.0\.1, a private address, but the trunk 8\.8\.8\.8 is on the internet: set FRONTDESK_SIP_ADVERTISE/),
    });
    // A PBX on the same network is reached privately: fine.
    expect(await checkSipAddress(cfg({ FRONTDESK_SIP_ADVERTISE: '127.0.0.1', FRONTDESK_SIP_TRUNK: '192.168.1.10' }))).toMatchObject({ status: 'ok' });
    expect(await checkSipAddress(cfg({ FRONTDESK_SIP_ADVERTISE: '10.200.0.1' }))).toMatchObject({ status: 'fail', detail: expect.stringMatching(/no interface of this machine has/) });
    expect(await checkSipAddress(cfg({ FRONTDESK_SIP_ADVERTISE: '8.8.4.4', FRONTDESK_SIP_TRUNK: '8.8.8.8' }))).toMatchObject({ status: 'ok', detail: '8.8.4.4 (public)' });
  });
});

describe('doctor: the RTP range', () => {
  it('fails when it swallows the SIP port, warns when small or taken, passes otherwise', async () => {
    expect(await checkRtpRange(cfg({ FRONTDESK_SIP_PORT: '20005' }))).toMatchObject({ status: 'fail', detail: 'the SIP port 20005 lies inside the RTP range 20000-20999' });
    const lo = await freePort();
    expect(await checkRtpRange(cfg({ FRONTDESK_SIP_BIND: '127.0.0.1', FRONTDESK_RTP_PORT_MIN: String(lo), FRONTDESK_RTP_PORT_MAX: String(lo + 3) })))
      .toMatchObject({ status: 'warn', detail: `${lo}-${lo + 3} holds 4 ports: at most 4 calls at once` });
    const taken = createSocket('udp4');
    await new Promise<void>((r) => taken.bind(lo, '127.0.0.1', () => r()));
    try {
      expect(await checkRtpRange(cfg({ FRONTDESK_SIP_BIND: '127.0.0.1', FRONTDESK_RTP_PORT_MIN: String(lo), FRONTDESK_RTP_PORT_MAX: String(lo + 50) })))
        .toMatchObject({ status: 'warn', detail: expect.stringMatching(new RegExp(`udp ${lo} in .* is in use`)) });
    } finally {
      taken.close();
    }
    expect(await checkRtpRange(cfg({ FRONTDESK_SIP_BIND: '127.0.0.1', FRONTDESK_RTP_PORT_MIN: String(lo), FRONTDESK_RTP_PORT_MAX: String(lo + 50) })))
      .toMatchObject({ status: 'ok' });
  });
});

describe('doctor: the trunk registration, as the running server sees it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-doctor-trunk-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('says registered or not from the running frontdesk, and that it cannot tell when none runs', async () => {
    const env = { FRONTDESK_SIP_TRUNK: 'sip.telnyx.com', FRONTDESK_SIP_TRUNK_USER: 'acme', FRONTDESK_SIP_TRUNK_PASSWORD: 'pw', FRONTDESK_DATA_DIR: dir };
    const store = await openStore({});
    let status: ServerStatus = { trunk: { registered: false } };
    const ep = await startCliEndpoint(store, dir, silentLogger, () => status);
    try {
      expect(await checkTrunkRegistration(cfg(env), ep.info)).toMatchObject({ status: 'fail', detail: expect.stringMatching(/not registered with sip\.telnyx\.com: check FRONTDESK_SIP_TRUNK_USER/) });
      status = { trunk: { registered: true } };
      expect(await checkTrunkRegistration(cfg(env), ep.info)).toMatchObject({ status: 'ok', detail: 'registered with sip.telnyx.com as acme' });
      expect(await checkTrunkRegistration(cfg(env), { ...ep.info, token: 'x'.repeat(64) })).toMatchObject({ status: 'warn' });
    } finally {
      await ep.close();
      await store.close();
    }
    expect(await checkTrunkRegistration(cfg(env), undefined)).toMatchObject({ status: 'warn', detail: expect.stringMatching(/not running here/) });
    expect(await checkTrunkRegistration(cfg({ FRONTDESK_SIP_TRUNK: '192.168.1.10' }), undefined)).toMatchObject({ status: 'ok', detail: expect.stringMatching(/IP-authenticated/) });
    expect(await checkTrunkRegistration(cfg({}), undefined)).toBeUndefined();
  }, PGLITE_TEST_MS);
});

describe('doctor: the PBX connection', () => {
  const ari = new FakeAsterisk();
  beforeAll(() => ari.start());
  afterAll(() => ari.stop());

  it('logs in to ARI, naming a wrong password or an Asterisk that does not answer', async () => {
    const env = { FRONTDESK_TELEPHONY: 'asterisk', FRONTDESK_ARI_URL: ari.url, FRONTDESK_ARI_USER: ari.user };
    expect((await checkPbx(cfg({ ...env, FRONTDESK_ARI_PASSWORD: ari.pass })))[0]).toEqual({ name: 'asterisk ari', status: 'ok', detail: `${ari.url} as frontdesk, Asterisk 22.10.1` });
    expect((await checkPbx(cfg({ ...env, FRONTDESK_ARI_PASSWORD: 'wrong' })))[0]).toMatchObject({ status: 'fail', detail: expect.stringMatching(/refused user frontdesk/) });
    const closed = `http://127.0.0.1:${await freePort()}`;
    expect((await checkPbx(cfg({ ...env, FRONTDESK_ARI_URL: closed, FRONTDESK_ARI_PASSWORD: 'x' })))[0]).toMatchObject({ status: 'fail', detail: expect.stringMatching(/does not answer/) });
  });

  it('checks the modules frontdesk needs, the Stasis app, and chan_websocket\'s control format', async () => {
    const env = { FRONTDESK_TELEPHONY: 'asterisk', FRONTDESK_ARI_URL: ari.url, FRONTDESK_ARI_USER: ari.user, FRONTDESK_ARI_PASSWORD: ari.pass };
    const byName = (cs: { name: string }[]) => Object.fromEntries(cs.map((c) => [c.name, c]));
    let c = byName(await checkPbx(cfg(env)));
    expect(c['asterisk modules']).toMatchObject({ status: 'ok' });
    // Nobody is connected as the app: the dialplan's Stasis() calls would fail.
    expect(c['asterisk stasis app']).toMatchObject({ status: 'warn', detail: expect.stringMatching(/frontdesk is not registered/) });
    expect(c['chan_websocket control format']).toBeUndefined();
    ari.modules.delete('chan_bridge_media.so');
    ari.modules.delete('chan_rtp.so');
    c = byName(await checkPbx(cfg(env)));
    expect(c['asterisk modules']).toMatchObject({ status: 'fail', detail: expect.stringMatching(/chan_bridge_media\.so \(bridge recording.*chan_rtp\.so/) });
    ari.modules.add('chan_bridge_media.so');
    ari.modules.add('chan_rtp.so');
    const ws = { ...env, FRONTDESK_ASTERISK_MEDIA: 'websocket' };
    expect(byName(await checkPbx(cfg(ws)))['chan_websocket control format']).toMatchObject({ status: 'ok' });
    ari.websocketControlFormat = 'plain-text';
    expect(byName(await checkPbx(cfg(ws)))['chan_websocket control format']).toMatchObject({ status: 'fail', detail: expect.stringMatching(/plain-text/) });
    ari.websocketControlFormat = undefined;
    expect(byName(await checkPbx(cfg(ws)))['chan_websocket control format']).toMatchObject({ status: 'fail', detail: expect.stringMatching(/\[general\] section is ignored/) });
    ari.websocketControlFormat = 'json';
  });

  it('logs in to drachtio and FreeSWITCH\'s event socket and finds mod_audio_fork and the profile, naming what is wrong', async () => {
    const esl = new FakeEslServer('ClueCon2');
    const drachtio = new FakeDrachtioServer('cymru');
    await esl.start();
    await drachtio.start();
    const env = {
      FRONTDESK_TELEPHONY: 'freeswitch', FRONTDESK_DRACHTIO_SECRET: 'cymru', FRONTDESK_FREESWITCH_ESL: `127.0.0.1:${esl.port}`,
      FRONTDESK_DRACHTIO_URL: `127.0.0.1:${drachtio.port}`, FRONTDESK_FREESWITCH_ESL_SECRET: 'ClueCon2',
    };
    const byName = (cs: Awaited<ReturnType<typeof checkPbx>>) => Object.fromEntries(cs.map((c) => [c.name, c]));
    try {
      const good = byName(await checkPbx(cfg(env)));
      expect(good).toMatchObject({
        drachtio: { status: 'ok', detail: expect.stringMatching(/secret accepted \(drachtio-server v0\.9\.4\)/) },
        'freeswitch esl': { status: 'ok' }, mod_audio_fork: { status: 'ok' },
        'drachtio_mrf profile': { status: 'ok', detail: 'running on 127.0.0.1:5080' },
      });
      expect(byName(await checkPbx(cfg({ ...env, FRONTDESK_DRACHTIO_SECRET: 'wrong' }))).drachtio).toMatchObject({ status: 'fail', detail: expect.stringMatching(/refused the secret: check FRONTDESK_DRACHTIO_SECRET/) });
      expect(byName(await checkPbx(cfg({ ...env, FRONTDESK_FREESWITCH_ESL_SECRET: 'ClueCon' })))['freeswitch esl']).toMatchObject({ status: 'fail', detail: expect.stringMatching(/refused the password/) });
      esl.modules.delete('mod_audio_fork');
      esl.profileUp = false;
      const missing = byName(await checkPbx(cfg(env)));
      expect(missing.mod_audio_fork).toMatchObject({ status: 'fail', detail: expect.stringMatching(/not loaded/) });
      expect(missing['drachtio_mrf profile']).toMatchObject({ status: 'fail' });
      const noDrachtio = await checkPbx(cfg({ ...env, FRONTDESK_DRACHTIO_URL: `127.0.0.1:${await freePort()}` }));
      expect(noDrachtio[0]).toMatchObject({ name: 'drachtio', status: 'fail', detail: expect.stringMatching(/is drachtio-server running/) });
      // Every probe let go of its connection.
      await vi.waitFor(() => expect([esl.open, drachtio.open]).toEqual([0, 0]));
    } finally {
      await esl.stop();
      await drachtio.stop();
    }
  });
});

describe('doctor: SMS provider credentials and the public webhook URL', () => {
  const telnyx = new FakeTelnyx();
  const signalwire = new FakeSignalWire();
  beforeAll(async () => {
    await telnyx.start();
    await signalwire.start();
  });
  afterAll(async () => {
    await telnyx.stop();
    await signalwire.stop();
  });

  it('asks each provider a harmless authenticated question, and names the variable when refused', async () => {
    const telnyxEnv = { FRONTDESK_TELNYX_API_KEY: telnyx.apiKey, FRONTDESK_TELNYX_PUBLIC_KEY: telnyx.publicKey, FRONTDESK_TELNYX_API_URL: telnyx.url };
    const swEnv = {
      FRONTDESK_SIGNALWIRE_SPACE_URL: signalwire.apiBase.replace(/\/api\/laml$/, ''), FRONTDESK_SIGNALWIRE_PROJECT_ID: signalwire.projectId,
      FRONTDESK_SIGNALWIRE_API_TOKEN: signalwire.apiToken, FRONTDESK_SIGNALWIRE_SIGNING_KEY: signalwire.signingKey,
    };
    // Twilio speaks the same LaML REST API as SignalWire: the SignalWire fake answers as Twilio's API.
    const twEnv = { FRONTDESK_TWILIO_API_URL: signalwire.apiBase, FRONTDESK_TWILIO_ACCOUNT_SID: signalwire.projectId, FRONTDESK_TWILIO_AUTH_TOKEN: signalwire.apiToken };
    expect((await checkSmsCredentials(cfg({ ...telnyxEnv, ...swEnv, ...twEnv }))).map((c) => [c.name, c.status]))
      .toEqual([['sms telnyx', 'ok'], ['sms signalwire', 'ok'], ['sms twilio', 'ok']]);
    const bad = await checkSmsCredentials(cfg({
      ...telnyxEnv, FRONTDESK_TELNYX_API_KEY: 'KEYwrong', ...swEnv, FRONTDESK_SIGNALWIRE_API_TOKEN: 'PTwrong', ...twEnv, FRONTDESK_TWILIO_AUTH_TOKEN: 'wrong',
    }));
    expect(bad).toEqual([
      { name: 'sms telnyx', status: 'fail', detail: 'the provider refused the credentials (401): check FRONTDESK_TELNYX_API_KEY' },
      { name: 'sms signalwire', status: 'fail', detail: 'the provider refused the credentials (401): check FRONTDESK_SIGNALWIRE_PROJECT_ID and _API_TOKEN' },
      { name: 'sms twilio', status: 'fail', detail: 'the provider refused the credentials (401): check FRONTDESK_TWILIO_ACCOUNT_SID and _AUTH_TOKEN' },
    ]);
    // Nothing was sent on the way.
    expect(telnyx.sent).toEqual([]);
    expect(signalwire.sent).toEqual([]);
    expect(await checkSmsCredentials(cfg({}))).toEqual([]);
  });

  it('fails a webhook URL the provider cannot reach, and is content without a provider', async () => {
    const telnyxEnv = { FRONTDESK_TELNYX_API_KEY: telnyx.apiKey, FRONTDESK_TELNYX_PUBLIC_KEY: telnyx.publicKey, FRONTDESK_TELNYX_API_URL: telnyx.url };
    expect(await checkPublicUrl(cfg({}))).toMatchObject({ status: 'ok', detail: expect.stringMatching(/no SMS provider set/) });
    expect(await checkPublicUrl(cfg({ ...telnyxEnv, FRONTDESK_PUBLIC_URL: 'http://192.168.1.20:8080' })))
      .toMatchObject({ status: 'fail', detail: expect.stringMatching(/not reachable from the internet: set FRONTDESK_PUBLIC_URL/) });
    expect(await checkPublicUrl(cfg(telnyxEnv))).toMatchObject({ status: 'fail' });
  });
});
