import { setImmediate as tick } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SipEndpoint } from '../../src/telephony/sip/endpoint.js';
import type { SipCall } from '../../src/telephony/sip/call.js';
import { parseCidrList } from '../../src/util/cidr.js';
import { freePort } from '../helpers/ports.js';
import { invite, inDialog, newCallId, options, sdp, SipPeer } from '../helpers/sip-peer.js';

/**
 * A stateful SIP fuzzer: mutated INVITEs (SDP, Contact, headers, bytes), in-dialog requests on
 * the calls it has set up (BYE, re-INVITE, INFO, REFER, NOTIFY, CANCEL, ACK, garbage) and RTP
 * garbage at their media ports. Bounded by a message count and a wall-clock budget; seeded, so a
 * failure reproduces with the seed it prints. Afterwards the endpoint must be up, answer OPTIONS
 * and hold no call.
 */

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed15);
const MAX_MESSAGES = 3_000;
const BUDGET_MS = 20_000;

const BAD_PORTS = ['0', '-1', '65536', '70000', '99999999999', 'abc', '1', '65535', '', '4000/2'];
const BAD_ADDRESSES = ['example.invalid', '::1', '0.0.0.0', '999.999.1.1', '', '127.0.0.1 extra', '255.255.255.255'];
const BAD_CONTACTS = ['<sip:', '*', '<>', 'garbage', '<sip:a@127.0.0.1:0>', '<sip:a@127.0.0.1:99999>', '<tel:>', '"x" <sip:@>', '<sip:a@b>;;;', '<sip:a@[::1]:5060>', '<sips:a@h;transport=tcp>'];
const METHODS = ['BYE', 'INFO', 'INVITE', 'UPDATE', 'REFER', 'NOTIFY', 'OPTIONS', 'ACK', 'CANCEL', 'MESSAGE', 'PRACK', 'SUBSCRIBE'];

interface Dialog {
  callId: string;
  fromTag: string;
  toHeader: string;
  cseq: number;
  rtpPort: number | undefined;
}

