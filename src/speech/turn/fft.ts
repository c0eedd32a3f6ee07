// Hand-written: Whisper's 400-point frames need a mixed-radix FFT; npm's maintained FFTs (fft.js) are radix-2 only.

/**
 * A complex FFT of any length whose prime factors are small (400 = 4·4·5·5), KissFFT's
 * recursive decimation in time with a generic butterfly. Planned once; `transform` allocates nothing.
 */
export class Fft {
  private readonly factors: number[] = [];
  private readonly twRe: Float64Array;
  private readonly twIm: Float64Array;
  private readonly sRe: Float64Array;
  private readonly sIm: Float64Array;

  constructor(readonly n: number) {
    let rest = n;
    for (const p of [4, 2, 3, 5]) while (rest % p === 0) (this.factors.push(p), (rest /= p));
    for (let p = 7; rest > 1; p += 2) while (rest % p === 0) (this.factors.push(p), (rest /= p));
    this.twRe = new Float64Array(n);
    this.twIm = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      this.twRe[k] = Math.cos((-2 * Math.PI * k) / n);
      this.twIm[k] = Math.sin((-2 * Math.PI * k) / n);
    }
    const maxRadix = Math.max(1, ...this.factors);
    this.sRe = new Float64Array(maxRadix);
    this.sIm = new Float64Array(maxRadix);
  }

  /** out = DFT(in); in and out are distinct arrays of length n. */
  transform(inRe: Float64Array, inIm: Float64Array, outRe: Float64Array, outIm: Float64Array): void {
    this.work(outRe, outIm, 0, inRe, inIm, 0, 1, 0, this.n);
  }

  private work(oRe: Float64Array, oIm: Float64Array, o: number, iRe: Float64Array, iIm: Float64Array, i: number, fstride: number, fi: number, len: number): void {
    const p = this.factors[fi]!;
    const m = len / p;
    if (m === 1) {
      for (let j = 0; j < p; j++) {
        oRe[o + j] = iRe[i + j * fstride]!;
        oIm[o + j] = iIm[i + j * fstride]!;
      }
    } else {
      for (let j = 0; j < p; j++) this.work(oRe, oIm, o + j * m, iRe, iIm, i + j * fstride, fstride * p, fi + 1, m);
    }
    const { twRe, twIm, sRe, sIm, n } = this;
    for (let u = 0; u < m; u++) {
      for (let q = 0; q < p; q++) {
        sRe[q] = oRe[o + u + q * m]!;
        sIm[q] = oIm[o + u + q * m]!;
      }
      for (let q1 = 0; q1 < p; q1++) {
        const k = u + q1 * m;
        let re = sRe[0]!;
        let im = sIm[0]!;
        let tw = 0;
        for (let q = 1; q < p; q++) {
          tw += fstride * k;
          while (tw >= n) tw -= n;
          re += sRe[q]! * twRe[tw]! - sIm[q]! * twIm[tw]!;
          im += sRe[q]! * twIm[tw]! + sIm[q]! * twRe[tw]!;
        }
        oRe[o + k] = re;
        oIm[o + k] = im;
      }
    }
  }
}
