import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';
import { z } from 'zod';

/**
 * Control across nodes over Postgres LISTEN/NOTIFY (no new infrastructure): the admin API on any
 * node can ask the node that owns a call to hang it up or put it through, and waits for the
 * answer. One channel carries requests and replies, each addressed to a node id. Hand-written: the
 * pg client already speaks LISTEN/NOTIFY; what remains is addressing and a timeout.
 *
 * A request that reaches nobody (the owner died, the database connection is down) times out and
 * the caller says so; nothing is retried behind the admin's back (a hang-up sent twice is harmless,
 * a transfer sent twice is not).
 */

export const CONTROL_CHANNEL = 'frontdesk_control';

const request = z.object({
  kind: z.literal('request'), id: z.string(), from: z.string(), to: z.string(),
  op: z.enum(['hangup', 'transfer']), callId: z.string(), requestedBy: z.string().optional(),
});
const reply = z.object({
  kind: z.literal('reply'), id: z.string(), to: z.string(),
  status: z.enum(['ok', 'not_live', 'failed']), result: z.unknown().optional(), error: z.string().optional(),
});

export type ControlRequest = z.infer<typeof request>;
export type ControlOp = ControlRequest['op'];
export type ControlReply = z.infer<typeof reply>;

export interface ControlOptions {
  databaseUrl: string;
  nodeId: string;
  /** Carries out a request for a call this node owns. */
  handle: (r: ControlRequest) => Promise<Omit<ControlReply, 'kind' | 'id' | 'to'>>;
  logger?: Logger | undefined;
  /** How long send() waits for the owner's reply. */
  timeoutMs?: number;
}

export class NodeUnreachableError extends Error {
  constructor(node: string) {
    super(`node ${node} did not answer (it may be down or cut off from the database)`);
    this.name = 'NodeUnreachableError';
  }
}

export class ControlChannel {
  private client: pg.Client | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private readonly pending = new Map<string, (r: ControlReply) => void>();
  /** Resolves once LISTEN is in place (again after a reconnect). */
  ready: Promise<void> = Promise.resolve();

  constructor(private readonly o: ControlOptions) {}

  start(): Promise<void> {
    this.ready = this.connect();
    return this.ready;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.o.databaseUrl, keepAlive: true, connectionTimeoutMillis: 5_000 });
    const again = () => {
      if (this.client !== client || this.stopped) return;
      this.client = undefined;
      client.removeAllListeners('notification');
      void client.end().catch(() => {});
      this.o.logger?.warn('control channel lost its database connection; reconnecting');
      this.retry = setTimeout(() => void (this.ready = this.connect().catch(() => {})), 1_000);
    };
    client.on('error', again);
    client.on('end', again);
    client.on('notification', (n) => {
      if (n.channel === CONTROL_CHANNEL && n.payload) this.onMessage(n.payload);
    });
    this.client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${CONTROL_CHANNEL}`);
    } catch (err) {
      this.o.logger?.warn({ err }, 'control channel could not listen; retrying');
      again();
    }
  }

  private onMessage(payload: string): void {
    let json: unknown;
    try {
      json = JSON.parse(payload);
    } catch {
      return;
    }
    const rep = reply.safeParse(json);
    if (rep.success) {
      if (rep.data.to === this.o.nodeId) this.pending.get(rep.data.id)?.(rep.data);
      return;
    }
    const req = request.safeParse(json);
    if (!req.success || req.data.to !== this.o.nodeId) return;
    const r = req.data;
    this.o.handle(r)
      .catch((err: unknown) => ({ status: 'failed' as const, error: String((err as Error).message ?? err) }))
      .then((out) => this.notify({ kind: 'reply', id: r.id, to: r.from, ...out }))
      .catch((err: unknown) => this.o.logger?.warn({ err, request: r.id }, 'control reply not sent'));
  }

  private async notify(msg: ControlRequest | ControlReply): Promise<void> {
    const client = this.client;
    if (!client) throw new Error('the control channel is not connected');
    await client.query('SELECT pg_notify($1, $2)', [CONTROL_CHANNEL, JSON.stringify(msg)]);
  }

  /** Asks node `to` to carry out `op` on one of its calls; resolves with its reply. */
  async send(to: string, op: ControlOp, callId: string, requestedBy?: string): Promise<ControlReply> {
    await this.ready;
    const id = randomUUID();
    const answer = new Promise<ControlReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new NodeUnreachableError(to));
      }, this.o.timeoutMs ?? 5_000);
      this.pending.set(id, (r) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(r);
      });
    });
    try {
      await this.notify({ kind: 'request', id, from: this.o.nodeId, to, op, callId, ...(requestedBy ? { requestedBy } : {}) });
    } catch (err) {
      this.pending.get(id)?.({ kind: 'reply', id, to: this.o.nodeId, status: 'failed', error: String((err as Error).message) });
      throw new NodeUnreachableError(to);
    }
    return answer;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => {});
  }
}
