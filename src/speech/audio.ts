import { createRequire } from 'node:module';

/**
 * Sample-rate conversion for speech, in one place. Whole buffers (TTS output at 16 or 22.05 kHz →
 * the call's rate) go through sherpa-onnx's resampler. The 8 → 16 kHz upsampling of every 20 ms
 * caller frame (VAD, STT) is hand-written because that hot path must not allocate or cross into
 * native code per frame.
 */

const require = createRequire(import.meta.url);

/** Upsamples 8 kHz → 16 kHz into `out` (2 × input length): zero-stuff + 7-tap interpolation. */
export function upsample2x(input: Int16Array, out: Int16Array, prevTail = 0): number {
  const n = input.length;
  for (let i = 0; i < n; i++) {
    const a = i > 0 ? input[i - 1]! : prevTail;
    const b = input[i]!;
    const c = i + 1 < n ? input[i + 1]! : b;
    out[2 * i] = b;
    // Midpoint between b and c, nudged by the neighbours (Catmull-Rom-like).
    const d = i + 2 < n ? input[i + 2]! : c;
    let mid = (-a + 9 * b + 9 * c - d) / 16;
    mid = mid > 32767 ? 32767 : mid < -32768 ? -32768 : mid;
    out[2 * i + 1] = mid;
  }
  return 2 * n;
}

/** Downsamples 16 kHz → 8 kHz into `out` (half the input length) with a [1 2 1]/4 low-pass. */
export function downsample2x(input: Int16Array, out: Int16Array): number {
  const n = input.length >> 1;
  for (let i = 0; i < n; i++) {
    const a = input[2 * i - 1] ?? input[0]!;
    const b = input[2 * i]!;
    const c = input[2 * i + 1] ?? b;
    out[i] = (a + 2 * b + c) >> 2;
  }
  return n;
}

type SherpaResampler = { flush(samples: Float32Array): Float32Array; reset(): void };
const resamplers = new Map<string, SherpaResampler>();

/**
 * Any ratio, whole buffers (a TTS sentence, a prompt): sherpa-onnx's LinearResampler, which despite
 * its name low-passes with a windowed sinc before interpolating, so shrinking does not fold what is
 * above the new Nyquist back into the band (a 5 kHz tone taken from 16 to 8 kHz: −45 dB, where box
 * filtering and interpolation let it through at −5 dB). One resampler per rate pair, reset per buffer.
 */
export function resample(input: Int16Array, from: number, to: number): Int16Array {
  if (from === to || input.length === 0) return input;
  const key = `${from}:${to}`;
  let r = resamplers.get(key);
  if (!r) {
    const sherpa = require('sherpa-onnx-node') as { LinearResampler: new (from: number, to: number) => SherpaResampler };
    r = new sherpa.LinearResampler(from, to);
    resamplers.set(key, r);
  }
  r.reset();
  const out = r.flush(toFloat32(input));
  const pcm = new Int16Array(out.length);
  for (let i = 0; i < out.length; i++) {
    const v = Math.round(out[i]! * 32768);
    pcm[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return pcm;
}

export function toFloat32(pcm: Int16Array, out = new Float32Array(pcm.length)): Float32Array {
  for (let i = 0; i < pcm.length; i++) out[i] = pcm[i]! / 32768;
  return out;
}

/** Reads a PCM WAV (16-bit mono) into samples; throws on anything else. */
export function readWav(buf: Buffer): { pcm: Int16Array; sampleRate: number } {
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error('not a WAV file');
  let off = 12;
  let rate = 0;
  let bits = 0;
  let channels = 0;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    let size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ') {
      channels = buf.readUInt16LE(off + 10);
      rate = buf.readUInt32LE(off + 12);
      bits = buf.readUInt16LE(off + 22);
    } else if (id === 'data') {
      if (bits !== 16 || channels !== 1) throw new Error(`unsupported WAV: ${bits}-bit, ${channels} channels`);
      // Streams (espeak-ng --stdout) write 0xFFFFFFFF or 0 as the size: take what is there.
      if (size === 0 || size > buf.length - off - 8) size = buf.length - off - 8;
      const data = buf.subarray(off + 8, off + 8 + (size & ~1));
      const pcm = new Int16Array(data.length / 2);
      for (let i = 0; i < pcm.length; i++) pcm[i] = data.readInt16LE(i * 2);
      return { pcm, sampleRate: rate };
    }
    off += 8 + size + (size & 1);
  }
  throw new Error('WAV without data');
}

/** A 16-bit PCM WAV; with two channels `pcm` is interleaved (left, right, left, …). */
export function writeWav(pcm: Int16Array, sampleRate: number, channels: 1 | 2 = 1): Buffer {
  const b = Buffer.alloc(44 + pcm.length * 2);
  b.write('RIFF', 0, 'ascii');
  b.writeUInt32LE(36 + pcm.length * 2, 4);
  b.write('WAVEfmt ', 8, 'ascii');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(channels, 22);
  b.writeUInt32LE(sampleRate, 24);
  b.writeUInt32LE(sampleRate * 2 * channels, 28);
  b.writeUInt16LE(2 * channels, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36, 'ascii');
  b.writeUInt32LE(pcm.length * 2, 40);
  for (let i = 0; i < pcm.length; i++) b.writeInt16LE(pcm[i]!, 44 + i * 2);
  return b;
}

/** One buffer holding `parts` end to end. */
export function concatPcm(parts: readonly Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
