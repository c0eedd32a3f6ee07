import { DateTime } from 'luxon';
import ical from 'ical-generator';
import type { Db } from '../../store/db.js';
import type { Appointment } from '../../store/schema.js';
import { audit } from '../../store/audit.js';
import type { ContextService, StoredContext } from '../context/service.js';
import type { CustomerService } from '../customers.js';
import { quote, resolveService, QuoteError, type Quote } from '../quotes.js';
import { bookingWindow, findSlots, type BusyInterval, type Slot } from './slots.js';
import { whenText, type Alerts, type CustomerInfo } from '../alerts.js';
import { enqueue } from '../outbox.js';

/** Availability, booking, moving and cancelling visits; the store's constraint settles races. */

export type BookingSource = 'call' | 'sms' | 'admin' | 'api';

export interface AppointmentView {
  id: string;
  context: string;
  serviceId: string;
  serviceName: string;
  crews: string[];
  start: Date;
  end: Date;
  status: Appointment['status'];
  customerId: string | null;
  address: string | null;
  notes: string | null;
  priceCents: number | null;
}

export class SlotUnavailableError extends Error {
  constructor(
    message: string,
    public readonly reason: 'notice' | 'horizon' | 'closed' | 'taken' | 'past',
    public readonly alternatives: Slot[] = [],
  ) {
    super(message);
    this.name = 'SlotUnavailableError';
  }
}

/** How a visit's notes flag an address the agent did not hear surely, for the owner to check. */
const ADDRESS_TO_CHECK = 'Address to check:';

/** What was heard, from a flag line in a visit's notes; undefined when the notes hold no flag. */
function flaggedAddress(notes: string | null): string | undefined {
  const m = /^Address to check: heard "(.*)" on the call/m.exec(notes ?? '');
  return m ? m[1] : undefined;
}

export class AppointmentNotFoundError extends Error {
  constructor(id: string) {
    super(`no appointment ${id}`);
    this.name = 'AppointmentNotFoundError';
  }
}

export interface AvailabilityRequest {
  context: string;
  service: string;
  from?: Date;
  to?: Date;
  units?: number;
  modifiers?: string[];
  limit?: number;
}

export interface BookingRequest {
  context: string;
  service: string;
  start: Date;
  customerId?: string | null;
  address?: string | null;
  notes?: string | null;
  units?: number;
  modifiers?: string[];
  source: BookingSource;
  actor?: string;
}

const EXCLUSION_VIOLATION = '23P01';
const isOverlap = (e: unknown) => (e as { code?: string }).code === EXCLUSION_VIOLATION;
/**
 * Postgres ends one of two transactions that wait on each other (two bookings checking the same
 * exclusion index: deadlock 40P01) or cannot be serialised (40001); it is safe to look again.
 */
const isContention = (e: unknown) => ['40P01', '40001'].includes((e as { code?: string }).code ?? '');

