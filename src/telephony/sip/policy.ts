import { toE164 } from '../../util/phone.js';

/** Who frontdesk may call out to: no toll fraud through us. */
export interface DialPolicy {
  /** Country calling code treated as domestic (default "1", NANP). */
  domesticCode?: string;
  allowInternational?: boolean;
  allowPremium?: boolean;
}

// NANP premium-rate and pay-per-call area codes; other countries' premium ranges count as international.
const NANP_PREMIUM = ['+1900', '+1976'];

export function checkDialPolicy(raw: string, policy: DialPolicy = {}): { allowed: boolean; reason: string; number: string } {
  const number = toE164(raw);
  if (!number) return { allowed: false, reason: `"${raw}" is not a phone number`, number: raw };
  const cc = policy.domesticCode ?? '1';
  if (NANP_PREMIUM.some((p) => number.startsWith(p)) && !policy.allowPremium) {
    return { allowed: false, reason: 'premium-rate numbers are not allowed', number };
  }
  if (!number.startsWith(`+${cc}`) && !policy.allowInternational) {
    return { allowed: false, reason: 'international calls are not allowed', number };
  }
  return { allowed: true, reason: 'allowed by the dial policy', number };
}
