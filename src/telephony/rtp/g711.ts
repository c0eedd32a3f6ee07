/**
 * G.711 µ-law and A-law (ITU-T G.711), table-driven: one lookup per sample each way.
 * Written here because the algorithm is 40 lines and the npm codecs allocate per call.
 */

function ulawDecode(u: number): number {
  u = ~u & 0xff;
  const sign = u & 0x80;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  let sample = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  return sign ? -sample : sample;
}

function alawDecode(a: number): number {
  a ^= 0x55;
  const sign = a & 0x80;
  const exponent = (a >> 4) & 0x07;
  const mantissa = a & 0x0f;
  let sample = exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  return sign ? sample : -sample;
}

function ulawEncode(pcm: number): number {
  const BIAS = 0x84;
  const CLIP = 32635;
  let sign = (pcm >> 8) & 0x80;
  if (sign) pcm = -pcm;
  if (pcm > CLIP) pcm = CLIP;
  pcm += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (pcm & mask) === 0 && exponent > 0; exponent--, mask >>= 1);
  const mantissa = (pcm >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

function alawEncode(pcm: number): number {
  let sign: number;
  if (pcm >= 0) sign = 0xd5;
  else {
    sign = 0x55;
    pcm = -pcm - 1;
  }
  if (pcm > 32767) pcm = 32767;
  let exponent = 7;
  for (let mask = 0x4000; (pcm & mask) === 0 && exponent > 0; exponent--, mask >>= 1);
  const mantissa = exponent === 0 ? (pcm >> 4) & 0x0f : (pcm >> (exponent + 3)) & 0x0f;
  return ((exponent << 4) | mantissa) ^ sign;
}

const ULAW_TO_PCM = new Int16Array(256);
const ALAW_TO_PCM = new Int16Array(256);
const PCM_TO_ULAW = new Uint8Array(65536);
const PCM_TO_ALAW = new Uint8Array(65536);
for (let i = 0; i < 256; i++) {
  ULAW_TO_PCM[i] = ulawDecode(i);
  ALAW_TO_PCM[i] = alawDecode(i);
}
for (let i = -32768; i < 32768; i++) {
  PCM_TO_ULAW[i & 0xffff] = ulawEncode(i);
  PCM_TO_ALAW[i & 0xffff] = alawEncode(i);
}

export type G711 = 'PCMU' | 'PCMA';

/** Decodes `len` bytes from `src` at `offset` into `dst` (which must hold `len` samples). */
export function decodeG711(codec: G711, src: Uint8Array, offset: number, len: number, dst: Int16Array): void {
  const table = codec === 'PCMU' ? ULAW_TO_PCM : ALAW_TO_PCM;
  for (let i = 0; i < len; i++) dst[i] = table[src[offset + i]!]!;
}

/** Encodes `len` samples of `src` into `dst` at `offset`. */
export function encodeG711(codec: G711, src: Int16Array, srcOffset: number, len: number, dst: Uint8Array, offset: number): void {
  const table = codec === 'PCMU' ? PCM_TO_ULAW : PCM_TO_ALAW;
  for (let i = 0; i < len; i++) dst[offset + i] = table[src[srcOffset + i]! & 0xffff]!;
}

/** The silence byte of each law. */
export const G711_SILENCE: Record<G711, number> = { PCMU: 0xff, PCMA: 0xd5 };
