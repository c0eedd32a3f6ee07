import { privateDirSync } from '../util/private-files.js';
import { join, resolve } from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import { PGlite } from '@electric-sql/pglite';
import { btree_gist } from '@electric-sql/pglite/contrib/btree_gist';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Database } from './schema.js';

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

export async function openStore(opts: StoreOptions): Promise<Store> {
  if (opts.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: opts.poolSize ?? 10,
      // A dead or unreachable server must fail fast rather than hang callers (and /health).
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
    });
    // An idle client whose connection drops emits 'error'; unhandled it would crash the process.
    pool.on('error', (err) => opts.logger?.warn({ err }, 'postgres connection lost; the pool will reconnect'));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return makeStore(db, 'postgres', redact(opts.databaseUrl));
  }
  let location = 'memory';
  let dataDir: string | undefined;
  if (opts.dataDir) {
    // The data directory and the database in it: owner-only, like the Postgres server's own.
    privateDirSync(resolve(opts.dataDir));
    dataDir = resolve(join(opts.dataDir, 'pgdata'));
    privateDirSync(dataDir);
    location = dataDir;
  }
  const pglite = await PGlite.create({
    ...(dataDir ? { dataDir } : {}),
    extensions: { btree_gist },
    // Same shape as node-postgres, so both dialects return bigint ids as strings.
    parsers: { [INT8_OID]: (v: string) => v },
  });
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  return makeStore(db, 'pglite', location);
}

function makeStore(db: Db, dialect: Store['dialect'], location: string): Store {
  let closed = false;
  return {
    db,
    dialect,
    location,
    async ping(timeoutMs = 2_000) {
      if (closed) return false;
      try {
        await withTimeout(sql`select 1`.execute(db), timeoutMs);
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}
