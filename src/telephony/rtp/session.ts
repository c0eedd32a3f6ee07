import { EventEmitter } from 'node:events';
import type { Socket, RemoteInfo } from 'node:dgram';
import type { AudioFrame, AudioSource, PlaybackHandle } from '../call.js';
import { PlayoutQueue } from '../playout.js';
import { decodeG711, encodeG711, G711_SILENCE, type G711 } from './g711.js';
import { parseRtp, seqDiff, writeRtpHeader, type RtpHeader } from './packet.js';
import { mediaClock, type MediaClock } from './clock.js';
import { Rtcp, type CallQuality } from './rtcp.js';

/**
 * One RTP stream (RFC 3550) carrying G.711 and RFC 4733 telephone-events. We own the playout
 * clock: packets leave on MediaClock deadlines, so pacing does not depend on who feeds audio.
 * Receive path: parse in place → reorder (small window) → decode into a reused frame → emit.
 * Send path: each tick pulls ptime worth of samples from the playback queue (or silence).
 */

export interface RtpCodec {
  codec: G711;
  payloadType: number;
  /** RFC 4733 telephone-event payload type, if negotiated. */
  dtmfPayloadType?: number | undefined;
  /** RFC 3389 comfort noise payload type (13), if negotiated: the far end's silence, nothing to decode. */
  cnPayloadType?: number | undefined;
  /** Packet duration we send, from the far end's a=ptime (default 20). */
  ptimeMs: number;
}

export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface RtpSessionOptions {
  socket: Socket;
  codec: RtpCodec;
  remote?: { address: string; port: number } | undefined;
  clock?: MediaClock;
  /** No RTP for this long while we expect it → 'timeout'. 0 disables. */
  mediaTimeoutMs?: number;
  /** Send silence when nothing plays (keeps NAT bindings and far-end timers alive). */
  sendSilence?: boolean;
  /**
   * Where the call's signalling came from. A caller behind NAT puts a private address in its SDP;
   * its media then arrives from this address, and the session latches to it once.
   */
  signallingAddress?: string | undefined;
  /**
   * RTCP: the socket on RTP + 1 (reports sent and read there), `mux` when the SDP agreed rtcp-mux,
   * `remotePort` from the far end's a=rtcp. Absent: nothing is sent, quality is still measured.
   */
  rtcp?: { socket?: Socket | undefined; mux?: boolean; remotePort?: number | undefined; intervalMs?: number } | undefined;
}

export const rtpDefaults = {
  mediaTimeoutMs: 30_000,
  sendSilence: true,
  /** Packets held while waiting for a missing one before declaring it lost. */
  reorderDepth: 3,
} as const;

export interface RtpStats {
  packetsIn: number;
  packetsOut: number;
  lost: number;
  late: number;
  duplicates: number;
  malformed: number;
  foreign: number;
  /** Packets send() refused (closed socket, unusable destination). */
  sendErrors: number;
  /** Send-time error against the deadline, in 1 ms buckets (0..49, last bucket is ≥49). */
  pacingErrorHistogram: Uint32Array;
}

const DTMF_EVENTS = '0123456789*#ABCD';
/** RFC 3550 A.1 MAX_MISORDER: further behind than this is not reordering but a new sequence. */
const MAX_MISORDER = 100;
const SAMPLE_RATE = 8000;

interface Slot {
  seq: number;
  pt: number;
  ts: number;
  marker: boolean;
  len: number;
  data: Buffer;
}

export class RtpSession extends EventEmitter<{ audio: [AudioFrame]; dtmf: [string]; timeout: []; latched: [string, number]; fault: [unknown]; rtcp: [] }> {
  readonly stats: RtpStats = {
    packetsIn: 0, packetsOut: 0, lost: 0, late: 0, duplicates: 0, malformed: 0, foreign: 0, sendErrors: 0,
    pacingErrorHistogram: new Uint32Array(50),
  };
  private codec: RtpCodec;
  private remote: { address: string; port: number } | undefined;
  /** Media source fixed: packets from anywhere else are dropped until a re-INVITE gives a new address. */
  private latched = false;
  private readonly signallingAddress: string | undefined;
  private lastRecvAt = 0;
  private startedAt = 0;
  private direction: MediaDirection = 'sendrecv';
  private readonly socket: Socket;
  private readonly clock: MediaClock;
  private readonly mediaTimeoutMs: number;
  private readonly sendSilence: boolean;
  private timedOut = false;
  private closed = false;

