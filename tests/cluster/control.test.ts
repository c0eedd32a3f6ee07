import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTROL_CHANNEL, ControlChannel, NodeUnreachableError, type ControlRequest } from '../../src/cluster/control.js';
import { createServerDatabase } from '../helpers/stores.js';

/** Control across nodes over LISTEN/NOTIFY on the Postgres server: what the admin API relies on. */
describe('control channel between nodes', () => {
  let database: Awaited<ReturnType<typeof createServerDatabase>>;
  const seen: ControlRequest[] = [];
  let a: ControlChannel;
  let b: ControlChannel;

  beforeAll(async () => {
    database = await createServerDatabase();
    a = new ControlChannel({ databaseUrl: database.url, nodeId: 'a', handle: async () => ({ status: 'not_live' }), timeoutMs: 1_000 });
    b = new ControlChannel({
      databaseUrl: database.url, nodeId: 'b', timeoutMs: 1_000,
      handle: async (r) => {
        seen.push(r);
        if (r.callId === 'boom') throw new Error('the call would not hang up');
        return r.callId === 'held' ? { status: 'ok', result: { ok: true } } : { status: 'not_live' };
      },
    });
    await Promise.all([a.start(), b.start()]);
  }, 60_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await database?.drop();
  });

  it("asks the owning node, which acts on its call and answers; only the addressee acts", async () => {
    expect(await a.send('b', 'hangup', 'held', 'maria')).toMatchObject({ status: 'ok', result: { ok: true } });
    expect(seen).toEqual([expect.objectContaining({ op: 'hangup', callId: 'held', from: 'a', to: 'b', requestedBy: 'maria' })]);
    expect(await a.send('b', 'transfer', 'gone-call')).toMatchObject({ status: 'not_live' });
    // A handler that throws is reported as failed, with its reason, and the channel carries on.
    expect(await a.send('b', 'hangup', 'boom')).toMatchObject({ status: 'failed', error: 'the call would not hang up' });
    expect(await a.send('b', 'hangup', 'held')).toMatchObject({ status: 'ok' });
  });

  it('a node nobody answers for (dead, or cut off) is reported unreachable, and garbage on the channel is ignored', async () => {
    const c = new pg.Client({ connectionString: database.url });
    await c.connect();
    try {
      for (const junk of ['not json', '{"kind":"request"}', JSON.stringify({ kind: 'request', id: 'x', from: 'z', to: 'b', op: 'format-disk', callId: 'held' }), '[]']) {
        await c.query('SELECT pg_notify($1, $2)', [CONTROL_CHANNEL, junk]);
      }
    } finally {
      await c.end();
    }
    const before = seen.length;
    await expect(a.send('node-that-died', 'hangup', 'held')).rejects.toThrow(NodeUnreachableError);
    // b still answers, and acted on none of the junk.
    expect(await a.send('b', 'hangup', 'held')).toMatchObject({ status: 'ok' });
    expect(seen.length).toBe(before + 1);
  });
});
