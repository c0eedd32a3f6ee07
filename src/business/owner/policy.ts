/**
 * What each owner command may do, and what it takes. One table, read by the SMS and voice owner
 * agents alike and shown in the console: a command's tier says whether it is read back and
 * confirmed, and whether it needs the PIN. On a call the PIN came first (owner mode starts only
 * after it), so there a high-tier command is read back and confirmed.
 */

export type Tier = 'low' | 'medium' | 'high';

export type OwnerCommandKind =
  | 'agenda' | 'messages'
  | 'text_customer' | 'move' | 'cancel' | 'briefing'
  | 'close_day' | 'close_early' | 'forward' | 'block' | 'alert_rule';

export const POLICY: Record<OwnerCommandKind, { tier: Tier; what: string }> = {
  agenda: { tier: 'low', what: 'read the schedule' },
  messages: { tier: 'low', what: 'read messages and voicemails' },
  text_customer: { tier: 'medium', what: 'text a customer from the business number' },
  move: { tier: 'medium', what: 'move a booking' },
  cancel: { tier: 'medium', what: 'cancel a booking' },
  briefing: { tier: 'medium', what: 'a scheduled briefing call to the owner' },
  close_day: { tier: 'high', what: 'close for a day' },
  close_early: { tier: 'high', what: 'close early' },
  forward: { tier: 'high', what: 'forward calls' },
  block: { tier: 'high', what: 'block a caller' },
  alert_rule: { tier: 'high', what: 'create or change an alert rule' },
};

export const TIERS: Record<Tier, { confirm: boolean; pin: boolean }> = {
  low: { confirm: false, pin: false },
  medium: { confirm: true, pin: false },
  high: { confirm: true, pin: true },
};

export function requirement(kind: OwnerCommandKind, channel: 'sms' | 'call'): { tier: Tier; confirm: boolean; pin: boolean } {
  const tier = POLICY[kind].tier;
  const t = TIERS[tier];
  // On a call owner mode itself needed the PIN.
  return { tier, confirm: t.confirm, pin: t.pin && channel === 'sms' };
}
