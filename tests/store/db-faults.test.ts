import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/db.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { buildHttpServer } from '../../src/http/server.js';
import { createMetrics } from '../../src/http/metrics.js';
import { createBusiness } from '../../src/business/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { heldQueries, proxiedDatabase, type FaultProxy } from '../helpers/fault-proxy.js';

/**
 * The Postgres server behind a proxy that resets, drops and blackholes connections. Whatever it
 * does, no error escapes (an unhandled 'error' on a pg client would fail this file), /health says
 * so and recovers, and the store works again once the network does.
 */
describe('database faults', () => {
  let proxy: FaultProxy;
  let store: Store;
  let drop: () => Promise<void>;
  let direct = '';
  let http: Awaited<ReturnType<typeof buildHttpServer>>;

  beforeAll(async () => {
    const db = await proxiedDatabase();
    ({ proxy, drop, direct } = db);
    store = await openStore({ databaseUrl: db.url, poolSize: 4, logger: silentLogger });
    await migrateToLatest(store.db);
    http = await buildHttpServer({ store, metrics: createMetrics(), logger: silentLogger, version: 't' });
  });
  afterAll(async () => {
    await http.close();
    await store.close();
    await proxy.stop();
    await drop();
  });

  const health = async () => (await http.inject('/health')).json() as { status: string; checks: { database: { ok: boolean } } };

  it('survives connections reset in the middle of queries, and the next queries work', async () => {
    expect((await health()).status).toBe('ok');
    // Four queries that stay in flight until the reset (a 2 s pg_sleep finished first on a busy machine).
    const held = await heldQueries(direct);
    const inFlight = Array.from({ length: 4 }, () => sql.raw(held.sql).execute(store.db).then(() => 'done', (e: Error) => e.message));
    await held.waiting(4);
    proxy.reset();
    const outcomes = await Promise.all(inFlight);
    await held.release();
    expect(outcomes.every((o) => o !== 'done')).toBe(true);
    // The pool replaced the dead connections: writes and reads go through again.
    const calls = createBusiness(store.db).calls;
    const id = await calls.start({ direction: 'inbound', backend: 'sip', from: '+15125550177', to: '+15125550100' });
    expect((await calls.get(id))?.state).toBe('ringing');
    expect((await health()).status).toBe('ok');
  });

  it('survives connections the server closes (FIN) while idle and while busy', async () => {
    const held = await heldQueries(direct);
    const busy = sql.raw(held.sql).execute(store.db).then(() => 'done', () => 'failed');
    await held.waiting(1);
    proxy.drop();
    expect(await busy).toBe('failed');
    await held.release();
    const r = await sql<{ n: number }>`select 1 as n`.execute(store.db);
    expect(r.rows[0]!.n).toBe(1);
  });

  it('reports the database down during a silent outage, and recovers when the network does', async () => {
    proxy.blackhole();
    proxy.reset(); // existing connections die too, new ones go nowhere
    const during = await http.inject('/health');
    expect(during.statusCode).toBe(503);
    expect(during.json().checks.database.ok).toBe(false);
    // A write attempted during the outage fails with an error; it does not hang forever.
    const write = await sql`select 1`.execute(store.db).then(() => 'ok', () => 'failed');
    expect(write).toBe('failed');
    proxy.heal();
    await vi.waitFor(async () => expect((await health()).status).toBe('ok'), { timeout: 15_000, interval: 200 });
    const r = await sql<{ n: number }>`select 2 as n`.execute(store.db);
    expect(r.rows[0]!.n).toBe(2);
  });

  it('closes within its bound while a query hangs on a blackholed connection', async () => {
    const { proxy: p, url, drop: dropIt } = await proxiedDatabase();
    const s = await openStore({ databaseUrl: url, logger: silentLogger });
    await sql`select 1`.execute(s.db);
    p.blackhole();
    const hung = sql`select 1`.execute(s.db).catch(() => 'failed');
    await s.close(); // resolves: shutdown does not wait on the dead server
    p.heal();
    await hung;
    await p.stop();
    await dropIt();
  });
});
