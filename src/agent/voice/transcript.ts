/**
 * What the recognizer writes ("ten thirty a.m.", "two in the afternoon") rewritten the way the
 * date parser and the intent patterns expect ("10:30 am", "2 pm"). Only clock times change:
 * "three bedrooms" stays words.
 */

const HOUR: Record<string, number> = {
  one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, eleven: 11, twelve: 12,
};
const MINUTES: Record<string, string> = {
  "o'clock": '00', 'oh five': '05', ten: '10', fifteen: '15', twenty: '20', 'twenty five': '25', thirty: '30',
  'thirty five': '35', forty: '40', 'forty five': '45', fifty: '50', 'fifty five': '55',
};
const PERIOD: Record<string, string> = {
  'a.m.': 'am', am: 'am', 'p.m.': 'pm', pm: 'pm', 'in the morning': 'am', 'in the afternoon': 'pm', 'in the evening': 'pm',
};

const hourRe = Object.keys(HOUR).join('|');
const minRe = Object.keys(MINUTES).sort((a, b) => b.length - a.length).join('|');
const periodRe = Object.keys(PERIOD).map((p) => p.replace(/\./g, '\\.')).join('|');
const CLOCK = new RegExp(`(\\b(?:at|around|by|about|for)\\s+)?\\b(${hourRe})(?:\\s+(${minRe}))?(?:\\s+(${periodRe}))?(?=\\s|$)`, 'g');

export function spokenToText(text: string): string {
  return text.replace(CLOCK, (all, lead: string | undefined, h: string, m: string | undefined, p: string | undefined) => {
    // A bare number ("three bedrooms") is only a time after "at", or with minutes or a period.
    if (!lead && !m && !p) return all;
    const minutes = m ? MINUTES[m] : undefined;
    const period = p ? ` ${PERIOD[p]}` : '';
    return `${lead ?? ''}${HOUR[h]}${minutes ? `:${minutes}` : ''}${period}`;
  }).replace(/\b(a|p)\.m\./g, '$1m');
}
