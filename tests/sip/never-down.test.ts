import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SipEndpoint } from '../../src/telephony/sip/endpoint.js';
import type { SipCall } from '../../src/telephony/sip/call.js';
import { parseCidrList } from '../../src/util/cidr.js';
import { freePort } from '../helpers/ports.js';
import { invite, inDialog, options, sdp, SipPeer } from '../helpers/sip-peer.js';

/**
 * Inputs that used to end the process: each must now get its SIP answer (or end only its own
 * call), and the endpoint must still answer OPTIONS afterwards. An exception escaping into a
 * socket or timer callback fails these tests as an unhandled error.
 */
describe('the SIP endpoint stays up', () => {
  let ep: SipEndpoint;
  let peer: SipPeer;
  let onCall: (call: SipCall) => void = () => {};

  beforeAll(async () => {
    ep = new SipEndpoint({
      bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]),
      rtpPortMin: 34000, rtpPortMax: 34199, mediaTimeoutMs: 400,
    });
    ep.on('call', (c) => onCall(c as SipCall));
    await ep.start();
    peer = await SipPeer.open();
    peer.target = ep.port;
  });
  afterAll(async () => {
    await ep.stop();
    peer.close();
  });
  afterEach(async () => {
    onCall = () => {};
    await stillAnswers();
  });

  async function stillAnswers(): Promise<void> {
    const o = options(peer);
    peer.send(o.text);
    expect((await peer.final(o.callId, 'OPTIONS')).status).toBe(200);
  }

  it('refuses SDP whose audio port is outside 1-65535 (or whose address is unusable) with 488', async () => {
    let rang = 0;
    onCall = () => rang++;
    const bodies = [
      sdp({ port: 70000 }),
      sdp({ port: 65536 }),
      sdp({ port: 99999 }),
      sdp({ port: -1 }),
      sdp({ port: 4000, address: 'example.invalid' }),
      sdp({ port: 4000, address: '999.1.1.1' }),
      sdp({ port: 4000 }).replace(/IN IP4 127\.0\.0\.1/g, 'IN IP6 ::1'),
      'v=0\r\nm=audio 4000 RTP/AVP 0\r\n',
    ];
    for (const body of bodies) {
      const inv = invite({ peer, body });
      peer.send(inv.text);
      const res = await peer.final(inv.callId);
      expect(res.status, body).toBe(488);
    }
    expect(rang).toBe(0);
    expect(ep.activeCalls()).toBe(0);
  });

  it('answers an INVITE with an invalid Contact with 400 before ringing', async () => {
    let rang = 0;
    onCall = () => rang++;
    const contacts = ['<sip:', 'not an address', '<>', '<sip:peer@127.0.0.1:99999>', '<http//x>', '"Ann" <sip:@>', '<sip:a@b;=x>'];
    for (const contact of contacts) {
      const inv = invite({ peer, contact });
      peer.send(inv.text);
      const res = await peer.final(inv.callId);
      expect(res.status, contact).toBe(400);
      expect(res.header('to')).toMatch(/;tag=/);
    }
    expect(rang).toBe(0);
  });

  it('hangs up a call whose far end stops sending RTP, with a BYE, and keeps pacing other calls', async () => {
    const calls: SipCall[] = [];
    onCall = (c) => {
      calls.push(c);
      void c.answer();
    };
    const inv = invite({ peer });
    const before = peer.messages.length;
    peer.send(inv.text);
    const ok = await peer.final(inv.callId);
    expect(ok.status).toBe(200);
    const call = calls[0]!;
    const reason = await new Promise<string>((r) => call.once('ended', r));
    expect(reason).toBe('media_timeout');
    const bye = await peer.wait((m) => m.method === 'BYE' && m.callId === inv.callId, before);
    expect(bye.callId).toBe(inv.callId);
    expect(ep.activeCalls()).toBe(0);
    expect(call.rtp.stats.sendErrors).toBe(0);
  });

  it('ends only the call whose audio handler throws: BYE, reason failed', async () => {
    const calls: SipCall[] = [];
    onCall = (c) => {
      calls.push(c);
      c.on('audio', () => {
        throw new Error('recognizer exploded');
      });
      void c.answer();
    };
    const inv = invite({ peer });
    const before = peer.messages.length;
    peer.send(inv.text);
    expect((await peer.final(inv.callId)).status).toBe(200);
    const call = calls[0]!;
    const ended = new Promise<string>((r) => call.once('ended', r));
    // One PCMU packet from the caller's media address.
    const pkt = Buffer.alloc(172, 0xff);
    pkt[0] = 0x80;
    pkt[1] = 0;
    peer.rtp.send(pkt, call.rtp.localPort, '127.0.0.1');
    expect(await ended).toBe('failed');
    await peer.wait((m) => m.method === 'BYE' && m.callId === inv.callId, before);
    expect(ep.activeCalls()).toBe(0);
  });

  it('answers 500 when setting up a call throws, and the next call still works', async () => {
    onCall = () => {
      throw new Error('app handler bug');
    };
    const inv = invite({ peer });
    peer.send(inv.text);
    const res = await peer.final(inv.callId);
    expect(res.status).toBe(500);
    await vi.waitFor(() => expect(ep.activeCalls()).toBe(0));
  });

  it('survives in-dialog garbage: a re-INVITE with a bad port gets 488 and the call goes on', async () => {
    const calls: SipCall[] = [];
    onCall = (c) => {
      calls.push(c);
      void c.answer();
    };
    // On hold from the start (inactive), so the media timeout stays out of this test.
    const inv = invite({ peer, body: sdp({ port: peer.rtpPort, direction: 'inactive' }) });
    peer.send(inv.text);
    const ok = await peer.final(inv.callId);
    const toHeader = ok.header('to')!;
    const re = inDialog({ peer, method: 'INVITE', callId: inv.callId, fromTag: inv.fromTag, toHeader, cseq: 2, body: sdp({ port: 123456 }) });
    peer.send(re);
    const res = await peer.wait((m) => m.callId === inv.callId && /^2 INVITE$/.test(m.header('cseq') ?? '') && (m.status ?? 0) >= 200);
    expect(res.status).toBe(488);
    expect(calls[0]!.state).toBe('answered');
    await calls[0]!.hangup();
  });
});

