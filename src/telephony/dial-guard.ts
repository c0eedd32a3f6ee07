import { checkDial, resolvePolicy, type DialKind, type DialPolicy, type DialVerdict } from '../business/dial-policy.js';

/**
 * The telephony side of the dial policy: each backend calls `check` where it turns a target into
 * something dialled (built-in SIP: INVITE and REFER targets; Asterisk: originate and redirect
 * endpoints; FreeSWITCH: leg and REFER URIs), so no outbound leg can skip it. Every attempt,
 * allowed or refused, goes to the hook (the app writes the audit log) with who asked.
 */

export interface OutboundAttempt {
  to: string;
  allowed: boolean;
  reason: string;
  kind: DialKind;
  /** outbound call, blind transfer (REFER/redirect), or a warm/find-me leg. */
  leg: 'outbound' | 'transfer' | 'warm';
  /** Who asked: an admin username, 'agent', 'alerts', … */
  requestedBy: string;
}

export type OutboundHook = (e: OutboundAttempt) => void;

export class DialRefused extends Error {
  readonly status = 403;
  constructor(readonly verdict: DialVerdict) {
    super(`call to ${verdict.target} refused: ${verdict.reason}`);
    this.name = 'DialRefused';
  }
}

export class DialGuard {
  readonly policy: DialPolicy;
  constructor(policy: Partial<DialPolicy> | undefined, private readonly hook?: OutboundHook) {
    this.policy = resolvePolicy(policy);
  }

  /** The verdict for an allowed target; throws DialRefused otherwise. Reports both. */
  check(raw: string, leg: OutboundAttempt['leg'], requestedBy = 'agent'): DialVerdict {
    const v = checkDial(raw, this.policy);
    try {
      this.hook?.({ to: v.target, allowed: v.allowed, reason: v.reason, kind: v.kind, leg, requestedBy });
    } catch {
      // The audit hook failing must not turn a refusal into a call, nor end the process.
    }
    if (!v.allowed) throw new DialRefused(v);
    return v;
  }
}
