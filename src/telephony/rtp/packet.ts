/** RTP fixed header (RFC 3550 §5.1): parsed in place, no copies. */

export interface RtpHeader {
  marker: boolean;
  payloadType: number;
  seq: number;
  timestamp: number;
  ssrc: number;
  /** Where the payload starts and how long it is (padding removed). */
  payloadOffset: number;
  payloadLength: number;
}

/** Parses into `out`; false for anything that is not a well-formed RTP v2 packet. */
export function parseRtp(buf: Buffer, out: RtpHeader): boolean {
  if (buf.length < 12) return false;
  const b0 = buf[0]!;
  if (b0 >> 6 !== 2) return false;
  const padding = (b0 & 0x20) !== 0;
  const extension = (b0 & 0x10) !== 0;
  const csrcCount = b0 & 0x0f;
  let offset = 12 + csrcCount * 4;
  if (buf.length < offset) return false;
  if (extension) {
    if (buf.length < offset + 4) return false;
    offset += 4 + buf.readUInt16BE(offset + 2) * 4;
    if (buf.length < offset) return false;
  }
  let end = buf.length;
  if (padding) {
    const pad = buf[end - 1]!;
    if (pad === 0 || end - pad < offset) return false;
    end -= pad;
  }
  const b1 = buf[1]!;
  out.marker = (b1 & 0x80) !== 0;
  out.payloadType = b1 & 0x7f;
  // 72-76 are RTCP packet types arriving on the RTP port (rtcp-mux): not media.
  if (out.payloadType >= 72 && out.payloadType <= 76) return false;
  out.seq = buf.readUInt16BE(2);
  out.timestamp = buf.readUInt32BE(4);
  out.ssrc = buf.readUInt32BE(8);
  out.payloadOffset = offset;
  out.payloadLength = end - offset;
  return true;
}

/** Writes a 12-byte header into `buf` (which holds header + payload). */
export function writeRtpHeader(buf: Buffer, marker: boolean, payloadType: number, seq: number, timestamp: number, ssrc: number): void {
  buf[0] = 0x80;
  buf[1] = (marker ? 0x80 : 0) | (payloadType & 0x7f);
  buf.writeUInt16BE(seq & 0xffff, 2);
  buf.writeUInt32BE(timestamp >>> 0, 4);
  buf.writeUInt32BE(ssrc >>> 0, 8);
}

/** Signed distance from sequence number a to b, across the 16-bit wrap. */
export function seqDiff(a: number, b: number): number {
  const d = (b - a) & 0xffff;
  return d >= 0x8000 ? d - 0x10000 : d;
}
