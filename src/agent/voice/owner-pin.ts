/** A PIN said aloud ("my pin is four eight two one"), as digits; undefined when the words are not a PIN. */

const DIGIT: Record<string, string> = {
  zero: '0', oh: '0', o: '0', one: '1', two: '2', to: '2', too: '2', three: '3', four: '4', for: '4', five: '5',
  six: '6', seven: '7', eight: '8', nine: '9',
};

export function spokenPin(heard: string): string | undefined {
  const m = /\b(?:pin|pin number|pin code|owner code|passcode)\b(?:\s+(?:is|it's|it is|number))?\s+(.+)$/i.exec(heard.trim());
  if (!m) return undefined;
  let digits = '';
  for (const w of m[1]!.toLowerCase().split(/[\s,.-]+/).filter(Boolean)) {
    if (/^\d+$/.test(w)) digits += w;
    else if (DIGIT[w]) digits += DIGIT[w];
    else break;
  }
  return digits.length >= 4 ? digits : undefined;
}
