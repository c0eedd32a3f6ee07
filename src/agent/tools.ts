import { z } from 'zod';
import { DateTime } from 'luxon';
import type { Business } from '../business/index.js';
import type { StoredContext } from '../business/context/service.js';
import type { Customer } from '../store/schema.js';
import { describeHours, openState } from '../business/hours.js';
import { formatMoney, quote, type Quote } from '../business/quotes.js';
import type { AppointmentView, SlotUnavailableError } from '../business/scheduling/service.js';

/**
 * The agent's tools, one set per conversation (a call or an SMS thread), scoped to its context and
 * to the customer on the line: no tool can read or change another customer's bookings, and the
 * only people a transfer can reach are the context's owner targets. Arguments are validated with
 * zod, because a language model will call these with whatever JSON it produced.
 */

export const toolSchemas = {
  business_info: z.object({}),
  quote: z.object({
    service: z.string().min(1).max(80),
    units: z.number().int().min(1).max(50).optional(),
    modifiers: z.array(z.string().max(60)).max(10).optional(),
  }),
  check_availability: z.object({
    service: z.string().min(1).max(80),
    /** ISO date or date-time; slots from then on. */
    from: z.string().max(40).optional(),
    units: z.number().int().min(1).max(50).optional(),
    modifiers: z.array(z.string().max(60)).max(10).optional(),
  }),
  book: z.object({
    service: z.string().min(1).max(80),
    start: z.string().max(40),
    units: z.number().int().min(1).max(50).optional(),
    modifiers: z.array(z.string().max(60)).max(10).optional(),
    name: z.string().max(120).optional(),
    address: z.string().max(300).optional(),
  }),
  my_appointments: z.object({}),
  reschedule: z.object({ appointment_id: z.string().uuid(), start: z.string().max(40) }),
  cancel: z.object({ appointment_id: z.string().uuid() }),
  take_message: z.object({ message: z.string().min(1).max(2000), urgent: z.boolean().optional() }),
  lookup_caller: z.object({}),
  transfer_to_owner: z.object({ reason: z.string().max(300).optional() }),
  end_call: z.object({}),
} as const;

export type ToolName = keyof typeof toolSchemas;

export class ToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolError';
  }
}

export interface SlotOffer {
  start: string;
  spoken: string;
}

export interface ToolScope {
  business: Business;
  context: StoredContext;
  customer: Customer | undefined;
  channel: 'call' | 'sms';
  callId?: string;
}

export class AgentTools {
  constructor(private readonly s: ToolScope) {}

  get context(): StoredContext {
    return this.s.context;
  }

  get customer(): Customer | undefined {
    return this.s.customer;
  }

  private get tz(): string {
    return this.s.context.document.timezone;
  }

  spokenTime(d: Date | DateTime): string {
    const dt = d instanceof Date ? DateTime.fromJSDate(d, { zone: this.tz }) : d.setZone(this.tz);
    const now = DateTime.fromJSDate(this.s.business.now(), { zone: this.tz });
    const day = dt.hasSame(now, 'day') ? 'today' : dt.hasSame(now.plus({ days: 1 }), 'day') ? 'tomorrow' : dt.toFormat('cccc, LLLL d');
    return `${day} at ${dt.toFormat(dt.minute ? 'h:mm a' : 'h a')}`;
  }

  private parseWhen(s: string): Date {
    const dt = DateTime.fromISO(s, { zone: this.tz });
    if (!dt.isValid) throw new ToolError(`"${s}" is not a date and time`);
    return dt.toJSDate();
  }

  businessInfo() {
    const d = this.s.context.document;
    const state = openState(d, DateTime.fromJSDate(this.s.business.now()));
    return {
      name: d.displayName,
      hours: describeHours(d.hours),
      openNow: state.open,
      address: d.info.address ?? null,
      serviceArea: d.info.serviceArea ?? null,
      services: d.services.map((s) => ({ name: s.name, from: formatMoney(Math.round(s.price.base * 100), d.pricing.currency), description: s.description })),
      policies: d.info.policies,
      cancellationPolicy: d.scheduling.cancellationPolicy,
    };
  }

  private async firstVisit(): Promise<boolean> {
    return this.s.customer ? this.s.business.customers.isNew(this.s.customer.id) : true;
  }

  async quote(a: z.infer<typeof toolSchemas.quote>): Promise<Quote> {
    return quote(this.s.context.document, { service: a.service, units: a.units, modifiers: a.modifiers, firstVisit: await this.firstVisit() });
  }

  async availability(a: z.infer<typeof toolSchemas.check_availability>, limit = 3): Promise<{ quote: Quote; slots: SlotOffer[] }> {
    const from = a.from ? this.parseWhen(a.from) : this.s.business.now();
    const r = await this.s.business.scheduling.available({
      context: this.s.context.document.name, service: a.service, from, to: new Date(from.getTime() + 21 * 86_400_000),
      units: a.units, modifiers: a.modifiers, limit,
    });
    return { quote: r.quote, slots: r.slots.map((s) => ({ start: s.start.toISO()!, spoken: this.spokenTime(s.start) })) };
  }

