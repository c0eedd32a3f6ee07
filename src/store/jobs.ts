import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Db } from './db.js';
import type { Selectable } from 'kysely';
import type { JobsTable } from './schema.js';

/**
 * A durable work queue in Postgres: jobs survive a crash; a claim is a lease, so a job whose worker
 * died is picked up again when the lease runs out; SKIP LOCKED lets workers share the table.
 */

export type Job = Selectable<JobsTable>;

export interface JobRunnerOptions {
  queue: string;
  handler: (job: Job) => Promise<void>;
  logger?: Logger | undefined;
  leaseMs?: number;
  batchSize?: number;
  backoffBaseMs?: number;
  now?: () => Date;
}

export const jobDefaults = { leaseMs: 30_000, batchSize: 10, backoffBaseMs: 2_000 } as const;

export async function enqueueJob(
  db: Db | import('kysely').Transaction<import('./schema.js').Database>,
  queue: string,
  payload: unknown,
  dedupeKey?: string,
): Promise<boolean> {
  const r = await db
    .insertInto('jobs')
    .values({ queue, payload: JSON.stringify(payload), dedupe_key: dedupeKey ?? null, run_at: new Date() })
    .onConflict((oc) => oc.column('dedupe_key').doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
}

export class JobRunner {
  private readonly o: Required<Omit<JobRunnerOptions, 'logger'>> & { logger: Logger | undefined };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private kick: (() => void) | undefined;
  private active = false;

  constructor(private readonly db: Db, opts: JobRunnerOptions) {
    this.o = { ...jobDefaults, now: () => new Date(), ...opts, logger: opts.logger };
  }

  private async claim(): Promise<Job[]> {
    const now = this.o.now();
    return this.db.transaction().execute(async (tx) => {
      const due = await tx
        .selectFrom('jobs')
        .select('id')
        .where('queue', '=', this.o.queue)
        .where((eb) => eb.or([
          eb.and([eb('status', '=', 'pending'), eb('run_at', '<=', now)]),
          eb.and([eb('status', '=', 'running'), eb('locked_until', '<', now)]),
        ]))
        .orderBy('run_at')
        .limit(this.o.batchSize)
        .forUpdate()
        .skipLocked()
        .execute();
      if (!due.length) return [];
      return tx
        .updateTable('jobs')
        .set({ status: 'running', locked_until: new Date(now.getTime() + this.o.leaseMs), attempts: sql`attempts + 1` })
        .where('id', 'in', due.map((d) => d.id))
        .returningAll()
        .execute();
    });
  }

  private async run(job: Job): Promise<void> {
    try {
      await this.o.handler(job);
      await this.db.updateTable('jobs').set({ status: 'done', done_at: this.o.now(), locked_until: null }).where('id', '=', job.id).execute();
    } catch (e) {
      const final = job.attempts >= job.max_attempts;
      this.o.logger?.warn({ err: e, job: job.id, queue: job.queue, attempt: job.attempts, final }, 'job failed');
      await this.db
        .updateTable('jobs')
        .set({
          status: final ? 'failed' : 'pending',
          last_error: String((e as Error).message ?? e).slice(0, 1000),
          locked_until: null,
          run_at: new Date(this.o.now().getTime() + this.o.backoffBaseMs * 2 ** Math.max(0, job.attempts - 1)),
        })
        .where('id', '=', job.id)
        .execute();
    }
  }

  async runOnce(): Promise<number> {
    let n = 0;
    for (;;) {
      const jobs = await this.claim();
      if (!jobs.length) return n;
      for (const j of jobs) await this.run(j);
      n += jobs.length;
    }
  }

  /** Polls every `intervalMs`, or at once after notify(). */
  start(intervalMs = 500): void {
    if (this.active) return;
    this.active = true;
    const loop = async () => {
      while (this.active) {
        this.running = this.runOnce().catch((err: unknown) => this.o.logger?.error({ err }, 'job pass failed'));
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
