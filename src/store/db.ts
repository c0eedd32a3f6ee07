import { privateDirSync } from '../util/private-files.js';
import { join, resolve } from 'node:path';
import { Kysely, PostgresDialect, sql, type PostgresPool, type PostgresPoolClient } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import { PGlite } from '@electric-sql/pglite';
import { btree_gist } from '@electric-sql/pglite/contrib/btree_gist';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Database } from './schema.js';
import { acquireLock } from './lock.js';

export type Db = Kysely<Database>;

export interface Store {
  db: Db;
  dialect: 'postgres' | 'pglite';
  /** Where the data lives, for logs: a URL without its password, or a folder. */
  location: string;
  /** Resolves true when the database answers within `timeoutMs`; never hangs. */
  ping(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** postgres:// URL; absent means embedded PGlite. */
  databaseUrl?: string | undefined;
  /** Folder for PGlite's files; absent (with no URL) means in memory, for tests. */
  dataDir?: string | undefined;
  logger?: Logger | undefined;
  /** Pool size for the Postgres server. */
  poolSize?: number;
}

const INT8_OID = 20;

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparseable)';
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Timeouts that keep a dead, reset or silent Postgres server from hanging callers, /health or shutdown. */
export const poolDefaults = {
  /** A new connection must be up within this (a blackholed server fails here, not in minutes). */
  connectTimeoutMs: 2_000,
  /** Client-side limit on one query's reply; a connection that hits it is thrown away. */
  queryTimeoutMs: 10_000,
  /** Server-side statement_timeout (a little under the client's, so the server says why). */
  statementTimeoutMs: 9_000,
  /** Server-side: a transaction left open this long is ended by the server. */
  idleInTransactionTimeoutMs: 15_000,
  idleTimeoutMs: 30_000,
  /** TCP keepalive on every connection: a silent network drop is found without waiting for a query. */
  keepAliveInitialDelayMs: 10_000,
  /** close() gives up waiting for in-flight queries after this (shutdown must finish). */
  closeTimeoutMs: 3_000,
} as const satisfies Record<string, number>;

/**
 * Hands Kysely pool clients that remember a transport failure (reset, timeout, dropped socket —
 * anything that is not an answer from the server) and are destroyed on release instead of going
 * back to the pool to hang the next query.
 */
function resilientPool(pool: pg.Pool): PostgresPool {
  return {
    async connect() {
      const client = await pool.connect();
      let broken: Error | undefined;
      const query = ((...args: [never, never]) => {
        const r = client.query(...args) as unknown;
        if (r && typeof (r as Promise<unknown>).then === 'function') {
          return (r as Promise<unknown>).catch((err: unknown) => {
            if (!(err instanceof pg.DatabaseError)) broken = err instanceof Error ? err : new Error(String(err));
            throw err;
          });
        }
        return r;
      }) as PostgresPoolClient['query'];
      return { query, release: () => client.release(broken) };
    },
    end: () => pool.end(),
  };
}

export async function openStore(opts: StoreOptions): Promise<Store> {
  if (opts.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: poolDefaults.connectTimeoutMs,
      idleTimeoutMillis: poolDefaults.idleTimeoutMs,
      query_timeout: poolDefaults.queryTimeoutMs,
      statement_timeout: poolDefaults.statementTimeoutMs,
      idle_in_transaction_session_timeout: poolDefaults.idleInTransactionTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: poolDefaults.keepAliveInitialDelayMs,
    });
    // A client whose connection drops emits 'error' — idle ones on the pool, checked-out ones on
    // the client itself. Unhandled, either would end the process; the pool replaces the client.
    pool.on('error', (err) => opts.logger?.warn({ err }, 'postgres connection lost; the pool will reconnect'));
    pool.on('connect', (client) => {
      client.on('error', (err) => opts.logger?.warn({ err }, 'postgres connection failed during a query; it will be replaced'));
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: resilientPool(pool) }) });
    // /health asks on its own single connection with a short read timeout: it must answer while
    // the main pool is busy or stuck, and a ping that timed out throws its connection away.
    const pingPool = new pg.Pool({
      connectionString: opts.databaseUrl, max: 1, connectionTimeoutMillis: poolDefaults.connectTimeoutMs,
      query_timeout: poolDefaults.connectTimeoutMs, idleTimeoutMillis: poolDefaults.idleTimeoutMs, keepAlive: true,
    });
    pingPool.on('error', () => {});
    pingPool.on('connect', (client) => client.on('error', () => {}));
    const ping = async () => {
      await pingPool.query('select 1');
    };
    return makeStore(db, 'postgres', redact(opts.databaseUrl), ping, () => pingPool.end());
  }
  let location = 'memory';
  let dataDir: string | undefined;
  let release = () => {};
  if (opts.dataDir) {
    // The data directory and the database in it: owner-only, like the Postgres server's own.
    privateDirSync(resolve(opts.dataDir));
    dataDir = resolve(join(opts.dataDir, 'pgdata'));
    privateDirSync(dataDir);
    location = dataDir;
    // Two processes writing one PGlite folder corrupt it (rows lost, broken indexes): one owner at a time.
    release = acquireLock(pgliteLockFile(opts.dataDir), resolve(opts.dataDir));
  }
  let pglite: PGlite;
  try {
    pglite = await PGlite.create({
      ...(dataDir ? { dataDir } : {}),
      extensions: { btree_gist },
      // Same shape as node-postgres, so both dialects return bigint ids as strings.
      parsers: { [INT8_OID]: (v: string) => v },
    });
  } catch (e) {
    release();
    throw e;
  }
  const db = new Kysely<Database>({ dialect: new PGliteDialect(paced(pglite)) });
  return makeStore(db, 'pglite', location, undefined, undefined, release);
}

/**
 * PGlite runs each statement synchronously on this thread, and resolves a queue of them in one run
 * of promise callbacks: fifty calls arriving at once held the media clock's timers off for seconds.
 * One statement per turn of the event loop instead (it serves one statement at a time anyway).
 */
function paced(pglite: PGlite): PGlite {
  const query = pglite.query.bind(pglite);
  let chain: Promise<unknown> = Promise.resolve();
  const nextTurn = () => new Promise<void>((r) => setImmediate(r));
  pglite.query = ((...args: Parameters<typeof query>) => {
    const run = chain.then(nextTurn).then(() => query(...args));
    chain = run.catch(() => {});
    return run;
  }) as typeof pglite.query;
  return pglite;
}

/** The lock file that says which process owns the embedded database under a data folder. */
export function pgliteLockFile(dataDir: string): string {
  return join(resolve(dataDir), 'pgdata.lock');
}

function makeStore(
  db: Db, dialect: Store['dialect'], location: string,
  ping?: () => Promise<void>, closeExtra?: () => Promise<void>, release = () => {},
): Store {
  let closed = false;
  return {
    db,
    dialect,
    location,
    async ping(timeoutMs = 2_000) {
      if (closed) return false;
      try {
        await withTimeout<unknown>(ping ? ping() : sql`select 1`.execute(db), timeoutMs);
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        // In-flight queries on a dead server would hold this until their own timeout: shutdown must not.
        await withTimeout(Promise.all([db.destroy(), closeExtra?.()]), poolDefaults.closeTimeoutMs).catch(() => {});
      } finally {
        release();
      }
    },
  };
}