  async book(a: z.infer<typeof toolSchemas.book>, source: 'call' | 'sms' = this.s.channel): Promise<{ appointment: AppointmentView; quote: Quote; spoken: string }> {
    const c = this.s.customer;
    if (c && (a.name || a.address)) this.s.customer = await this.s.business.customers.update(c.id, { name: a.name, address: a.address });
    const r = await this.s.business.scheduling.book({
      context: this.s.context.document.name, service: a.service, start: this.parseWhen(a.start), customerId: c?.id ?? null,
      address: a.address ?? c?.address ?? null, units: a.units, modifiers: a.modifiers, source, actor: 'agent',
    });
    return { ...r, spoken: `${r.appointment.serviceName} ${this.spokenTime(r.appointment.start)}` };
  }

  /** An address heard unsurely on this booking: flagged for the owner and texted to the customer to check. */
  async addressToCheck(appointment: AppointmentView, heard: string, how: { audio?: string | undefined; garbled?: boolean | undefined } = {}): Promise<void> {
    await this.s.business.scheduling.addressToCheck(appointment.id, heard, { phone: this.s.customer?.phone ?? null, ...how });
  }

  /** A note on this booking for the owner (something the agent could not make out). */
  async noteForOwner(appointment: AppointmentView, note: string): Promise<void> {
    await this.s.business.scheduling.note(appointment.id, note);
  }

  /** Upcoming visits of the customer on the line — never anyone else's. */
  async myAppointments(): Promise<AppointmentView[]> {
    if (!this.s.customer) return [];
    return this.s.business.scheduling.list({
      context: this.s.context.document.name, customerId: this.s.customer.id, from: this.s.business.now(),
    });
  }

  private async own(id: string): Promise<AppointmentView> {
    const mine = await this.myAppointments();
    const a = mine.find((m) => m.id === id);
    if (!a) throw new ToolError('no such appointment for this customer');
    return a;
  }

  /** Whether one of this customer's visits could move to `start`, before asking them to confirm it. */
  async checkMove(appointmentId: string, start: string): Promise<SlotUnavailableError | undefined> {
    await this.own(appointmentId);
    return this.s.business.scheduling.checkMove(appointmentId, this.parseWhen(start));
  }

  async reschedule(a: z.infer<typeof toolSchemas.reschedule>): Promise<AppointmentView> {
    await this.own(a.appointment_id);
    return this.s.business.scheduling.reschedule(a.appointment_id, this.parseWhen(a.start), 'agent');
  }

  async cancel(a: z.infer<typeof toolSchemas.cancel>) {
    await this.own(a.appointment_id);
    return this.s.business.scheduling.cancel(a.appointment_id, 'agent', `cancelled by the customer over ${this.s.channel}`);
  }

  async takeMessage(a: z.infer<typeof toolSchemas.take_message>) {
    return this.s.business.messages.take(this.s.context, {
      kind: 'message', body: a.message, urgent: a.urgent ?? false, callId: this.s.callId ?? null,
      customerId: this.s.customer?.id ?? null, callerNumber: this.s.customer?.phone ?? null, callerName: this.s.customer?.name ?? null,
    });
  }

  async lookupCaller() {
    if (!this.s.customer) return { known: false as const };
    const h = await this.s.business.customers.history(this.s.customer.id, 5);
    return { known: true as const, name: h?.customer.name ?? null, address: h?.customer.address ?? null, appointments: h?.appointments ?? [], recentCalls: h?.calls.length ?? 0 };
  }

  /** The owner targets, in order: the only numbers a transfer may reach. */
  ownerTargets() {
    return this.s.context.document.owner.targets;
  }

  /** Runs a tool by name with untrusted JSON arguments (the LLM path). */
  async invoke(name: string, args: unknown): Promise<unknown> {
    if (!(name in toolSchemas)) throw new ToolError(`unknown tool ${name}`);
    const parsed = toolSchemas[name as ToolName].safeParse(args ?? {});
    if (!parsed.success) throw new ToolError(`bad arguments for ${name}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const a = parsed.data as never;
    switch (name as ToolName) {
      case 'business_info': return this.businessInfo();
      case 'quote': return this.quote(a);
      case 'check_availability': return this.availability(a);
      case 'book': return this.book(a);
      case 'my_appointments': return this.myAppointments();
      case 'reschedule': return this.reschedule(a);
      case 'cancel': return this.cancel(a);
      case 'take_message': return this.takeMessage(a);
      case 'lookup_caller': return this.lookupCaller();
      case 'transfer_to_owner': return { targets: this.ownerTargets().map((t) => t.label) };
      case 'end_call': return { ok: true };
    }
  }
}
