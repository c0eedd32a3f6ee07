import { DateTime } from 'luxon';
import { sql } from 'kysely';
import type { Db } from '../store/db.js';
import type { AlertRule, BusinessContext } from './context/schema.js';
import type { StoredContext } from './context/service.js';
import { enqueue, cancelPending, type Executor } from './outbox.js';

/**
 * Turns business events into notifications: the owner's "notify me when…" rules, and the
 * customer's confirmations, reminders and change notices. Everything goes through the outbox in
 * the caller's transaction, keyed so that the same event never notifies anyone twice.
 */

export interface AppointmentInfo {
  id: string;
  service: string;
  startsAt: Date;
  endsAt: Date;
  address: string | null;
}

export interface CustomerInfo {
  phone: string | null;
  name: string | null;
}

export type BusinessEvent =
  | { type: 'booking_created'; appointment: AppointmentInfo; customer?: CustomerInfo | undefined; source?: string }
  | { type: 'booking_changed'; appointment: AppointmentInfo; previousStart: Date; customer?: CustomerInfo | undefined }
  | { type: 'booking_cancelled'; appointment: AppointmentInfo; late: boolean; customer?: CustomerInfo | undefined }
  | { type: 'voicemail' | 'message'; id: string; body: string; callerNumber: string | null; callerName: string | null; urgent: boolean }
  | { type: 'owner_requested_after_hours'; callId: string; callerNumber: string | null; callerName: string | null; reason: string }
  | { type: 'missed_call'; callId: string; callerNumber: string | null }
  | { type: 'vip_call'; callId: string; callerNumber: string | null; label: string };

export function whenText(d: Date, tz: string): string {
  return DateTime.fromJSDate(d, { zone: tz }).toFormat("cccc, LLLL d 'at' h:mm a");
}

function who(c: { name: string | null; number: string | null }): string {
  if (c.name && c.number) return `${c.name} (${c.number})`;
  return c.name ?? c.number ?? 'an unknown caller';
}

/** The owner-facing line for an event. */
export function ownerText(ctx: BusinessContext, e: BusinessEvent): string {
  const tz = ctx.timezone;
  switch (e.type) {
    case 'booking_created':
      return `New booking: ${e.appointment.service} on ${whenText(e.appointment.startsAt, tz)} for ${who({ name: e.customer?.name ?? null, number: e.customer?.phone ?? null })}${e.appointment.address ? `, ${e.appointment.address}` : ''}.`;
    case 'booking_changed':
      return `Booking moved: ${e.appointment.service} for ${who({ name: e.customer?.name ?? null, number: e.customer?.phone ?? null })} from ${whenText(e.previousStart, tz)} to ${whenText(e.appointment.startsAt, tz)}.`;
    case 'booking_cancelled':
      return `Booking cancelled${e.late ? ' (late)' : ''}: ${e.appointment.service} on ${whenText(e.appointment.startsAt, tz)} for ${who({ name: e.customer?.name ?? null, number: e.customer?.phone ?? null })}.`;
    case 'voicemail':
    case 'message':
      return `${e.urgent ? 'URGENT ' : ''}${e.type === 'voicemail' ? 'Voicemail' : 'Message'} from ${who({ name: e.callerName, number: e.callerNumber })}: ${e.body || 'a recording (not transcribed), in the console'}`;
    case 'owner_requested_after_hours':
      return `${who({ name: e.callerName, number: e.callerNumber })} asked for you after hours: ${e.reason}`;
    case 'missed_call':
      return `Missed call from ${who({ name: null, number: e.callerNumber })}.`;
    case 'vip_call':
      return `VIP call from ${who({ name: e.label || null, number: e.callerNumber })}.`;
  }
}

function eventKey(e: BusinessEvent): string {
  switch (e.type) {
    case 'booking_created':
    case 'booking_cancelled':
      return `${e.type}:${e.appointment.id}`;
    case 'booking_changed':
      return `${e.type}:${e.appointment.id}:${e.appointment.startsAt.toISOString()}`;
    case 'voicemail':
    case 'message':
      return `${e.type}:${e.id}`;
    case 'owner_requested_after_hours':
    case 'missed_call':
    case 'vip_call':
      return `${e.type}:${e.callId}`;
  }
}

/** A rule's filters: a service for booking events, urgency for voicemails and messages. */
function ruleMatches(ctx: BusinessContext, r: AlertRule, e: BusinessEvent): boolean {
  if (r.service && 'appointment' in e) {
    const svc = ctx.services.find((s) => s.id === r.service);
    if (!svc || svc.name !== e.appointment.service) return false;
  }
  if (r.urgentOnly && (e.type === 'voicemail' || e.type === 'message') && !e.urgent) return false;
  return true;
}

export class Alerts {
  constructor(private readonly now: () => Date = () => new Date()) {}

  /** Queues every notification an event causes. Call inside the transaction that made the change. */
  async handle(tx: Executor, stored: Pick<StoredContext, 'id' | 'document'>, e: BusinessEvent): Promise<void> {
    const ctx = stored.document;
    const key = eventKey(e);
    const text = ownerText(ctx, e);
    for (const rule of ctx.alerts.filter((r) => r.on === e.type && ruleMatches(ctx, r, e))) {
      await enqueue(tx, {
        contextId: stored.id,
        channel: rule.via,
        purpose: 'owner_alert',
        recipient: rule.to,
        payload: rule.via === 'email' ? { subject: `${ctx.displayName}: ${text.split(':')[0]}`, text } : { text, from: ctx.numbers[0] ?? null },
        dedupeKey: `alert:${key}:${rule.via}:${rule.to}`,
        now: this.now(),
      });
    }
    if ('appointment' in e) await this.customerNotices(tx, stored, e);
  }

