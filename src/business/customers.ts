import type { Db } from '../store/db.js';
import type { Customer } from '../store/schema.js';
import type { Executor } from './outbox.js';

/** Customers, recognized by phone number across calls and texts. */

export { toE164 } from '../util/phone.js';
import { toE164 } from '../util/phone.js';

export interface CustomerUpdate {
  name?: string | null;
  address?: string | null;
  email?: string | null;
  notes?: string | null;
}

export interface CustomerHistory {
  customer: Customer;
  appointments: { id: string; service: string; startsAt: Date; status: string; address: string | null }[];
  calls: { id: string; startedAt: Date; direction: string; summary: string | null; disposition: string | null }[];
  texts: { at: Date; direction: string; body: string }[];
}

/** One entry of a customer's timeline: a call, a text, a voicemail or message, a visit. */
export type TimelineItem =
  | { kind: 'call'; at: Date; id: string; direction: string; tag: string | null; summary: string | null; disposition: string | null; live: boolean }
  | { kind: 'text'; at: Date; id: string; thread: string; direction: string; body: string; status: string }
  | { kind: 'voicemail' | 'message'; at: Date; id: string; body: string; hasRecording: boolean; read: boolean }
  | { kind: 'visit'; at: Date; id: string; service: string; status: string; address: string | null; crew: string };

export class CustomerService {
  constructor(private readonly db: Db) {}

