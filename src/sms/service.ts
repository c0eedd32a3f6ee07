import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import type { Job } from '../store/jobs.js';
import type { OutboxItem } from '../store/schema.js';
import type { Business } from '../business/index.js';
import type { StoredContext } from '../business/context/service.js';
import { enqueue, quietHoursEnd, type ChannelSender, type Delivery } from '../business/outbox.js';
import { toE164 } from '../util/phone.js';
import { AgentTools } from '../agent/tools.js';
import type { GuidedState } from '../agent/guided/engine.js';
import { Brain, brainDefaults } from '../agent/brain.js';
import { OwnerAgent, type OwnerState } from '../agent/owner.js';
import type { Llm } from '../speech/types.js';
import { IngestBatcher } from './ingest-batch.js';
import { complianceKeyword } from './keywords.js';
import { addressCorrection } from '../agent/guided/address-reply.js';
import { DateTime } from 'luxon';
import { fitSegments, segments, type ProviderName, type SmsProvider, type WebhookEvent } from './types.js';

/**
 * Texting: ingest (persist before acknowledging, idempotent on the provider's message id), the
 * durable job that answers each inbound text (compliance keywords first, then the agent), and the
 * outbox channel that sends — never to an opted-out number, never in quiet hours for proactive
 * texts, within per-number and global rate limits.
 */

export const INBOUND_QUEUE = 'sms.inbound';

export const smsDefaults = {
  maxSegments: 3,
  /** The owner's replies (a week's schedule) may run longer than a customer's. */
  ownerSegments: 8,
  /** Outbound texts per second, all numbers together. */
  globalPerSecond: 10,
  /** Minimum gap between two texts to one number. */
  perNumberGapMs: 1_000,
} as const;

export interface SmsServiceOptions {
  providers: SmsProvider[];
  logger?: Logger | undefined;
  /** Base URL providers call back with delivery status. */
  publicUrl?: string | undefined;
  maxSegments?: number;
  globalPerSecond?: number;
  perNumberGapMs?: number;
  /** Called after an inbound text is stored, so its job runs now rather than at the next poll. */
  onQueued?: () => void;
  /** A local LLM for open questions (the last turns of the thread go with it); else the guided engine answers. */
  llm?: () => Llm | undefined;
  /** The LLM reads transactional texts for the guided flow (FRONTDESK_LLM_UNDERSTANDS; default true). */
  llmUnderstands?: boolean;
}

export type IngestResult = 'stored' | 'duplicate' | 'status' | 'ignored' | 'no_context';

export class SmsService {
  private readonly providers = new Map<ProviderName, SmsProvider>();
  private readonly lastTo = new Map<string, number>();
  private globalWindow: number[] = [];
  private readonly batcher: IngestBatcher;

  constructor(private readonly db: Db, private readonly business: Business, private readonly o: SmsServiceOptions) {
    for (const p of o.providers) this.providers.set(p.name, p);
    // Inbound jobs are due by the business clock, the one the app's job runner claims by.
    this.batcher = new IngestBatcher(db, INBOUND_QUEUE, undefined, () => business.now());
  }

  provider(name: string): SmsProvider | undefined {
    return this.providers.get(name as ProviderName);
  }

  get defaultProvider(): SmsProvider | undefined {
    return this.o.providers[0];
  }

  // ---- ingest ----------------------------------------------------------------------------------

  async ingest(event: WebhookEvent): Promise<IngestResult> {
    if (event.kind === 'ignored') return 'ignored';
    if (event.kind === 'status') {
      const s = event.status;
      await this.db
        .updateTable('sms_messages')
        .set({ status: s.status, error: s.error ?? null, updated_at: new Date() })
        .where('provider', '=', s.provider)
        .where('provider_message_id', '=', s.providerMessageId)
        .execute();
      return 'status';
    }
    const m = event.message;
    const business = toE164(m.to) ?? m.to;
    const customerNumber = toE164(m.from) ?? m.from;
    const context = await this.business.contexts.forNumber(business);
    const stored = await this.batcher.add({ sms: m, business, customer: customerNumber, contextId: context?.id ?? null });
    const result: IngestResult = stored ? 'stored' : 'duplicate';
    if (result === 'stored') this.o.onQueued?.();
    return result;
  }