describe('admission control', () => {
  it('refuses a call over the simultaneous-call cap with 503 and Retry-After', async () => {
    const ep = new SipEndpoint({
      bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]), rtpPortMin: 34400, rtpPortMax: 34499, maxCalls: 1, retryAfterS: 7,
    });
    const rang: SipCall[] = [];
    ep.on('call', (c) => rang.push(c as SipCall));
    await ep.start();
    const peer = await SipPeer.open();
    peer.target = ep.port;
    try {
      const first = invite({ peer });
      peer.send(first.text);
      await peer.wait((m) => m.callId === first.callId && m.status === 180);
      const second = invite({ peer });
      peer.send(second.text);
      const res = await peer.final(second.callId);
      expect(res.status).toBe(503);
      expect(res.header('retry-after')).toBe('7');
      expect(rang).toHaveLength(1);
      // The first caller is unaffected: it can still be answered.
      await rang[0]!.answer();
      expect((await peer.final(first.callId)).status).toBe(200);
    } finally {
      await ep.stop();
      peer.close();
    }
  });

  it('answers 503 with Retry-After when the RTP port range is exhausted', async () => {
    const ep = new SipEndpoint({ bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]), rtpPortMin: 34600, rtpPortMax: 34600 });
    const rang: SipCall[] = [];
    ep.on('call', (c) => rang.push(c as SipCall));
    await ep.start();
    const peer = await SipPeer.open();
    peer.target = ep.port;
    try {
      const first = invite({ peer });
      peer.send(first.text);
      await peer.wait((m) => m.callId === first.callId && m.status === 180);
      const second = invite({ peer });
      peer.send(second.text);
      const res = await peer.final(second.callId);
      expect(res.status).toBe(503);
      expect(res.header('retry-after')).toBeDefined();
      expect(rang).toHaveLength(1);
    } finally {
      await ep.stop();
      peer.close();
    }
  });
});