  // receive state
  private readonly hdr: RtpHeader = { marker: false, payloadType: 0, seq: 0, timestamp: 0, ssrc: 0, payloadOffset: 0, payloadLength: 0 };
  private expectedSeq = -1;
  /** The far end's stream: a new SSRC (a PBX moving the call to another bridge, an SBC) starts afresh. */
  private rxSsrc = -1;
  /** RFC 3550 A.1: a packet far behind the window is a restarted sequence once the next one agrees. */
  private badSeq = -1;
  private readonly slots: Slot[] = [];
  private readonly freeSlots: Slot[] = [];
  private readonly frames = new Map<number, Int16Array>();
  private readonly frame: AudioFrame = { pcm: new Int16Array(0), sampleRate: SAMPLE_RATE };
  private lastDtmfTs = -1;
  /** Sequence numbers delivered lately, to tell a duplicate from a packet that came too late. */
  private readonly recent = new Int32Array(16).fill(-1);
  private recentPos = 0;

  // send state
  private readonly ssrc = (Math.random() * 0xffffffff) >>> 0;
  private seq = (Math.random() * 0xffff) | 0;
  private ts = (Math.random() * 0xffffffff) >>> 0;
  private nextSendAt = 0;
  private readonly playout = new PlayoutQueue(SAMPLE_RATE);
  private outPcm = new Int16Array(160);
  // A small ring: a datagram queued by the kernel must not see its buffer rewritten by the next tick.
  private outRing: Buffer[] = [];
  private ringPos = 0;
  private outBuf: Buffer = Buffer.alloc(12 + 160);
  private talking = false;
  private readonly dtmfQueue: { digit: string; resolve: () => void }[] = [];
  private dtmfSending: { event: number; ts: number; packets: number; endSent: number; resolve: () => void; gap: number } | undefined;
  /** RTCP reports and the loss/jitter/RTT arithmetic behind the call's quality record. */
  readonly rtcp: Rtcp;

  constructor(opts: RtpSessionOptions) {
    super();
    this.socket = opts.socket;
    this.localPort = opts.socket.address().port;
    this.codec = opts.codec;
    this.remote = opts.remote;
    this.signallingAddress = opts.signallingAddress;
    this.clock = opts.clock ?? mediaClock;
    this.mediaTimeoutMs = opts.mediaTimeoutMs ?? rtpDefaults.mediaTimeoutMs;
    this.sendSilence = opts.sendSilence ?? rtpDefaults.sendSilence;
    for (let i = 0; i < rtpDefaults.reorderDepth + 1; i++) {
      this.freeSlots.push({ seq: 0, pt: 0, ts: 0, marker: false, len: 0, data: Buffer.alloc(1500) });
    }
    this.resizeOut();
    this.rtcp = new Rtcp({
      socket: opts.rtcp?.socket, rtpSocket: opts.socket, send: !!opts.rtcp, ssrc: this.ssrc,
      cname: `frontdesk-${this.ssrc.toString(16)}`, onReport: () => this.emit('rtcp'),
      ...(opts.rtcp?.intervalMs ? { intervalMs: opts.rtcp.intervalMs } : {}),
    });
    if (this.remote) this.rtcp.setRemote(this.remote, opts.rtcp?.remotePort, !!opts.rtcp?.mux);
    else this.rtcp.mux = !!opts.rtcp?.mux;
    this.socket.on('message', this.onPacket);
    // A UDP error (ICMP unreachable surfacing on send) must not crash the process.
    this.socket.on('error', () => {});
  }

  /** Captured at construction: the socket is gone once the session closes. */
  readonly localPort: number;

  get codecInUse(): RtpCodec {
    return this.codec;
  }

  get remoteAddress(): { address: string; port: number } | undefined {
    return this.remote;
  }

  private resizeOut(): void {
    const samples = (SAMPLE_RATE * this.codec.ptimeMs) / 1000;
    this.outPcm = new Int16Array(samples);
    this.outRing = Array.from({ length: 8 }, () => Buffer.alloc(12 + samples));
    this.outBuf = this.outRing[0]!;
  }

  setCodec(codec: RtpCodec): void {
    const ptimeChanged = codec.ptimeMs !== this.codec.ptimeMs;
    this.codec = codec;
    if (ptimeChanged) this.resizeOut();
  }