  // ---- answering ---------------------------------------------------------------------------------

  /** The job behind each inbound text: decide the reply, then queue it exactly once. */
  async process(job: Job): Promise<void> {
    const { messageId } = job.payload as { messageId: string };
    const row = await this.db
      .selectFrom('sms_messages')
      .innerJoin('sms_threads', 'sms_threads.id', 'sms_messages.thread_id')
      .select([
        'sms_messages.id', 'sms_messages.body', 'sms_threads.id as thread_id', 'sms_threads.context_id', 'sms_threads.business_number',
        'sms_threads.customer_number', 'sms_threads.customer_id', 'sms_threads.opted_out_at', 'sms_threads.state', 'sms_threads.provider',
      ])
      .where('sms_messages.id', '=', messageId)
      .executeTakeFirst();
    if (!row) return;
    const context = row.context_id ? await this.business.contexts.getById(row.context_id) : await this.business.contexts.forNumber(row.business_number);
    const keyword = complianceKeyword(row.body);
    const name = context?.document.displayName ?? 'this number';
    let reply: string | undefined;
    let compliance = false;
    let optOut: Date | null | undefined;
    let state: GuidedState | { owner: OwnerState } | undefined;

    if (keyword?.kind === 'stop') {
      if (!row.opted_out_at) {
        optOut = new Date();
        reply = `You're unsubscribed from ${name} texts and won't get any more. Reply START to resubscribe.`;
        // CANCEL is a carrier opt-out word, but a customer with a visit booked may mean the visit.
        if (keyword.word === 'CANCEL' && context) reply += await this.visitStillBooked(context, row.customer_id);
        compliance = true;
      }
    } else if (keyword?.kind === 'start') {
      optOut = null;
      reply = `You're resubscribed to ${name} texts. Reply STOP to opt out, HELP for help.`;
      compliance = true;
    } else if (keyword?.kind === 'help') {
      const d = context?.document;
      const contact = [d?.numbers[0], d?.info.website, d?.info.email].filter(Boolean).join(', ');
      reply = `${name}${contact ? `: ${contact}` : ''}. Text us to get a quote or book a visit. Msg&data rates may apply. Reply STOP to opt out.`;
      compliance = true;
    } else if (row.opted_out_at) {
      reply = undefined; // they asked not to be texted: no reply, but the text is kept for the owner
    } else if (context && context.document.owner.numbers.includes(row.customer_number)) {
      // The owner's line: owner tools under the policy (src/agent/owner.ts), not the customer agent.
      const prior = (row.state as { owner?: OwnerState } | null)?.owner ?? {};
      const r = await new OwnerAgent(this.business, context, { number: row.customer_number, channel: 'sms' }).respond(row.body, prior).catch((err: unknown) => {
        this.o.logger?.error({ err, messageId }, 'owner command failed');
        return { reply: 'Sorry, that failed on our side; nothing was changed.', state: {} };
      });
      reply = fitSegments(r.reply, smsDefaults.ownerSegments);
      state = { owner: r.state };
      // A PIN is never kept: the thread (and the console's inbox) shows that one was sent, not which.
      if ('pinSeen' in r && r.pinSeen) await this.db.updateTable('sms_messages').set({ body: '(owner PIN, not kept)' }).where('id', '=', row.id).execute();
    } else if (context && context.document.sms.autoReply) {
      // A reply to the address check texted after a call updates the visit (src/agent/guided/address-reply.ts).
      const corrected = await addressCorrection(this.business, context, row.customer_id, row.body, !!(row.state as GuidedState | null)?.pending);
      const r = corrected ? { reply: corrected, state: (row.state as GuidedState | null) ?? {} } : await this.converse(context, row.customer_id, (row.state as GuidedState | null) ?? {}, row.body, row.id, row.thread_id);
      reply = fitSegments(r.reply, this.o.maxSegments ?? smsDefaults.maxSegments);
      state = r.state;
    }

    await this.db.transaction().execute(async (tx) => {
      const set: Record<string, unknown> = {};
      if (optOut !== undefined) set.opted_out_at = optOut;
      if (state !== undefined) set.state = JSON.stringify(state);
      if (Object.keys(set).length) await tx.updateTable('sms_threads').set(set).where('id', '=', row.thread_id).execute();
      if (reply) {
        await enqueue(tx, {
          contextId: context?.id ?? null, channel: 'sms', purpose: 'sms_reply', recipient: row.customer_number,
          payload: { text: reply, from: row.business_number, provider: row.provider, compliance },
          dedupeKey: `sms.reply:${row.id}`,
          now: this.business.now(),
        });
      }
    });
  }

