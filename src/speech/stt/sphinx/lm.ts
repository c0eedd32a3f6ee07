// Hand-written: no npm library builds ARPA language models; this is a small absolute-discounting trigram.

/**
 * A trigram language model in ARPA format from example sentences. Seen n-grams keep their
 * count minus a discount; the freed mass goes to the lower order through backoff weights, so any
 * word of the vocabulary can still follow any other (callers do not follow our templates).
 */
export function arpa(sentences: readonly string[][], discount = 0.5): string {
  const uni = new Map<string, number>();
  const bi = new Map<string, Map<string, number>>();
  const tri = new Map<string, Map<string, number>>();
  const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);
  const child = (m: Map<string, Map<string, number>>, k: string) => {
    let c = m.get(k);
    if (!c) m.set(k, (c = new Map()));
    return c;
  };
  for (const words of sentences) {
    const s = ['<s>', ...words, '</s>'];
    for (let i = 0; i < s.length; i++) {
      if (i > 0) bump(uni, s[i]!);
      if (i >= 1) bump(child(bi, s[i - 1]!), s[i]!);
      if (i >= 2) bump(child(tri, `${s[i - 2]} ${s[i - 1]}`), s[i]!);
    }
  }
  uni.set('<s>', 0);

  // Unigrams: add-one, so every vocabulary word keeps some probability.
  const vocab = [...uni.keys()];
  const total = [...uni.values()].reduce((a, b) => a + b, 0) + vocab.length - 1;
  const p1 = new Map<string, number>();
  for (const w of vocab) p1.set(w, w === '<s>' ? 0 : (uni.get(w)! + 1) / total);

  const p2 = new Map<string, number>();
  const bow1 = new Map<string, number>();
  for (const [h, next] of bi) {
    const n = [...next.values()].reduce((a, b) => a + b, 0);
    let seenLower = 0;
    for (const [w, c] of next) {
      p2.set(`${h} ${w}`, (c - discount) / n);
      seenLower += p1.get(w)!;
    }
    bow1.set(h, (discount * next.size) / n / Math.max(1e-9, 1 - seenLower));
  }
  const backed2 = (h: string, w: string) => p2.get(`${h} ${w}`) ?? (bow1.get(h) ?? 1) * p1.get(w)!;

  const p3 = new Map<string, number>();
  const bow2 = new Map<string, number>();
  for (const [h, next] of tri) {
    const n = [...next.values()].reduce((a, b) => a + b, 0);
    const last = h.split(' ')[1]!;
    let seenLower = 0;
    for (const [w, c] of next) {
      p3.set(`${h} ${w}`, (c - discount) / n);
      seenLower += backed2(last, w);
    }
    bow2.set(h, (discount * next.size) / n / Math.max(1e-9, 1 - seenLower));
  }

  const log = (p: number) => (p > 0 ? Math.log10(p) : -99).toFixed(4);
  const out = ['\\data\\', `ngram 1=${vocab.length}`, `ngram 2=${p2.size}`, `ngram 3=${p3.size}`, '', '\\1-grams:'];
  for (const w of vocab) out.push(`${log(p1.get(w)!)}\t${w}\t${log(bow1.get(w) ?? 1)}`);
  out.push('', '\\2-grams:');
  for (const [k, p] of p2) out.push(`${log(p)}\t${k}${bow2.has(k) ? `\t${log(bow2.get(k)!)}` : ''}`);
  out.push('', '\\3-grams:');
  for (const [k, p] of p3) out.push(`${log(p)}\t${k}`);
  out.push('', '\\end\\', '');
  return out.join('\n');
}