  private async customerNotices(
    tx: Executor,
    stored: Pick<StoredContext, 'id' | 'document'>,
    e: Extract<BusinessEvent, { appointment: AppointmentInfo }>,
  ): Promise<void> {
    const ctx = stored.document;
    const phone = e.customer?.phone;
    const appt = e.appointment;
    const reminderPrefix = `reminder:${appt.id}:`;
    if (e.type !== 'booking_created') await cancelPending(tx, reminderPrefix);
    if (!phone || !ctx.sms.confirmations) return;
    // Booked in a text conversation: the conversation's own reply is the confirmation.
    const confirmedInThread = e.type === 'booking_created' && e.source === 'sms';
    const from = ctx.numbers[0] ?? null;
    const when = whenText(appt.startsAt, ctx.timezone);
    const svc = appt.service.toLowerCase();
    const notice =
      e.type === 'booking_created' ? `${ctx.displayName}: your ${svc} is booked for ${when}. Reply to this text to change or cancel.`
      : e.type === 'booking_changed' ? `${ctx.displayName}: your ${svc} has moved to ${when}.`
      : `${ctx.displayName}: your ${svc} on ${when} is cancelled.`;
    const purpose = e.type === 'booking_created' ? 'booking_confirmation' : e.type === 'booking_changed' ? 'booking_changed_notice' : 'booking_cancelled_notice';
    if (!confirmedInThread) {
      await enqueue(tx, {
        contextId: stored.id, channel: 'sms', purpose, recipient: phone,
        payload: { text: notice, from }, dedupeKey: `${purpose}:${eventKey(e)}`, now: this.now(),
      });
    }
    if (e.type === 'booking_cancelled' || ctx.sms.reminderHoursBefore <= 0) return;
    const remindAt = new Date(appt.startsAt.getTime() - ctx.sms.reminderHoursBefore * 3_600_000);
    // A visit booked inside the reminder window already got its confirmation moments ago.
    if (remindAt.getTime() <= this.now().getTime()) return;
    await enqueue(tx, {
      contextId: stored.id, channel: 'sms', purpose: 'reminder', recipient: phone,
      payload: { text: `Reminder from ${ctx.displayName}: your ${svc} is ${when}. Reply to this text if you need to change it.`, from, proactive: true },
      dedupeKey: `${reminderPrefix}${appt.startsAt.toISOString()}`,
      notBefore: remindAt,
    });
  }

  /** Queues today's summaries whose time has come (idempotent: once per rule and local date). */
  async dailySummaries(db: Db, contexts: readonly Pick<StoredContext, 'id' | 'document'>[]): Promise<number> {
    let queued = 0;
    for (const stored of contexts) {
      const ctx = stored.document;
      const rules = ctx.alerts.filter((r): r is AlertRule & { at: string } => r.on === 'daily_summary' && !!r.at);
      if (!rules.length) continue;
      const local = DateTime.fromJSDate(this.now(), { zone: ctx.timezone });
      for (const rule of rules) {
        if (local.toFormat('HH:mm') < rule.at) continue;
        const text = await this.summaryText(db, stored, local);
        const isNew = await enqueue(db, {
          contextId: stored.id, channel: rule.via, purpose: 'daily_summary', recipient: rule.to,
          payload: rule.via === 'email' ? { subject: `${ctx.displayName}: today's summary`, text } : { text, from: ctx.numbers[0] ?? null },
          dedupeKey: `daily_summary:${stored.id}:${local.toISODate()}:${rule.via}:${rule.to}`,
          now: this.now(),
        });
        if (isNew) queued++;
      }
    }
    return queued;
  }

  async summaryText(db: Db, stored: Pick<StoredContext, 'id' | 'document'>, localDay: DateTime): Promise<string> {
    const start = localDay.startOf('day').toJSDate();
    const end = localDay.endOf('day').toJSDate();
    const tomorrowEnd = localDay.plus({ days: 1 }).endOf('day').toJSDate();
    const count = (n: unknown) => Number(n ?? 0);
    const [calls, booked, msgs, upcoming] = await Promise.all([
      db.selectFrom('calls').select(sql<number>`count(*)::int`.as('n'))
        .where('context_id', '=', stored.id).where('started_at', '>=', start).where('started_at', '<=', end).executeTakeFirst(),
      db.selectFrom('appointments').select(sql<number>`count(*)::int`.as('n'))
        .where('context_id', '=', stored.id).where('parent_id', 'is', null).where('created_at', '>=', start).where('created_at', '<=', end).executeTakeFirst(),
      db.selectFrom('owner_messages').select(sql<number>`count(*)::int`.as('n'))
        .where('context_id', '=', stored.id).where('created_at', '>=', start).where('created_at', '<=', end).executeTakeFirst(),
      db.selectFrom('appointments').select(sql<number>`count(*)::int`.as('n'))
        .where('context_id', '=', stored.id).where('parent_id', 'is', null).where('status', '=', 'booked')
        .where('starts_at', '>', end).where('starts_at', '<=', tomorrowEnd).executeTakeFirst(),
    ]);
    return `${stored.document.displayName}, ${localDay.toFormat('cccc LLL d')}: ${count(calls?.n)} calls, ${count(booked?.n)} new bookings, ${count(msgs?.n)} messages; ${count(upcoming?.n)} visits tomorrow.`;
  }
}
