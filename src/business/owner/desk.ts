import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import type { Db } from '../../store/db.js';
import type { Customer } from '../../store/schema.js';
import { audit } from '../../store/audit.js';
import type { StoredContext, ContextService } from '../context/service.js';
import type { BusinessContext } from '../context/schema.js';
import type { SchedulingService, AppointmentView } from '../scheduling/service.js';
import type { CustomerService } from '../customers.js';
import { intervalsOn } from '../hours.js';
import { enqueue } from '../outbox.js';
import type { OwnerCommand } from './parse.js';
import { POLICY, type Tier } from './policy.js';

/**
 * What owner commands do, channel-free: a command is first planned (read-only commands answer at
 * once; changes resolve what they touch and come back as a read-back and a serialisable action),
 * then applied, once confirmed, as the owner (every change lands in the audit log, with what it
 * changed). The agents in src/agent/owner.ts hold the conversation and the policy.
 */

export type OwnerAction =
  | { kind: 'text_customer'; customerId: string; phone: string; name: string; text: string }
  | { kind: 'move'; appointmentId: string; to: string }
  | { kind: 'cancel'; appointmentId: string }
  | { kind: 'close_day'; date: string; name: string }
  | { kind: 'close_early'; date: string; close: string }
  | { kind: 'forward'; until: string }
  | { kind: 'block'; number: string }
  | { kind: 'alert_rule'; on: BusinessContext['alerts'][number]['on']; via: 'sms' | 'call'; to: string; service?: string; urgentOnly?: boolean; remove: boolean }
  | { kind: 'briefing'; at: string; day: 'today' | 'tomorrow'; to: string };

export type Plan =
  | { type: 'answer'; text: string }
  | { type: 'refuse'; text: string }
  | { type: 'change'; tier: Tier; readBack: string; action: OwnerAction };

export interface OwnerWho {
  /** The owner's number this came from. */
  number: string;
  channel: 'sms' | 'call';
}

export class OwnerCommandError extends Error {}

export class OwnerDesk {
  constructor(
    private readonly db: Db,
    private readonly contexts: ContextService,
    private readonly scheduling: SchedulingService,
    private readonly customers: CustomerService,
    readonly now: () => Date,
  ) {}

  private fmt(d: Date | string, ctx: BusinessContext, f = "cccc, LLL d 'at' h:mm a"): string {
    return (typeof d === 'string' ? DateTime.fromISO(d) : DateTime.fromJSDate(d)).setZone(ctx.timezone).toFormat(f).replace(':00 ', ' ');
  }

  /** The schedule from..to, as one line per visit. */
  async agendaText(stored: StoredContext, from: Date, to: Date, label: string): Promise<string> {
    const ctx = stored.document;
    const visits = await this.scheduling.list({ context: ctx.name, from, to });
    if (!visits.length) return `Nothing booked ${label}.`;
    const names = await this.names(visits);
    const lines = visits.map((v) => {
      const who = names.get(v.customerId ?? '') ?? 'a customer';
      return `${this.fmt(v.start, ctx, label === 'today' || label === 'tomorrow' ? 'h:mm a' : "cccc h:mm a")} ${v.serviceName.toLowerCase()} for ${who}${v.address ? ` at ${v.address}` : ''}`;
    });
    return `${visits.length} booked ${label}: ${lines.join('; ')}.`;
  }

  private async names(visits: AppointmentView[]): Promise<Map<string, string>> {
    const ids = [...new Set(visits.map((v) => v.customerId).filter((x): x is string => !!x))];
    if (!ids.length) return new Map();
    const rows = await this.db.selectFrom('customers').select(['id', 'name', 'phone']).where('id', 'in', ids).execute();
    return new Map(rows.map((r) => [r.id, r.name ?? r.phone ?? 'a customer']));
  }

  /** The owner's briefing for `day` relative to now (the outbox's briefing call reads it out). */
  async briefingText(stored: StoredContext, day: 'today' | 'tomorrow'): Promise<string> {
    const d = DateTime.fromJSDate(this.now(), { zone: stored.document.timezone }).plus({ days: day === 'tomorrow' ? 1 : 0 });
    return `Here is ${day === 'tomorrow' ? "tomorrow's" : "today's"} schedule, ${d.toFormat('cccc, LLLL d')}. ${await this.agendaText(stored, d.startOf('day').toJSDate(), d.endOf('day').toJSDate(), day)}`;
  }

