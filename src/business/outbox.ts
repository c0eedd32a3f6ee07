import { sql, type Kysely, type Transaction } from 'kysely';
import { DateTime } from 'luxon';
import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import type { Database, OutboxItem } from '../store/schema.js';

/**
 * The notification outbox: SMS, calls and e-mail to customers and the owner. Items are written in
 * the same transaction as the change that causes them (a booking, a message), so none is lost;
 * the unique dedupe key makes enqueueing idempotent; workers claim rows with SKIP LOCKED so two
 * workers never deliver one item, and a crashed worker's claim expires and is retried.
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

export type ChannelSender = (item: OutboxItem) => Promise<Delivery>;

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

export class OutboxWorker {
  private readonly o: Required<Omit<OutboxWorkerOptions, 'logger'>> & { logger: Logger | undefined };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(private readonly db: Db, opts: OutboxWorkerOptions) {
    this.o = { ...outboxDefaults, now: () => new Date(), ...opts, logger: opts.logger };
  }

  /** Claims due items: pending or with an expired claim, oldest first. */
  private async claim(): Promise<OutboxItem[]> {
    // Only channels this process can send on: the rest wait, pending, for a process that can.
    const channels = (Object.keys(this.o.senders) as Channel[]).filter((c) => this.o.senders[c]);
    if (channels.length === 0) return [];
    const now = this.o.now();
    const leaseUntil = new Date(now.getTime() + this.o.leaseMs);
    return this.db.transaction().execute(async (tx) => {
      const due = await tx
        .selectFrom('outbox')
        .select('id')
        .where('channel', 'in', channels)
        .where((eb) =>
          eb.or([
            eb.and([eb('status', '=', 'pending'), eb('next_attempt_at', '<=', now)]),
            eb.and([eb('status', '=', 'sending'), eb('locked_until', '<', now)]),
          ]),
        )
        .orderBy('next_attempt_at')
        .limit(this.o.batchSize)
        .forUpdate()
        .skipLocked()
        .execute();
      if (due.length === 0) return [];
      return tx
        .updateTable('outbox')
        .set({ status: 'sending', locked_until: leaseUntil, attempts: sql`attempts + 1` })
        .where('id', 'in', due.map((d) => d.id))
        .returningAll()
        .execute();
    });
  }

  private async deliver(item: OutboxItem): Promise<void> {
    const send = this.o.senders[item.channel];
    let result: Delivery;
    try {
      result = await send!(item);
    } catch (e) {
      const err = (e as Error).message ?? String(e);
      const final = item.attempts >= item.max_attempts;
      const backoff = Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** Math.max(0, item.attempts - 1));
      await this.db
        .updateTable('outbox')
        .set({
          status: final ? 'failed' : 'pending',
          last_error: err.slice(0, 1000),
          locked_until: null,
          next_attempt_at: new Date(this.o.now().getTime() + backoff),
        })
        .where('id', '=', item.id)
        .execute();
      this.o.logger?.warn({ id: item.id, channel: item.channel, attempt: item.attempts, final, err }, 'notification failed');
      return;
    }
    if (result.status === 'deferred') {
      await this.db
        .updateTable('outbox')
        .set({ status: 'pending', locked_until: null, next_attempt_at: result.until, attempts: sql`attempts - 1` })
        .where('id', '=', item.id)
        .execute();
      return;
    }
    await this.db
      .updateTable('outbox')
      .set(
        result.status === 'sent'
          ? { status: 'sent', sent_at: this.o.now(), provider_ref: result.ref ?? null, locked_until: null, last_error: null }
          : { status: 'suppressed', last_error: result.reason, locked_until: null },
      )
      .where('id', '=', item.id)
      .execute();
  }

  /** One pass: claim what is due and deliver it. Returns how many items were handled. */
  async runOnce(): Promise<number> {
    let handled = 0;
    for (;;) {
      const items = await this.claim();
      if (items.length === 0) return handled;
      await Promise.all(items.map((i) => this.deliver(i)));
      handled += items.length;
    }
  }

  start(intervalMs = 1_000): void {
    const tick = () => {
      this.running = this.runOnce()
        .catch((err: unknown) => this.o.logger?.error({ err }, 'outbox pass failed'))
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(tick, intervalMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
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