describe('stateful SIP fuzzer', () => {
  let ep: SipEndpoint;
  let peer: SipPeer;
  const calls: SipCall[] = [];

  beforeAll(async () => {
    ep = new SipEndpoint({
      bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]),
      rtpPortMin: 35000, rtpPortMax: 35399, mediaTimeoutMs: 500, maxCalls: 40,
    });
    const pick = rng(SEED ^ 0xabc);
    ep.on('call', (c) => {
      const call = c as SipCall;
      calls.push(call);
      const r = pick();
      // Like the app: most calls are answered, some rejected, some hung up by us a moment later.
      if (r < 0.6) void call.answer();
      else if (r < 0.75) void call.reject(486);
      else {
        void call.answer().then(() => call.play(new Int16Array(800)).done).then(() => call.hangup());
      }
    });
    await ep.start();
    peer = await SipPeer.open();
    peer.target = ep.port;
  });
  afterAll(async () => {
    await ep.stop();
    peer.close();
  });

  it(`survives ${MAX_MESSAGES} mutated messages (seed ${SEED}) and is left up with no live call`, async () => {
    const r = rng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const dialogs: Dialog[] = [];
    const seen = new Set<string>();
    let consumed = 0;
    const learn = () => {
      // Dialogs come from our own INVITEs' 200 OKs.
      for (; consumed < peer.messages.length; consumed++) {
        const m = peer.messages[consumed]!;
        if (m.status !== 200 || !/INVITE$/.test(m.header('cseq') ?? '') || !m.callId || seen.has(m.callId)) continue;
        // Byte-mutated INVITEs may have changed their own Call-ID or tag: the answer says what the dialog is.
        const fromTag = /;\s*tag=([^;\s]+)/i.exec(m.header('from') ?? '')?.[1];
        if (!fromTag || !m.header('to')) continue;
        seen.add(m.callId);
        const port = /^m=audio (\d+)/m.exec(m.text)?.[1];
        dialogs.push({ callId: m.callId, fromTag, toHeader: m.header('to')!, cseq: 1_000_000, rtpPort: port ? Number(port) : undefined });
      }
    };
    const mutateBytes = (text: string): Buffer => {
      const b = Buffer.from(text, 'latin1');
      const n = 1 + Math.floor(r() * 4);
      for (let i = 0; i < n; i++) {
        const at = Math.floor(r() * b.length);
        const op = r();
        if (op < 0.5) b[at] = Math.floor(r() * 256);
        else if (op < 0.75) b[at] = pick([0x3a, 0x3c, 0x3e, 0x3b, 0x40, 0x20, 0x0d, 0x0a, 0x22]);
        else return b.subarray(0, at);
      }
      return b;
    };
    const badSdp = () => {
      let body = sdp({ port: peer.rtpPort });
      const k = r();
      if (k < 0.3) body = body.replace(/^m=audio \d+/m, `m=audio ${pick(BAD_PORTS)}`);
      else if (k < 0.5) body = body.replace(/IN IP4 127\.0\.0\.1/g, `IN IP4 ${pick(BAD_ADDRESSES)}`);
      else if (k < 0.6) body = body.replace(/a=rtpmap:0 PCMU\/8000/, `a=rtpmap:0 ${pick(['OPUS/48000/2', 'PCMU/abc', '', 'PCMU'])}`);
      else if (k < 0.7) body = `${body}a=ptime:${pick(['0', '-20', '1e9', 'x', '7'])}\r\n`;
      else if (k < 0.8) body = body.slice(0, Math.floor(r() * body.length));
      else if (k < 0.85) body = body.replace(/a=sendrecv/, pick(['a=inactive', 'a=sendonly', 'a=recvonly', 'a=bogus']));
      return body;
    };

    const started = performance.now();
    let sent = 0;
    for (; sent < MAX_MESSAGES && performance.now() - started < BUDGET_MS; sent++) {
      learn();
      const a = r();
      if (a < 0.4 || dialogs.length === 0) {
        // A new INVITE, mutated in one of several ways.
        const kind = r();
        const inv = invite({
          peer,
          ...(kind < 0.3 ? { body: badSdp() } : {}),
          ...(kind >= 0.3 && kind < 0.5 ? { contact: pick(BAD_CONTACTS) } : {}),
          ...(kind >= 0.5 && kind < 0.55 ? { contact: '' } : {}),
          ...(kind >= 0.55 && kind < 0.6 && dialogs.length ? { callId: pick(dialogs).callId } : {}),
        });
        peer.send(kind >= 0.8 ? mutateBytes(inv.text) : inv.text);
      } else if (a < 0.85) {
        // An in-dialog request on a call we set up, sometimes mangled.
        const d = pick(dialogs);
        const method = pick(METHODS);
        const body = method === 'INVITE' || method === 'UPDATE' ? (r() < 0.5 ? badSdp() : sdp({ port: peer.rtpPort }))
          : method === 'INFO' ? pick(['Signal=5\r\nDuration=160\r\n', 'Signal=\r\n', '\x00\x01', '9'])
          : method === 'NOTIFY' ? pick(['SIP/2.0 200 OK\r\n', 'SIP/2.0 999\r\n', 'garbage']) : '';
        const type = method === 'INFO' ? pick(['application/dtmf-relay', 'application/dtmf', 'text/plain']) : method === 'NOTIFY' ? 'message/sipfrag' : 'application/sdp';
        const text = inDialog({ peer, method, callId: d.callId, fromTag: d.fromTag, toHeader: d.toHeader, cseq: d.cseq++, body, type })
          .replace(method === 'REFER' ? /^Content-Length/m : /^$^/m, method === 'REFER' ? `${pick(['Refer-To: <sip:101@127.0.0.1>', 'Refer-To: <', 'Refer-To: '])}\r\nContent-Length` : '');
        peer.send(r() < 0.3 ? mutateBytes(text) : text);
      } else if (a < 0.95) {
        // RTP-shaped garbage at a call's media port.
        const d = pick(dialogs);
        if (d.rtpPort) {
          const pkt = Buffer.alloc(Math.floor(r() * 400));
          for (let i = 0; i < pkt.length; i++) pkt[i] = Math.floor(r() * 256);
          if (pkt.length > 12 && r() < 0.7) {
            pkt[0] = 0x80;
            pkt[1] = pick([0, 8, 101, 0x80 | 101, 13, 127]);
          }
          peer.rtp.send(pkt, d.rtpPort, '127.0.0.1');
        }
      } else {
        // Pure noise at the SIP port, sometimes almost a request.
        const noise = Buffer.alloc(1 + Math.floor(r() * 300));
        for (let i = 0; i < noise.length; i++) noise[i] = Math.floor(r() * 256);
        peer.send(r() < 0.5 ? noise : Buffer.concat([Buffer.from(`${pick(METHODS)} sip:x@127.0.0.1 SIP/2.0\r\nCall-ID: ${newCallId()}\r\n`), noise]));
      }
      // Let the endpoint's own timers and responses interleave with the barrage.
      if (sent % 8 === 0) await tick();
    }
    expect(sent).toBeGreaterThan(100);

    // Hang up whatever is still up, as the callers would, then every call must be gone. Over UDP,
    // as a phone does: retransmit each BYE (same branch) until it is answered. Answers still in
    // flight (the endpoint may be working through the barrage) reveal more dialogs: BYE those too.
    const byed = new Set<string>();
    const bye = async (d: Dialog) => {
      const text = inDialog({ peer, method: 'BYE', callId: d.callId, fromTag: d.fromTag, toHeader: d.toHeader, cseq: d.cseq++ });
      const answered = peer.final(d.callId, 'BYE');
      for (let i = 0; i < 10; i++) {
        peer.send(text);
        const got = await Promise.race([answered, new Promise<undefined>((res) => setTimeout(() => res(undefined), 500))]);
        if (got) return;
      }
    };
    for (const c of calls) if (c.state === 'ringing') void c.reject(480);
    await vi.waitFor(async () => {
      learn();
      const fresh = dialogs.filter((d) => !byed.has(d.callId));
      for (const d of fresh) byed.add(d.callId);
      for (let i = 0; i < fresh.length; i += 16) await Promise.all(fresh.slice(i, i + 16).map(bye));
      expect(ep.activeCalls()).toBe(0);
    }, { timeout: 30_000, interval: 100 });
    expect(calls.filter((c) => c.state !== 'ended')).toHaveLength(0);

    const o = options(peer);
    peer.send(o.text);
    expect((await peer.final(o.callId, 'OPTIONS')).status).toBe(200);
  }, 60_000);
});
