/**
 * Text fit to store and to speak: no control characters (Postgres refuses NUL in text and JSON),
 * no lone surrogates, no replacement characters. Newlines and tabs stay.
 */
export function cleanText(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/g, '')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '');
}