  private async messagesText(stored: StoredContext, voicemailOnly: boolean): Promise<string> {
    let q = this.db.selectFrom('owner_messages').selectAll().where('context_id', '=', stored.id).where('read_at', 'is', null);
    if (voicemailOnly) q = q.where('kind', '=', 'voicemail');
    const rows = await q.orderBy('created_at').limit(10).execute();
    const what = voicemailOnly ? 'voicemail' : 'message';
    if (!rows.length) return `No new ${what}s.`;
    // Read out is read: the console shows them as read from now on.
    await this.db.updateTable('owner_messages').set({ read_at: this.now() }).where('id', 'in', rows.map((r) => r.id)).execute();
    const items = rows.map((r, i) => {
      const from = r.caller_name ?? r.caller_number ?? 'an unknown caller';
      return `${i + 1}. ${r.urgent ? 'Urgent ' : ''}${r.kind} from ${from}: ${r.body || 'a recording, not transcribed'}`;
    });
    return `${rows.length} new ${what}${rows.length === 1 ? '' : 's'}. ${items.join(' ')}`;
  }

  /** A customer by what the owner called them: "the Garcias", "Mrs. Lee", "Ana Garcia". */
  async findCustomer(who: string): Promise<Customer[]> {
    const words = who.toLowerCase().replace(/[^a-z' -]/g, ' ').replace(/\b(the|mrs|mr|ms|miss|missus|misses|mister|dr|my|customer|family)\b/g, ' ').replace(/'s\b/g, '').trim().split(/\s+/).filter(Boolean);
    if (!words.length) return [];
    const tries = [words.join(' '), words.map((w) => w.replace(/(es|s)$/, '')).join(' '), words.at(-1)!, words.at(-1)!.replace(/(es|s)$/, '')];
    for (const t of [...new Set(tries)]) {
      if (t.length < 2) continue;
      const found = (await this.customers.list({ search: t, limit: 10 })).filter((c) => c.name && new RegExp(`\\b${t.replace(/[^a-z' ]/g, '')}`, 'i').test(c.name));
      if (found.length) return found;
    }
    return [];
  }

  private async oneCustomer(who: string): Promise<Customer | string> {
    const found = await this.findCustomer(who);
    if (!found.length) return `I couldn't find a customer called ${who}.`;
    if (found.length > 1) return `More than one customer matches ${who}: ${found.slice(0, 4).map((c) => c.name).join(', ')}. Say the full name.`;
    return found[0]!;
  }

  /** Resolves a command against the store. Nothing changes here. */
  async plan(stored: StoredContext, cmd: OwnerCommand, who: OwnerWho): Promise<Plan> {
    const ctx = stored.document;
    const now = DateTime.fromJSDate(this.now(), { zone: ctx.timezone });
    const change = (readBack: string, action: OwnerAction): Plan => ({ type: 'change', tier: POLICY[cmd.kind].tier, readBack, action });
    switch (cmd.kind) {
      case 'agenda':
        return { type: 'answer', text: await this.agendaText(stored, new Date(cmd.from), new Date(cmd.to), cmd.label) };
      case 'messages':
        return { type: 'answer', text: await this.messagesText(stored, cmd.voicemailOnly) };
      case 'text_customer': {
        const c = await this.oneCustomer(cmd.who);
        if (typeof c === 'string') return { type: 'refuse', text: c };
        if (!c.phone) return { type: 'refuse', text: `${c.name} has no phone number on file.` };
        const text = `${ctx.displayName}: ${cmd.text}`;
        return change(`Text ${c.name} at ${c.phone}: "${text}"`, { kind: 'text_customer', customerId: c.id, phone: c.phone, name: c.name ?? c.phone, text });
      }
      case 'move':
      case 'cancel': {
        const visit = await this.findVisit(stored, cmd, now);
        if (typeof visit === 'string') return { type: 'refuse', text: visit };
        const names = await this.names([visit]);
        const what = `${names.get(visit.customerId ?? '') ?? 'the customer'}'s ${visit.serviceName.toLowerCase()} on ${this.fmt(visit.start, ctx)}`;
        if (cmd.kind === 'cancel') return change(`Cancel ${what}; they get a text saying so.`, { kind: 'cancel', appointmentId: visit.id });
        return change(`Move ${what} to ${this.fmt(cmd.to, ctx)}; they get a text saying so.`, { kind: 'move', appointmentId: visit.id, to: cmd.to });
      }
      case 'close_day':
        if (cmd.date < now.toISODate()!) return { type: 'refuse', text: 'That day has passed.' };
        return change(`Mark ${DateTime.fromISO(cmd.date).toFormat('cccc, LLLL d')} closed, "${cmd.name}"; callers hear you're closed.`, { kind: 'close_day', date: cmd.date, name: cmd.name });
      case 'close_early': {
        const day = DateTime.fromISO(cmd.date, { zone: ctx.timezone });
        const { intervals } = intervalsOn(ctx, ctx.hours, day);
        if (!intervals.length) return { type: 'refuse', text: `You're not open ${day.toFormat('cccc')} anyway.` };
        const closeAt = day.set({ hour: Number(cmd.close.slice(0, 2)), minute: Number(cmd.close.slice(3)) });
        if (closeAt <= intervals[0]!.start!) return { type: 'refuse', text: `You open after ${this.fmt(closeAt.toJSDate(), ctx, 'h:mm a')} that day; say "we're closed" instead.` };
        return change(`Close at ${this.fmt(closeAt.toJSDate(), ctx, 'h:mm a')} on ${day.toFormat('cccc, LLLL d')} instead of ${this.fmt(intervals.at(-1)!.end!.toJSDate(), ctx, 'h:mm a')}.`, { kind: 'close_early', date: cmd.date, close: cmd.close });
      }
      case 'forward': {
        if (!ctx.owner.targets.length) return { type: 'refuse', text: 'There are no owner numbers to forward to; add them in the console.' };
        if (DateTime.fromISO(cmd.until) <= now) return { type: 'refuse', text: 'That time has passed.' };
        return change(`Forward calls to ${ctx.owner.targets.map((t) => t.label).join(', then ')} until ${this.fmt(cmd.until, ctx)}.`, { kind: 'forward', until: cmd.until });
      }
      case 'block': {
        const number = cmd.number ?? await this.lastCaller(stored);
        if (!number) return { type: 'refuse', text: 'There is no recent caller to block.' };
        if (ctx.owner.numbers.includes(number)) return { type: 'refuse', text: `${number} is one of your own numbers.` };
        return change(`Block ${number}: their calls get declined.`, { kind: 'block', number });
      }
      case 'alert_rule': {
        const to = who.number;
        const svc = cmd.service ? ctx.services.find((s) => s.id === cmd.service)?.name.toLowerCase() : undefined;
        const event: Record<string, string> = {
          booking_created: `someone books${svc ? ` a ${svc}` : ''}`, booking_changed: 'a booking is moved', booking_cancelled: 'a booking is cancelled',
          voicemail: `${cmd.urgentOnly ? 'an urgent' : 'a'} voicemail comes in`, message: `${cmd.urgentOnly ? 'an urgent' : 'a'} message comes in`,
          vip_call: 'a VIP calls', missed_call: 'a call is missed', owner_requested_after_hours: 'someone asks for you after hours', daily_summary: 'the daily summary is due',
        };
        const how = cmd.via === 'call' ? `Call ${to}` : `Text ${to}`;
        const readBack = cmd.remove ? `Stop the alert: ${how.toLowerCase()} when ${event[cmd.on]}.` : `${how} when ${event[cmd.on]}.`;
        return change(readBack, { kind: 'alert_rule', on: cmd.on, via: cmd.via, to, remove: cmd.remove, ...(cmd.service ? { service: cmd.service } : {}), ...(cmd.urgentOnly ? { urgentOnly: true } : {}) });
      }
      case 'briefing':
        return change(`Call you at ${who.number} ${this.fmt(cmd.at, ctx)} with ${cmd.day === 'tomorrow' ? "the next day's" : "that day's"} schedule.`, { kind: 'briefing', at: cmd.at, day: cmd.day, to: who.number });
    }
  }

  private async findVisit(stored: StoredContext, cmd: Extract<OwnerCommand, { kind: 'move' | 'cancel' }>, now: DateTime): Promise<AppointmentView | string> {
    const ctx = stored.document;
    let customerId: string | undefined;
    if (cmd.who) {
      const c = await this.oneCustomer(cmd.who);
      if (typeof c === 'string') return c;
      customerId = c.id;
    }
    const from = cmd.fromDay ? DateTime.fromISO(cmd.fromDay, { zone: ctx.timezone }) : now;
    const to = cmd.fromDay ? from.endOf('day') : now.plus({ days: 14 });
    let visits = await this.scheduling.list({ context: ctx.name, from: from.toJSDate(), to: to.toJSDate(), ...(customerId ? { customerId } : {}) });
    if (cmd.kind === 'cancel' && cmd.hour !== undefined) {
      visits = visits.filter((v) => {
        const l = DateTime.fromJSDate(v.start, { zone: ctx.timezone });
        return l.hour === cmd.hour && l.minute === (cmd.minute ?? 0);
      });
      // "my 3 pm" is the next one at 3.
      visits = visits.slice(0, 1);
    }
    const day = cmd.fromDay ? ` on ${from.toFormat('cccc')}` : '';
    if (!visits.length) return `I found no booking${cmd.who ? ` for ${cmd.who}` : ''}${day}${cmd.kind === 'cancel' && cmd.hour !== undefined ? ` at ${DateTime.fromObject({ hour: cmd.hour, minute: cmd.minute ?? 0 }).toFormat('h:mm a')}` : ''}.`;
    if (visits.length > 1) return `${cmd.who ?? 'That'} has ${visits.length} bookings${day}; say which day.`;
    return visits[0]!;
  }

  private async lastCaller(stored: StoredContext): Promise<string | undefined> {
    const own = stored.document.owner.numbers;
    let q = this.db.selectFrom('calls').select('from_number').where('context_id', '=', stored.id).where('direction', '=', 'inbound')
      .where('from_number', 'like', '+%');
    if (own.length) q = q.where('from_number', 'not in', own);
    const row = await q.orderBy('started_at', 'desc').limit(1).executeTakeFirst();
    return row?.from_number;
  }

  /** Does a confirmed change, as the owner; returns what the owner hears and what changed (for the audit). */
  async apply(stored: StoredContext, a: OwnerAction, who: OwnerWho): Promise<{ text: string; changed: unknown }> {
    const actor = `owner:${who.number}`;
    const ctx = stored.document;
    const saveContext = async (next: BusinessContext, message: string) => {
      // Saved over the latest version: the console may have changed something else meanwhile.
      await this.contexts.save(next, actor, `${message} (owner by ${who.channel})`);
    };
    const latest = async () => (await this.contexts.get(ctx.name)).document;
    switch (a.kind) {
      case 'text_customer': {
        const id = randomUUID();
        await enqueue(this.db, {
          contextId: stored.id, channel: 'sms', purpose: 'owner_text', recipient: a.phone,
          payload: { text: a.text, from: ctx.numbers[0] ?? null }, dedupeKey: `owner_text:${id}`, now: this.now(),
        });
        return { text: `Texted ${a.name}.`, changed: { textTo: a.phone, text: a.text } };
      }
      case 'move': {
        const before = await this.scheduling.get(a.appointmentId);
        const v = await this.scheduling.reschedule(a.appointmentId, new Date(a.to), actor);
        return { text: `Moved to ${this.fmt(v.start, ctx)}.`, changed: { appointment: v.id, from: before.start.toISOString(), to: v.start.toISOString() } };
      }
      case 'cancel': {
        const r = await this.scheduling.cancel(a.appointmentId, actor, `cancelled by the owner over ${who.channel}`);
        return { text: `Cancelled the ${r.appointment.serviceName.toLowerCase()} on ${this.fmt(r.appointment.start, ctx)}.`, changed: { appointment: a.appointmentId, status: 'cancelled' } };
      }
      case 'close_day':
      case 'close_early': {
        const doc = await latest();
        let hours: { open: string; close: string }[] = [];
        if (a.kind === 'close_early') {
          const key = (['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const)[DateTime.fromISO(a.date).weekday - 1]!;
          const base = doc.holidays.find((h) => h.date === a.date)?.hours ?? doc.hours[key];
          hours = base.filter((i) => i.open < a.close).map((i) => ({ open: i.open, close: i.close < a.close ? i.close : a.close }));
        }
        const holiday = { date: a.date, name: a.kind === 'close_day' ? a.name : 'Closing early', hours };
        const before = doc.holidays.find((h) => h.date === a.date) ?? null;
        await saveContext({ ...doc, holidays: [...doc.holidays.filter((h) => h.date !== a.date), holiday].sort((x, y) => x.date.localeCompare(y.date)) }, a.kind === 'close_day' ? `closed ${a.date}` : `closing early ${a.date}`);
        return { text: a.kind === 'close_day' ? `Done: closed ${DateTime.fromISO(a.date).toFormat('cccc, LLLL d')}.` : `Done: closing at ${DateTime.fromISO(`${a.date}T${a.close}`).toFormat('h:mm a').replace(':00 ', ' ')} that day.`, changed: { holiday: { before, after: holiday } } };
      }
      case 'forward': {
        const doc = await latest();
        await saveContext({ ...doc, owner: { ...doc.owner, forwardUntil: a.until } }, `forwarding calls until ${a.until}`);
        return { text: `Forwarding calls until ${this.fmt(a.until, ctx, 'h:mm a')}.`, changed: { forwardUntil: { before: doc.owner.forwardUntil ?? null, after: a.until } } };
      }
      case 'block': {
        const doc = await latest();
        const rule = { match: a.number, action: 'block' as const, label: `blocked by the owner ${DateTime.fromJSDate(this.now(), { zone: ctx.timezone }).toISODate()}` };
        const before = doc.callerRules.find((r) => r.match === a.number) ?? null;
        await saveContext({ ...doc, callerRules: [...doc.callerRules.filter((r) => r.match !== a.number), rule] }, `blocked ${a.number}`);
        return { text: `Blocked ${a.number}.`, changed: { callerRule: { before, after: rule } } };
      }
      case 'alert_rule': {
        const doc = await latest();
        const same = (r: BusinessContext['alerts'][number]) => r.on === a.on && r.via === a.via && r.to === a.to;
        const before = doc.alerts.filter(same);
        const rule = { on: a.on, via: a.via, to: a.to, ...(a.service ? { service: a.service } : {}), ...(a.urgentOnly ? { urgentOnly: true } : {}) };
        const alerts = a.remove ? doc.alerts.filter((r) => !same(r)) : [...doc.alerts.filter((r) => !same(r)), rule];
        if (a.remove && !before.length) return { text: 'There was no such alert.', changed: null };
        await saveContext({ ...doc, alerts }, a.remove ? `removed the ${a.on} alert` : `alert on ${a.on}`);
        return { text: a.remove ? 'Alert removed.' : before.length ? 'Alert changed.' : 'Alert set.', changed: { alerts: { before, after: a.remove ? [] : [rule] } } };
      }
      case 'briefing': {
        const at = new Date(a.at);
        const key = `owner_briefing:${stored.id}:${at.toISOString()}:${a.to}`;
        await enqueue(this.db, {
          contextId: stored.id, channel: 'call', purpose: 'owner_briefing', recipient: a.to,
          payload: { briefing: a.day, text: `${ctx.displayName} briefing` }, dedupeKey: key, notBefore: at,
        });
        return { text: `I'll call you ${this.fmt(at, ctx)}.`, changed: { briefingCall: { at: at.toISOString(), to: a.to, day: a.day } } };
      }
    }
  }

  /** One audit row per owner command and outcome. */
  async audit(stored: StoredContext, who: OwnerWho, e: { kind: string; tier: Tier | 'none'; verdict: string; said: string; readBack?: string; changed?: unknown; error?: string }): Promise<void> {
    await audit(this.db, {
      actor: `owner:${who.number}`, action: 'owner.command', targetType: 'context', targetId: stored.id, at: this.now(),
      details: { channel: who.channel, command: e.kind, tier: e.tier, verdict: e.verdict, said: e.said.slice(0, 500), ...(e.readBack ? { readBack: e.readBack } : {}), ...(e.changed !== undefined ? { changed: e.changed } : {}), ...(e.error ? { error: e.error } : {}) },
    });
  }
}
