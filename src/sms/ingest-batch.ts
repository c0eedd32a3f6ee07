import { sql } from 'kysely';
import type { Db } from '../store/db.js';
import type { InboundSms } from './types.js';
import { segments } from './types.js';
import { toE164 } from '../util/phone.js';

/**
 * Stores inbound texts in micro-batches: webhooks arriving within a couple of milliseconds share
 * one statement and one commit (customer, thread, message, job for each), so a burst costs one
 * round trip and one WAL flush instead of one per text. Each webhook is acknowledged only after
 * the commit that holds its text. Rows are written in key order, so two nodes storing overlapping
 * bursts lock them in the same order.
 */

export interface PendingText {
  sms: InboundSms;
  business: string;
  customer: string;
  contextId: string | null;
}

export const batchDefaults = { maxBatch: 64, maxWaitMs: 2 } as const;

export class IngestBatcher {
  private pending: { t: PendingText; resolve: (stored: boolean) => void; reject: (e: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;

  /**
   * `now`: the clock the job runner claims by. A job due at the database server's now() waits
   * whenever that server's clock is ahead of this process's (another machine, or a test's clock).
   */
  constructor(private readonly db: Db, private readonly queue: string, private readonly opts = batchDefaults, private readonly now: () => Date = () => new Date()) {}

  /** Resolves true when stored now, false when the provider's id was already stored (a retry). */
  add(t: PendingText): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.push({ t, resolve, reject });
      if (this.pending.length >= this.opts.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.opts.maxWaitMs);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length) void this.write(batch);
  }

  private async write(batch: IngestBatcher['pending']): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.writeOnce(batch);
        return;
      } catch (e) {
        // Several nodes storing the same burst (a carrier's retry reaching another node) may
        // deadlock on the same customers' rows; Postgres ends one side, which simply goes again.
        if (attempt < 4 && ['40P01', '40001'].includes((e as { code?: string }).code ?? '')) continue;
        for (const b of batch) b.reject(e);
        return;
      }
    }
  }

  private async writeOnce(batch: IngestBatcher['pending']): Promise<void> {
    const col = <T>(f: (p: PendingText) => T) => batch.map((b) => f(b.t));
    {
      const { rows } = await sql<{ provider: string; provider_message_id: string }>`
        WITH input AS (
          SELECT * FROM unnest(
            ${col((p) => p.sms.provider)}::text[], ${col((p) => p.sms.providerMessageId)}::text[],
            ${col((p) => p.business)}::text[], ${col((p) => p.customer)}::text[], ${col((p) => p.sms.text)}::text[],
            ${col((p) => segments(p.sms.text))}::int[], ${col((p) => p.contextId)}::uuid[],
            ${col((p) => (toE164(p.customer) ? p.customer : null))}::text[]
          ) AS t(provider, pid, business, customer, body, segs, context_id, phone)
        ), new_customers AS (
          INSERT INTO customers (phone, updated_at)
          SELECT DISTINCT phone, now() FROM input WHERE phone IS NOT NULL ORDER BY phone
          ON CONFLICT (phone) DO NOTHING
          RETURNING id, phone
        ), cust AS (
          SELECT id, phone FROM new_customers
          UNION ALL SELECT c.id, c.phone FROM customers c WHERE c.phone IN (SELECT phone FROM input)
        ), threads AS (
          INSERT INTO sms_threads (context_id, business_number, customer_number, customer_id, provider, last_message_at)
          SELECT DISTINCT ON (business, customer) context_id, business, customer,
                 (SELECT id FROM cust WHERE cust.phone = input.customer LIMIT 1), provider, now()
          FROM input ORDER BY business, customer
          ON CONFLICT (business_number, customer_number) DO UPDATE SET
            last_message_at = excluded.last_message_at, provider = excluded.provider,
            customer_id = coalesce(sms_threads.customer_id, excluded.customer_id),
            context_id = coalesce(excluded.context_id, sms_threads.context_id)
          RETURNING id, business_number, customer_number
        ), msgs AS (
          INSERT INTO sms_messages (thread_id, direction, provider, provider_message_id, body, status, segments, created_at, updated_at)
          SELECT th.id, 'inbound', i.provider, i.pid, i.body, 'received', i.segs, now(), now()
          FROM input i JOIN threads th ON th.business_number = i.business AND th.customer_number = i.customer
          ORDER BY i.provider, i.pid
          ON CONFLICT (provider, provider_message_id) DO NOTHING
          RETURNING id, provider, provider_message_id
        ), queued AS (
          INSERT INTO jobs (queue, payload, dedupe_key, run_at)
          SELECT ${this.queue}, jsonb_build_object('messageId', id), ${this.queue} || ':' || provider || ':' || provider_message_id, ${this.now()}::timestamptz
          FROM msgs
          ON CONFLICT (dedupe_key) DO NOTHING
          RETURNING id
        )
        SELECT provider, provider_message_id FROM msgs`.execute(this.db);
      const stored = new Set(rows.map((r) => `${r.provider}\u0000${r.provider_message_id}`));
      for (const b of batch) {
        const key = `${b.t.sms.provider}\u0000${b.t.sms.providerMessageId}`;
        // A retry inside one batch: the first copy is stored, the others are duplicates.
        b.resolve(stored.delete(key));
      }
    }
  }
}