  /** New remote from SDP (re-INVITE): expect packets from there, latch again. RTCP follows. */
  setRemote(remote: { address: string; port: number }, rtcp?: { port?: number | undefined; mux: boolean }): void {
    if (rtcp) this.rtcp.setRemote(remote, rtcp.port, rtcp.mux);
    if (this.remote?.address === remote.address && this.remote.port === remote.port) return;
    this.remote = remote;
    this.latched = false;
  }

  /** What this session's media looked like so far (the call record keeps the last one). */
  quality(): CallQuality {
    const s = this.stats;
    return {
      packetsIn: s.packetsIn, packetsOut: s.packetsOut, lost: this.rtcp.lost(), late: s.late, duplicates: s.duplicates,
      discarded: s.malformed + s.foreign, ...this.rtcp.summary(),
    };
  }

  setDirection(d: MediaDirection): void {
    this.direction = d;
    this.lastRecvAt = this.clock.now();
  }

  start(): void {
    if (this.startedAt) return;
    this.startedAt = this.clock.now();
    this.lastRecvAt = this.startedAt;
    this.clock.add(this);
    this.nextSendAt = this.clock.nextTickAt();
    this.rtcp.start();
  }

  // ---- receive -------------------------------------------------------------------------------

  private readonly onPacket = (buf: Buffer, rinfo: RemoteInfo): void => {
    if (this.closed) return;
    // The audio listeners (VAD, recognizer) run inside this handler: a throw there must end this
    // call only, not escape into the socket and the process.
    try {
      this.receive(buf, rinfo);
    } catch (err) {
      this.onFault(err);
    }
  };

  /** A fault in this session's own path (receive, tick, listeners): report it once and stop. */
  onFault(err: unknown): void {
    if (this.closed) return;
    this.clock.remove(this);
    this.emit('fault', err);
    this.close();
  }

  private receive(buf: Buffer, rinfo: RemoteInfo): void {
    // rtcp-mux (RFC 5761): RTCP packet types 192–223 share the port; G.711 and events never look like them.
    if (buf.length >= 8 && buf[0]! >> 6 === 2 && buf[1]! >= 192 && buf[1]! <= 223) {
      if (this.rtcp.muxed) this.rtcp.onMessage(buf, rinfo);
      else this.stats.malformed++;
      return;
    }
    const h = this.hdr;
    if (!parseRtp(buf, h)) {
      this.stats.malformed++;
      return;
    }
    if (h.payloadType !== this.codec.payloadType && h.payloadType !== this.codec.dtmfPayloadType) {
      // Comfort noise says the caller went quiet: audio in synthesises the silence (AudioIn).
      if (h.payloadType !== this.codec.cnPayloadType) this.stats.malformed++;
      return;
    }
    const now = this.clock.now();
    const fromRemote = this.remote && rinfo.address === this.remote.address && rinfo.port === this.remote.port;
    if (!fromRemote) {
      // Media only from where the SDP said. Behind NAT (symmetric RTP) we latch once, to the first
      // packet from the SDP's address or the signalling source, and never again mid-call: a third
      // party spraying the port range neither hears the call nor takes it over.
      const mayLatch = !this.latched && (this.remote
        ? rinfo.address === this.remote.address || rinfo.address === this.signallingAddress
        : !this.signallingAddress || rinfo.address === this.signallingAddress);
      if (!mayLatch) {
        this.stats.foreign++;
        return;
      }
      this.remote = { address: rinfo.address, port: rinfo.port };
      this.rtcp.setRemote(this.remote);
      this.expectedSeq = -1;
      this.emit('latched', rinfo.address, rinfo.port);
    }
    this.latched = true;
    this.lastRecvAt = now;
    this.stats.packetsIn++;
    this.rtcp.onRtp(h.ssrc, h.seq, h.timestamp, now, h.payloadType === this.codec.payloadType);
    if (h.ssrc !== this.rxSsrc) {
      if (this.rxSsrc !== -1) this.resync();
      this.rxSsrc = h.ssrc;
    }
    if (this.expectedSeq < 0) this.expectedSeq = h.seq;
    let d = seqDiff(this.expectedSeq, h.seq);
    if (d < -MAX_MISORDER && h.seq === this.badSeq) {
      // Same SSRC, sequence restarted far behind (Asterisk passes a bridged leg's numbers through):
      // without this every later packet would count as late and the caller would go unheard.
      this.resync();
      this.expectedSeq = h.seq;
      d = 0;
    }
    if (d < 0) {
      if (d < -MAX_MISORDER) this.badSeq = (h.seq + 1) & 0xffff;
      if (this.recent.includes(h.seq)) this.stats.duplicates++;
      else this.stats.late++;
      return;
    }
    if (this.slots.some((s) => s.seq === h.seq)) {
      this.stats.duplicates++;
      return;
    }
    const slot = this.freeSlots.pop();
    if (!slot) return;
    slot.seq = h.seq;
    slot.pt = h.payloadType;
    slot.ts = h.timestamp;
    slot.marker = h.marker;
    slot.len = Math.min(h.payloadLength, slot.data.length);
    buf.copy(slot.data, 0, h.payloadOffset, h.payloadOffset + slot.len);
    // Keep slots ordered by sequence distance from the next expected packet.
    let i = this.slots.length;
    while (i > 0 && seqDiff(this.expectedSeq, this.slots[i - 1]!.seq) > d) i--;
    this.slots.splice(i, 0, slot);
    this.drain();
  }

