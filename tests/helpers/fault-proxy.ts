import { connect, createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { createServerDatabase } from './stores.js';

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  held: [Socket, Buffer][];
}

/**
 * A TCP proxy between frontdesk and a server (the Postgres server) that can misbehave the way a
 * network does: reset every connection (RST), drop them (FIN), or blackhole them (connections stay
 * open, bytes go nowhere, new connections are accepted and then ignored).
 */
export class FaultProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<Pair>();
  private mode: 'pass' | 'blackhole' = 'pass';
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<void> {
    this.server = createServer((client) => this.adopt(client));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** The same URL with host:port pointed at the proxy. */
  url(original: string): string {
    const u = new URL(original);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  get connections(): number {
    return this.pairs.size;
  }

  private adopt(client: Socket): void {
    const pair: Pair = { client, upstream: undefined, held: [] };
    this.pairs.add(pair);
    client.on('error', () => {});
    client.on('close', () => {
      this.pairs.delete(pair);
      pair.upstream?.destroy();
    });
    if (this.mode === 'blackhole') return;
    const upstream = connect(this.target.port, this.target.host);
    pair.upstream = upstream;
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    // During an outage TCP holds the bytes and retransmits; they arrive if the network heals in time.
    client.on('data', (d) => {
      if (this.mode === 'pass') upstream.write(d);
      else pair.held.push([upstream, d]);
    });
    upstream.on('data', (d) => {
      if (this.mode === 'pass') client.write(d);
      else pair.held.push([client, d]);
    });
  }

  /** Every open connection is reset (RST), as when the server or a middlebox restarts. */
  reset(): void {
    for (const p of this.pairs) {
      p.client.resetAndDestroy();
      p.upstream?.destroy();
    }
  }

  /** Every open connection is closed cleanly (FIN), as when the server terminates backends. */
  drop(): void {
    for (const p of this.pairs) {
      p.client.end();
      p.upstream?.end();
    }
  }

  /** Silent outage: nothing passes either way, new connections hang; sockets stay open. */
  blackhole(): void {
    this.mode = 'blackhole';
  }

  /** The network is back: held bytes are delivered, connections accepted during the outage are refused. */
  heal(): void {
    this.mode = 'pass';
    for (const p of this.pairs) {
      if (!p.upstream) p.client.destroy();
      for (const [to, d] of p.held.splice(0)) if (!to.destroyed) to.write(d);
    }
  }

  async stop(): Promise<void> {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream?.destroy();
    }
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/**
 * A fresh database on the test Postgres server, reached through a started proxy: `url` goes through
 * it, `direct` does not (for the test's own look at the server).
 */
export async function proxiedDatabase(): Promise<{ proxy: FaultProxy; url: string; direct: string; drop: () => Promise<void> }> {
  const server = await createServerDatabase();
  const u = new URL(server.url);
  const proxy = new FaultProxy({ host: u.hostname, port: Number(u.port || 5432) });
  await proxy.start();
  return { proxy, url: proxy.url(server.url), direct: server.url, drop: server.drop };
}

/**
 * Queries that stay in flight until the test lets them finish, however slow the machine: the test
 * holds an advisory lock on a direct connection and the queries wait for it. `waiting(n)` resolves
 * once the server has n of them waiting (they are in flight on their connections, not queued in the pool).
 */
export async function heldQueries(direct: string, key = 4217) {
  const holder = new pg.Client({ connectionString: direct });
  holder.on('error', () => {});
  await holder.connect();
  await holder.query('select pg_advisory_lock($1)', [key]);
  const waiters = async () => Number((await holder.query<{ n: string }>(
    "select count(*) as n from pg_locks where locktype = 'advisory' and not granted and database = (select oid from pg_database where datname = current_database())",
  )).rows[0]!.n);
  return {
    sql: `select pg_advisory_xact_lock(${key})`,
    async waiting(n: number): Promise<void> {
      while ((await waiters()) < n) await new Promise((r) => setImmediate(r));
    },
    async release(): Promise<void> {
      await holder.query('select pg_advisory_unlock($1)', [key]).catch(() => {});
      await holder.end().catch(() => {});
    },
  };
}
