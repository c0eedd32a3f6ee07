/** Text as it should be spoken: phone numbers digit by digit in groups, symbols as words. */
export function forSpeech(text: string): string {
  return text
    .replace(/\+1(\d{3})(\d{3})(\d{4})\b/g, (_m, a: string, b: string, c: string) => `${digits(a)}, ${digits(b)}, ${digits(c)}`)
    .replace(/\+(\d{7,15})\b/g, (_m, d: string) => digits(d))
    .replace(/&/g, ' and ')
    .replace(/[()]/g, ', ')
    .replace(/\s+,/g, ',')
    .replace(/\s+/g, ' ')
    .trim();
}

function digits(s: string): string {
  return s.split('').join(' ');
}
