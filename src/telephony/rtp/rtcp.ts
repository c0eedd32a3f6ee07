import type { Socket, RemoteInfo } from 'node:dgram';
import {
  CompoundPacket, isRtcp, ReceiverReportPacket, ReceptionReport, SdesChunk, SdesPacket, SenderReportPacket, ByePacket,
} from 'rtp.js/packets';

/**
 * RTCP (RFC 3550 §6) for one RTP session: packets are built and parsed by rtp.js; what this file
 * keeps is the arithmetic RFC 3550 leaves to the application (A.1 sequence accounting, A.3 loss,
 * A.8 jitter, §6.4.1 round-trip time) and the report timer. Reports go out every `intervalMs`
 * (randomised ±50 %, §6.3.1), on the RTCP port (RTP + 1) or on the RTP socket with rtcp-mux.
 */

export const rtcpDefaults = {
  /** Report interval, ms (RFC 3550's minimum of 5 s for a two-party call). */
  intervalMs: 5_000,
} as const satisfies Record<string, number>;

/** What a call's media looked like: kept in the call record and shown in the console. */
export interface CallQuality {
  /** RTP packets we received and sent. */
  packetsIn: number;
  packetsOut: number;
  /** Their packets we never got (sequence gaps), and ones that came too late or twice (discarded). */
  lost: number;
  late: number;
  duplicates: number;
  /** Packets dropped before decoding: malformed, or from an address that is not the call's. */
  discarded: number;
  /** Interarrival jitter of their stream as we measured it (RFC 3550 A.8), ms: the last and the worst. */
  jitterMs: number;
  maxJitterMs: number;
  /** RTCP reports sent and received. */
  rtcpOut: number;
  rtcpIn: number;
  /** What the far end reported about our stream, when it sent RTCP. */
  remote?: { lost: number; fractionLost: number; jitterMs: number } | undefined;
  /** Round-trip time from their report of our last SR (RFC 3550 §6.4.1), ms: the last and the worst. */
  rttMs?: number | undefined;
  maxRttMs?: number | undefined;
}

const NTP_EPOCH_OFFSET = 2_208_988_800; // seconds from 1900 to 1970
const CLOCK_RATE = 8000;

/** Middle 32 bits of the NTP time for `ms` since 1970 (the units LSR and DLSR use: 1/65536 s). */
function ntpMiddle(ms: number): number {
  return Math.floor(((ms / 1000) + NTP_EPOCH_OFFSET) * 65536) >>> 0;
}

export interface RtcpOptions {
  /** The RTCP socket (RTP + 1); undefined: reports only ever share the RTP socket (rtcp-mux). */
  socket: Socket | undefined;
  /** The socket reports go out on when muxed. */
  rtpSocket: Socket;
  /** Send reports at all (false: measure only, e.g. a PBX leg without RTCP). */
  send: boolean;
  ssrc: number;
  cname: string;
  intervalMs?: number;
  /** Wall clock in ms (NTP timestamps); tests may inject one. */
  now?: () => number;
  /** A report from the far end was read. */
  onReport?: () => void;
}

