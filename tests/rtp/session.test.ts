import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RtpSession, type RtpCodec } from '../../src/telephony/rtp/session.js';
import { writeRtpHeader } from '../../src/telephony/rtp/packet.js';
import { encodeG711 } from '../../src/telephony/rtp/g711.js';
import { MediaClock } from '../../src/telephony/rtp/clock.js';
import { FakeTime } from '../helpers/fake-time.js';

const PCMU: RtpCodec = { codec: 'PCMU', payloadType: 0, dtmfPayloadType: 101, ptimeMs: 20 };

async function udp(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return s;
}

const sessions: RtpSession[] = [];
afterEach(() => sessions.splice(0).forEach((s) => s.close()));

async function pair(opts: { mediaTimeoutMs?: number } = {}, clock = new MediaClock()) {
  const sa = await udp();
  const sb = await udp();
  const a = new RtpSession({ socket: sa, codec: PCMU, remote: { address: '127.0.0.1', port: sb.address().port }, clock, ...opts });
  const b = new RtpSession({ socket: sb, codec: PCMU, remote: { address: '127.0.0.1', port: sa.address().port }, clock, sendSilence: false, ...opts });
  sessions.push(a, b);
  a.start();
  b.start();
  return { a, b };
}

const tone = (ms: number, amp = 8000) => new Int16Array((8000 * ms) / 1000).map((_, i) => Math.round(amp * Math.sin((2 * Math.PI * 440 * i) / 8000)));
const loud = (pcm: Int16Array) => pcm.reduce((m, v) => Math.max(m, Math.abs(v)), 0) > 1000;

