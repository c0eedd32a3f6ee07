import type { Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipEndpoint } from '../../src/telephony/sip/endpoint.js';
import type { SipCall } from '../../src/telephony/sip/call.js';
import { PortAllocator } from '../../src/telephony/rtp/ports.js';
import { parseCidrList } from '../../src/util/cidr.js';
import { freePort } from '../helpers/ports.js';
import { RawPeer, request } from '../helpers/raw-sip.js';

/** RTCP negotiated in SDP: rtcp-mux when the caller offers it, RTP + 1 otherwise; reports arrive where agreed. */
describe('RTCP on the built-in endpoint', () => {
  let ep: SipEndpoint;
  const base = 44_000 + Math.floor(Math.random() * 100) * 10;
  const peerPorts = new PortAllocator(base, base + 999);
  beforeAll(async () => {
    ep = new SipEndpoint({
      bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList(['127.0.0.0/8']), rtpPortMin: 34600, rtpPortMax: 34799, rtcpIntervalMs: 100,
    });
    await ep.start();
  });
  afterAll(async () => ep.stop());

  /** The next RTCP packet (SR or RR) a socket receives. */
  const nextRtcp = (s: Socket) => new Promise<Buffer>((resolve) => {
    const on = (m: Buffer) => {
      if (m.length >= 8 && (m[1] === 200 || m[1] === 201)) {
        s.off('message', on);
        resolve(m);
      }
    };
    s.on('message', on);
  });

  async function call(mux: boolean) {
    const { socket: rtp, rtcpSocket: rtcp } = await peerPorts.bind('127.0.0.1', { rtcp: true });
    const peer = await RawPeer.open(ep.port);
    const invite = request(peer, ep.port).replace(/m=audio 40000 RTP\/AVP 0\r\na=rtpmap:0 PCMU\/8000\r\n/,
      `m=audio ${rtp.address().port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n${mux ? 'a=rtcp-mux\r\n' : ''}`);
    const body = invite.slice(invite.indexOf('\r\n\r\n') + 4);
    const callP = new Promise<SipCall>((r) => ep.once('call', (c) => r(c as SipCall)));
    await peer.send(invite.replace(/Content-Length: \d+/, `Content-Length: ${Buffer.byteLength(body)}`));
    const c = await callP;
    await c.answer();
    const ok = await peer.next(/^SIP\/2\.0 200 /);
    return { c, ok, rtp, rtcp: rtcp!, close: async () => {
      // Our BYE goes to a peer that does not answer it: not waited for.
      void c.hangup();
      peer.close();
      rtp.close();
      rtcp!.close();
    } };
  }

  it('answers an offer with a=rtcp-mux with rtcp-mux and sends its reports on the RTP port', async () => {
    const t = await call(true);
    try {
      expect(t.ok).toMatch(/^a=rtcp-mux\r$/m);
      const report = await nextRtcp(t.rtp);
      expect(report[0]! >> 6).toBe(2);
      // What we reported about is also in the call's quality.
      expect(t.c.quality().rtcpOut).toBeGreaterThan(0);
    } finally {
      await t.close();
    }
  });

  it('without rtcp-mux, answers without it and sends its reports to RTP + 1', async () => {
    const t = await call(false);
    try {
      expect(t.ok).not.toMatch(/a=rtcp-mux/);
      const report = await nextRtcp(t.rtcp);
      expect(report[0]! >> 6).toBe(2);
    } finally {
      await t.close();
    }
  });
});
