import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDial, resolvePolicy } from '../../src/business/dial-policy.js';
import type { OutboundAttempt } from '../../src/telephony/dial-guard.js';
import type { Call } from '../../src/telephony/call.js';
import { AriTelephony } from '../../src/telephony/asterisk/ari.js';
import { FsTelephony } from '../../src/telephony/freeswitch/index.js';
import { ForkServer } from '../../src/telephony/freeswitch/fork-server.js';
import { SipEndpoint } from '../../src/telephony/sip/endpoint.js';
import type { SipCall } from '../../src/telephony/sip/call.js';
import { parseCidrList } from '../../src/util/cidr.js';
import { FakeAsterisk } from '../fakes/ari/server.js';
import { FakeDrachtio } from '../fakes/drachtio.js';
import { freePort } from '../helpers/ports.js';

/**
 * Toll fraud: what a stranger, a careless owner or a confused caller could get frontdesk to dial,
 * on the owner's trunk. The table is the policy; then every backend's transfer paths must obey it.
 */

const policy = resolvePolicy({ trustedNetworks: parseCidrList(['10.0.0.0/8']) });
const TABLE: [target: string, kind: string, allowed: boolean][] = [
  ['+15125550199', 'domestic', true],
  ['(512) 555-0123', 'domestic', true],
  ['+18005550100', 'toll_free', true],
  ['101', 'extension', true],
  ['sip:maria@10.1.2.3:5060', 'sip', true],
  ['+19005550100', 'premium', false],
  ['1-900-555-0100', 'premium', false],
  ['+448700000000', 'premium', false],
  ['+33892000000', 'premium', false],
  ['+18765550100', 'international', false], // Jamaica: +1, but not domestic
  ['+18095550100', 'international', false], // Dominican Republic
  ['+12844941234', 'international', false], // British Virgin Islands
  ['+16499461234', 'international', false], // Turks and Caicos
  ['+442079460958', 'international', false],
  ['011442079460958', 'international', false],
  ['+16495550100', 'invalid', false], // no such line in Turks and Caicos
  ['+882123456789', 'invalid', false],
  ['911', 'emergency', false],
  ['112', 'emergency', false],
  ['999', 'emergency', false],
  ['411', 'service', false],
  ['*72', 'service', false],
  ['#31#', 'service', false],
  ['*72+19005550100', 'service', false],
  ['118118', 'service', false],
  ['12345678', 'invalid', false],
  ['PJSIP/trunk/+19005550100', 'invalid', false],
  ['Local/900@default', 'invalid', false],
  ['sip:+19005550100@10.1.2.3', 'premium', false],
  ['sip:owner@203.0.113.9', 'sip', false], // off-net
  ['sips:owner@evil.example.com', 'sip', false],
  ['tel:+18765550100', 'international', false],
];

describe('the dial policy', () => {
  it('classifies every target as the table says', () => {
    const got = TABLE.map(([t]) => { const v = checkDial(t, policy); return [t, v.kind, v.allowed]; });
    expect(got).toEqual(TABLE);
  });

  it('lets the settings open premium and international lines, and never emergency or service codes', () => {
    const open = resolvePolicy({ allowInternational: true, allowPremium: true });
    expect(checkDial('+19005550100', open)).toMatchObject({ allowed: true, kind: 'premium' });
    expect(checkDial('+18765550100', open)).toMatchObject({ allowed: true, kind: 'international' });
    for (const t of ['911', '112', '*72', '#31#', '118118', '411']) expect([t, checkDial(t, open).allowed]).toEqual([t, false]);
    // An extension pattern that would swallow 911 still does not dial it.
    expect(checkDial('911', resolvePolicy({ extensionPattern: '^[0-9]{3}$' })).allowed).toBe(false);
    expect(checkDial('12345', resolvePolicy({ extensionPattern: '^[0-9]{5}$' }))).toMatchObject({ allowed: true, kind: 'extension' });
  });
});

/** Transfer targets every backend must refuse before anything reaches the PBX or the network. */
const REFUSED = ['+19005550100', '+18765550100', '911', '*72', '118118', 'sip:owner@203.0.113.9', 'Local/900@default'];

function checkAttempts(attempts: OutboundAttempt[], who: string): void {
  const refused = attempts.filter((a) => !a.allowed);
  expect(refused.length).toBeGreaterThanOrEqual(REFUSED.length * 2);
  expect(new Set(refused.map((a) => a.requestedBy))).toEqual(new Set([who]));
  expect(new Set(refused.map((a) => a.leg))).toEqual(new Set(['transfer', 'warm']));
}

