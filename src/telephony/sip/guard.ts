/**
 * fail2ban for SIP: sources that keep failing authentication (wrong digest, or INVITEs from
 * outside the trusted networks) are blocked for a while; a blocked source's requests are dropped
 * without an answer, so a scanner gets nothing to work with and no traffic back.
 */

export const sipGuardDefaults = {
  /** Failures from one address within `windowMs` that start a block. */
  maxFailures: 5,
  windowMs: 60_000,
  /** How long a blocked address is ignored, ms. */
  blockMs: 10 * 60_000,
  /** Addresses tracked at most (oldest forgotten first), so a spoofed flood cannot grow memory. */
  maxTracked: 10_000,
} as const satisfies Record<string, number>;

export type SipGuardOptions = { -readonly [K in keyof typeof sipGuardDefaults]?: number };

interface Entry {
  failures: number;
  since: number;
  blockedUntil: number;
}

export class SourceGuard {
  private readonly entries = new Map<string, Entry>();
  private readonly o: { -readonly [K in keyof typeof sipGuardDefaults]: number };

  constructor(opts: SipGuardOptions = {}, private readonly now: () => number = Date.now) {
    this.o = { ...sipGuardDefaults, ...opts };
  }

  blocked(address: string): boolean {
    const e = this.entries.get(address);
    return !!e && e.blockedUntil > this.now();
  }

  /** Counts a failure; true when this one starts a block. */
  fail(address: string): boolean {
    const now = this.now();
    let e = this.entries.get(address);
    if (!e || now - e.since > this.o.windowMs) {
      e = { failures: 0, since: now, blockedUntil: e?.blockedUntil ?? 0 };
      this.entries.delete(address);
      this.entries.set(address, e);
      while (this.entries.size > this.o.maxTracked) this.entries.delete(this.entries.keys().next().value!);
    }
    e.failures++;
    if (e.failures >= this.o.maxFailures && e.blockedUntil <= now) {
      e.blockedUntil = now + this.o.blockMs;
      return true;
    }
    return false;
  }

  succeed(address: string): void {
    const e = this.entries.get(address);
    if (e && e.blockedUntil <= this.now()) this.entries.delete(address);
  }
}
