import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import type { NodeState } from '../store/schema.js';

/**
 * The node registry: every frontdesk process sharing one database has a row in `nodes` (id,
 * addresses, capacity, calls in progress, state, heartbeat). Hand-written because it is three
 * statements over the store we already have; a coordination service (etcd, Consul) would be new
 * infrastructure for what a heartbeat column does.
 *
 * Each beat writes this node's row and reads back its state (`frontdesk drain` on any machine sets
 * it to `draining`), then reaps: a node whose heartbeat is older than the lapse is marked `gone`
 * and its open calls end as `interrupted`, in one transaction, so exactly one survivor reaps it.
 */

export interface NodeInfo {
  id: string;
  sipUri: string | null;
  httpUrl: string | null;
  capacity: number;
  calls: number;
  state: NodeState;
  startedAt: Date;
  heartbeatAt: Date;
  /** Heartbeat within the lapse and not gone. */
  alive: boolean;
}

export interface NodeRegistryOptions {
  id: string;
  sipUri?: string | undefined;
  httpUrl?: string | undefined;
  capacity: number;
  /** Calls this process holds now (written with each beat). */
  calls: () => number;
  heartbeatMs: number;
  /** A node silent this long is dead: its calls end as interrupted. */
  lapseMs: number;
  now: () => Date;
  logger?: Logger | undefined;
  /**
   * The store guarantees this is the only process (embedded PGlite holds a lock file): the row is
   * taken over even if its heartbeat is fresh, so a restart after a crash is not held back.
   */
  exclusive?: boolean;
  /** Someone set this node's row to `draining` (frontdesk drain, the admin API). */
  onDrainRequested?: () => void;
  /** Survivors reaped these nodes; `calls` is how many of their calls were ended. */
  onReaped?: (nodes: string[], calls: number) => void;
}

export class NodeIdInUseError extends Error {
  constructor(id: string) {
    super(`FRONTDESK_NODE_ID ${id} belongs to another running node (its heartbeat is fresh); give each node its own FRONTDESK_NODE_ID`);
    this.name = 'NodeIdInUseError';
  }
}

export class NodeRegistry {
  readonly instance = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private state: NodeState = 'up';

  constructor(private readonly db: Db, private readonly o: NodeRegistryOptions) {}

  get id(): string {
    return this.o.id;
  }

  get draining(): boolean {
    return this.state === 'draining';
  }

  /**
   * Claims this node's row. A row with the same id and a fresh heartbeat from another process
   * means two nodes were given one id: refused, since the newcomer would end the other's calls.
   */
  async register(): Promise<void> {
    const now = this.o.now();
    const cutoff = new Date(now.getTime() - this.o.lapseMs);
    const row = { instance: this.instance, sip_uri: this.o.sipUri ?? null, http_url: this.o.httpUrl ?? null, capacity: this.o.capacity, calls: 0, state: 'up' as const, started_at: now, heartbeat_at: now };
    const taken = await this.db
      .insertInto('nodes')
      .values({ id: this.o.id, ...row })
      .onConflict((oc) => {
        const update = oc.column('id').doUpdateSet(row);
        return this.o.exclusive ? update : update.where((eb) => eb.or([eb('nodes.state', '=', 'gone'), eb('nodes.heartbeat_at', '<', cutoff)]));
      })
      .returning('id')
      .executeTakeFirst();
    if (!taken) throw new NodeIdInUseError(this.o.id);
    this.state = 'up';
  }

  /** One heartbeat: write ours, read back our state, reap the dead. */
  async beat(): Promise<void> {
    const now = this.o.now();
    const mine = await this.db
      .updateTable('nodes')
      .set({ heartbeat_at: now, calls: this.o.calls() })
      .where('id', '=', this.o.id)
      .where('instance', '=', this.instance)
      .returning('state')
      .executeTakeFirst();
    if (!mine) {
      // Reaped while we were cut off (a long pause, a partition): our calls were ended for us.
      this.o.logger?.warn({ node: this.o.id }, 'this node was taken for dead while cut off; registering again');
      await this.register().catch((err: unknown) => this.o.logger?.error({ err }, 'registering again failed'));
      if (this.state !== 'up') await this.setState(this.state);
    } else if (mine.state === 'gone' && this.state !== 'gone') {
      // Taken for dead by a survivor (we stalled past the lapse) yet alive: back in the set. Our
      // calls in progress were marked interrupted; each one's real end still overwrites that.
      this.o.logger?.warn({ node: this.o.id }, 'this node was taken for dead after a stall; it is back');
      await this.setState(this.state);
    } else if (mine.state === 'draining' && this.state === 'up') {
      this.state = 'draining';
      this.o.logger?.info({ node: this.o.id }, 'drain requested');
      this.o.onDrainRequested?.();
    }
    await this.reap(now);
  }

