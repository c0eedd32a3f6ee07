import { sql, type Kysely, type Transaction } from 'kysely';
import { LeaseQueue } from '../store/queue.js';
import { DateTime } from 'luxon';
import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import type { Database, OutboxItem } from '../store/schema.js';

/**
 * The notification outbox: SMS, calls and e-mail to customers and the owner. Items are written in
 * the same transaction as the change that causes them (a booking, a message), so none is lost;
 * the unique dedupe key makes enqueueing idempotent; delivery runs on the one lease queue
 * (store/queue.ts): two workers never deliver one item, and a crashed worker's claim expires and is
 * retried, flagged so the sender can reconcile instead of sending twice.
 */

export type Channel = 'sms' | 'call' | 'email';

export interface OutboxRequest {
  contextId: string | null;
  channel: Channel;
  purpose: string;
  recipient: string;
  /** What the channel needs: { text } for sms, { subject, text } for email, { purpose, text } for call. */
  payload: Record<string, unknown>;
  dedupeKey: string;
  /** Not before this time (e.g. a reminder 24 h before the visit). */
  notBefore?: Date;
  /** The caller's clock, for an item due at once: the worker compares against the same clock. */
  now?: Date;
}

export type Executor = Db | Kysely<Database> | Transaction<Database>;

/** Queues a notification; a second request with the same dedupe key is a no-op. Returns true if new. */
export async function enqueue(db: Executor, r: OutboxRequest): Promise<boolean> {
  const res = await db
    .insertInto('outbox')
    .values({
      context_id: r.contextId,
      channel: r.channel,
      purpose: r.purpose,
      recipient: r.recipient,
      payload: JSON.stringify(r.payload),
      dedupe_key: r.dedupeKey,
      next_attempt_at: r.notBefore ?? r.now ?? new Date(),
    })
    .onConflict((oc) => oc.column('dedupe_key').doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0n) > 0;
}

/** Cancels pending items whose dedupe key starts with `prefix` (e.g. a moved booking's reminder). */
export async function cancelPending(db: Executor, prefix: string): Promise<number> {
  const res = await db
    .updateTable('outbox')
    .set({ status: 'cancelled' })
    .where('dedupe_key', 'like', `${prefix.replace(/[\\%_]/g, '\\$&')}%`)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

export type Delivery =
  | { status: 'sent'; ref?: string }
  /** Not sent on purpose (opted out, no channel configured): final, never retried. */
  | { status: 'suppressed'; reason: string }
  /** Not now (quiet hours): try again at `until`, without counting an attempt. */
  | { status: 'deferred'; until: Date };

/**
 * Sends one item. `reclaimed`: an earlier attempt was cut off mid-send (the process died), so it
 * may have gone out already: a sender reconciles (asks the provider) instead of sending blindly.
 */
export type ChannelSender = (item: OutboxItem, attempt?: { reclaimed: boolean }) => Promise<Delivery>;

export interface OutboxWorkerOptions {
  senders: Partial<Record<Channel, ChannelSender>>;
  logger?: Logger;
  /** How long a claim lasts before another worker may retry the item. */
  leaseMs?: number;
  batchSize?: number;
  /** Retry backoff: base × 2^attempt, capped. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  now?: () => Date;
}

export const outboxDefaults = {
  leaseMs: 60_000,
  batchSize: 20,
  backoffBaseMs: 5_000,
  backoffMaxMs: 30 * 60_000,
} as const satisfies Partial<OutboxWorkerOptions>;

/** Delivers due notifications through the channels this process has, on the shared lease queue. */
export class OutboxWorker {
  private readonly q: LeaseQueue<OutboxItem>;

  constructor(db: Db, opts: OutboxWorkerOptions) {
    const o = { ...outboxDefaults, now: () => new Date(), ...opts };
    // Only channels this process can send on: the rest wait, pending, for a process that can.
    // Read at each claim: the call channel joins once telephony is up, after this worker exists.
    const channels = () => (Object.keys(o.senders) as Channel[]).filter((c) => o.senders[c]);
    this.q = new LeaseQueue<OutboxItem>(db, {
      name: 'outbox', table: 'outbox', dueColumn: 'next_attempt_at', claimedStatus: 'sending', parallel: true,
      scope: () => {
        const c = channels();
        return c.length ? sql<boolean>`channel in (${sql.join(c)})` : undefined;
      },
      leaseMs: o.leaseMs, batchSize: o.batchSize, backoffBaseMs: o.backoffBaseMs, backoffMaxMs: o.backoffMaxMs, now: o.now, logger: opts.logger,
      handle: async (item, reclaimed) => {
        const result = await o.senders[item.channel]!(item, { reclaimed });
        switch (result.status) {
          case 'deferred':
            return { kind: 'defer', until: result.until };
          case 'sent':
            return { kind: 'finished', status: 'sent', set: { sent_at: o.now(), provider_ref: result.ref ?? null, last_error: null } };
          case 'suppressed':
            return { kind: 'finished', status: 'suppressed', set: { last_error: result.reason } };
        }
      },
    });
  }

  /** One pass: claim what is due and deliver it. Returns how many items were handled. */
  runOnce(): Promise<number> {
    return this.q.runOnce();
  }

  start(intervalMs = 1_000): void {
    this.q.start(intervalMs);
  }

  /** New work arrived: deliver now instead of at the next poll. */
  notify(): void {
    this.q.notify();
  }

  stop(): Promise<void> {
    return this.q.stop();
  }
}

/** Seconds until quiet hours end, if `at` falls inside them (quiet hours may span midnight). */
export function quietHoursEnd(quiet: { start: string; end: string } | undefined, tz: string, at: Date): Date | undefined {
  if (!quiet) return undefined;
  const local = DateTime.fromJSDate(at, { zone: tz });
  const mins = local.hour * 60 + local.minute;
  const toMin = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));
  const start = toMin(quiet.start);
  const end = toMin(quiet.end);
  const inside = start <= end ? mins >= start && mins < end : mins >= start || mins < end;
  if (!inside) return undefined;
  let endAt = local.startOf('day').plus({ minutes: end });
  if (endAt <= local) endAt = endAt.plus({ days: 1 });
  return endAt.toJSDate();
}
