/**
 * Carrier compliance keywords (CTIA; what Twilio, Telnyx and the US carriers honour): the exact
 * words, and the obvious ways people write them ("Stop please", "please stop texting me", "OPT OUT",
 * "STOP!!!"). Anything with other words in it ("don't stop", "cancel my Tuesday visit") is a
 * conversation, not a keyword.
 */

export const STOP_WORDS = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'REVOKE', 'OPTOUT']);
export const START_WORDS = new Set(['START', 'UNSTOP', 'SUBSCRIBE']);
export const HELP_WORDS = new Set(['HELP', 'INFO']);

const AMBIGUOUS = new Set(['CANCEL', 'END', 'QUIT']);

// Words that may surround a keyword without changing what it means.
const FILLER = new Set([
  'PLEASE', 'PLS', 'PLZ', 'ME', 'TEXTING', 'TEXTS', 'TEXT', 'MESSAGING', 'MESSAGES', 'MESSAGE', 'SENDING', 'SEND', 'NOW', 'THANKS',
  'THANK', 'YOU', 'THX', 'ALL', 'IT', 'THIS', 'NUMBER', 'FROM', 'US', 'ANY', 'MORE', 'TO', 'THE', 'OK', 'OKAY', 'SUBSCRIPTION',
]);

export interface Keyword {
  kind: 'stop' | 'start' | 'help';
  /** The keyword as the list spells it (CANCEL, STOP, …). */
  word: string;
}

export function complianceKeyword(body: string): Keyword | undefined {
  const words = body.toUpperCase().replace(/\bOPT[\s-]+OUT\b/g, 'OPTOUT').replace(/\bUN[\s-]+SUBSCRIBE\b/g, 'UNSUBSCRIBE')
    .replace(/[^A-Z\s]/g, ' ').split(/\s+/).filter(Boolean);
  if (words.length === 0 || words.length > 8) return undefined;
  const keys = words.filter((w) => !FILLER.has(w));
  if (keys.length !== 1) return undefined;
  const w = keys[0]!;
  // CANCEL, END and QUIT only alone ("cancel it" may mean the visit); START and HELP only alone.
  if (STOP_WORDS.has(w) && (words.length === 1 || !AMBIGUOUS.has(w))) return { kind: 'stop', word: w };
  if (words.length === 1 && START_WORDS.has(w)) return { kind: 'start', word: w };
  if (words.length === 1 && HELP_WORDS.has(w)) return { kind: 'help', word: w };
  return undefined;
}
