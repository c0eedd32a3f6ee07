import { afterEach, describe, expect, it, vi } from 'vitest';
import { SipEndpoint } from '../../src/telephony/sip/endpoint.js';
import type { SipCall } from '../../src/telephony/sip/call.js';
import { timers } from '../../src/telephony/sip/stack.js';
import { parseCidrList } from '../../src/util/cidr.js';
import { freePort } from '../helpers/ports.js';
import { RawPeer, request, toTagOf, udp } from '../helpers/raw-sip.js';

/**
 * The RFC 3261 timers that take tens of seconds (Timer B, the 2xx-without-ACK limit), on the
 * injected clock: vitest's fake timers drive the stack, the SIP peer is a real UDP socket.
 */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function endpoint(trunkPort?: number): Promise<SipEndpoint> {
  const ep = new SipEndpoint({
    bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList(['127.0.0.0/8']), rtpPortMin: 34400, rtpPortMax: 34499,
    mediaTimeoutMs: 0,
    ...(trunkPort ? { trunk: { host: '127.0.0.1', port: trunkPort, transport: 'UDP' as const, register: false, callerId: '+15125550100' } } : {}),
  });
  await ep.start();
  cleanups.push(() => ep.stop());
  return ep;
}

/** A raw SIP peer, and an endpoint whose trunk it is when `asTrunk`. */
async function setup(asTrunk: boolean): Promise<{ ep: SipEndpoint; peer: RawPeer }> {
  const sock = await udp();
  const ep = await endpoint(asTrunk ? sock.address().port : undefined);
  const peer = new RawPeer(sock, ep.port);
  cleanups.push(() => peer.close());
  return { ep, peer };
}

/** A SIP response to `req` (a request as the peer received it). */
function respond(req: string, status: string, toTag?: string): string {
  const lines = req.split('\r\n');
  const h = (name: string) => lines.find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))!;
  return [
    `SIP/2.0 ${status}`, ...lines.filter((l) => /^via:/i.test(l)), h('From'), `${h('To')}${toTag ? `;tag=${toTag}` : ''}`,
    h('Call-ID'), h('CSeq'), 'Content-Length: 0', '', '',
  ].join('\r\n');
}

function settled<T>(p: Promise<T>): { done: boolean; result: Promise<T> } {
  const s = { done: false, result: p };
  p.then(() => (s.done = true), () => (s.done = true));
  return s;
}

describe('SIP timers on the injected clock', () => {
  it('Timer B: an INVITE nobody answers is sent 7 times (T1 doubling) and fails with 408 after 64×T1', async () => {
    const { ep, peer: trunk } = await setup(true);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const dial = settled(ep.dial('+15125550123', { timeoutSeconds: 120 }));
    const first = await trunk.next(/^INVITE /);
    await vi.advanceTimersByTimeAsync(64 * timers.T1 - 100);
    expect(dial.done).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    await expect(dial.result).rejects.toMatchObject({ status: 408 });
    // The first send and six retransmissions, at 0.5, 1.5, 3.5, 7.5, 15.5 and 31.5 s: the same request each time.
    for (let i = 0; i < 6; i++) expect(await trunk.next(/^INVITE /)).toBe(first);
    expect(trunk.replies.filter((r) => r.startsWith('INVITE '))).toEqual([]);
    expect(ep.activeCalls()).toBe(0);
  });

  it('Timer B stops at the first provisional: the phone rings until our own ring timeout CANCELs it', async () => {
    const { ep, peer: owner } = await setup(true);
    owner.sock.on('message', (m) => {
      const text = m.toString('latin1');
      // The phone rings; when we give up it answers the CANCEL and ends the INVITE with 487.
      if (text.startsWith('INVITE ')) void owner.send(respond(text, '180 Ringing', 'owner1'));
    });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const dial = settled(ep.dial('+15125550123', { timeoutSeconds: 90 }));
    await owner.next(/^INVITE /);
    // An OPTIONS answered after the 180 means the endpoint has read the 180 (one socket, in order).
    const ping = request(owner, ep.port, { method: 'OPTIONS', sdp: false });
    await owner.send(ping);
    await owner.next(/^SIP\/2\.0 200 .*\r\n[\s\S]*CSeq: \d+ OPTIONS/);
    await vi.advanceTimersByTimeAsync(89_000);
    expect(dial.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1_100);
    const cancel = await owner.next(/^CANCEL /);
    await owner.send(respond(cancel, '200 OK', 'owner1'));
    const invite = owner.replies.find((r) => r.startsWith('INVITE '));
    // No retransmission after the 180 (the only INVITE was taken above).
    expect(invite).toBeUndefined();
    await owner.send(respond(cancel.replace(/^CANCEL /, 'INVITE ').replace(/CSeq: (\d+) CANCEL/, 'CSeq: $1 INVITE'), '487 Request Terminated', 'owner1'));
    await expect(dial.result).rejects.toMatchObject({ status: 487 });
    expect(await owner.next(/^ACK /)).toMatch(/CSeq: \d+ ACK/);
  });

  it('a 200 the caller never ACKs is resent (T1 doubling to T2) and the call ends with a BYE after 64×T1', async () => {
    const { ep, peer: caller } = await setup(false);
    const callP = new Promise<SipCall>((r) => ep.once('call', (c) => r(c as SipCall)));
    await caller.send(request(caller, ep.port));
    const call = await callP;
    const ended = new Promise<string>((r) => call.once('ended', r));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    await call.answer();
    const ok = await caller.next(/^SIP\/2\.0 200 /);
    expect(toTagOf(ok)).toBeTruthy();
    await vi.advanceTimersByTimeAsync(64 * timers.T1 - 100);
    expect(call.state).toBe('answered');
    await vi.advanceTimersByTimeAsync(200);
    expect(await ended).toBe('no_ack');
    const bye = await caller.next(/^BYE /);
    expect(bye).toContain(`tag=${toTagOf(ok)}`);
    // Resent at 0.5, 1.5, 3.5, 7.5, then every 4 s (T2) up to 32 s: 10 copies after the first.
    const copies = caller.replies.filter((r) => r.startsWith('SIP/2.0 200 ') && /CSeq: 1 INVITE/.test(r));
    expect(copies.length).toBe(10);
    expect(new Set(copies)).toEqual(new Set([ok]));
  });
});