  /** Forget the old stream: its buffered packets and where its sequence was. */
  private resync(): void {
    for (const slot of this.slots) this.freeSlots.push(slot);
    this.slots.length = 0;
    this.expectedSeq = -1;
    this.badSeq = -1;
    this.recent.fill(-1);
  }

  private drain(): void {
    while (this.slots.length) {
      const first = this.slots[0]!;
      if (first.seq !== this.expectedSeq) {
        // A gap: wait for the missing packet unless the window is full.
        if (this.slots.length < rtpDefaults.reorderDepth) return;
        this.stats.lost += seqDiff(this.expectedSeq, first.seq);
        this.expectedSeq = first.seq;
      }
      this.slots.shift();
      this.expectedSeq = (first.seq + 1) & 0xffff;
      this.recent[this.recentPos] = first.seq;
      this.recentPos = (this.recentPos + 1) & 15;
      this.deliver(first);
      this.freeSlots.push(first);
    }
  }

  private deliver(s: Slot): void {
    if (s.pt === this.codec.dtmfPayloadType) {
      if (s.len < 4) return;
      const event = s.data[0]!;
      // One event spans many packets with the same timestamp; report it once, on its first packet.
      if (s.ts !== this.lastDtmfTs && event < DTMF_EVENTS.length) {
        this.lastDtmfTs = s.ts;
        this.emit('dtmf', DTMF_EVENTS[event]!);
      }
      return;
    }
    if (this.direction === 'sendonly' || this.direction === 'inactive') return;
    let pcm = this.frames.get(s.len);
    if (!pcm) {
      pcm = new Int16Array(s.len);
      this.frames.set(s.len, pcm);
    }
    decodeG711(this.codec.codec, s.data, 0, s.len, pcm);
    this.frame.pcm = pcm;
    this.emit('audio', this.frame);
  }

  // ---- send ----------------------------------------------------------------------------------

  play(source: AudioSource): PlaybackHandle {
    return this.playout.play(source);
  }

  stopPlayback(): void {
    this.playout.stop();
  }

  sendDtmf(digits: string): Promise<void> {
    const all = [...digits].filter((d) => DTMF_EVENTS.includes(d.toUpperCase()));
    return Promise.all(all.map((digit) => new Promise<void>((resolve) => this.dtmfQueue.push({ digit: digit.toUpperCase(), resolve })))).then(() => {});
  }

  onTick(now: number): void {
    if (this.closed) return;
    if (this.mediaTimeoutMs > 0 && !this.timedOut && this.direction !== 'inactive' && this.direction !== 'sendonly'
      && now - this.lastRecvAt > this.mediaTimeoutMs) {
      this.timedOut = true;
      this.emit('timeout');
      // A 'timeout' listener usually hangs up, which closes this session and its socket.
      if (this.closed) return;
    }
    // Cancelled items leave at once: barge-in is heard within this tick.
    this.playout.dropCancelled();
    let sent = 0;
    // Timers may fire a little early (libuv rounds to whole ms): half a tick of slack keeps a
    // packet on its own tick instead of a whole tick late.
    const slack = this.clock.tickMs / 2;
    while (now + slack >= this.nextSendAt && sent < 3) {
      const err = Math.min(49, Math.floor(Math.abs(now - this.nextSendAt)));
      this.stats.pacingErrorHistogram[err]!++;
      this.sendOne();
      this.nextSendAt += this.codec.ptimeMs;
      sent++;
    }
    if (now - this.nextSendAt > 3 * this.codec.ptimeMs) {
      // The event loop stalled: skip ahead rather than burst, and keep the timestamp on wall time.
      const skipped = Math.floor((now - this.nextSendAt) / this.codec.ptimeMs);
      this.ts = (this.ts + skipped * this.outPcm.length) >>> 0;
      this.nextSendAt += skipped * this.codec.ptimeMs;
    }
  }

