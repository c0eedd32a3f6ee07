import { Fft } from './fft.js';

/**
 * Whisper's log-mel features, as Hugging Face's WhisperFeatureExtractor computes them for Smart
 * Turn: the window zero-padded at its start, normalised to zero mean and unit variance, a centred
 * STFT (reflect padding, periodic Hann window of 400, hop 160), power spectrum, 80 Slaney mel
 * bands up to 8 kHz, log10 floored at 1e-10, clamped to 8 below the peak, then (x + 4) / 4.
 */
export const whisperFeatureDefaults = {
  sampleRate: 16_000,
  nFft: 400,
  hop: 160,
  mels: 80,
  /** Seconds of audio in one input window. */
  windowS: 8,
} as const satisfies Record<string, number>;

const { sampleRate, nFft, hop, mels } = whisperFeatureDefaults;
const BINS = nFft / 2 + 1;

function hzToMel(f: number): number {
  // Slaney: linear below 1 kHz, logarithmic above.
  return f < 1000 ? (3 * f) / 200 : 15 + Math.log(f / 1000) / (Math.log(6.4) / 27);
}

function melToHz(m: number): number {
  return m < 15 ? (200 * m) / 3 : 1000 * Math.exp((Math.log(6.4) / 27) * (m - 15));
}

/** librosa.filters.mel(sr=16000, n_fft=400, n_mels=80, norm='slaney'): [mels][bins]. */
export function melFilters(): Float32Array[] {
  const top = hzToMel(sampleRate / 2);
  const hz = Array.from({ length: mels + 2 }, (_, i) => melToHz((top * i) / (mels + 1)));
  return Array.from({ length: mels }, (_, i) => {
    const row = new Float32Array(BINS);
    const enorm = 2 / (hz[i + 2]! - hz[i]!);
    for (let k = 0; k < BINS; k++) {
      const f = (k * sampleRate) / nFft;
      const lower = (f - hz[i]!) / (hz[i + 1]! - hz[i]!);
      const upper = (hz[i + 2]! - f) / (hz[i + 2]! - hz[i + 1]!);
      row[k] = Math.max(0, Math.min(lower, upper)) * enorm;
    }
    return row;
  });
}

export class WhisperFeatures {
  readonly samples: number;
  readonly frames: number;
  private readonly fft = new Fft(nFft);
  private readonly window = new Float64Array(nFft);
  private readonly filters = melFilters();
  private readonly audio: Float64Array;
  private readonly re = new Float64Array(nFft);
  private readonly im = new Float64Array(nFft);
  private readonly outRe = new Float64Array(nFft);
  private readonly outIm = new Float64Array(nFft);
  private readonly power = new Float64Array(BINS);

  constructor(windowS: number = whisperFeatureDefaults.windowS) {
    this.samples = windowS * sampleRate;
    this.frames = this.samples / hop;
    this.audio = new Float64Array(this.samples);
    for (let i = 0; i < nFft; i++) this.window[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / nFft);
  }

  /**
   * Features of the last `windowS` seconds of `pcm` (16 kHz, -1..1) into `out` ([mels][frames],
   * row-major, as the model's input). Yields to the event loop every `yieldEvery` frames so a
   * call's playout clock is never held up for long; resolves with `out`.
   */
  async compute(pcm: Float32Array, out = new Float32Array(mels * this.frames), yieldEvery = 100): Promise<Float32Array> {
    const a = this.audio;
    const take = Math.min(pcm.length, this.samples);
    const pad = this.samples - take;
    a.fill(0, 0, pad);
    for (let i = 0; i < take; i++) a[pad + i] = pcm[pcm.length - take + i]!;
    let mean = 0;
    for (let i = 0; i < a.length; i++) mean += a[i]!;
    mean /= a.length;
    let v = 0;
    for (let i = 0; i < a.length; i++) v += (a[i]! - mean) ** 2;
    const scale = 1 / Math.sqrt(v / a.length + 1e-7);
    for (let i = 0; i < a.length; i++) a[i] = (a[i]! - mean) * scale;

    let peak = -Infinity;
    const half = nFft / 2;
    for (let f = 0; f < this.frames; f++) {
      if (f > 0 && f % yieldEvery === 0) await new Promise<void>((r) => setImmediate(r));
      const start = f * hop - half;
      for (let i = 0; i < nFft; i++) {
        // Reflect padding at both ends (torch.stft, center=True).
        let j = start + i;
        if (j < 0) j = -j;
        else if (j >= a.length) j = 2 * (a.length - 1) - j;
        this.re[i] = a[j]! * this.window[i]!;
        this.im[i] = 0;
      }
      this.fft.transform(this.re, this.im, this.outRe, this.outIm);
      for (let k = 0; k < BINS; k++) this.power[k] = this.outRe[k]! ** 2 + this.outIm[k]! ** 2;
      for (let m = 0; m < mels; m++) {
        const row = this.filters[m]!;
        let s = 0;
        for (let k = 0; k < BINS; k++) s += row[k]! * this.power[k]!;
        const l = Math.log10(Math.max(s, 1e-10));
        out[m * this.frames + f] = l;
        if (l > peak) peak = l;
      }
    }
    const floor = peak - 8;
    for (let i = 0; i < out.length; i++) out[i] = (Math.max(out[i]!, floor) + 4) / 4;
    return out;
  }
}