  /** " Your visit … is still booked; to cancel it, call …", or '' without an upcoming visit. */
  private async visitStillBooked(context: StoredContext, customerId: string | null): Promise<string> {
    if (!customerId) return '';
    const [next] = await this.business.scheduling.list({ context: context.name, customerId, from: this.business.now(), limit: 1 });
    if (!next || next.status !== 'booked') return '';
    const when = DateTime.fromJSDate(next.start, { zone: context.document.timezone }).toFormat("cccc, LLLL d 'at' h:mm a");
    const phone = context.document.numbers[0];
    return ` Your ${next.serviceName.toLowerCase()} on ${when} is still booked; to cancel it, please call us${phone ? ` at ${phone}` : ''}.`;
  }

  private async converse(context: StoredContext, customerId: string | null, state: GuidedState, text: string, messageId: string, threadId: string) {
    const customer = customerId ? await this.business.customers.get(customerId) : undefined;
    const tools = new AgentTools({ business: this.business, context, customer, channel: 'sms' });
    const llm = this.o.llm?.();
    // The last turns of the thread, oldest first, without the text being answered.
    const earlier = llm
      ? (await this.db.selectFrom('sms_messages').select(['direction', 'body']).where('thread_id', '=', threadId).where('id', '!=', messageId)
          .orderBy('created_at', 'desc').limit(brainDefaults.historyTurns * 2).execute()).reverse()
      : [];
    const brain = new Brain(tools, {
      llm, conversation: `sms:${messageId}`, channel: 'sms', now: this.business.now, understand: this.o.llmUnderstands ?? true,
      history: earlier.map((m) => ({ role: m.direction === 'inbound' ? 'user' as const : 'assistant' as const, content: m.body })),
      logger: this.o.logger,
    });
    try {
      const { turn, state: next } = await brain.respond(text, state);
      let reply = '';
      if (typeof turn.reply === 'string') reply = turn.reply;
      else for await (const t of turn.reply) reply += t;
      return { reply: reply.trim(), state: next };
    } catch (err) {
      this.o.logger?.error({ err, messageId }, 'SMS agent failed; sending a holding reply');
      return { reply: `Sorry, something went wrong on our side. ${context.document.owner.name} will get back to you soon.`, state };
    } finally {
      await brain.close().catch(() => {});
    }
  }

  // ---- sending -----------------------------------------------------------------------------------