  /** Marks nodes whose heartbeat lapsed as gone and ends their open calls as interrupted. */
  async reap(now = this.o.now()): Promise<{ nodes: string[]; calls: number }> {
    const cutoff = new Date(now.getTime() - this.o.lapseMs);
    const r = await this.db.transaction().execute(async (tx) => {
      const dead = await tx
        .updateTable('nodes')
        .set({ state: 'gone', calls: 0 })
        .where('id', '!=', this.o.id)
        .where('state', '!=', 'gone')
        .where('heartbeat_at', '<', cutoff)
        .returning('id')
        .execute();
      if (!dead.length) return { nodes: [], calls: 0 };
      const ids = dead.map((d) => d.id);
      const ended = await tx
        .updateTable('calls')
        .set({ state: 'ended', ended_at: now, disposition: 'interrupted' })
        .where('state', 'in', ['ringing', 'answered'])
        .where('node_id', 'in', ids)
        .returning('id')
        .execute();
      return { nodes: ids, calls: ended.length };
    });
    if (r.nodes.length) {
      this.o.logger?.warn({ nodes: r.nodes, calls: r.calls }, 'nodes stopped heartbeating; their calls were ended as interrupted');
      this.o.onReaped?.(r.nodes, r.calls);
    }
    return r;
  }

  /** `draining`: new calls go elsewhere; `gone`: this node left cleanly. */
  async setState(state: NodeState): Promise<void> {
    this.state = state;
    await this.db.updateTable('nodes').set({ state, calls: this.o.calls(), heartbeat_at: this.o.now() })
      .where('id', '=', this.o.id).where('instance', '=', this.instance).execute();
  }

  /** Beats every heartbeatMs until stop(); a failed beat is logged and the next one tried. */
  start(): void {
    const tick = () => {
      if (this.beating) return;
      this.beating = this.beat()
        .catch((err: unknown) => this.o.logger?.warn({ err }, 'node heartbeat failed'))
        .finally(() => (this.beating = undefined));
    };
    this.timer = setInterval(tick, this.o.heartbeatMs);
    this.timer.unref();
  }

  /** Stops beating and leaves: the row says `gone`, so nobody reaps calls we ended ourselves. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
    await this.setState('gone');
  }
}

/** Every node the store knows, alive ones first. */
export async function listNodes(db: Db, now: Date, lapseMs: number): Promise<NodeInfo[]> {
  const rows = await db.selectFrom('nodes').selectAll().orderBy('id').execute();
  const cutoff = now.getTime() - lapseMs;
  return rows
    .map((r) => ({
      id: r.id, sipUri: r.sip_uri, httpUrl: r.http_url, capacity: r.capacity, calls: r.calls, state: r.state,
      startedAt: r.started_at, heartbeatAt: r.heartbeat_at, alive: r.state !== 'gone' && r.heartbeat_at.getTime() >= cutoff,
    }))
    .sort((a, b) => Number(b.alive) - Number(a.alive));
}

/** Asks a node (by id) to drain: it notices on its next beat (or at once through control). */
export async function requestDrain(db: Db, id: string): Promise<boolean> {
  const r = await db.updateTable('nodes').set({ state: 'draining' }).where('id', '=', id).where('state', '=', 'up').executeTakeFirst();
  if (Number(r.numUpdatedRows) > 0) return true;
  const exists = await db.selectFrom('nodes').select('state').where('id', '=', id).executeTakeFirst();
  return exists?.state === 'draining';
}