export class SchedulingService {
  constructor(
    private readonly db: Db,
    private readonly contexts: ContextService,
    private readonly customers: CustomerService,
    private readonly alerts: Alerts,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private async busy(contextId: string, from: Date, to: Date, excludeGroup?: string): Promise<BusyInterval[]> {
    let q = this.db
      .selectFrom('appointments')
      .select(['crew', 'starts_at', 'blocked_until'])
      .where('context_id', '=', contextId)
      .where('status', '=', 'booked')
      .where('starts_at', '<', to)
      .where('blocked_until', '>', from);
    if (excludeGroup) q = q.where('id', '!=', excludeGroup).where((eb) => eb.or([eb('parent_id', 'is', null), eb('parent_id', '!=', excludeGroup)]));
    const rows = await q.execute();
    return rows.map((r) => ({ crew: r.crew, start: r.starts_at.getTime(), end: r.blocked_until.getTime() }));
  }

  private async slotsFor(stored: StoredContext, q: Quote, crewSize: number, from: DateTime, to: DateTime, limit: number, excludeGroup?: string) {
    const dayPad = 24 * 3_600_000;
    const busy = await this.busy(stored.id, new Date(from.toMillis() - dayPad), new Date(to.toMillis() + dayPad), excludeGroup);
    return findSlots({
      ctx: stored.document, durationMinutes: q.durationMinutes, crewSize, from, to,
      now: DateTime.fromJSDate(this.now()), busy, limit,
    });
  }

  private serviceOf(stored: StoredContext, name: string) {
    const svc = resolveService(stored.document, name);
    if (!svc) throw new QuoteError(`unknown service "${name}"`, stored.document.services.map((s) => s.name));
    return svc;
  }

  async available(req: AvailabilityRequest): Promise<{ quote: Quote; slots: Slot[] }> {
    const stored = await this.contexts.get(req.context);
    const svc = this.serviceOf(stored, req.service);
    const q = quote(stored.document, { service: svc.id, units: req.units, modifiers: req.modifiers });
    const from = DateTime.fromJSDate(req.from ?? this.now());
    const to = req.to ? DateTime.fromJSDate(req.to) : from.plus({ days: 14 });
    const slots = await this.slotsFor(stored, q, svc.crewSize, from, to, req.limit ?? 50);
    return { quote: q, slots };
  }

  /** Says why `start` cannot be booked, with the next free slots after it. */
  private async unavailable(stored: StoredContext, q: Quote, crewSize: number, start: DateTime, excludeGroup?: string): Promise<SlotUnavailableError> {
    const ctx = stored.document;
    const now = DateTime.fromJSDate(this.now());
    const { earliest, latest } = bookingWindow(ctx, now);
    const alternatives = await this.slotsFor(stored, q, crewSize, DateTime.max(start, earliest), DateTime.max(start, earliest).plus({ days: 14 }), 3, excludeGroup);
    if (start < now) return new SlotUnavailableError('that time is in the past', 'past', alternatives);
    if (start < earliest) {
      return new SlotUnavailableError(`bookings need at least ${ctx.scheduling.minNoticeHours} hours' notice`, 'notice', alternatives);
    }
    if (start > latest) {
      return new SlotUnavailableError(`we book at most ${ctx.scheduling.horizonDays} days ahead`, 'horizon', []);
    }
    const open = await this.slotsFor(stored, q, 0, start, start, 1, excludeGroup);
    if (open.length === 0 || open[0]!.start.toMillis() !== start.toMillis()) {
      return new SlotUnavailableError('that time is outside our working hours or off the booking grid', 'closed', alternatives);
    }
    return new SlotUnavailableError('that time is already taken', 'taken', alternatives);
  }

  async book(req: BookingRequest): Promise<{ appointment: AppointmentView; quote: Quote }> {
    const stored = await this.contexts.get(req.context);
    const svc = this.serviceOf(stored, req.service);
    const firstVisit = req.customerId ? await this.customers.isNew(req.customerId) : false;
    const q = quote(stored.document, { service: svc.id, units: req.units, modifiers: req.modifiers, firstVisit });
    const start = DateTime.fromJSDate(req.start);
    const customer = req.customerId ? await this.customers.get(req.customerId) : undefined;
    const bufferMs = stored.document.scheduling.travelBufferMinutes * 60_000;

    // A concurrent booking can take the crew between our read and our insert; the exclusion
    // constraint catches it and we look again (another crew may still be free).
    for (let attempt = 0; attempt < 4; attempt++) {
      const slot = (await this.slotsFor(stored, q, svc.crewSize, start, start, 1))[0];
      if (!slot || slot.start.toMillis() !== start.toMillis()) throw await this.unavailable(stored, q, svc.crewSize, start);
      const crews = slot.crews.slice(0, svc.crewSize);
      try {
        const view = await this.db.transaction().execute(async (tx) => {
          const base = {
            context_id: stored.id,
            customer_id: req.customerId ?? null,
            service: svc.id,
            starts_at: slot.start.toJSDate(),
            ends_at: slot.end.toJSDate(),
            blocked_until: new Date(slot.end.toMillis() + bufferMs),
            address: req.address ?? customer?.address ?? null,
            notes: req.notes ?? null,
            price_cents: q.totalCents,
            quote: JSON.stringify(q),
            source: req.source,
            updated_at: new Date(),
          };
          const primary = await tx.insertInto('appointments').values({ ...base, crew: crews[0]! }).returningAll().executeTakeFirstOrThrow();
          for (const crew of crews.slice(1)) {
            await tx.insertInto('appointments').values({ ...base, crew, parent_id: primary.id }).execute();
          }
          const view = this.toView(stored, primary, crews);
          await this.alerts.handle(tx, stored, {
            type: 'booking_created',
            appointment: this.info(view),
            customer: this.customerInfo(customer),
            source: req.source,
          });
          await audit(tx, {
            actor: req.actor ?? req.source, action: 'appointment.book', targetType: 'appointment', targetId: primary.id,
            details: { context: stored.name, service: svc.id, start: base.starts_at.toISOString(), crews },
          });
          return view;
        });
        return { appointment: view, quote: q };
      } catch (e) {
        if (!isOverlap(e) && !isContention(e)) throw e;
      }
    }
    throw await this.unavailable(stored, q, svc.crewSize, start);
  }

  private customerInfo(c: { phone: string | null; name: string | null } | undefined): CustomerInfo | undefined {
    return c ? { phone: c.phone, name: c.name } : undefined;
  }

  private info(v: AppointmentView) {
    return { id: v.id, service: v.serviceName, startsAt: v.start, endsAt: v.end, address: v.address };
  }

  private toView(stored: StoredContext, row: Appointment, crews: string[]): AppointmentView {
    const svc = stored.document.services.find((s) => s.id === row.service);
    return {
      id: row.id,
      context: stored.name,
      serviceId: row.service,
      serviceName: svc?.name ?? row.service,
      crews,
      start: row.starts_at,
      end: row.ends_at,
      status: row.status,
      customerId: row.customer_id,
      address: row.address,
      notes: row.notes,
      priceCents: row.price_cents,
    };
  }

  private async load(id: string): Promise<{ stored: StoredContext; row: Appointment; crews: string[] }> {
    const row = await this.db.selectFrom('appointments').selectAll().where('id', '=', id).where('parent_id', 'is', null).executeTakeFirst();
    if (!row) throw new AppointmentNotFoundError(id);
    const stored = await this.contexts.getById(row.context_id);
    if (!stored) throw new AppointmentNotFoundError(id);
    const kids = await this.db.selectFrom('appointments').select('crew').where('parent_id', '=', id).execute();
    return { stored, row, crews: [row.crew, ...kids.map((k) => k.crew)] };
  }

  /**
   * An address the agent could not hear surely: noted on the visit for the owner, and texted to the
   * customer to check (a reply goes to the texting agent and the owner's inbox like any text).
   */
  async addressToCheck(id: string, heard: string, opts: { phone: string | null; audio?: string | undefined; garbled?: boolean | undefined }): Promise<void> {
    const { stored, row } = await this.load(id);
    const ctx = stored.document;
    const note = `${ADDRESS_TO_CHECK} heard "${heard}" on the call${opts.audio ? ` (audio: ${opts.audio})` : ''}; texted to the customer.`;
    await this.db.transaction().execute(async (tx) => {
      await tx.updateTable('appointments').set({ notes: row.notes ? `${row.notes}\n${note}` : note }).where('id', '=', id).execute();
      if (!opts.phone) return;
      await enqueue(tx, {
        contextId: stored.id, channel: 'sms', purpose: 'address_check', recipient: opts.phone,
        payload: {
          text: opts.garbled
            ? `${ctx.displayName}: for your visit on ${whenText(row.starts_at, ctx.timezone)} we couldn't make out your address on the call. Please reply with your full street address.`
            : `${ctx.displayName}: for your visit on ${whenText(row.starts_at, ctx.timezone)} we have the address as "${heard}". If that's not right, please reply with your full street address.`,
          from: ctx.numbers[0] ?? null,
        },
        dedupeKey: `address_check:${id}`, now: this.now(),
      });
    });
  }

  /**
   * The customer's upcoming visits whose address is still flagged to check, soonest first;
   * `readBack`: the check text quoted the address as heard (it was not "couldn't make out").
   */
  async addressesToCheck(customerId: string, context?: string): Promise<(AppointmentView & { readBack: boolean })[]> {
    const visits = (await this.list({ customerId, from: this.now(), limit: 20, ...(context ? { context } : {}) })).filter((v) => v.status === 'booked' && flaggedAddress(v.notes) !== undefined);
    if (!visits.length) return [];
    const texts = await this.db.selectFrom('outbox').select(['dedupe_key', 'payload']).where('dedupe_key', 'in', visits.map((v) => `address_check:${v.id}`)).execute();
    const quoted = new Set(texts.filter((t) => /we have the address as "/.test((t.payload as { text?: string } | null)?.text ?? '')).map((t) => t.dedupe_key));
    return visits.map((v) => ({ ...v, readBack: quoted.has(`address_check:${v.id}`) }));
  }

  /**
   * The customer answered the address check by text: with `address`, the visit takes it; without,
   * they confirmed the one read to them. Either way the owner's flag becomes a note of who settled it.
   */
  async settleAddress(id: string, address: string | undefined, actor: string): Promise<AppointmentView> {
    const { stored, row, crews } = await this.load(id);
    const notes = (row.notes ?? '').split('\n').map((line) => {
      const heard = flaggedAddress(line);
      if (heard === undefined) return line;
      return address === undefined ? `Address confirmed by the customer by text (heard "${heard}" on the call).` : `Address corrected by the customer by text (heard "${heard}" on the call).`;
    }).join('\n');
    const updated = await this.db.transaction().execute(async (tx) => {
      const r = await tx.updateTable('appointments').set({ ...(address !== undefined ? { address } : {}), notes, updated_at: this.now() }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
      if (address !== undefined) {
        await tx.updateTable('appointments').set({ address }).where('parent_id', '=', id).execute();
        await audit(tx, { actor, action: 'appointment.address', targetType: 'appointment', targetId: id, details: { from: row.address, to: address } });
      }
      return r;
    });
    return this.toView(stored, updated, crews);
  }

  /** Adds a line to a visit's notes (what the owner should know or check). */
  async note(id: string, note: string): Promise<void> {
    const { row } = await this.load(id);
    await this.db.updateTable('appointments').set({ notes: row.notes ? `${row.notes}\n${note}` : note }).where('id', '=', id).execute();
  }

  async get(id: string): Promise<AppointmentView> {
    const { stored, row, crews } = await this.load(id);
    return this.toView(stored, row, crews);
  }

  /** Whether the visit could move to `newStart` (nothing is changed): the reason and nearby free times when not. */
  async checkMove(id: string, newStart: Date): Promise<SlotUnavailableError | undefined> {
    const { stored, row, crews } = await this.load(id);
    if (row.status !== 'booked') return new SlotUnavailableError(`that appointment is ${row.status}`, 'taken');
    const q = (row.quote as Quote | null) ?? quote(stored.document, { service: row.service });
    const start = DateTime.fromJSDate(newStart);
    const slot = (await this.slotsFor(stored, q, crews.length, start, start, 1, id))[0];
    return slot && slot.start.toMillis() === start.toMillis() ? undefined : await this.unavailable(stored, q, crews.length, start, id);
  }

  async reschedule(id: string, newStart: Date, actor: string): Promise<AppointmentView> {
    for (let attempt = 0; attempt < 4; attempt++) {
      const { stored, row, crews: oldCrews } = await this.load(id);
      if (row.status !== 'booked') throw new SlotUnavailableError(`that appointment is ${row.status}`, 'taken');
      const q = (row.quote as Quote | null) ?? quote(stored.document, { service: row.service });
      const crewSize = oldCrews.length;
      const start = DateTime.fromJSDate(newStart);
      const slot = (await this.slotsFor(stored, q, crewSize, start, start, 1, id))[0];
      if (!slot || slot.start.toMillis() !== start.toMillis()) throw await this.unavailable(stored, q, crewSize, start, id);
      // Keep the same crews where they are free: customers like the crew they know.
      const crews = [...oldCrews.filter((c) => slot.crews.includes(c)), ...slot.crews.filter((c) => !oldCrews.includes(c))].slice(0, crewSize);
      const bufferMs = stored.document.scheduling.travelBufferMinutes * 60_000;
      const times = {
        starts_at: slot.start.toJSDate(),
        ends_at: slot.end.toJSDate(),
        blocked_until: new Date(slot.end.toMillis() + bufferMs),
        updated_at: new Date(),
      };
      // Read outside the transaction: PGlite has a single connection, which the transaction holds.
      const customer = row.customer_id ? await this.customers.get(row.customer_id) : undefined;
      try {
        return await this.db.transaction().execute(async (tx) => {
          await tx.deleteFrom('appointments').where('parent_id', '=', id).execute();
          const updated = await tx.updateTable('appointments').set({ ...times, crew: crews[0]! }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
          for (const crew of crews.slice(1)) {
            const { id: _id, created_at: _c, ...rest } = updated;
            await tx.insertInto('appointments').values({ ...rest, quote: rest.quote === null ? null : JSON.stringify(rest.quote), crew, parent_id: id }).execute();
          }
          const view = this.toView(stored, updated, crews);
          await this.alerts.handle(tx, stored, { type: 'booking_changed', appointment: this.info(view), previousStart: row.starts_at, customer: this.customerInfo(customer) });
          await audit(tx, { actor, action: 'appointment.reschedule', targetType: 'appointment', targetId: id, details: { from: row.starts_at.toISOString(), to: times.starts_at.toISOString() } });
          return view;
        });
      } catch (e) {
        if (!isOverlap(e) && !isContention(e)) throw e;
      }
    }
    throw new SlotUnavailableError('that time is already taken', 'taken');
  }

  /** Cancels; `late` says the cancellation policy's notice was not met (the owner decides any fee). */
  async cancel(id: string, actor: string, reason?: string): Promise<{ appointment: AppointmentView; late: boolean; policy: string }> {
    const { stored, row, crews } = await this.load(id);
    const policy = stored.document.scheduling.cancellationPolicy;
    if (row.status === 'cancelled') return { appointment: this.toView(stored, row, crews), late: false, policy };
    const late = row.starts_at.getTime() - this.now().getTime() < stored.document.scheduling.cancelNoticeHours * 3_600_000;
    const customer = row.customer_id ? await this.customers.get(row.customer_id) : undefined;
    const view = await this.db.transaction().execute(async (tx) => {
      const at = this.now();
      await tx.updateTable('appointments').set({ status: 'cancelled', cancelled_at: at, updated_at: at })
        .where((eb) => eb.or([eb('id', '=', id), eb('parent_id', '=', id)])).execute();
      const v = { ...this.toView(stored, row, crews), status: 'cancelled' as const };
      await this.alerts.handle(tx, stored, { type: 'booking_cancelled', appointment: this.info(v), late, customer: this.customerInfo(customer) });
      await audit(tx, { actor, action: 'appointment.cancel', targetType: 'appointment', targetId: id, details: { late, reason: reason ?? null } });
      return v;
    });
    return { appointment: view, late, policy };
  }

  async list(opts: { context?: string; from?: Date; to?: Date; customerId?: string; includeCancelled?: boolean; limit?: number }): Promise<AppointmentView[]> {
    let q = this.db
      .selectFrom('appointments')
      .innerJoin('contexts', 'contexts.id', 'appointments.context_id')
      .selectAll('appointments')
      .select('contexts.name as context_name')
      .where('appointments.parent_id', 'is', null);
    if (opts.context) q = q.where('contexts.name', '=', opts.context);
    if (opts.from) q = q.where('appointments.starts_at', '>=', opts.from);
    if (opts.to) q = q.where('appointments.starts_at', '<', opts.to);
    if (opts.customerId) q = q.where('appointments.customer_id', '=', opts.customerId);
    if (!opts.includeCancelled) q = q.where('appointments.status', '!=', 'cancelled');
    const rows = await q.orderBy('appointments.starts_at').limit(opts.limit ?? 500).execute();
    const kids = rows.length
      ? await this.db.selectFrom('appointments').select(['parent_id', 'crew']).where('parent_id', 'in', rows.map((r) => r.id)).execute()
      : [];
    const cache = new Map<string, StoredContext>();
    const out: AppointmentView[] = [];
    for (const r of rows) {
      let stored = cache.get(r.context_id);
      if (!stored) {
        stored = (await this.contexts.getById(r.context_id))!;
        cache.set(r.context_id, stored);
      }
      out.push(this.toView(stored, r, [r.crew, ...kids.filter((k) => k.parent_id === r.id).map((k) => k.crew)]));
    }
    return out;
  }

  /** The context's bookings as an iCalendar feed, for the owner's calendar app. */
  async icsFeed(token: string): Promise<string | undefined> {
    const ctxRow = await this.db.selectFrom('contexts').select(['id', 'name']).where('feed_token', '=', token).executeTakeFirst();
    if (!ctxRow) return undefined;
    const stored = (await this.contexts.getById(ctxRow.id))!;
    const since = new Date(this.now().getTime() - 30 * 24 * 3_600_000);
    const appts = await this.list({ context: stored.name, from: since, includeCancelled: true, limit: 5000 });
    const customerIds = [...new Set(appts.map((a) => a.customerId).filter((x): x is string => !!x))];
    const customers = customerIds.length
      ? await this.db.selectFrom('customers').select(['id', 'name', 'phone']).where('id', 'in', customerIds).execute()
      : [];
    const cal = ical({ name: stored.document.displayName, timezone: stored.document.timezone, prodId: { company: 'frontdesk', product: 'frontdesk' } });
    for (const a of appts) {
      const c = customers.find((x) => x.id === a.customerId);
      cal.createEvent({
        id: `${a.id}@frontdesk`,
        start: a.start,
        end: a.end,
        summary: `${a.serviceName}${c?.name ? ` — ${c.name}` : ''}`,
        description: [c?.phone && `Phone: ${c.phone}`, `Crew: ${a.crews.join(', ')}`, a.notes].filter(Boolean).join('\n'),
        ...(a.address ? { location: a.address } : {}),
        status: a.status === 'cancelled' ? ('CANCELLED' as never) : ('CONFIRMED' as never),
      });
    }
    return cal.toString();
  }

  async feedToken(context: string): Promise<string> {
    const row = await this.db.selectFrom('contexts').select('feed_token').where('name', '=', context).executeTakeFirstOrThrow();
    return row.feed_token;
  }
}
