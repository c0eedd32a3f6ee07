/**
 * Free answers (an address, a name) as the recognizer or a texter gives them, tidied for the
 * record: fillers and lead-ins dropped, house numbers in digits. Never the clock-time rewrite:
 * "twelve thirty Elm Street" is number 1230, not half past twelve.
 */

const UNITS: Record<string, number> = {
  zero: 0, oh: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10,
  eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18, nineteen: 19,
};
const TENS: Record<string, number> = { twenty: 20, thirty: 30, forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90 };

const FILLER = /\b(um+|uh+|er+|erm|ah+|hmm+|mm+|you know|i mean)\b[,.]?\s*/gi;
const LEAD_IN = /^(so|well|okay|ok|yeah|yes|sure|right)?[\s,]*(it'?s|it is|that'?s|that is|my address is|the address is|our address is|address is|i live at|we live at|i'm at|we're at|we are at|at)\b[\s,:]*/i;
const NAME_LEAD = /^(so|well|okay|ok|yeah|yes|sure)?[\s,]*(it'?s|it is|my name is|the name is|name is|this is|i'm|i am|put it under|under|call me)\b[\s,:]*/i;

/** "four hundred twelve", "twelve thirty", "one two three" → digits; other words kept. */
function numbersToDigits(words: string[]): string[] {
  const out: string[] = [];
  let digits = '';
  let i = 0;
  const flush = () => {
    if (digits) out.push(digits);
    digits = '';
  };
  while (i < words.length) {
    const w = words[i]!.toLowerCase();
    if (w in TENS) {
      let n = TENS[w]!;
      const next = words[i + 1]?.toLowerCase();
      if (next && next in UNITS && UNITS[next]! > 0 && UNITS[next]! < 10) {
        n += UNITS[next]!;
        i++;
      }
      digits += String(n);
    } else if (w in UNITS) {
      const next = words[i + 1]?.toLowerCase();
      if (next === 'hundred' || next === 'thousand') {
        let n = UNITS[w]! * (next === 'hundred' ? 100 : 1000);
        i += 2;
        if (words[i]?.toLowerCase() === 'and') i++;
        const rest: string[] = [];
        while (i < words.length && (words[i]!.toLowerCase() in UNITS || words[i]!.toLowerCase() in TENS)) rest.push(words[i++]!);
        const tail = rest.length ? Number(numbersToDigits(rest).join('')) : 0;
        n += tail < 100 ? tail : 0;
        digits += String(n);
        continue;
      }
      digits += String(UNITS[w]!);
    } else if (/^\d+$/.test(w)) digits += w;
    else {
      flush();
      out.push(words[i]!);
    }
    i++;
  }
  flush();
  return out;
}

export function cleanAddress(raw: string): string {
  const text = raw.replace(FILLER, '').replace(/\s+/g, ' ').trim().replace(LEAD_IN, '').replace(/\bplease\b[.!]?$/i, '');
  const words = text.replace(/[.!?]+$/, '').split(/\s+/).filter(Boolean);
  return numbersToDigits(words).join(' ').replace(/\s+,/g, ',').trim();
}

const STREET = /\b(street|st|avenue|ave|road|rd|drive|dr|lane|ln|boulevard|blvd|court|ct|place|pl|way|circle|cir|parkway|pkwy|highway|hwy|trail|terrace|loop|square|route|apt|apartment|suite|unit|box)\b/i;

/** A house number or a street word: what an address has and a misheard phrase ("what week") does not. */
export function looksLikeAddress(address: string): boolean {
  return /\d/.test(address) || STREET.test(address);
}

export function cleanName(raw: string): string {
  const text = raw.replace(FILLER, '').replace(/\s+/g, ' ').trim().replace(NAME_LEAD, '').replace(/[.!?]+$/, '').trim();
  if (!text || text.split(' ').length > 5) return text.split(' ').slice(0, 5).join(' ');
  return text.replace(/\b([a-z])/g, (c) => c.toUpperCase());
}

/** A bare number answer ("two", "3"), 1..20. */
export function bareNumber(raw: string): number | undefined {
  const w = raw.toLowerCase().replace(FILLER, '').replace(/[.!?,]/g, ' ').trim().split(/\s+/).filter((x) => !['i', 'have', 'we', 'it', "it's", 'its', 'is', 'just', 'about'].includes(x));
  if (w.length !== 1) return undefined;
  const n = /^\d+$/.test(w[0]!) ? Number(w[0]) : UNITS[w[0]!];
  return n !== undefined && n >= 1 && n <= 20 ? n : undefined;
}
