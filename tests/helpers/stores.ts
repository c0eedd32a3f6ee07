import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { openStore, type Store } from '../../src/store/db.js';
import { migrateToLatest } from '../../src/store/migrate.js';

/** The Postgres server the store suites run against (CI starts it; trust auth on loopback). */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type Dialect = 'pglite' | 'postgres';

/** A fresh, empty database on the server, dropped by the returned function. */
export async function createServerDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `fd_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** The bound for a test that opens embedded PGlite (WASM) in its body: 10–25 s on a busy two-core machine, over 50 s on a very busy one (as for hooks). */
export const PGLITE_TEST_MS = 180_000;

/** Opens an empty store of the given dialect; `migrate` applies the schema. */
export async function openTestStore(dialect: Dialect, opts: { migrate?: boolean } = {}): Promise<{ store: Store; dispose: () => Promise<void> }> {
  let store: Store;
  let drop = async () => {};
  if (dialect === 'pglite') {
    store = await openStore({});
  } else {
    const dbx = await createServerDatabase();
    drop = dbx.drop;
    store = await openStore({ databaseUrl: dbx.url, poolSize: 5 });
  }
  if (opts.migrate !== false) await migrateToLatest(store.db);
  return {
    store,
    dispose: async () => {
      await store.close();
      await drop();
    },
  };
}

/**
 * Runs the same suite on embedded PGlite and on the Postgres server: both dialects must behave alike.
 * Each dialect gets one migrated database for the whole describe block.
 */
export function describeStores(name: string, body: (ctx: { store: () => Store; dialect: Dialect }) => void): void {
  for (const dialect of ['pglite', 'postgres'] as const) {
    describe(`${name} [${dialect}]`, () => {
      let handle: Awaited<ReturnType<typeof openTestStore>> | undefined;
      beforeAll(async () => {
        handle = await openTestStore(dialect);
      }, 60_000);
      afterAll(async () => {
        await handle?.dispose();
      });
      body({
        store: () => {
          if (!handle) throw new Error('store not open');
          return handle.store;
        },
        dialect,
      });
    });
  }
}
