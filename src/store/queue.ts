import { sql, type RawBuilder } from 'kysely';
import type { Logger } from 'pino';
import type { Db } from './db.js';

/**
 * The one durable lease queue, used by the job runner (store/jobs.ts: inbound SMS work) and the
 * notification outbox (business/outbox.ts). Hand-written, not pg-boss or graphile-worker, because
 * it must run unchanged on embedded PGlite (one connection, no LISTEN/NOTIFY between processes,
 * no background maintenance) and because work is enqueued inside the caller's own transaction
 * (a booking and its reminder commit together), which those libraries' own connections cannot do.
 *
 * A claim is one statement (UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)): workers share
 * a table without ever claiming one row twice; a claim is a lease, and a row whose worker died is
 * claimed again once the lease runs out, flagged `reclaimed` so the handler can reconcile instead
 * of repeating a side effect it may already have caused.
 */

export interface QueueRow {
  id: string;
  status: string;
  attempts: number;
  max_attempts: number;
  locked_until: Date | null;
}

export type Outcome =
  /** Finished: the row gets `status` and the extra columns. */
  | { kind: 'finished'; status: string; set?: Record<string, unknown> }
  /** Failed this time: retried with backoff until max_attempts, then 'failed'. */
  | { kind: 'retry'; error: string }
  /** Not now: pending again at `until`, the attempt not counted. */
  | { kind: 'defer'; until: Date };

export interface LeaseQueueOptions<Row extends QueueRow> {
  table: 'jobs' | 'outbox';
  /** The column that says when a row is due. */
  dueColumn: 'run_at' | 'next_attempt_at';
  /** The status of a claimed row ('running', 'sending'). */
  claimedStatus: string;
  /** Which rows this worker may take (a queue name, the channels it can send on); undefined: none. */
  scope: () => RawBuilder<boolean> | undefined;
  /** `reclaimed`: an earlier claim of this row ended without an outcome (that worker died). */
  handle: (row: Row, reclaimed: boolean) => Promise<Outcome>;
  /** Handle a claimed batch at once (the outbox's sends) or one row after another (jobs). */
  parallel: boolean;
  leaseMs: number;
  batchSize: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  now: () => Date;
  logger?: Logger | undefined;
  /** For log lines. */
  name: string;
}

export class LeaseQueue<Row extends QueueRow> {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private kick: (() => void) | undefined;
  private active = false;

  constructor(private readonly db: Db, private readonly o: LeaseQueueOptions<Row>) {}

  private async claim(): Promise<{ row: Row; reclaimed: boolean }[]> {
    const scope = this.o.scope();
    if (!scope) return [];
    const now = this.o.now();
    const lease = new Date(now.getTime() + this.o.leaseMs);
    const t = sql.table(this.o.table);
    const due = sql.ref(this.o.dueColumn);
    const { rows } = await sql<Row & { fd_previous_status: string }>`
      with picked as (
        select id, status as fd_previous_status from ${t}
        where ${scope} and ((status = 'pending' and ${due} <= ${now}) or (status = ${this.o.claimedStatus} and locked_until < ${now}))
        order by ${due} limit ${this.o.batchSize}
        for update skip locked)
      update ${t} set status = ${this.o.claimedStatus}, locked_until = ${lease}, attempts = ${t}.attempts + 1
      from picked where ${t}.id = picked.id
      returning ${t}.*, picked.fd_previous_status`.execute(this.db);
    return rows.map(({ fd_previous_status, ...row }) => ({ row: row as unknown as Row, reclaimed: fd_previous_status === this.o.claimedStatus }));
  }

  private async settle(row: Row, reclaimed: boolean): Promise<void> {
    let out: Outcome;
    try {
      out = await this.o.handle(row, reclaimed);
    } catch (e) {
      out = { kind: 'retry', error: String((e as Error).message ?? e) };
    }
    const now = this.o.now();
    let set: Record<string, unknown>;
    switch (out.kind) {
      case 'finished':
        set = { ...out.set, status: out.status, locked_until: null };
        break;
      case 'defer':
        set = { status: 'pending', locked_until: null, [this.o.dueColumn]: out.until, attempts: sql`attempts - 1` };
        break;
      case 'retry': {
        const final = row.attempts >= row.max_attempts;
        const backoff = Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** Math.max(0, row.attempts - 1));
        this.o.logger?.warn({ id: row.id, queue: this.o.name, attempt: row.attempts, final, err: out.error }, `${this.o.name}: attempt failed`);
        set = { status: final ? 'failed' : 'pending', last_error: out.error.slice(0, 1000), locked_until: null, [this.o.dueColumn]: new Date(now.getTime() + backoff) };
        break;
      }
    }
    // Only while our lease holds: a worker that lost it (stalled past leaseMs) must not overwrite.
    await this.db.updateTable(this.o.table as never).set(set as never).where('id' as never, '=', row.id as never)
      .where('status' as never, '=', this.o.claimedStatus as never).where('locked_until' as never, '=', row.locked_until as never).execute();
  }

  /** One pass: claim what is due and handle it. Returns how many rows were handled. */
  async runOnce(): Promise<number> {
    let n = 0;
    for (;;) {
      const claimed = await this.claim();
      if (!claimed.length) return n;
      if (this.o.parallel) await Promise.all(claimed.map((c) => this.settle(c.row, c.reclaimed)));
      else for (const c of claimed) await this.settle(c.row, c.reclaimed);
      n += claimed.length;
    }
  }

  /** Polls every `intervalMs`, or at once after notify(). */
  start(intervalMs: number): void {
    if (this.active) return;
    this.active = true;
    const loop = async () => {
      while (this.active) {
        this.running = this.runOnce().catch((err: unknown) => this.o.logger?.error({ err }, `${this.o.name}: pass failed`));
        await this.running;
        if (!this.active) break;
        await new Promise<void>((r) => {
          this.kick = r;
          this.timer = setTimeout(r, intervalMs);
        });
      }
    };
    void loop();
  }

  /** New work arrived: run a pass now instead of at the next poll. */
  notify(): void {
    clearTimeout(this.timer);
    this.kick?.();
  }

  async stop(): Promise<void> {
    this.active = false;
    clearTimeout(this.timer);
    this.kick?.();
    await this.running;
  }
}
