import { parsePhoneNumberFromString } from 'libphonenumber-js/min';

/** Phone numbers as owners type them: "512-555-0142", "(512) 555 0142", "+44 20 7946 0958". */

/** Numbers without a country code are read as this country's. */
export const PHONE_DEFAULTS = { country: 'US' } as const satisfies { country: 'US' };

/** E.164 for anything that reads as a valid phone number, else undefined. */
export function toE164(raw: string): string | undefined {
  const p = parsePhoneNumberFromString(raw.trim(), PHONE_DEFAULTS.country);
  return p?.isValid() ? p.number : undefined;
}

/** How a number is shown to the owner: national format at home, international otherwise. */
export function showPhone(e164: string | null | undefined): string {
  if (!e164) return '';
  const p = parsePhoneNumberFromString(e164);
  if (!p) return e164;
  return p.country === PHONE_DEFAULTS.country ? p.formatNational() : p.formatInternational();
}
