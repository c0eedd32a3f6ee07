import type { Socket } from 'node:dgram';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import ipaddr from 'ipaddr.js';
import pino from 'pino';
import { SipEndpoint } from '../../src/telephony/sip/endpoint.js';
import type { SipCall } from '../../src/telephony/sip/call.js';
import { authorize } from '../../src/telephony/sip/digest.js';
import { parseAuth } from '../../src/telephony/sip/message.js';
import { PortAllocator } from '../../src/telephony/rtp/ports.js';
import { writeRtpHeader } from '../../src/telephony/rtp/packet.js';
import { parseCidrList } from '../../src/util/cidr.js';
import { freePort } from '../helpers/ports.js';
import { runSipp } from '../helpers/sipp.js';
import { RawPeer, invite, request, udp } from '../helpers/raw-sip.js';

/** What an attacker on the network tries against the built-in endpoint (issue #16, SIP and RTP). */

function captureLog() {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } }));
  return { logger, lines };
}

describe('SIP and RTP against an attacker', () => {
  let ep: SipEndpoint;
  let target = '';
  let onCall: (call: SipCall) => void = () => {};
  const nextCall = () => new Promise<SipCall>((resolve) => (onCall = resolve));

  beforeAll(async () => {
    ep = new SipEndpoint({
      bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]),
      rtpPortMin: 38000, rtpPortMax: 38999, mediaTimeoutMs: 10_000,
    });
    ep.on('call', (c) => onCall(c as SipCall));
    await ep.start();
    target = `127.0.0.1:${ep.port}`;
  });
  afterAll(async () => ep.stop());

  it('answers BYEs and re-INVITEs with the right Call-ID but wrong tags with 481, and the call goes on', async () => {
    const callP = nextCall();
    const sipp = runSipp({ scenario: 'uac-wrong-tags.xml', target });
    const call = await callP;
    const remoteBefore = () => call.rtp.remoteAddress;
    await call.answer();
    const ended = new Promise<string>((r) => call.on('ended', r));
    const sdpRemote = remoteBefore();
    const run = await sipp;
    // The scenario checks the 481s; the call ends only on the real caller's BYE.
    expect(await ended, run.output).toBe('remote_hangup');
    expect(run.code, run.output).toBe(0);
    // The stranger's re-INVITE did not move the audio to 192.0.2.66.
    expect(call.rtp.remoteAddress?.address).toBe(sdpRemote?.address);
  });

  it('does not take RTP from a third party, before or after the caller starts sending, nor send it ours', async () => {
    const callP = nextCall();
    const sipp = runSipp({ scenario: 'uac-media.xml', target });
    const call = await callP;
    const third = await udp('127.0.0.2');
    const sameHost = await udp('127.0.0.1');
    let theyHeard = 0;
    third.on('message', () => theyHeard++);
    sameHost.on('message', () => theyHeard++);
    const spray = (s: Socket, n: number) => {
      for (let i = 0; i < n; i++) {
        const buf = Buffer.alloc(172, 0xff);
        writeRtpHeader(buf, false, 8, 1000 + i, i * 160, 0xbad);
        s.send(buf, call.rtp.localPort, '127.0.0.1');
      }
    };
    // From another address, before the caller's first packet.
    spray(third, 20);
    const firstAudio = new Promise<void>((r) => call.rtp.once('audio', () => r()));
    await call.answer();
    const ended = new Promise<string>((r) => call.on('ended', r));
    const tone = new Int16Array(8000).map((_, i) => Math.round(6000 * Math.sin((2 * Math.PI * 440 * i) / 8000)));
    const playing = call.play(tone).done;
    await firstAudio;
    const latched = call.rtp.remoteAddress;
    // From the caller's own address but another port, once the caller is talking.
    spray(sameHost, 20);
    spray(third, 20);
    await playing;
    expect(await ended).toBe('remote_hangup');
    const run = await sipp;
    expect(run.code, run.output).toBe(0);
    expect(call.rtp.stats.foreign).toBe(60);
    expect(call.rtp.remoteAddress).toEqual(latched);
    expect(latched?.port).not.toBe(sameHost.address().port);
    expect(theyHeard).toBe(0);
    third.close();
    sameHost.close();
  }, 30_000);

  it('caps a hostile Session-Expires at a day instead of letting its timer fire at once', async () => {
    const peer = await RawPeer.open(ep.port);
    const callP = nextCall();
    const req = invite(peer, ep.port).replace('Max-Forwards: 70', 'Max-Forwards: 70\r\nSupported: timer\r\nSession-Expires: 999999999;refresher=uac');
    await peer.send(req);
    const call = await callP;
    await call.answer();
    const ok = await peer.next(/^SIP\/2\.0 200/);
    expect(ok).toMatch(/^Session-Expires: 86400;refresher=uac$/m);
    expect(call.state).toBe('answered');
    // This raw peer never answers our BYE: do not wait for it.
    void call.hangup();
    peer.close();
  });

  it('draws RTP ports at random from the range, even ports only, never one in use', async () => {
    const alloc = new PortAllocator(39000, 39999);
    const got: { port: number; close: () => void }[] = [];
    for (let i = 0; i < 8; i++) {
      const { socket, port } = await alloc.bind('127.0.0.1');
      got.push({ port, close: () => socket.close() });
    }
    const ports = got.map((g) => g.port);
    for (const p of ports) {
      expect(p % 2).toBe(0);
      expect(p).toBeGreaterThanOrEqual(39000);
      expect(p).toBeLessThanOrEqual(39999);
    }
    expect(new Set(ports).size).toBe(8);
    // Not handed out in order: the next call's port cannot be guessed from the last.
    const steps = ports.slice(1).map((p, i) => p - ports[i]!);
    expect(new Set(steps).size).toBeGreaterThan(1);
    for (const g of got) g.close();
  });

  describe('digest authentication from outside the trusted networks', () => {
    let desk: SipEndpoint;
    const log = captureLog();
    let calls: SipCall[] = [];
    beforeAll(async () => {
      desk = new SipEndpoint({
        bind: '127.0.0.1', port: await freePort(), trusted: [ipaddr.parseCIDR('10.0.0.0/8')], users: { '101': 'desk-phone-pw' },
        rtpPortMin: 39100, rtpPortMax: 39199, logger: log.logger, guard: { maxFailures: 3 },
      });
      desk.on('call', (c) => {
        calls.push(c as SipCall);
        void c.reject(486);
      });
      await desk.start();
    });
    afterAll(async () => desk.stop());

    async function authorized(peer: RawPeer, password = 'desk-phone-pw'): Promise<{ auth: string; uri: string }> {
      await peer.send(invite(peer, desk.port));
      const challenge = await peer.next(/^SIP\/2\.0 401/);
      const www = /^WWW-Authenticate: (.*)$/im.exec(challenge)![1]!;
      const uri = `sip:+15125550100@127.0.0.1:${desk.port}`;
      return { auth: authorize(parseAuth(www).params as never, { username: '101', password }, 'INVITE', uri), uri };
    }

    it('admits the right password once; the captured answer replayed, from anywhere, is challenged again', async () => {
      calls = [];
      const phone = await RawPeer.open(desk.port);
      const { auth } = await authorized(phone);
      await phone.send(invite(phone, desk.port, { auth }));
      await phone.next(/^SIP\/2\.0 486/);
      expect(calls).toHaveLength(1);
      // Replayed as is (same nonce, same nc) for a new call from the same phone...
      await phone.send(invite(phone, desk.port, { auth }));
      expect(await phone.next(/^SIP\/2\.0 (401|486)/)).toMatch(/^SIP\/2\.0 401/);
      // ...and from another address.
      const attacker = await RawPeer.open(desk.port, '127.0.0.2');
      await attacker.send(invite(attacker, desk.port, { auth }));
      expect(await attacker.next(/^SIP\/2\.0 (401|486)/)).toMatch(/^SIP\/2\.0 401/);
      expect(calls).toHaveLength(1);
      phone.close();
      attacker.close();
    });

    it('blocks a source after repeated wrong passwords, silently and logged, while other sources still get in', async () => {
      calls = [];
      const guesser = await RawPeer.open(desk.port, '127.0.0.3');
      for (let i = 0; i < 3; i++) {
        const { auth } = await authorized(guesser, `guess-${i}`);
        await guesser.send(invite(guesser, desk.port, { auth }));
        if (i < 2) await guesser.next(/^SIP\/2\.0 401/);
      }
      // Blocked now: even a fresh INVITE gets nothing back; an OPTIONS from a friend proves we are alive.
      const before = guesser.replies.length;
      await guesser.send(invite(guesser, desk.port));
      const phone = await RawPeer.open(desk.port, '127.0.0.4');
      const { auth } = await authorized(phone);
      await phone.send(invite(phone, desk.port, { auth }));
      await phone.next(/^SIP\/2\.0 486/);
      expect(calls).toHaveLength(1);
      expect(guesser.replies.length).toBe(before);
      expect(log.lines.some((l) => /blocked after repeated authentication failures/.test(l) && l.includes('127.0.0.3'))).toBe(true);
      expect(log.lines.filter((l) => /digest authentication failed for user \\"101\\"/.test(l) && l.includes('127.0.0.3'))).toHaveLength(3);
      guesser.close();
      phone.close();
    });
  });

  it('answers a scanner that never ACKs once, not eleven times', async () => {
    const strict = new SipEndpoint({
      bind: '127.0.0.1', port: await freePort(), trusted: [ipaddr.parseCIDR('10.0.0.0/8')], rtpPortMin: 39200, rtpPortMax: 39299,
    });
    await strict.start();
    const scanner = await RawPeer.open(strict.port);
    // The stack's retransmission timers run on a fake clock, moved past the whole transaction below.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    try {
      await scanner.send(invite(scanner, strict.port));
      await scanner.next(/^SIP\/2\.0 403/);
      // A UAS retransmits a final answer after 0.5, 1.5, 3.5 s... until 32 s (Timer H).
      vi.advanceTimersByTime(64 * 500 + 1_000);
      // Anything resent went out before the answer to this OPTIONS, on the same socket, in order.
      await scanner.send(request(scanner, strict.port, { method: 'OPTIONS' }));
      await scanner.next(/^SIP\/2\.0 200/);
    } finally {
      vi.useRealTimers();
    }
    expect(scanner.replies.filter((r) => r.startsWith('SIP/2.0 403'))).toHaveLength(0);
    scanner.close();
    await strict.stop();
  });

  it('caps SIP over TCP per source and closes idle connections', async () => {
    const tcpEp = new SipEndpoint({
      bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]), rtpPortMin: 39300, rtpPortMax: 39399,
      tcp: { maxPerSource: 2, idleMs: 300 },
    });
    await tcpEp.start();
    const open = () => new Promise<{ closed: Promise<void> }>((resolve) => {
      const s = connect(tcpEp.port, '127.0.0.1', () => resolve({ closed: new Promise<void>((r) => s.on('close', () => r())) }));
      s.on('error', () => {});
    });
    const a = await open();
    const b = await open();
    const c = await open();
    // The third from one address is closed at once; the other two when they have been idle.
    await c.closed;
    await Promise.all([a.closed, b.closed]);
    // And after they are gone, the address may connect again, and is served over TCP.
    const run = await runSipp({ scenario: 'options.xml', target: `127.0.0.1:${tcpEp.port}`, extra: ['-t', 't1'] });
    expect(run.code, run.output).toBe(0);
    await tcpEp.stop();
  });
});