  private sendOne(): void {
    const samples = this.outPcm.length;
    this.ringPos = (this.ringPos + 1) % this.outRing.length;
    this.outBuf = this.outRing[this.ringPos]!;
    if (this.dtmfSending || this.dtmfQueue.length) {
      this.sendDtmfPacket(samples);
      return;
    }
    const got = this.playout.fill(this.outPcm, samples);
    const canSend = this.remote && (this.direction === 'sendrecv' || this.direction === 'sendonly');
    if (got === 0) {
      this.talking = false;
      if (!this.sendSilence || !canSend) {
        this.ts = (this.ts + samples) >>> 0;
        return;
      }
      this.outBuf.fill(G711_SILENCE[this.codec.codec], 12);
    } else {
      if (got < samples) this.outPcm.fill(0, got);
      encodeG711(this.codec.codec, this.outPcm, 0, samples, this.outBuf, 12);
    }
    const marker = got > 0 && !this.talking;
    if (got > 0) this.talking = true;
    if (!canSend) {
      this.ts = (this.ts + samples) >>> 0;
      return;
    }
    writeRtpHeader(this.outBuf, marker, this.codec.payloadType, this.seq, this.ts, this.ssrc);
    this.transmit(this.outBuf);
    this.ts = (this.ts + samples) >>> 0;
  }

  private sendDtmfPacket(samples: number): void {
    const pt = this.codec.dtmfPayloadType;
    if (pt === undefined) {
      // No telephone-event negotiated: drop the digits rather than stall the stream.
      for (const d of this.dtmfQueue.splice(0)) d.resolve();
      this.dtmfSending?.resolve();
      this.dtmfSending = undefined;
      return;
    }
    if (!this.dtmfSending) {
      const next = this.dtmfQueue.shift()!;
      this.dtmfSending = { event: DTMF_EVENTS.indexOf(next.digit), ts: this.ts, packets: 0, endSent: 0, resolve: next.resolve, gap: 0 };
    }
    const s = this.dtmfSending;
    if (s.endSent >= 3) {
      // Inter-digit gap of two packets, then the next digit or back to audio.
      this.ts = (this.ts + samples) >>> 0;
      if (++s.gap >= 2) {
        s.resolve();
        this.dtmfSending = undefined;
      }
      return;
    }
    const TONE_PACKETS = 5; // 100 ms at 20 ms packets
    s.packets++;
    const end = s.packets > TONE_PACKETS;
    const duration = Math.min(s.packets, TONE_PACKETS) * samples;
    const buf = Buffer.alloc(16);
    writeRtpHeader(buf, s.packets === 1, pt, this.seq, s.ts, this.ssrc);
    buf[12] = s.event;
    buf[13] = (end ? 0x80 : 0) | 10; // volume -10 dBm0
    buf.writeUInt16BE(duration, 14);
    if (end) s.endSent++;
    if (this.remote) this.transmit(buf);
    // The event's timestamp stays fixed; the media clock keeps running underneath.
    this.ts = (this.ts + samples) >>> 0;
  }

  private transmit(buf: Buffer): void {
    if (this.closed) return;
    this.seq = (this.seq + 1) & 0xffff;
    try {
      this.socket.send(buf, this.remote!.port, this.remote!.address);
      this.stats.packetsOut++;
      this.rtcp.onSent(buf.length - 12, this.ts);
    } catch {
      // send() throws synchronously on a closed socket or a bad destination: one call's media
      // fault must never reach the clock that paces every other call.
      this.stats.sendErrors++;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clock.remove(this);
    this.playout.close();
    for (const d of this.dtmfQueue.splice(0)) d.resolve();
    this.dtmfSending?.resolve();
    // Our last report and an RTCP BYE before the sockets go.
    this.rtcp.close(true);
    this.socket.off('message', this.onPacket);
    try {
      this.socket.close();
    } catch {
      // already closed
    }
    this.removeAllListeners('audio');
  }
}
