import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import { cidrContains, parseCidrList, type Cidr } from '../util/cidr.js';

/**
 * The one dial policy: who frontdesk may ever call (outbound calls, transfers, find-me legs, alert
 * calls). Every backend asks it at the place it turns a target into a dial string, and the context
 * service asks it when an owner saves targets, so a target saved is a target that can be dialled.
 * Numbers are classified by libphonenumber-js (full metadata: country and line type).
 */

export const dialPolicyDefaults = {
  /** The trunk's home country: numbers elsewhere (other NANP countries included) are international. */
  country: 'US' as CountryCode,
  allowInternational: false,
  /** Premium-rate and shared-cost numbers. */
  allowPremium: false,
  /** What a desk-phone extension looks like (anchored regular expression source). */
  extensionPattern: '^[1-9][0-9]{2,3}$',
  /** sip: URIs may go only to hosts in these networks (FRONTDESK_SIP_TRUSTED; loopback always). */
  trustedNetworks: [] as readonly Cidr[],
} as const satisfies Record<string, unknown>;

export interface DialPolicy {
  country: CountryCode;
  allowInternational: boolean;
  allowPremium: boolean;
  extensionPattern: string;
  trustedNetworks: readonly Cidr[];
}

export type DialKind = 'domestic' | 'toll_free' | 'international' | 'premium' | 'shared_cost' | 'emergency' | 'service' | 'extension' | 'sip' | 'invalid';

export interface DialVerdict {
  allowed: boolean;
  kind: DialKind;
  /** What to dial: E.164, the extension, or the sip: URI. */
  target: string;
  /** Why, in words an owner understands. */
  reason: string;
}

// Emergency and N11/service numbers: the agent never dials them, whatever the settings (a
// receptionist must not put a caller through to 911 by mistake or on request).
const EMERGENCY = new Set(['911', '112', '999', '000', '110', '119', '933', '988', '15', '17', '18']);
const N11 = /^[2-9]11$/;

const policyCache = new WeakMap<DialPolicy, { ext: RegExp; nets: Cidr[] }>();
function compiled(p: DialPolicy): { ext: RegExp; nets: Cidr[] } {
  let c = policyCache.get(p);
  if (!c) {
    c = { ext: new RegExp(p.extensionPattern), nets: [...parseCidrList([]), ...p.trustedNetworks] };
    policyCache.set(p, c);
  }
  return c;
}

export function resolvePolicy(p: Partial<DialPolicy> = {}): DialPolicy {
  return { ...dialPolicyDefaults, ...Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) } as DialPolicy;
}

const no = (kind: DialKind, target: string, reason: string): DialVerdict => ({ allowed: false, kind, target, reason });

