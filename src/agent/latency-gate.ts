import type { Llm } from '../speech/types.js';

/**
 * Stops asking the LLM for work that keeps missing its deadline (a reading of a transactional
 * turn, an open question's first token) and lets one request through now and then to see whether
 * it got faster. A miss costs the caller the whole budget and the cores the wasted tokens.
 * (Hand-written: a few counters; circuit-breaker libraries count errors, not deadlines, and bring timers.)
 */

export const latencyGateDefaults = {
  /** Stop asking after this many misses in a row. */
  missesToStop: 3,
  /** While stopped, let one request through after this long to see whether the model is faster now, ms. */
  retryAfterMs: 120_000,
} as const satisfies Record<string, number>;

export type LatencyGateOptions = { -readonly [K in keyof typeof latencyGateDefaults]: number };

interface GateLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export class LatencyGate {
  private misses = 0;
  private readonly recent: number[] = [];
  /** When it stopped asking, or last let a retry through. */
  private stoppedAt: Date | undefined;
  private readonly o: LatencyGateOptions;

  constructor(readonly what: string, private readonly now: () => Date, o: Partial<LatencyGateOptions> = {}) {
    this.o = { ...latencyGateDefaults, ...o };
  }

  get stopped(): boolean {
    return this.stoppedAt !== undefined;
  }

  /** Whether to ask the model now: yes unless stopped, and then once per retry interval. */
  allow(): boolean {
    if (!this.stoppedAt) return true;
    if (this.now().getTime() - this.stoppedAt.getTime() < this.o.retryAfterMs) return false;
    this.stoppedAt = this.now();
    return true;
  }

  /** How one request went: `ms` from asking to its answer (or to giving up), within `budgetMs` or not. */
  record(ms: number, inTime: boolean, budgetMs: number, log?: GateLog): void {
    this.recent.push(Math.round(ms));
    if (this.recent.length > this.o.missesToStop) this.recent.shift();
    if (inTime) {
      if (this.stoppedAt) log?.info({ what: this.what, ms: Math.round(ms), budgetMs }, `the LLM's ${this.what} is back within its budget: asking it again`);
      this.misses = 0;
      this.stoppedAt = undefined;
      return;
    }
    this.misses++;
    if (this.stoppedAt || this.misses < this.o.missesToStop) return;
    this.stoppedAt = this.now();
    log?.warn(
      { what: this.what, misses: this.misses, recentMs: [...this.recent], budgetMs, retryAfterMs: this.o.retryAfterMs },
      `the LLM's ${this.what} missed its ${budgetMs} ms budget ${this.misses} times in a row: not asking it (the rules answer), retrying every ${this.o.retryAfterMs / 1000} s`,
    );
  }
}

const gates = new WeakMap<Llm, Map<string, LatencyGate>>();

/** The gate for one kind of work on one model, shared by every conversation it serves. */
export function gateFor(llm: Llm, what: string, now: () => Date, o?: Partial<LatencyGateOptions>): LatencyGate {
  let byWhat = gates.get(llm);
  if (!byWhat) gates.set(llm, (byWhat = new Map()));
  let g = byWhat.get(what);
  if (!g) byWhat.set(what, (g = new LatencyGate(what, now, o)));
  return g;
}
