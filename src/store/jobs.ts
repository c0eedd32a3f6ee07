import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Db } from './db.js';
import { LeaseQueue } from './queue.js';
import type { Selectable } from 'kysely';
import type { JobsTable } from './schema.js';

/**
 * Background jobs (inbound SMS handling): rows in `jobs`, run by the one lease queue
 * (store/queue.ts), so they survive a crash and a dead worker's job is picked up again.
 */

export type Job = Selectable<JobsTable>;

export interface JobRunnerOptions {
  queue: string;
  handler: (job: Job) => Promise<void>;
  logger?: Logger | undefined;
  leaseMs?: number;
  batchSize?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  now?: () => Date;
}

export const jobDefaults = { leaseMs: 30_000, batchSize: 10, backoffBaseMs: 2_000, backoffMaxMs: 10 * 60_000 } as const satisfies Record<string, number>;

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

/** Runs one queue's jobs, one after another, on the shared lease queue (store/queue.ts). */
export class JobRunner {
  private readonly q: LeaseQueue<Job>;

  constructor(db: Db, opts: JobRunnerOptions) {
    const o = { ...jobDefaults, now: () => new Date(), ...opts };
    this.q = new LeaseQueue<Job>(db, {
      name: `jobs:${o.queue}`, table: 'jobs', dueColumn: 'run_at', claimedStatus: 'running', parallel: false,
      scope: () => sql<boolean>`queue = ${o.queue}`,
      leaseMs: o.leaseMs, batchSize: o.batchSize, backoffBaseMs: o.backoffBaseMs, backoffMaxMs: o.backoffMaxMs, now: o.now, logger: opts.logger,
      handle: async (job) => {
        await o.handler(job);
        return { kind: 'finished', status: 'done', set: { done_at: o.now() } };
      },
    });
  }

  runOnce(): Promise<number> {
    return this.q.runOnce();
  }

  /** Polls every `intervalMs`, or at once after notify(). */
  start(intervalMs = 500): void {
    this.q.start(intervalMs);
  }

  /** New work arrived: run a pass now instead of at the next poll. */
  notify(): void {
    this.q.notify();
  }

  stop(): Promise<void> {
    return this.q.stop();
  }
}