describe('RTP session', () => {
  it('carries audio between two endpoints, paced in 20 ms packets', async () => {
    const { a, b } = await pair();
    let frames = 0;
    b.on('audio', (f) => {
      expect(f.pcm.length).toBe(160);
      expect(f.sampleRate).toBe(8000);
      if (loud(f.pcm)) frames++;
    });
    const res = await a.play(tone(500)).done;
    expect(res).toEqual({ completed: true, playedMs: 500 });
    // Every 20 ms of it arrives (how evenly they are spaced is `npm run bench sip`/`burst`).
    await vi.waitFor(() => expect(frames).toBe(25));
    expect(b.stats.lost).toBe(0);
  });

  it('stops playback on the next tick after cancel (barge-in) and reports exactly what was sent', async () => {
    // The clock moves only when the test says: what counts is ticks, not how busy the machine is.
    const time = new FakeTime();
    const { a, b } = await pair({}, new MediaClock(10, time));
    // Each tick, then a turn of the event loop for the player to feed the next audio (no time passes).
    const ticks = async (n: number) => {
      for (let i = 0; i < n; i++) {
        time.fire();
        await new Promise((r) => setImmediate(r));
      }
    };
    let heard = 0;
    b.on('audio', (f) => loud(f.pcm) && heard++);
    const h = a.play(tone(5000));
    // 240 ms of ticks: a packet every 20 ms, twelve of them.
    await ticks(24);
    await vi.waitFor(() => expect(heard).toBe(12));
    h.cancel();
    await ticks(1);
    const res = await h.done;
    expect(res).toEqual({ completed: false, playedMs: 240 });
    // The next phrase follows the cut directly: nothing of the cancelled audio is sent after it.
    const next = a.play(tone(100));
    await ticks(20);
    expect(await next.done).toEqual({ completed: true, playedMs: 100 });
    await vi.waitFor(() => expect(b.stats.packetsIn).toBe(a.stats.packetsOut));
    expect(heard - 12).toBe(5);
  });

  it('sends and receives RFC 4733 DTMF digits', async () => {
    const { a, b } = await pair();
    const got: string[] = [];
    b.on('dtmf', (d) => got.push(d));
    await a.sendDtmf('12#');
    await vi.waitFor(() => expect(got).toEqual(['1', '2', '#']));
  });

  it('puts reordered packets back in order, drops duplicates and survives garbage', async () => {
    const sock = await udp();
    const rx = new RtpSession({ socket: await udp(), codec: PCMU, clock: new MediaClock(), sendSilence: false });
    sessions.push(rx);
    const order: number[] = [];
    rx.on('audio', (f) => order.push(Math.round(f.pcm[0]! / 1000)));
    const packet = (seq: number) => {
      const buf = Buffer.alloc(12 + 160);
      writeRtpHeader(buf, false, 0, seq, seq * 160, 1234);
      encodeG711('PCMU', new Int16Array(160).fill(seq * 1000), 0, 160, buf, 12);
      return buf;
    };
    const send = (b: Buffer) => new Promise<void>((r) => sock.send(b, rx.localPort, '127.0.0.1', () => r()));
    for (const seq of [1, 3, 2, 2, 4, 5]) await send(packet(seq));
    await send(Buffer.from('not rtp at all'));
    await send(Buffer.alloc(11));
    await vi.waitFor(() => expect(order).toHaveLength(5));
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(rx.stats.duplicates).toBe(1);
    expect(rx.stats.malformed).toBe(2);
    // It latched to the sender: its own packets would now go back there (symmetric RTP).
    expect(rx.remoteAddress).toEqual({ address: '127.0.0.1', port: sock.address().port });
    sock.close();
  });

  it('hears a new stream from the same far end: a new SSRC, or a sequence restarted far behind (a PBX moving the call between bridges)', async () => {
    const sock = await udp();
    const rx = new RtpSession({ socket: await udp(), codec: PCMU, clock: new MediaClock(), sendSilence: false });
    sessions.push(rx);
    const got: number[] = [];
    rx.on('audio', (f) => got.push(Math.round(f.pcm[0]! / 1000)));
    const packet = (seq: number, ssrc: number, v: number) => {
      const buf = Buffer.alloc(12 + 160);
      writeRtpHeader(buf, false, 0, seq, seq * 160, ssrc);
      encodeG711('PCMU', new Int16Array(160).fill(v * 1000), 0, 160, buf, 12);
      return buf;
    };
    const send = (b: Buffer) => new Promise<void>((r) => sock.send(b, rx.localPort, '127.0.0.1', () => r()));
    const heard = (n: number) => new Promise<void>((r) => {
      const check = () => (got.length >= n ? (rx.off('audio', check), r()) : undefined);
      rx.on('audio', check);
      check();
    });
    for (const seq of [30000, 30001]) await send(packet(seq, 111, 1));
    await heard(2);
    // New SSRC, sequence far behind: a new stream, heard at once.
    for (const seq of [500, 501]) await send(packet(seq, 222, 2));
    await heard(4);
    // Same SSRC, sequence restarted far behind: the first packet is held back, the second agrees.
    for (const seq of [100, 101, 102]) await send(packet(seq, 222, 3));
    await heard(6);
    expect(got).toEqual([1, 1, 2, 2, 3, 3]);
    // One old-looking packet is still just late, not a reason to jump.
    await send(packet(60, 222, 4));
    await send(packet(103, 222, 5));
    await heard(7);
    expect(got.at(-1)).toBe(5);
    sock.close();
  });

  it('takes RFC 3389 comfort noise as the far end going quiet when negotiated, as foreign otherwise', async () => {
    const sock = await udp();
    const withCn = new RtpSession({ socket: await udp(), codec: { ...PCMU, cnPayloadType: 13 }, clock: new MediaClock(), sendSilence: false });
    const without = new RtpSession({ socket: await udp(), codec: PCMU, clock: new MediaClock(), sendSilence: false });
    sessions.push(withCn, without);
    let frames = 0;
    withCn.on('audio', () => frames++);
    const cn = Buffer.alloc(13);
    writeRtpHeader(cn, true, 13, 7, 1120, 99);
    cn[12] = 60; // noise level -60 dBov
    const send = (port: number) => new Promise<void>((r) => sock.send(cn, port, '127.0.0.1', () => r()));
    await send(withCn.localPort);
    await send(without.localPort);
    // A marker: a real packet after the comfort noise is still delivered.
    const voice = Buffer.alloc(12 + 160);
    writeRtpHeader(voice, false, 0, 8, 1280, 99);
    encodeG711('PCMU', tone(20), 0, 160, voice, 12);
    const got = Promise.all([withCn, without].map((x) => new Promise<void>((r) => x.once('audio', () => r()))));
    for (const x of [withCn, without]) await new Promise<void>((r) => sock.send(voice, x.localPort, '127.0.0.1', () => r()));
    await got;
    expect(withCn.stats.malformed).toBe(0);
    expect(frames).toBe(1);
    expect(without.stats.malformed).toBe(1);
    sock.close();
  });

  it('reports a media timeout when the far end goes silent', async () => {
    const sb = await udp();
    const s = new RtpSession({ socket: sb, codec: PCMU, clock: new MediaClock(), mediaTimeoutMs: 200 });
    sessions.push(s);
    const timedOut = new Promise<boolean>((r) => s.on('timeout', () => r(true)));
    s.start();
    expect(await timedOut).toBe(true);
  });
});
