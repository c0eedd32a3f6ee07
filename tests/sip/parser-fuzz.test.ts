import { describe, expect, it } from 'vitest';
import { parseMessage, serialize, SipParseError } from '../../src/telephony/sip/message.js';
import { parseRtp, type RtpHeader } from '../../src/telephony/rtp/packet.js';

/** Deterministic pseudo-random source so a failure reproduces. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

const INVITE = Buffer.from(
  'INVITE sip:+15125550100@10.0.0.1:5060 SIP/2.0\r\n' +
    'Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK776asdhds;rport\r\n' +
    'Max-Forwards: 70\r\n' +
    'To: <sip:+15125550100@10.0.0.1>\r\n' +
    'From: "Ann" <sip:+15125550133@10.0.0.2>;tag=1928301774\r\n' +
    'Call-ID: a84b4c76e66710@pc33.example.com\r\n' +
    'CSeq: 314159 INVITE\r\n' +
    'Contact: <sip:ann@10.0.0.2>\r\n' +
    'Content-Type: application/sdp\r\n' +
    'Content-Length: 4\r\n\r\nv=0\n',
  'latin1',
);

describe('SIP parser', () => {
  it('parses a valid INVITE and serializes it back to an equivalent message', () => {
    const m = parseMessage(INVITE);
    expect(m).toMatchObject({ kind: 'request', method: 'INVITE', uri: 'sip:+15125550100@10.0.0.1:5060' });
    expect(m.headers.get('call-id')).toBe('a84b4c76e66710@pc33.example.com');
    const again = parseMessage(serialize(m));
    expect(again.headers.list).toEqual(m.headers.list);
    expect(again.body.toString()).toBe('v=0\n');
  });

  it('accepts compact header names and folded lines', () => {
    const text = INVITE.toString('latin1').replace('Call-ID:', 'i:').replace('Contact: <sip:ann@10.0.0.2>', 'm: <sip:ann@10.0.0.2>\r\n ;expires=60');
    const m = parseMessage(Buffer.from(text, 'latin1'));
    expect(m.headers.get('call-id')).toBe('a84b4c76e66710@pc33.example.com');
    expect(m.headers.get('contact')).toBe('<sip:ann@10.0.0.2> ;expires=60');
  });

  it.each([
    ['a missing Call-ID', (s: string) => s.replace(/Call-ID:.*\r\n/, ''), /missing Call-ID/],
    ['a CSeq for another method', (s: string) => s.replace('314159 INVITE', '314159 BYE'), /CSeq method/],
    ['a bad request URI', (s: string) => s.replace('sip:+15125550100@10.0.0.1:5060', 'sip:@@'), /bad URI/],
    ['a short body', (s: string) => s.replace('Content-Length: 4', 'Content-Length: 40'), /shorter than Content-Length/],
    ['a NUL in a header', (s: string) => s.replace('Max-Forwards: 70', 'Max-Forwards: 7\u00000'), /control characters/],
    ['a header without a colon', (s: string) => s.replace('Max-Forwards: 70', 'Max-Forwards 70'), /malformed header/],
    ['a wrong SIP version', (s: string) => s.replace('SIP/2.0\r\nVia', 'SIP/3.0\r\nVia'), /bad start line/],
  ])('rejects %s with a reason', (_name, mutate, reason) => {
    expect(() => parseMessage(Buffer.from(mutate(INVITE.toString('latin1')), 'latin1'))).toThrow(reason);
  });

  it('never throws anything but SipParseError on 20,000 mutated messages', () => {
    const rand = rng(42);
    let parsed = 0;
    for (let i = 0; i < 20_000; i++) {
      const buf = Buffer.from(INVITE);
      const ops = 1 + Math.floor(rand() * 4);
      let out: Buffer = buf;
      for (let k = 0; k < ops; k++) {
        const pos = Math.floor(rand() * out.length);
        const op = rand();
        if (op < 0.4) out[pos] = Math.floor(rand() * 256);
        else if (op < 0.6) out = out.subarray(0, pos);
        else if (op < 0.8) out = Buffer.concat([out.subarray(0, pos), Buffer.from([Math.floor(rand() * 256)]), out.subarray(pos)]);
        else out = Buffer.concat([out.subarray(0, pos), Buffer.from('\r\n:;<>"=,'.charAt(Math.floor(rand() * 9))), out.subarray(pos)]);
      }
      try {
        parseMessage(out);
        parsed++;
      } catch (e) {
        if (!(e instanceof SipParseError)) throw new Error(`${(e as Error).name} on input ${JSON.stringify(out.toString('latin1'))}`);
      }
    }
    // Some mutations leave a valid message (a changed display name, say); most must not.
    expect(parsed).toBeGreaterThan(0);
    expect(parsed).toBeLessThan(20_000);
  });

  it('refuses oversized messages', () => {
    const huge = Buffer.concat([INVITE.subarray(0, INVITE.length - 8), Buffer.from(`X-Pad: ${'x'.repeat(70_000)}\r\n\r\n`)]);
    expect(() => parseMessage(huge)).toThrow(/too large/);
  });
});

describe('RTP header parser', () => {
  it('rejects garbage and accepts only well-formed version-2 packets', () => {
    const rand = rng(7);
    const h = {} as RtpHeader;
    let ok = 0;
    for (let i = 0; i < 20_000; i++) {
      const buf = Buffer.alloc(Math.floor(rand() * 200));
      for (let k = 0; k < buf.length; k++) buf[k] = Math.floor(rand() * 256);
      if (parseRtp(buf, h)) {
        ok++;
        expect(buf[0]! >> 6).toBe(2);
        expect(h.payloadOffset + h.payloadLength).toBeLessThanOrEqual(buf.length);
      }
    }
    expect(ok).toBeLessThan(20_000 / 3);
  });
});
