import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/db.js';
import { buildHttpServer } from '../../src/http/server.js';
import { createMetrics } from '../../src/http/metrics.js';
import { silentLogger } from '../../src/util/logger.js';
import { openTestStore, PGLITE_TEST_MS } from '../helpers/stores.js';

describe('/health and /metrics', () => {
  const sockets: Socket[] = [];
  let blackhole: Server | undefined;
  afterAll(async () => {
    sockets.forEach((s) => s.destroy());
    await new Promise((r) => (blackhole ? blackhole.close(r) : r(undefined)));
  });

  for (const dialect of ['pglite', 'postgres'] as const) {
    it(`reports ok with a live ${dialect} database, and unhealthy once it is gone`, async () => {
      const { store, dispose } = await openTestStore(dialect);
      const http = await buildHttpServer({ store, metrics: createMetrics(), logger: silentLogger, version: 't' });
      const ok = await http.inject('/health');
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toMatchObject({ status: 'ok', checks: { database: { ok: true, dialect } } });
      await dispose();
      const dead = await http.inject('/health');
      expect(dead.statusCode).toBe(503);
      expect(dead.json()).toMatchObject({ status: 'unhealthy', checks: { database: { ok: false } } });
      const metrics = await http.inject('/metrics');
      expect(metrics.body).toMatch(/frontdesk_http_requests_total\{method="GET",route="\/health",status="200"\} 1/);
      await http.close();
    }, PGLITE_TEST_MS);
  }

  it('answers unhealthy within seconds when the database accepts connections but never replies', async () => {
    // A server that takes the TCP connection and then says nothing: the worst case for a hang.
    blackhole = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => blackhole!.listen(0, '127.0.0.1', r));
    const port = (blackhole.address() as { port: number }).port;
    const store = await openStore({ databaseUrl: `postgres://x@127.0.0.1:${port}/db`, logger: silentLogger });
    const http = await buildHttpServer({ store, metrics: createMetrics(), logger: silentLogger, version: 't' });
    const res = await http.inject('/health');
    expect(res.statusCode).toBe(503);
    expect(res.json().checks.database.ok).toBe(false);
    await http.close();
    await store.close().catch(() => {});
  });

  it('answers unknown routes with a JSON 404', async () => {
    const { store, dispose } = await openTestStore('pglite');
    const http = await buildHttpServer({ store, metrics: createMetrics(), logger: silentLogger, version: 't' });
    const res = await http.inject('/nope');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'not_found', message: 'no route GET /nope' });
    await http.close();
    await dispose();
  }, PGLITE_TEST_MS);
});
