import { isIP } from 'node:net';
import * as sdpTransform from 'sdp-transform';
import type { G711 } from '../rtp/g711.js';
import type { MediaDirection, RtpCodec } from '../rtp/session.js';

/** SDP offer/answer (RFC 3264) for one G.711 audio stream, through sdp-transform. */

export interface RemoteMedia {
  address: string;
  port: number;
  direction: MediaDirection;
  codec: RtpCodec;
  /** Every m= line of the offer, so the answer can have as many (RFC 3264 §6), and which one we use. */
  streams: OfferedStream[];
  used: number;
  /** The far end's RTCP port (a=rtcp, RFC 3605), when it is not RTP + 1. */
  rtcpPort?: number | undefined;
  /** a=rtcp-mux (RFC 5761): RTCP shares the RTP port. */
  rtcpMux: boolean;
}

export interface OfferedStream {
  type: string;
  protocol: string;
  payloads: string;
}

export class SdpError extends Error {}

const STATIC: Record<number, G711> = { 0: 'PCMU', 8: 'PCMA' };

/** Picks the first of the offer's codecs we support, in the offerer's order of preference. */
export function negotiate(sdp: string, prefer: readonly G711[] = ['PCMU', 'PCMA']): RemoteMedia {
  let parsed: sdpTransform.SessionDescription;
  try {
    parsed = sdpTransform.parse(sdp);
  } catch {
    throw new SdpError('unparseable SDP');
  }
  const media = parsed.media ?? [];
  const used = media.findIndex((m) => m.type === 'audio' && m.port > 0 && /^RTP\/AVP$/i.test(m.protocol));
  const audio = media[used];
  if (!audio) throw new SdpError('no audio stream');
  if (!Number.isInteger(audio.port) || audio.port < 1 || audio.port > 65535) throw new SdpError(`bad audio port ${String(audio.port).slice(0, 12)}`);
  const address = audio.connection?.ip ?? parsed.connection?.ip;
  if (!address) throw new SdpError('no connection address');
  // An IP literal only: a host name would mean a DNS lookup per packet, garbage a send error per packet.
  if (!isIP(address)) throw new SdpError(`connection address is not an IP address: ${String(address).slice(0, 40)}`);
  const pts = String(audio.payloads ?? '').split(/\s+/).filter(Boolean).map(Number);
  const names = new Map<number, string>();
  for (const r of audio.rtp ?? []) names.set(r.payload, `${r.codec.toUpperCase()}/${r.rate}`);
  let codec: G711 | undefined;
  let pt: number | undefined;
  for (const p of pts) {
    const name = names.get(p)?.split('/')[0] ?? STATIC[p];
    if (name === 'PCMU' || name === 'PCMA') {
      if (!prefer.includes(name)) continue;
      codec = name;
      pt = p;
      break;
    }
  }
  if (!codec || pt === undefined) throw new SdpError('no common codec (we speak PCMU and PCMA)');
  const dtmf = pts.find((p) => /^TELEPHONE-EVENT\/8000$/.test(names.get(p) ?? ''));
  const cn = pts.find((p) => (names.get(p) ?? (p === 13 ? 'CN/8000' : '')) === 'CN/8000');
  const dirs = ['sendrecv', 'sendonly', 'recvonly', 'inactive'] as const;
  const raw = (audio.direction ?? parsed.direction ?? 'sendrecv') as MediaDirection;
  const direction: MediaDirection = address === '0.0.0.0' ? 'inactive' : dirs.includes(raw) ? raw : 'sendrecv';
  const ptime = Number(audio.ptime ?? 20);
  return {
    address,
    port: audio.port,
    direction,
    codec: { codec, payloadType: pt, dtmfPayloadType: dtmf, cnPayloadType: cn, ptimeMs: [10, 20, 30, 40, 60].includes(ptime) ? ptime : 20 },
    streams: media.map((m) => ({ type: m.type, protocol: m.protocol, payloads: String(m.payloads ?? '0') })),
    used,
    rtcpPort: Number.isInteger(audio.rtcp?.port) && audio.rtcp!.port > 0 && audio.rtcp!.port <= 65535 ? audio.rtcp!.port : undefined,
    rtcpMux: audio.rtcpMux === 'rtcp-mux',
  };
}

const MIRROR: Record<MediaDirection, MediaDirection> = { sendrecv: 'sendrecv', sendonly: 'recvonly', recvonly: 'sendonly', inactive: 'inactive' };

/** Our SDP: an answer to `remote` (mirroring its direction), or an offer when `remote` is absent. */
export function buildSdp(opts: {
  address: string;
  port: number;
  sessionId: number;
  version: number;
  codec?: RtpCodec;
  direction?: MediaDirection;
  offerCodecs?: readonly G711[];
  /** Answering an offer of several m= lines: ours goes at `used`, the others are refused with port 0. */
  streams?: { list: readonly OfferedStream[]; used: number };
  /** a=rtcp-mux: in an offer, that we can; in an answer, only when the offer had it. */
  rtcpMux?: boolean;
}): string {
  const codecs: { pt: number; name: string }[] = [];
  if (opts.codec) {
    codecs.push({ pt: opts.codec.payloadType, name: opts.codec.codec });
    // Comfort noise accepted when offered (we never send it: our silence is real silence).
    if (opts.codec.cnPayloadType !== undefined) codecs.push({ pt: opts.codec.cnPayloadType, name: 'CN' });
  }
  else for (const c of opts.offerCodecs ?? ['PCMU', 'PCMA']) codecs.push({ pt: c === 'PCMU' ? 0 : 8, name: c });
  const dtmfPt = opts.codec ? opts.codec.dtmfPayloadType : 101;
  const ipVer = opts.address.includes(':') ? 6 : 4;
  const desc: sdpTransform.SessionDescription = {
    version: 0,
    origin: { username: 'frontdesk', sessionId: opts.sessionId, sessionVersion: opts.version, netType: 'IN', ipVer, address: opts.address },
    name: 'frontdesk',
    connection: { version: ipVer, ip: opts.address },
    timing: { start: 0, stop: 0 },
    media: [
      {
        type: 'audio',
        port: opts.port,
        protocol: 'RTP/AVP',
        payloads: [...codecs.map((c) => c.pt), ...(dtmfPt !== undefined ? [dtmfPt] : [])].join(' '),
        rtp: [
          ...codecs.map((c) => ({ payload: c.pt, codec: c.name, rate: 8000 })),
          ...(dtmfPt !== undefined ? [{ payload: dtmfPt, codec: 'telephone-event', rate: 8000 }] : []),
        ],
        fmtp: dtmfPt !== undefined ? [{ payload: dtmfPt, config: '0-16' }] : [],
        ptime: opts.codec?.ptimeMs ?? 20,
        direction: opts.direction ?? 'sendrecv',
        ...(opts.rtcpMux ? { rtcpMux: 'rtcp-mux' } : {}),
      },
    ],
  };
  if (opts.streams && opts.streams.list.length > 1) {
    const ours = desc.media[0]!;
    desc.media = opts.streams.list.map((m, i) => (i === opts.streams!.used ? ours : {
      type: m.type, port: 0, protocol: m.protocol, payloads: m.payloads.split(/\s+/)[0] ?? '0',
    } as (typeof desc.media)[number]));
  }
  return sdpTransform.write(desc);
}

export function mirrorDirection(d: MediaDirection): MediaDirection {
  return MIRROR[d];
}
