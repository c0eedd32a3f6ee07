import { DateTime } from 'luxon';
import type { BusinessContext, OwnerTarget } from './context/schema.js';
import { openState, type OpenState } from './hours.js';

/**
 * Routing: (dialled number's context, caller ID, time) → what happens to the call or text.
 * Pure: the caller looks the context up (ContextService.forNumber) and passes the clock in.
 */

export type RouteAction =
  /** The agent answers with its full scope. */
  | 'agent'
  /** After hours: the agent answers, limited to messages, bookings and information. */
  | 'agent_after_hours'
  | 'voicemail'
  /** Ring the owner targets in order (find-me/follow-me), then voicemail. */
  | 'forward'
  /** A known personal contact: ring the owner straight away, the agent catches no-answers. */
  | 'ring_owner'
  | 'reject';

export interface RouteDecision {
  context: string;
  action: RouteAction;
  open: boolean;
  /** One line an admin can read in the routing preview. */
  reason: string;
  vip: boolean;
  greeting: string;
  targets: OwnerTarget[];
  state: OpenState;
  rule?: { match: string; action: string; label: string };
}

/** The most specific caller rule: an exact number beats a prefix, a longer prefix a shorter one. */
export function matchCallerRule(ctx: BusinessContext, callerId: string | undefined) {
  if (!callerId || !callerId.startsWith('+')) return undefined;
  let best: BusinessContext['callerRules'][number] | undefined;
  let bestScore = -1;
  for (const r of ctx.callerRules) {
    const prefix = r.match.endsWith('*');
    const stem = prefix ? r.match.slice(0, -1) : r.match;
    const hit = prefix ? callerId.startsWith(stem) : callerId === stem;
    if (!hit) continue;
    const score = prefix ? stem.length : 1000;
    if (score > bestScore) {
      best = r;
      bestScore = score;
    }
  }
  return best;
}

export function route(ctx: BusinessContext, callerId: string | undefined, at: DateTime): RouteDecision {
  const state = openState(ctx, at);
  const rule = matchCallerRule(ctx, callerId);
  const base = {
    context: ctx.name,
    open: state.open,
    state,
    vip: rule?.action === 'vip',
    targets: ctx.owner.targets,
    ...(rule ? { rule: { match: rule.match, action: rule.action, label: rule.label } } : {}),
  };
  const afterHoursGreeting = ctx.afterHours.greeting ?? ctx.greeting;
  const who = rule?.label ? ` (${rule.label})` : '';

  if (rule?.action === 'block') {
    return { ...base, action: 'reject', greeting: '', reason: `caller ${callerId} is blocked${who}` };
  }
  const forwardUntil = ctx.owner.forwardUntil ? DateTime.fromISO(ctx.owner.forwardUntil) : undefined;
  if (forwardUntil?.isValid && at < forwardUntil && ctx.owner.targets.length) {
    const until = forwardUntil.setZone(ctx.timezone).toFormat('h:mm a');
    return { ...base, action: 'forward', greeting: ctx.greeting, reason: `the owner forwarded calls until ${until}: ring the owner` };
  }
  if (rule?.action === 'ring_through' && ctx.owner.targets.length) {
    return { ...base, action: 'ring_owner', greeting: ctx.greeting, reason: `known contact${who}: ring the owner` };
  }
  if (state.open || rule?.action === 'vip') {
    const why = state.open
      ? state.reason === 'holiday_hours' ? `open (holiday hours: ${state.holiday})` : 'open'
      : `closed, but VIP caller${who}`;
    return { ...base, action: 'agent', greeting: ctx.greeting, reason: `${why}: the agent answers` };
  }
  const closedWhy = state.reason === 'holiday' ? `closed for ${state.holiday}` : 'closed';
  switch (ctx.afterHours.action) {
    case 'voicemail':
      return { ...base, action: 'voicemail', greeting: afterHoursGreeting, reason: `${closedWhy}: voicemail` };
    case 'forward':
      if (ctx.owner.targets.length) {
        return { ...base, action: 'forward', greeting: afterHoursGreeting, reason: `${closedWhy}: forward to the owner` };
      }
      return { ...base, action: 'voicemail', greeting: afterHoursGreeting, reason: `${closedWhy}: forward has no owner targets, voicemail` };
    default:
      return { ...base, action: 'agent_after_hours', greeting: afterHoursGreeting, reason: `${closedWhy}: the agent answers (after-hours scope)` };
  }
}