describe('Asterisk (ARI fake): redirect and originate obey the policy', () => {
  const pbx = new FakeAsterisk();
  const attempts: OutboundAttempt[] = [];
  let ari: AriTelephony;
  let next: (c: Call) => void = () => {};
  beforeAll(async () => {
    await pbx.start();
    ari = new AriTelephony({
      url: pbx.url, user: pbx.user, password: pbx.pass, app: pbx.app, mediaAddress: '127.0.0.1', rtpPortMin: 37400, rtpPortMax: 37499,
      media: 'rtp', trunkEndpoint: 'PJSIP/{number}@trunk', extensionEndpoint: 'PJSIP/{ext}', mediaTimeoutMs: 0,
      onOutbound: (e) => attempts.push(e),
    });
    ari.on('call', (c) => next(c));
    await ari.start();
  });
  afterAll(async () => {
    await ari.stop();
    await pbx.stop();
  });

  it('refuses blind and warm transfers to every forbidden target, and lets an allowed one through', async () => {
    const got = new Promise<Call>((r) => (next = r));
    pbx.inboundCall('+15125550177', '+15125550100');
    const call = await got;
    await call.answer();
    for (const uri of REFUSED) {
      for (const mode of ['blind', 'warm'] as const) {
        expect([uri, mode, await call.transfer({ uri, mode, requestedBy: 'maria' })]).toEqual([uri, mode, expect.objectContaining({ ok: false, status: 403 })]);
      }
    }
    expect(pbx.redirects).toEqual([]);
    expect(pbx.originates).toEqual([]);
    expect(call.state).toBe('answered');
    checkAttempts(attempts, 'maria');
    await expect(ari.dial('+18765550100', { requestedBy: 'maria' })).rejects.toThrow(/international/);
    expect(pbx.originates).toEqual([]);
    expect(await call.transfer({ uri: '+15125550199', mode: 'blind' })).toMatchObject({ ok: true });
    // Transfers are bridged in Asterisk (no redirect): the owner's leg is originated.
    expect(pbx.originates.at(-1)).toEqual({ endpoint: 'PJSIP/+15125550199@trunk', appArgs: 'blind' });
    expect(attempts.at(-1)).toMatchObject({ to: '+15125550199', allowed: true, leg: 'transfer', requestedBy: 'agent' });
  });
});

describe('FreeSWITCH (drachtio fake): REFER and owner legs obey the policy', () => {
  const drachtio = new FakeDrachtio();
  const forks = new ForkServer();
  const attempts: OutboundAttempt[] = [];
  let http: Server;
  let fs: FsTelephony;
  let next: (c: Call) => void = () => {};
  beforeAll(async () => {
    http = createServer();
    http.on('upgrade', (req, sock, head) => forks.handleUpgrade(req, sock, head));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const port = (http.address() as { port: number }).port;
    fs = new FsTelephony({
      seam: drachtio, forks, forkUrl: `ws://127.0.0.1:${port}/audio-fork`, trunkUri: 'sip:{number}@sip.telnyx.com', extensionUri: 'sip:{ext}@pbx.local',
      onOutbound: (e) => attempts.push(e),
    });
    fs.on('call', (c) => next(c));
    await fs.start();
  });
  afterAll(async () => {
    await fs.stop();
    await new Promise((r) => http.close(r));
  });

  it('refuses blind and warm transfers to every forbidden target, and lets an allowed one through', async () => {
    const got = new Promise<Call>((r) => (next = r));
    const leg = drachtio.incoming('+15125550177', '+15125550100');
    const call = await got;
    await call.answer();
    const legsBefore = drachtio.legs.length;
    for (const uri of REFUSED) {
      for (const mode of ['blind', 'warm'] as const) {
        expect([uri, mode, await call.transfer({ uri, mode, requestedBy: 'maria' })]).toEqual([uri, mode, expect.objectContaining({ ok: false, status: 403 })]);
      }
    }
    expect(leg.dialog.requests.filter((r) => r.method === 'REFER')).toEqual([]);
    expect(drachtio.legs.length).toBe(legsBefore);
    checkAttempts(attempts, 'maria');
    expect(await call.transfer({ uri: '101', mode: 'blind' })).toMatchObject({ ok: true });
    expect(leg.dialog.requests.at(-1)).toMatchObject({ method: 'REFER', headers: { 'Refer-To': '<sip:101@pbx.local>' } });
  });
});

describe('built-in SIP endpoint: REFER and INVITE targets obey the policy', () => {
  const attempts: OutboundAttempt[] = [];
  let us: SipEndpoint;
  let peer: SipEndpoint;
  const refers: string[] = [];
  beforeAll(async () => {
    peer = new SipEndpoint({ bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]), rtpPortMin: 37600, rtpPortMax: 37649 });
    peer.on('call', (c) => void c.answer());
    peer.on('refer', (_c, to) => refers.push(to));
    await peer.start();
    us = new SipEndpoint({
      bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]), rtpPortMin: 37650, rtpPortMax: 37699,
      trunk: { host: '127.0.0.1', port: peer.port, transport: 'UDP', register: false },
      onOutbound: (e) => attempts.push(e),
    });
    await us.start();
  });
  afterAll(async () => {
    await us.stop();
    await peer.stop();
  });

  it('refuses blind and warm transfers to every forbidden target, and sends the REFER for an allowed one', async () => {
    const call = (await us.dial(`sip:caller@127.0.0.1:${peer.port}`, { requestedBy: 'maria' })) as SipCall;
    expect(call.state).toBe('answered');
    for (const uri of REFUSED) {
      for (const mode of ['blind', 'warm'] as const) {
        expect([uri, mode, await call.transfer({ uri, mode, requestedBy: 'maria' })]).toEqual([uri, mode, expect.objectContaining({ ok: false, status: 403 })]);
      }
    }
    expect(refers).toEqual([]);
    checkAttempts(attempts, 'maria');
    // The peer declines (it does not originate for us), but the REFER went out: the policy let it.
    await call.transfer({ uri: '101', mode: 'blind', ringSeconds: 1 });
    expect(refers).toEqual([`sip:101@127.0.0.1:${peer.port}`]);
    await call.hangup();
  });
});