/** May frontdesk dial `raw`? An E.164 or local number, an extension, or a sip: URI. */
export function checkDial(raw: string, policy: DialPolicy): DialVerdict {
  const input = raw.trim();
  if (!input || input.length > 200) return no('invalid', input, 'not a phone number, extension or SIP address');
  if (/^sips?:/i.test(input)) return checkSip(input, policy);
  if (/^tel:/i.test(input)) return checkDial(input.slice(4).split(';')[0]!, policy);
  const s = input.replace(/[\s().-]/g, '');
  if (/[*#]/.test(s)) return no('service', s, 'service codes (*72, #31# …) are never dialled');
  if (EMERGENCY.has(s)) return no('emergency', s, 'emergency numbers are never dialled by frontdesk');
  if (N11.test(s)) return no('service', s, 'N11 service numbers are never dialled');
  if (!s.startsWith('+') && compiled(policy).ext.test(s)) return { allowed: true, kind: 'extension', target: s, reason: 'an extension' };
  if (!/^\+?[0-9]+$/.test(s)) return no('invalid', s, 'not a phone number, extension or SIP address');
  const phone = parsePhoneNumberFromString(s.startsWith('00') ? `+${s.slice(2)}` : s, policy.country);
  if (!phone || !phone.isValid()) {
    return s.length <= 6 && !s.startsWith('+')
      ? no('service', s, 'short codes (like 118118) are never dialled')
      : no('invalid', phone?.number ?? s, 'not a valid phone number');
  }
  const target = phone.number;
  const type = phone.getType();
  if (type === 'PREMIUM_RATE' || type === 'SHARED_COST') {
    const kind = type === 'PREMIUM_RATE' ? 'premium' : 'shared_cost';
    return policy.allowPremium
      ? { allowed: true, kind, target, reason: `${kind.replace('_', '-')} number, allowed by FRONTDESK_DIAL_PREMIUM` }
      : no(kind, target, `${kind === 'premium' ? 'premium-rate' : 'shared-cost'} numbers need FRONTDESK_DIAL_PREMIUM`);
  }
  if (phone.country !== policy.country) {
    const where = phone.country ? `in ${phone.country}` : 'on an international network';
    return policy.allowInternational
      ? { allowed: true, kind: 'international', target, reason: `international (${where}), allowed by FRONTDESK_DIAL_INTERNATIONAL` }
      : no('international', target, `international calls (this number is ${where}) need FRONTDESK_DIAL_INTERNATIONAL`);
  }
  return { allowed: true, kind: type === 'TOLL_FREE' ? 'toll_free' : 'domestic', target, reason: 'a domestic number' };
}

function checkSip(uri: string, policy: DialPolicy): DialVerdict {
  const m = /^sips?:(?:([^@;?]+)@)?(\[[0-9a-fA-F:.]+\]|[^:;?>]+)(?::\d+)?/i.exec(uri);
  if (!m) return no('invalid', uri, 'not a valid SIP address');
  const host = m[2]!.replace(/^\[|\]$/g, '');
  if (!cidrContains(compiled(policy).nets, host)) {
    return no('sip', uri, `SIP address ${host} is outside the trusted networks (FRONTDESK_SIP_TRUSTED); use a phone number or an extension`);
  }
  // A number in the user part is still a number: sip:+19005550100@pbx dials a premium line.
  const user = decodeURIComponent(m[1] ?? '');
  if (/^\+?[0-9*#().\s-]+$/.test(user)) {
    const inner = checkDial(user, policy);
    if (!inner.allowed) return { ...inner, target: uri };
  }
  return { allowed: true, kind: 'sip', target: uri, reason: 'a SIP address in the trusted networks' };
}

export interface DialTargetIssue {
  path: (string | number)[];
  message: string;
}

/** What the owner saved that the policy would refuse: owner targets and call alerts. */
export function contextDialIssues(
  doc: { owner: { targets: { kind: string; value: string }[] }; alerts: { via: string; to: string }[]; callerRules: { match: string; action: string }[] },
  policy: DialPolicy,
): DialTargetIssue[] {
  const issues: DialTargetIssue[] = [];
  doc.owner.targets.forEach((t, i) => {
    const v = checkDial(t.value, policy);
    if (!v.allowed) issues.push({ path: ['owner', 'targets', i, 'value'], message: `frontdesk would not dial ${t.value}: ${v.reason}` });
    else if (t.kind === 'extension' && v.kind !== 'extension') issues.push({ path: ['owner', 'targets', i, 'value'], message: `not an extension (must match ${policy.extensionPattern})` });
  });
  doc.alerts.forEach((a, i) => {
    if (a.via !== 'call') return;
    const v = checkDial(a.to, policy);
    if (!v.allowed) issues.push({ path: ['alerts', i, 'to'], message: `frontdesk would not call ${a.to}: ${v.reason}` });
  });
  // Caller rules match callers; an exact number must be a real one, or the rule can never match.
  doc.callerRules.forEach((r, i) => {
    if (r.match.endsWith('*')) return;
    const phone = parsePhoneNumberFromString(r.match);
    if (!phone || !phone.isPossible()) issues.push({ path: ['callerRules', i, 'match'], message: `${r.match} is not a possible phone number; end it with * to match a prefix` });
  });
  return issues;
}
