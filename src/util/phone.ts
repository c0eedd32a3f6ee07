/** Phone number normalization shared by telephony, SMS and the business layer. */

const E164_RE = /^\+[1-9]\d{6,14}$/;

/** Normalizes what a trunk or provider sends (tel:, sip:, 10-digit NANP) to E.164, or undefined. */
export function toE164(raw: string | undefined | null, defaultCountry = '1'): string | undefined {
  if (!raw) return undefined;
  let s = raw.trim().replace(/^(tel:|sips?:)/i, '').replace(/@.*$/, '').replace(/[\s().-]/g, '');
  if (/^00\d/.test(s)) s = `+${s.slice(2)}`;
  if (/^\d{10}$/.test(s) && defaultCountry === '1') s = `+1${s}`;
  else if (/^1\d{10}$/.test(s) && defaultCountry === '1') s = `+${s}`;
  return E164_RE.test(s) ? s : undefined;
}

