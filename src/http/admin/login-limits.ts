import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { sql } from 'kysely';
import type { Db } from '../../store/db.js';

/**
 * Login limits with @fastify/rate-limit, counted in the database (a store for the plugin: one
 * atomic upsert per attempt, shared by every process, clearable by `frontdesk admin unlock`).
 *
 * - per address: every login attempt from one address, whatever the username;
 * - per account and address: attempts at one username from one address; a success clears it.
 *   An attacker elsewhere cannot lock the real admin out: their counter is their own.
 * - per account, from anywhere: no lock, only a growing delay on each failure (slow down).
 * Unknown usernames are counted and slowed exactly like known ones.
 */

export const loginLimitDefaults = {
  /** Attempts from one address, any username, per window. */
  perAddress: 30,
  perAddressWindowMs: 60_000,
  /** Attempts at one username from one address per window (a success starts over). */
  perAccountAddress: 5,
  perAccountAddressWindowMs: 15 * 60_000,
  /** Failures at one username from anywhere, over which each failure waits longer. */
  accountWindowMs: 60 * 60_000,
  /** The wait after a failure: base × 2^(failures / perAccountAddress), at most maxDelayMs. */
  failureDelayMs: 500,
  maxDelayMs: 8_000,
} as const satisfies Record<string, number>;
export type LoginLimitOptions = { [K in keyof typeof loginLimitDefaults]: number };

const PREFIX = 'login:';
const keys = {
  address: (ip: string) => `${PREFIX}ip:${ip}`,
  accountAddress: (user: string, ip: string) => `${PREFIX}user:${user}|${ip}`,
  account: (user: string) => `${PREFIX}user:${user}`,
};

/** The plugin's store contract, in the database. */
class DbStore {
  constructor(private readonly db: Db) {}
  incr(key: string, cb: (err: Error | null, res?: { current: number; ttl: number }) => void, timeWindow: number): void {
    hit(this.db, key, timeWindow).then((r) => cb(null, r), (e: Error) => cb(e));
  }
  child(): DbStore {
    return this;
  }
}

async function hit(db: Db, key: string, windowMs: number): Promise<{ current: number; ttl: number }> {
  const now = new Date();
  const expired = new Date(now.getTime() - windowMs);
  // One statement: concurrent attempts serialise on the row, so none is counted twice or lost.
  const { rows } = await sql<{ hits: number; window_start: Date }>`
    insert into login_limits (key, hits, window_start) values (${key}, 1, ${now})
    on conflict (key) do update set
      hits = case when login_limits.window_start <= ${expired} then 1 else login_limits.hits + 1 end,
      window_start = case when login_limits.window_start <= ${expired} then ${now} else login_limits.window_start end
    returning hits, window_start`.execute(db);
  const r = rows[0]!;
  return { current: r.hits, ttl: Math.max(0, new Date(r.window_start).getTime() + windowMs - now.getTime()) };
}

export interface LoginLimiter {
  /** Counts one attempt; a 429 answer (with seconds to wait) when over a limit. */
  admit(req: FastifyRequest, username: string): Promise<{ ok: true } | { ok: false; retryAfterS: number }>;
  succeeded(req: FastifyRequest, username: string): Promise<void>;
  /** Counts a failure at the account and waits: longer as failures pile up, the same for any name. */
  failed(username: string): Promise<void>;
}

export async function loginLimiter(app: FastifyInstance, db: Db, o: LoginLimitOptions = loginLimitDefaults): Promise<LoginLimiter> {
  if (!app.hasDecorator('createRateLimit')) {
    const Store = class extends DbStore {
      constructor() {
        super(db);
      }
    };
    await app.register(rateLimit, { global: false, store: Store as never });
  }
  const norm = (u: string) => u.trim().toLowerCase();
  const perAddress = app.createRateLimit({ max: o.perAddress, timeWindow: o.perAddressWindowMs, keyGenerator: (req) => keys.address(req.ip) });
  const perAccount = (user: string) =>
    app.createRateLimit({ max: o.perAccountAddress, timeWindow: o.perAccountAddressWindowMs, keyGenerator: (req) => keys.accountAddress(user, req.ip) });
  return {
    async admit(req, username) {
      for (const check of [perAddress, perAccount(norm(username))]) {
        const r = await check(req);
        if (!r.isAllowed && r.isExceeded) return { ok: false, retryAfterS: r.ttlInSeconds };
      }
      return { ok: true };
    },
    async succeeded(req, username) {
      await db.deleteFrom('login_limits').where('key', '=', keys.accountAddress(norm(username), req.ip)).execute();
    },
    async failed(username) {
      const { current } = await hit(db, keys.account(norm(username)), o.accountWindowMs);
      const delay = Math.min(o.maxDelayMs, o.failureDelayMs * 2 ** Math.floor((current - 1) / o.perAccountAddress));
      await new Promise((r) => setTimeout(r, delay));
    },
  };
}

/** `frontdesk admin unlock <username>`: clears that username's counters from every address. */
export async function unlockLogins(db: Db, username: string): Promise<number> {
  const user = username.trim().toLowerCase();
  const r = await db.deleteFrom('login_limits')
    .where((eb) => eb.or([eb('key', '=', keys.account(user)), eb('key', 'like', `${keys.account(user).replace(/[%_\\]/g, '\\$&')}|%`)]))
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}

/** Clears one address's counter (`frontdesk admin unlock --address`). */
export async function unlockAddress(db: Db, ip: string): Promise<number> {
  const r = await db.deleteFrom('login_limits').where('key', '=', keys.address(ip)).executeTakeFirst();
  return Number(r.numDeletedRows);
}