export class Rtcp {
  // receive side (their stream), RFC 3550 A.1 / A.3 / A.8
  private remoteSsrc = -1;
  private baseSeq = 0;
  private maxSeq = 0;
  private cycles = 0;
  private received = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;
  private lastTransit = 0;
  private haveTransit = false;
  /** Jitter in RTP timestamp units, as RFC 3550 keeps it. */
  private jitter = 0;
  private maxJitter = 0;
  // their last SR: its NTP middle bits and when it arrived, for LSR/DLSR
  private lastSrNtp = 0;
  private lastSrAt = 0;
  // send side (our stream)
  private sentPackets = 0;
  private sentOctets = 0;
  private sentSinceReport = false;
  private lastRtpTs = 0;
  private remoteReport: CallQuality['remote'];
  private rtt: number | undefined;
  private maxRtt: number | undefined;
  private rtcpIn = 0;
  private rtcpOut = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Where reports go, and what the SDP said (the RTP address, its a=rtcp port). */
  private remote: { address: string; port: number } | undefined;
  private rtpRemote: { address: string; port: number } | undefined;
  private rtcpPort: number | undefined;
  /** The far end's RTCP source, once seen (symmetric RTCP behind NAT). */
  private latchedRemote = false;
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly o: RtcpOptions) {
    this.now = o.now ?? Date.now;
    o.socket?.on('message', this.onMessage);
    o.socket?.on('error', () => {});
  }

  /** rtcp-mux (RFC 5761) negotiated: reports go over the RTP socket and port. */
  mux = false;

  get muxed(): boolean {
    return this.mux || !this.o.socket;
  }

  /** Where reports go: the SDP's a=rtcp port, or RTP + 1, or the RTP port itself with rtcp-mux. */
  setRemote(rtp: { address: string; port: number }, rtcpPort?: number, mux = this.mux): void {
    const same = this.rtpRemote?.address === rtp.address && this.rtpRemote.port === rtp.port && this.rtcpPort === rtcpPort && this.mux === mux;
    this.rtpRemote = rtp;
    this.rtcpPort = rtcpPort;
    this.mux = mux;
    if (same && this.latchedRemote) return;
    this.remote = { address: rtp.address, port: this.muxed ? rtp.port : rtcpPort ?? rtp.port + 1 };
    this.latchedRemote = false;
  }

  start(): void {
    if (this.timer || this.closed || !this.o.send) return;
    const next = () => {
      const ms = (this.o.intervalMs ?? rtcpDefaults.intervalMs) * (0.5 + Math.random());
      this.timer = setTimeout(() => {
        this.send(false);
        next();
      }, ms);
      this.timer.unref();
    };
    next();
  }

  /**
   * Per received RTP packet (hot path: arithmetic only). `arrivalMs` is a monotonic clock;
   * `audio` false for telephone-events, whose timestamp stays fixed for a whole digit (not jitter).
   */
  onRtp(ssrc: number, seq: number, ts: number, arrivalMs: number, audio: boolean): void {
    if (ssrc !== this.remoteSsrc) {
      // A new source (or the first): its sequence space starts over (RFC 3550 A.1 init_seq).
      this.remoteSsrc = ssrc;
      this.baseSeq = seq;
      this.maxSeq = seq;
      this.cycles = 0;
      this.received = 0;
      this.expectedPrior = 0;
      this.receivedPrior = 0;
      this.haveTransit = false;
      this.jitter = 0;
    }
    const delta = (seq - this.maxSeq) & 0xffff;
    if (delta > 0 && delta < 0x8000) {
      if (seq < this.maxSeq) this.cycles += 0x10000;
      this.maxSeq = seq;
    }
    this.received++;
    if (!audio) {
      this.haveTransit = false;
      return;
    }
    const arrival = Math.round(arrivalMs * (CLOCK_RATE / 1000)) >>> 0;
    const transit = (arrival - ts) | 0;
    if (this.haveTransit) {
      const d = Math.abs((transit - this.lastTransit) | 0);
      // A jump of more than 10 s is a new talkspurt's timestamp or a clock reset, not jitter.
      if (d < CLOCK_RATE * 10) this.jitter += (d - this.jitter) / 16;
      if (this.jitter > this.maxJitter) this.maxJitter = this.jitter;
    }
    this.lastTransit = transit;
    this.haveTransit = true;
  }

  /** Per sent RTP packet. */
  onSent(payloadBytes: number, rtpTs: number): void {
    this.sentPackets++;
    this.sentOctets += payloadBytes;
    this.sentSinceReport = true;
    this.lastRtpTs = rtpTs;
  }

  /** A datagram on the RTCP socket, or an RTCP one demuxed from the RTP socket. */
  readonly onMessage = (buf: Buffer, rinfo: RemoteInfo): void => {
    if (this.closed || buf.length < 8) return;
    // Only from the call's far end (its address); the port latches once, like RTP.
    if (!this.remote || rinfo.address !== this.remote.address) return;
    const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
    let compound: CompoundPacket;
    try {
      if (!isRtcp(view)) return;
      compound = new CompoundPacket(view);
    } catch {
      return; // a malformed report tells us nothing; the call goes on
    }
    this.rtcpIn++;
    if (!this.latchedRemote) {
      // Symmetric RTCP: reports go back where the first good one came from (NAT).
      this.remote = { address: rinfo.address, port: rinfo.port };
      this.latchedRemote = true;
    }
    const arrived = this.now();
    for (const p of compound.getPackets()) {
      let reports: ReceptionReport[] = [];
      if (p instanceof SenderReportPacket) {
        // LSR: the middle 32 bits of its NTP timestamp.
        this.lastSrNtp = (((p.getNtpSeconds() & 0xffff) << 16) | (p.getNtpFraction() >>> 16)) >>> 0;
        this.lastSrAt = arrived;
        reports = p.getReports();
      } else if (p instanceof ReceiverReportPacket) {
        reports = p.getReports();
      }
      for (const r of reports) if (r.getSsrc() === this.o.ssrc) this.onReportOfUs(r, arrived);
    }
    this.o.onReport?.();
  };

  private onReportOfUs(r: ReceptionReport, arrived: number): void {
    this.remoteReport = {
      lost: r.getTotalLost(),
      fractionLost: r.getFractionLost() / 256,
      jitterMs: Math.round((r.getJitter() / CLOCK_RATE) * 1000 * 10) / 10,
    };
    const lsr = r.getLastSRTimestamp();
    if (!lsr) return;
    // RFC 3550 §6.4.1: RTT = arrival − LSR − DLSR, all in 1/65536 s.
    const units = (ntpMiddle(arrived) - lsr - r.getDelaySinceLastSR()) >>> 0;
    if (units > 65536 * 60) return; // negative (clock step) or absurd
    this.rtt = Math.round((units / 65536) * 1000 * 10) / 10;
    this.maxRtt = Math.max(this.maxRtt ?? 0, this.rtt);
  }

  /** One compound report: SR if we sent since the last one, else RR; SDES CNAME; BYE on close. */
  send(bye: boolean): void {
    if (!this.remote || this.closed || !this.o.send) return;
    const now = this.now();
    const packet = new CompoundPacket();
    let head: SenderReportPacket | ReceiverReportPacket;
    if (this.sentSinceReport) {
      const sr = new SenderReportPacket();
      const ntp = now / 1000 + NTP_EPOCH_OFFSET;
      sr.setNtpSeconds(Math.floor(ntp) >>> 0);
      sr.setNtpFraction(Math.floor((ntp % 1) * 0x100000000) >>> 0);
      sr.setRtpTimestamp(this.lastRtpTs);
      sr.setPacketCount(this.sentPackets >>> 0);
      sr.setOctetCount(this.sentOctets >>> 0);
      head = sr;
    } else {
      head = new ReceiverReportPacket();
    }
    this.sentSinceReport = false;
    head.setSsrc(this.o.ssrc);
    if (this.remoteSsrc >= 0) head.addReport(this.receptionReport(now));
    packet.addPacket(head);
    const sdes = new SdesPacket();
    const chunk = new SdesChunk();
    chunk.setSsrc(this.o.ssrc);
    chunk.setItems([{ type: 1, text: this.o.cname }]);
    sdes.addChunk(chunk);
    packet.addPacket(sdes);
    if (bye) {
      const b = new ByePacket();
      b.setSsrcs([this.o.ssrc]);
      packet.addPacket(b);
    }
    packet.serialize();
    const view = packet.getView();
    const out = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
    try {
      (this.muxed ? this.o.rtpSocket : this.o.socket!).send(out, this.remote.port, this.remote.address);
      this.rtcpOut++;
    } catch {
      // a closed socket or an unusable destination: RTCP is best effort
    }
  }

  private receptionReport(now: number): ReceptionReport {
    const extMax = this.cycles + this.maxSeq;
    const expected = extMax - this.baseSeq + 1;
    const lost = Math.max(-0x800000, Math.min(0x7fffff, expected - this.received));
    const expectedInterval = expected - this.expectedPrior;
    const receivedInterval = this.received - this.receivedPrior;
    this.expectedPrior = expected;
    this.receivedPrior = this.received;
    const lostInterval = expectedInterval - receivedInterval;
    const fraction = expectedInterval === 0 || lostInterval <= 0 ? 0 : Math.min(255, Math.floor((lostInterval << 8) / expectedInterval));
    const r = new ReceptionReport();
    r.setSsrc(this.remoteSsrc);
    r.setFractionLost(fraction);
    r.setTotalLost(Math.max(0, lost));
    r.setHighestSeqNumber(extMax >>> 0);
    r.setJitter(Math.floor(this.jitter) >>> 0);
    if (this.lastSrAt) {
      r.setLastSRTimestamp(this.lastSrNtp);
      r.setDelaySinceLastSR(Math.floor(((now - this.lastSrAt) / 1000) * 65536) >>> 0);
    }
    return r;
  }

  /** Their packets we never got (RFC 3550 A.3: expected − received), the number our reports carry. */
  lost(): number {
    if (this.remoteSsrc < 0) return 0;
    return Math.max(0, this.cycles + this.maxSeq - this.baseSeq + 1 - this.received);
  }

  /** Our measurements and the far end's, for the call record. */
  summary(): Pick<CallQuality, 'jitterMs' | 'maxJitterMs' | 'rtcpIn' | 'rtcpOut' | 'remote' | 'rttMs' | 'maxRttMs'> {
    const ms = (units: number) => Math.round((units / CLOCK_RATE) * 1000 * 10) / 10;
    return {
      jitterMs: ms(this.jitter), maxJitterMs: ms(this.maxJitter), rtcpIn: this.rtcpIn, rtcpOut: this.rtcpOut,
      ...(this.remoteReport ? { remote: { ...this.remoteReport } } : {}),
      ...(this.rtt !== undefined ? { rttMs: this.rtt, maxRttMs: this.maxRtt } : {}),
    };
  }

  /** Stops reporting; with `bye`, the far end hears our last report and an RTCP BYE. */
  close(bye: boolean): void {
    if (this.closed) return;
    if (bye) this.send(true);
    this.closed = true;
    clearTimeout(this.timer);
    if (this.o.socket) {
      this.o.socket.off('message', this.onMessage);
      try {
        this.o.socket.close();
      } catch {
        // already closed
      }
    }
  }
}
