import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { RtpSession, type RtpCodec } from '../../src/telephony/rtp/session.js';
import { PortAllocator } from '../../src/telephony/rtp/ports.js';
import { MediaClock } from '../../src/telephony/rtp/clock.js';

const PCMU: RtpCodec = { codec: 'PCMU', payloadType: 0, dtmfPayloadType: 101, ptimeMs: 20 };
const base = 42_000 + Math.floor(Math.random() * 200) * 10;
const ports = new PortAllocator(base, base + 1999);
const sessions: RtpSession[] = [];
const sockets: Socket[] = [];
afterEach(() => {
  sessions.splice(0).forEach((s) => s.close());
  sockets.splice(0).forEach((s) => s.close());
});

const tone = (ms: number) => new Int16Array((8000 * ms) / 1000).map((_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000)));

/** Resolves once `ok()` holds after one of `s`'s RTCP reports arrived. */
function reportWhere(s: RtpSession, ok: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!ok()) return;
      s.off('rtcp', check);
      resolve();
    };
    s.on('rtcp', check);
  });
}

async function session(remotePort: number, mux: boolean, clock: MediaClock) {
  const { socket, rtcpSocket } = await ports.bind('127.0.0.1', { rtcp: true });
  const s = new RtpSession({
    socket, codec: PCMU, remote: { address: '127.0.0.1', port: remotePort }, clock,
    rtcp: { socket: rtcpSocket, mux, intervalMs: 100 },
  });
  sessions.push(s);
  return s;
}

describe('RTCP', () => {
  it('sends SR/RR on RTP + 1 and reads the far end\'s: loss, jitter and a round-trip time on both sides', async () => {
    const clock = new MediaClock();
    const { socket: sa, rtcpSocket: ra } = await ports.bind('127.0.0.1', { rtcp: true });
    const { socket: sb, rtcpSocket: rb } = await ports.bind('127.0.0.1', { rtcp: true });
    expect(ra!.address().port).toBe(sa.address().port + 1);
    const a = new RtpSession({ socket: sa, codec: PCMU, remote: { address: '127.0.0.1', port: sb.address().port }, clock, rtcp: { socket: ra, intervalMs: 100 } });
    const b = new RtpSession({ socket: sb, codec: PCMU, remote: { address: '127.0.0.1', port: sa.address().port }, clock, rtcp: { socket: rb, intervalMs: 100 } });
    sessions.push(a, b);
    a.start();
    b.start();
    void a.play(tone(2000));
    // A sent audio, so its reports are SRs; B's reports of A's stream echo them: A can time the round trip.
    await Promise.all([
      reportWhere(a, () => a.quality().rttMs !== undefined && a.quality().remote !== undefined),
      reportWhere(b, () => b.quality().rttMs !== undefined),
    ]);
    const qa = a.quality();
    const qb = b.quality();
    expect(qa.remote).toEqual({ lost: 0, fractionLost: 0, jitterMs: expect.any(Number) });
    expect(qa.rttMs!).toBeGreaterThanOrEqual(0);
    expect(qa.rttMs!).toBeLessThan(1000);
    expect(qb.packetsIn).toBeGreaterThan(0);
    expect(qb.lost).toBe(0);
    expect(qa.rtcpIn).toBeGreaterThan(0);
    expect(qb.rtcpOut).toBeGreaterThan(0);
  });

  it('with rtcp-mux, reports share the RTP port; loss on the way is what the far end reports back', async () => {
    const clock = new MediaClock();
    // A relay between A and B that drops every fifth of A's RTP packets (never RTCP).
    const relay = createSocket('udp4');
    sockets.push(relay);
    await new Promise<void>((r) => relay.bind(0, '127.0.0.1', r));
    const relayPort = relay.address().port;
    const a = await session(relayPort, true, clock);
    const b = await session(relayPort, true, clock);
    let n = 0;
    let dropped = 0;
    relay.on('message', (buf, rinfo) => {
      const fromA = rinfo.port === a.localPort;
      const isRtcp = buf[1]! >= 192 && buf[1]! <= 223;
      if (fromA && !isRtcp && ++n % 5 === 3) {
        dropped++;
        return;
      }
      relay.send(buf, fromA ? b.localPort : a.localPort, '127.0.0.1');
    });
    a.start();
    b.start();
    void a.play(tone(3000));
    await reportWhere(a, () => (a.quality().remote?.lost ?? 0) >= 5);
    const qa = a.quality();
    const qb = b.quality();
    expect(dropped).toBeGreaterThanOrEqual(qa.remote!.lost);
    expect(qb.lost).toBeGreaterThanOrEqual(qa.remote!.lost);
    expect(qa.remote!.fractionLost).toBeGreaterThan(0.1);
    expect(qa.remote!.fractionLost).toBeLessThan(0.35);
    // RTCP never counted as malformed RTP, and audio still flowed.
    expect(b.stats.malformed).toBe(0);
    expect(qb.packetsIn).toBeGreaterThan(10);
  });

  it('ignores garbage on the RTCP port and reports from anyone but the far end', async () => {
    const clock = new MediaClock();
    const { socket: sa, rtcpSocket: ra } = await ports.bind('127.0.0.1', { rtcp: true });
    const { socket: sb, rtcpSocket: rb } = await ports.bind('127.0.0.1', { rtcp: true });
    const a = new RtpSession({ socket: sa, codec: PCMU, remote: { address: '127.0.0.1', port: sb.address().port }, clock, rtcp: { socket: ra, intervalMs: 100 } });
    const b = new RtpSession({ socket: sb, codec: PCMU, remote: { address: '127.0.0.1', port: sa.address().port }, clock, rtcp: { socket: rb, intervalMs: 100 } });
    sessions.push(a, b);
    const stranger = createSocket('udp4');
    sockets.push(stranger);
    await new Promise<void>((r) => stranger.bind(0, '127.0.0.1', r));
    // Another address altogether: not the far end, never read.
    const outsider = createSocket('udp4');
    sockets.push(outsider);
    await new Promise<void>((r) => outsider.bind(0, '127.0.0.2', r));
    a.start();
    b.start();
    const rtcpPort = ra!.address().port;
    // Truncated, wrong version, a length field pointing past the end, a huge report count.
    for (const junk of [
      Buffer.from([0x80, 200]), Buffer.from([0x40, 201, 0, 1, 0, 0, 0, 0]), Buffer.from([0x81, 201, 0xff, 0xff, 0, 0, 0, 1]),
      Buffer.from([0x9f, 200, 0, 6, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24]),
    ]) {
      stranger.send(junk, rtcpPort, '127.0.0.1');
      outsider.send(junk, rtcpPort, '127.0.0.1');
    }
    void a.play(tone(1000));
    await reportWhere(a, () => a.quality().remote !== undefined);
    expect(a.quality().remote!.lost).toBe(0);
    expect(a.stats.malformed).toBe(0);
    // Only the far end's reports counted (the junk parsed as nothing).
    expect(a.quality().rtcpIn).toBeLessThanOrEqual(b.quality().rtcpOut);
    expect(b.quality().packetsIn).toBeGreaterThan(0);
  });
});
