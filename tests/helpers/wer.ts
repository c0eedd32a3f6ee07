import { normalizeWords } from '../../src/speech/stt/sphinx/adapt.js';

/** Word error rate of `hyp` against `ref`: word-level edit distance over the reference length. */
export function wordErrorRate(ref: string, hyp: string): number {
  const r = normalizeWords(ref);
  const h = normalizeWords(hyp);
  let prev = Array.from({ length: h.length + 1 }, (_, j) => j);
  for (let i = 1; i <= r.length; i++) {
    const cur = [i];
    for (let j = 1; j <= h.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (r[i - 1] === h[j - 1] ? 0 : 1));
    prev = cur;
  }
  return r.length ? prev[h.length]! / r.length : h.length ? 1 : 0;
}