  /** The outbox channel for texts. */
  readonly sender: ChannelSender = async (item: OutboxItem, attempt?: { reclaimed: boolean }): Promise<Delivery> => {
    const p = item.payload as { text?: string; from?: string | null; provider?: string | null; compliance?: boolean; proactive?: boolean };
    const context = item.context_id ? await this.business.contexts.getById(item.context_id) : undefined;
    const from = p.from ?? context?.document.numbers[0];
    if (!from) return { status: 'suppressed', reason: 'no business number to send from' };
    if (!p.text) return { status: 'suppressed', reason: 'empty text' };
    const thread = await this.db
      .selectFrom('sms_threads')
      .select(['id', 'opted_out_at', 'provider'])
      .where('business_number', '=', from)
      .where('customer_number', '=', item.recipient)
      .executeTakeFirst();
    if (thread?.opted_out_at && !p.compliance) return { status: 'suppressed', reason: 'recipient opted out (STOP)' };
    const now = this.business.now();
    if (p.proactive && context) {
      const until = quietHoursEnd(context.document.sms.quietHours, context.document.timezone, now);
      if (until) return { status: 'deferred', until };
    }
    const wait = this.rateLimit(item.recipient, Date.now());
    if (wait > 0) return { status: 'deferred', until: new Date(now.getTime() + wait) };
    const provider = this.provider(p.provider ?? thread?.provider ?? '') ?? this.defaultProvider;
    if (!provider) throw new Error('no SMS provider configured');
    // A worker died during an earlier provider call for this item: the text may be out already.
    // Neither Telnyx nor Twilio-style APIs take an idempotency key for messages, so we do not
    // resend blindly: ask the provider where it can say, else give up on this one (at most once).
    if (attempt?.reclaimed && item.send_started_at) {
      const found = await provider.findSent?.({ from, to: item.recipient, text: p.text, since: item.send_started_at });
      if (found) {
        await this.recordOutbound(from, item.recipient, context?.id ?? null, provider.name, found, p.text);
        return { status: 'sent', ref: found };
      }
      if (!provider.findSent) {
        this.o.logger?.warn({ id: item.id, to: item.recipient }, 'SMS outcome unknown after a crash during the send; not resent');
        return { status: 'suppressed', reason: 'outcome unknown: the process stopped during the provider call; not resent so nobody is texted twice' };
      }
    }
    // Recorded before the call, so a crash during it is known to the next worker.
    await this.db.updateTable('outbox').set({ send_started_at: new Date() }).where('id', '=', item.id).execute();
    const statusUrl = this.o.publicUrl ? `${this.o.publicUrl.replace(/\/$/, '')}/webhooks/sms/${provider.name}` : undefined;
    const { providerMessageId } = await provider.send({ from, to: item.recipient, text: p.text, ...(statusUrl ? { statusCallbackUrl: statusUrl } : {}) });
    await this.recordOutbound(from, item.recipient, context?.id ?? null, provider.name, providerMessageId, p.text);
    return { status: 'sent', ref: providerMessageId };
  };

  private async recordOutbound(from: string, to: string, contextId: string | null, provider: ProviderName, id: string, text: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      const thread = await tx
        .insertInto('sms_threads')
        .values({ context_id: contextId, business_number: from, customer_number: to, provider, last_message_at: new Date() })
        .onConflict((oc) => oc.columns(['business_number', 'customer_number']).doUpdateSet({ last_message_at: new Date() }))
        .returning('id')
        .executeTakeFirstOrThrow();
      await tx
        .insertInto('sms_messages')
        .values({
          thread_id: thread.id, direction: 'outbound', provider, provider_message_id: id, body: text, status: 'queued',
          segments: segments(text), created_at: new Date(), updated_at: new Date(),
        })
        .onConflict((oc) => oc.columns(['provider', 'provider_message_id']).doNothing())
        .execute();
    });
  }

  /** Milliseconds to wait before texting `to` (0: go). */
  private rateLimit(to: string, nowMs: number): number {
    const gap = this.o.perNumberGapMs ?? smsDefaults.perNumberGapMs;
    const last = this.lastTo.get(to);
    if (last !== undefined && nowMs - last < gap) return gap - (nowMs - last);
    const perSecond = this.o.globalPerSecond ?? smsDefaults.globalPerSecond;
    this.globalWindow = this.globalWindow.filter((t) => nowMs - t < 1000);
    if (this.globalWindow.length >= perSecond) return 1000 - (nowMs - this.globalWindow[0]!);
    this.globalWindow.push(nowMs);
    this.lastTo.set(to, nowMs);
    if (this.lastTo.size > 10_000) this.lastTo.clear();
    return 0;
  }
}