  async get(id: string): Promise<Customer | undefined> {
    return this.db.selectFrom('customers').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async findByPhone(phone: string): Promise<Customer | undefined> {
    const e164 = toE164(phone);
    if (!e164) return undefined;
    return this.db.selectFrom('customers').selectAll().where('phone', '=', e164).executeTakeFirst();
  }

  /** The customer for a caller ID or sender; created on first contact. Undefined for anonymous callers. */
  async findOrCreateByPhone(phone: string | undefined, db: Executor = this.db): Promise<{ customer: Customer; created: boolean } | undefined> {
    const e164 = toE164(phone);
    if (!e164) return undefined;
    const inserted = await db
      .insertInto('customers')
      .values({ phone: e164, updated_at: new Date() })
      .onConflict((oc) => oc.column('phone').doNothing())
      .returningAll()
      .executeTakeFirst();
    if (inserted) return { customer: inserted, created: true };
    const existing = await db.selectFrom('customers').selectAll().where('phone', '=', e164).executeTakeFirstOrThrow();
    return { customer: existing, created: false };
  }

  /** Records what the caller told us; blank values do not erase what we knew. */
  async update(id: string, u: CustomerUpdate): Promise<Customer> {
    const clean = (v: string | null | undefined) => (typeof v === 'string' ? v.trim().slice(0, 500) || undefined : v ?? undefined);
    const set: Record<string, unknown> = { updated_at: new Date() };
    for (const k of ['name', 'address', 'email', 'notes'] as const) {
      const v = clean(u[k]);
      if (v !== undefined) set[k] = v;
    }
    return this.db.updateTable('customers').set(set).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  }

  /** Has this customer ever had a visit booked (for first-visit pricing)? */
  async isNew(id: string): Promise<boolean> {
    const row = await this.db.selectFrom('appointments').select('id').where('customer_id', '=', id).limit(1).executeTakeFirst();
    return !row;
  }

  /** Past and upcoming visits, recent calls and texts: what the agent may know about *this* caller. */
  async history(id: string, limit = 10): Promise<CustomerHistory | undefined> {
    const customer = await this.get(id);
    if (!customer) return undefined;
    const [appointments, calls, texts] = await Promise.all([
      this.db.selectFrom('appointments')
        .select(['id', 'service', 'starts_at', 'status', 'address'])
        .where('customer_id', '=', id).where('parent_id', 'is', null)
        .orderBy('starts_at', 'desc').limit(limit).execute(),
      this.db.selectFrom('calls')
        .select(['id', 'started_at', 'direction', 'summary', 'disposition'])
        .where('customer_id', '=', id).orderBy('started_at', 'desc').limit(limit).execute(),
      this.db.selectFrom('sms_messages')
        .innerJoin('sms_threads', 'sms_threads.id', 'sms_messages.thread_id')
        .select(['sms_messages.created_at', 'sms_messages.direction', 'sms_messages.body'])
        .where('sms_threads.customer_id', '=', id)
        .orderBy('sms_messages.created_at', 'desc').limit(limit).execute(),
    ]);
    return {
      customer,
      appointments: appointments.map((a) => ({ id: a.id, service: a.service, startsAt: a.starts_at, status: a.status, address: a.address })),
      calls: calls.map((c) => ({ id: c.id, startedAt: c.started_at, direction: c.direction, summary: c.summary, disposition: c.disposition })),
      texts: texts.map((t) => ({ at: t.created_at, direction: t.direction, body: t.body })),
    };
  }

  /**
   * Everything with this customer, newest first: calls (theirs by record or by number), texts,
   * voicemails and messages, visits. At most `limit` of each kind.
   */
  async timeline(id: string, limit = 100): Promise<{ customer: Customer; items: TimelineItem[] } | undefined> {
    const customer = await this.get(id);
    if (!customer) return undefined;
    const phone = customer.phone ?? '\u0000';
    const [calls, texts, messages, visits] = await Promise.all([
      this.db.selectFrom('calls')
        .select(['id', 'started_at', 'direction', 'tag', 'summary', 'disposition', 'state'])
        .where((eb) => eb.or([eb('customer_id', '=', id), eb.and([eb('direction', '=', 'inbound'), eb('from_number', '=', phone)]), eb.and([eb('direction', '=', 'outbound'), eb('to_number', '=', phone)])]))
        .orderBy('started_at', 'desc').limit(limit).execute(),
      this.db.selectFrom('sms_messages').innerJoin('sms_threads', 'sms_threads.id', 'sms_messages.thread_id')
        .select(['sms_messages.id', 'sms_messages.thread_id', 'sms_messages.created_at', 'sms_messages.direction', 'sms_messages.body', 'sms_messages.status'])
        .where((eb) => eb.or([eb('sms_threads.customer_id', '=', id), eb('sms_threads.customer_number', '=', phone)]))
        .orderBy('sms_messages.created_at', 'desc').limit(limit).execute(),
      this.db.selectFrom('owner_messages')
        .select(['id', 'kind', 'created_at', 'body', 'recording_path', 'read_at'])
        .where((eb) => eb.or([eb('customer_id', '=', id), eb('caller_number', '=', phone)]))
        .orderBy('created_at', 'desc').limit(limit).execute(),
      this.db.selectFrom('appointments')
        .select(['id', 'service', 'starts_at', 'status', 'address', 'crew'])
        .where('customer_id', '=', id).where('parent_id', 'is', null)
        .orderBy('starts_at', 'desc').limit(limit).execute(),
    ]);
    const items: TimelineItem[] = [
      ...calls.map((c) => ({ kind: 'call' as const, at: c.started_at, id: c.id, direction: c.direction, tag: c.tag, summary: c.summary, disposition: c.disposition, live: c.state !== 'ended' })),
      ...texts.map((t) => ({ kind: 'text' as const, at: t.created_at, id: t.id, thread: t.thread_id, direction: t.direction, body: t.body, status: t.status })),
      ...messages.map((m) => ({ kind: m.kind, at: m.created_at, id: m.id, body: m.body, hasRecording: !!m.recording_path, read: !!m.read_at })),
      ...visits.map((v) => ({ kind: 'visit' as const, at: v.starts_at, id: v.id, service: v.service, status: v.status, address: v.address, crew: v.crew })),
    ];
    items.sort((a, b) => b.at.getTime() - a.at.getTime());
    return { customer, items };
  }

  async list(opts: { search?: string; limit?: number; offset?: number } = {}): Promise<Customer[]> {
    let q = this.db.selectFrom('customers').selectAll();
    if (opts.search) {
      const s = `%${opts.search.replace(/[\\%_]/g, '\\$&')}%`;
      q = q.where((eb) => eb.or([eb('name', 'ilike', s), eb('phone', 'like', s), eb('address', 'ilike', s)]));
    }
    return q.orderBy('updated_at', 'desc').limit(opts.limit ?? 50).offset(opts.offset ?? 0).execute();
  }
}
