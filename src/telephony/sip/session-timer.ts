import type { Headers } from './message.js';

/**
 * Session timers (RFC 4028): the refresher re-INVITEs or UPDATEs the session every half interval,
 * and the other side ends a session nobody refreshed. Carriers use it to clear stuck calls, so a
 * long call survives only if we honour their interval and refresh when it is our turn.
 */

export const sessionTimerDefaults = {
  /** Smallest interval we accept (Min-SE), seconds; RFC 4028 floor is 90. */
  minSeconds: 90,
  /** Interval we ask for on our own calls, seconds. */
  requestSeconds: 1800,
  /** Longest interval we keep a timer for, seconds (a day). */
  maxSeconds: 86_400,
} as const satisfies Record<string, number>;

export type SessionTimerOptions = { -readonly [K in keyof typeof sessionTimerDefaults]?: number };

export interface SessionExpires {
  seconds: number;
  refresher: 'uac' | 'uas' | undefined;
}

/** Session-Expires (or its compact form x): "1800;refresher=uac". */
export function parseSessionExpires(h: Headers): SessionExpires | undefined {
  const raw = h.get('session-expires');
  const m = raw ? /^\s*(\d{1,9})\s*(?:;(.*))?$/.exec(raw) : null;
  if (!m) return undefined;
  const r = /(?:^|;)\s*refresher\s*=\s*(uac|uas)\b/i.exec(m[2] ?? '')?.[1]?.toLowerCase();
  return { seconds: Number(m[1]), refresher: r as SessionExpires['refresher'] };
}

export function parseMinSe(h: Headers): number | undefined {
  const m = /^\s*(\d{1,9})/.exec(h.get('min-se') ?? '');
  return m ? Number(m[1]) : undefined;
}

export function supportsTimer(h: Headers): boolean {
  return [...h.getAll('supported'), ...h.getAll('require')].some((v) => v.trim().toLowerCase() === 'timer');
}

/** One dialog's timer: refresh at half the interval when we are the refresher, else watch for expiry. */
export class SessionTimer {
  private timer: NodeJS.Timeout | undefined;
  seconds = 0;
  /** We refresh (rather than the far end). */
  weRefresh = false;
  /** The far end said it supports timers (then our 2xx carries Require: timer). */
  peerSupports = false;

  constructor(private readonly refresh: () => void, private readonly expire: () => void) {}

  get active(): boolean {
    return this.seconds > 0;
  }

  /**
   * Session-Expires for a message we send. `refresher` names a role in that transaction: in our
   * requests we are the uac, in our responses the uas.
   */
  header(weAreUac: boolean): string {
    return `${this.seconds};refresher=${this.weRefresh === weAreUac ? 'uac' : 'uas'}`;
  }

  /** (Re)starts the interval after the answer or a successful refresh. */
  arm(seconds: number, weRefresh: boolean): void {
    this.stop();
    // Clamped: a timer past 2^31 ms fires at once in Node (a hostile Session-Expires must not end calls).
    this.seconds = Math.min(sessionTimerDefaults.maxSeconds, Math.max(1, seconds));
    this.weRefresh = weRefresh;
    const ms = this.seconds * 1000;
    if (weRefresh) this.timer = setTimeout(this.refresh, ms / 2);
    // RFC 4028 §10: the other side's refresh is due by the interval minus min(32 s, a third of it).
    else this.timer = setTimeout(this.expire, ms - Math.min(32_000, ms / 3));
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
