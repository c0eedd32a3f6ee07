import { DateTime } from 'luxon';
import { formatMoney, describeDuration, QuoteError } from '../../business/quotes.js';
import { SlotUnavailableError } from '../../business/scheduling/service.js';
import type { AgentTools, SlotOffer } from '../tools.js';
import { understand, type Intent, type Understanding } from './nlu.js';

/**
 * The guided-flow dialogue engine: intents and slots, one question at a time, a confirmation before
 * anything is booked, moved or cancelled. It uses the same tools as the LLM and serves as the
 * offline floor and the fallback when the LLM fails. State is plain JSON so an SMS thread can keep
 * it between texts.
 */

export type Pending =
  | { kind: 'ask_service'; then: 'quote' | 'book' }
  | { kind: 'ask_time' }
  | { kind: 'offer_book' }
  | { kind: 'ask_address'; start: string }
  | { kind: 'confirm_book'; start: string }
  | { kind: 'pick_appointment'; then: 'cancel' | 'reschedule' }
  | { kind: 'confirm_cancel'; id: string }
  | { kind: 'ask_reschedule_time'; id: string }
  | { kind: 'confirm_reschedule'; id: string; start: string }
  | { kind: 'take_message' }
  /** A reminder call asked "is that still good for you?" about this visit. */
  | { kind: 'confirm_visit'; id: string };

export interface GuidedState {
  service?: string;
  units?: number;
  modifiers?: string[];
  /** Where the visit is, when the customer told us during this conversation. */
  address?: string;
  pending?: Pending;
  offered?: SlotOffer[];
}

export interface GuidedResult {
  reply: string;
  state: GuidedState;
  /** What the call layer must do after saying the reply. */
  action?: 'transfer' | 'end';
  booked?: { id: string; start: string };
  /** A reminder call's visit the customer confirmed. */
  confirmed?: string;
}

const ORDINALS: Record<string, number> = { first: 0, '1st': 0, second: 1, '2nd': 1, third: 2, '3rd': 2, last: -1 };
const PRIORITY: Intent[] = ['reschedule', 'cancel', 'my_appointments', 'human', 'message', 'book', 'quote', 'hours', 'services', 'goodbye', 'thanks', 'greeting'];

export class GuidedEngine {
  constructor(private readonly tools: AgentTools, private readonly channel: 'call' | 'sms', private readonly now: () => Date) {}

  private get ctx() {
    return this.tools.context.document;
  }

  private get owner(): string {
    return this.ctx.owner.name;
  }

  private menu(): string {
    return `I can give you a price, book, move or cancel a cleaning, or take a message for ${this.owner}.`;
  }

  /** Understanding from elsewhere (the LLM's reading) replaces the rules' when given. */
  async respond(text: string, state: GuidedState = {}, understood?: Understanding): Promise<GuidedResult> {
    const u = understood ?? understand(this.ctx, text, this.now());
    const s: GuidedState = { ...state };
    if (u.service) s.service = u.service;
    if (u.units) s.units = u.units;
    if (u.modifiers.length) s.modifiers = [...new Set([...(s.modifiers ?? []), ...u.modifiers])];
    try {
      const handled = await this.onPending(u, s, text);
      if (handled) return handled;
      return await this.onIntent(u, s, text);
    } catch (e) {
      if (e instanceof QuoteError) {
        delete s.service;
        return { reply: `Sorry, we don't offer that. We do ${e.options.join(', ')}. Which would you like?`, state: { ...s, pending: { kind: 'ask_service', then: 'quote' } } };
      }
      throw e;
    }
  }

  private has(u: Understanding, i: Intent): boolean {
    return u.intents.includes(i);
  }

  private async onPending(u: Understanding, s: GuidedState, raw: string): Promise<GuidedResult | undefined> {
    const p = s.pending;
    if (!p) return undefined;
    const switching = PRIORITY.slice(0, 5).some((i) => this.has(u, i)) && p.kind !== 'take_message';
    switch (p.kind) {
      case 'take_message': {
        if (this.has(u, 'no') && u.text.split(' ').length <= 3) return { reply: `Okay, no message. ${this.menu()}`, state: { ...s, pending: undefined } };
        await this.tools.takeMessage({ message: raw.trim() });
        return { reply: `Thanks, I've passed that on to ${this.owner}. Anything else I can help with?`, state: { ...s, pending: undefined } };
      }
      case 'ask_address': {
        if (switching || this.has(u, 'no')) break;
        const address = raw.trim();
        if (address.length < 6) return { reply: 'What street address should the crew come to?', state: s };
        return this.confirmBooking(s, p.start, address);
      }
      case 'confirm_book': {
        if (this.has(u, 'yes')) return this.doBook(s, p.start);
        if (u.when) return this.book(u, { ...s, pending: undefined });
        if (this.has(u, 'no')) return { reply: 'No problem. What day and time would suit you better?', state: { ...s, pending: { kind: 'ask_time' } } };
        break;
      }
      case 'offer_book': {
        if (this.has(u, 'yes') || (u.when && !switching)) return this.book(u, { ...s, pending: undefined });
        if (this.has(u, 'no')) return { reply: `Okay. ${this.menu()}`, state: { ...s, pending: undefined } };
        break;
      }
      case 'ask_time': {
        const picked = this.pickOffered(u, s);
        if (picked) return this.book({ ...u, when: { at: new Date(picked.start), hasTime: true, hasDate: true } }, { ...s, pending: undefined });
        if (u.when || this.has(u, 'yes')) return this.book(u, { ...s, pending: undefined });
        break;
      }
      case 'ask_service': {
        if (s.service) return p.then === 'quote' ? this.quote({ ...s, pending: undefined }) : this.book(u, { ...s, pending: undefined });
        break;
      }
      case 'pick_appointment': {
        const appts = await this.tools.myAppointments();
        const i = this.ordinal(u.text);
        const chosen = i !== undefined ? appts.at(i) : appts.find((a) => u.when && DateTime.fromJSDate(a.start).hasSame(DateTime.fromJSDate(u.when.at), 'day'));
        if (chosen) return this.afterPick(p.then, chosen.id, u, s);
        break;
      }
      case 'confirm_cancel': {
        if (this.has(u, 'yes')) {
          const r = await this.tools.cancel({ appointment_id: p.id });
          const late = r.late && r.policy ? ` Since it's less than ${this.ctx.scheduling.cancelNoticeHours} hours away: ${r.policy}` : '';
          return { reply: `Done, your ${r.appointment.serviceName.toLowerCase()} ${this.tools.spokenTime(r.appointment.start)} is cancelled.${late}`, state: { ...s, pending: undefined } };
        }
        if (this.has(u, 'no')) return { reply: 'Okay, I left it as it is. Anything else?', state: { ...s, pending: undefined } };
        break;
      }
      case 'confirm_visit': {
        if (this.has(u, 'cancel')) return { reply: 'Do you want me to cancel it?', state: { ...s, pending: { kind: 'confirm_cancel', id: p.id } } };
        if (this.has(u, 'yes')) return { reply: `Great, the crew will see you then. Thanks, goodbye!`, state: { ...s, pending: undefined }, action: 'end', confirmed: p.id };
        if (this.has(u, 'no') || this.has(u, 'reschedule')) {
          if (u.when?.hasTime) return this.confirmReschedule(s, p.id, u.when.at);
          return { reply: 'No problem. What day and time would work better? Or I can cancel it.', state: { ...s, pending: { kind: 'ask_reschedule_time', id: p.id } } };
        }
        break;
      }
      case 'ask_reschedule_time': {
        if (this.has(u, 'cancel')) return { reply: 'Do you want me to cancel it?', state: { ...s, pending: { kind: 'confirm_cancel', id: p.id } } };
        if (u.when?.hasTime) return this.confirmReschedule(s, p.id, u.when.at);
        if (u.when) {
          const appt = (await this.tools.myAppointments()).find((a) => a.id === p.id);
          const { slots } = await this.tools.availability({ service: appt?.serviceId ?? s.service ?? '', from: u.when.at.toISOString() });
          return this.offer(slots, { ...s, pending: p }, 'That day I have');
        }
        const picked = this.pickOffered(u, s);
        if (picked) return this.confirmReschedule(s, p.id, new Date(picked.start));
        break;
      }
      case 'confirm_reschedule': {
        if (this.has(u, 'yes')) {
          try {
            const moved = await this.tools.reschedule({ appointment_id: p.id, start: p.start });
            return { reply: `Done, you're moved to ${this.tools.spokenTime(moved.start)}.`, state: { ...s, pending: undefined } };
          } catch (e) {
            if (e instanceof SlotUnavailableError) return this.offer(e.alternatives.map((a) => this.slot(a.start.toJSDate())), { ...s, pending: { kind: 'ask_reschedule_time', id: p.id } }, `Sorry, ${e.message}. I do have`);
            throw e;
          }
        }
        // "No, I said Thursday at 2": the move, to the time said now (not a new booking).
        if (u.when?.hasTime) return this.confirmReschedule(s, p.id, u.when.at);
        if (this.has(u, 'no')) return { reply: 'What time would work instead?', state: { ...s, pending: { kind: 'ask_reschedule_time', id: p.id } } };
        break;
      }
    }
    return undefined;
  }

  private async onIntent(u: Understanding, s: GuidedState, raw: string): Promise<GuidedResult> {
    let intent = PRIORITY.find((i) => this.has(u, i));
    // "Tuesday at 10?" after talking about a service is a booking request.
    if (!intent && u.when && s.service) intent = 'book';
    if (!intent && u.service) intent = 'quote';
    switch (intent) {
      case 'quote':
        if (!s.service) return this.askService(s, 'quote');
        if (this.has(u, 'book') || u.when) return this.book(u, s);
        return this.quote(s);
      case 'book':
        return this.book(u, s);
      case 'reschedule':
      case 'cancel':
        return this.manage(intent, u, s);
      case 'my_appointments': {
        const appts = await this.tools.myAppointments();
        if (!appts.length) return { reply: "I don't see any upcoming visits for this number. Would you like to book one?", state: { ...s, pending: { kind: 'offer_book' } } };
        const list = appts.slice(0, 3).map((a) => `${a.serviceName.toLowerCase()} ${this.tools.spokenTime(a.start)}`).join('; ');
        return { reply: `You have ${list}.`, state: s };
      }
      case 'hours': {
        const info = this.tools.businessInfo();
        return { reply: `We're open ${info.hours}. ${info.openNow ? "We're open right now." : "We're closed right now, but I can still help."}`, state: s };
      }
      case 'services': {
        const cur = this.ctx.pricing.currency;
        const list = this.ctx.services.map((x) => `${x.name.toLowerCase()} from ${formatMoney(Math.round(x.price.base * 100), cur)}`).join(', ');
        return { reply: `We offer ${list}. Would you like a price for your home?`, state: s };
      }
      case 'human':
        if (this.channel === 'call' && this.ctx.owner.targets.length) {
          return { reply: `Sure, let me get ${this.owner} for you.`, state: s, action: 'transfer' };
        }
        await this.tools.takeMessage({ message: `Asked to speak with ${this.owner}: "${raw.trim()}"`, urgent: true });
        return { reply: `I've asked ${this.owner} to get back to you as soon as possible.`, state: s };
      case 'message':
        // "Tell Maria the key is under the mat": the message came with the asking; take it as said.
        if (u.message) {
          await this.tools.takeMessage({ message: raw.trim() });
          return { reply: `Thanks, I've passed that on to ${this.owner}. Anything else I can help with?`, state: { ...s, pending: undefined } };
        }
        return { reply: `Sure, what would you like me to tell ${this.owner}?`, state: { ...s, pending: { kind: 'take_message' } } };
      case 'goodbye':
      case 'thanks':
        return { reply: `You're welcome! Have a great day.`, state: { ...s, pending: undefined }, ...(this.has(u, 'goodbye') ? { action: 'end' as const } : {}) };
      case 'greeting':
        return { reply: `Hi! This is ${this.ctx.persona.name} at ${this.ctx.displayName}. ${this.menu()}`, state: s };
      default: {
        const faq = this.ctx.info.faq.find((f) => overlap(u.text, f.q) >= 0.5);
        if (faq) return { reply: faq.a, state: s };
        return { reply: `Sorry, I didn't catch that. ${this.menu()}`, state: s };
      }
    }
  }

  private askService(s: GuidedState, then: 'quote' | 'book'): GuidedResult {
    const names = this.ctx.services.map((x) => x.name.toLowerCase());
    const list = names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : names[0] ?? 'a cleaning';
    return { reply: `Happy to help. Which would you like: ${list}?`, state: { ...s, pending: { kind: 'ask_service', then } } };
  }

  private async quote(s: GuidedState): Promise<GuidedResult> {
    const q = await this.tools.quote({ service: s.service!, units: s.units, modifiers: s.modifiers });
    const unitAsk = q.unit && !s.units ? ` That's for ${q.units} ${q.unit}; tell me if your home has more.` : '';
    return { reply: `${q.spoken}${unitAsk} Would you like to book it?`, state: { ...s, pending: { kind: 'offer_book' } } };
  }

  private slot(d: Date): SlotOffer {
    return { start: DateTime.fromJSDate(d, { zone: this.ctx.timezone }).toISO()!, spoken: this.tools.spokenTime(d) };
  }

  private offer(slots: SlotOffer[], s: GuidedState, lead: string): GuidedResult {
    if (!slots.length) return { reply: 'Sorry, I have nothing free around then. Could you suggest another day?', state: { ...s, offered: [], pending: s.pending ?? { kind: 'ask_time' } } };
    const spoken = slots.map((x) => x.spoken);
    const list = spoken.length > 1 ? `${spoken.slice(0, -1).join(', ')} or ${spoken.at(-1)}` : spoken[0]!;
    return { reply: `${lead} ${list}. Which works for you?`, state: { ...s, offered: slots, pending: s.pending ?? { kind: 'ask_time' } } };
  }

  private ordinal(text: string): number | undefined {
    for (const [w, i] of Object.entries(ORDINALS)) if (new RegExp(`\\b${w}\\b`).test(text)) return i;
    return undefined;
  }

  private pickOffered(u: Understanding, s: GuidedState): SlotOffer | undefined {
    const offered = s.offered ?? [];
    if (!offered.length) return undefined;
    const i = this.ordinal(u.text);
    if (i !== undefined) return offered.at(i);
    if (u.when?.hasTime) {
      const want = DateTime.fromJSDate(u.when.at, { zone: this.ctx.timezone });
      return offered.find((o) => {
        const d = DateTime.fromISO(o.start, { zone: this.ctx.timezone });
        return d.hour === want.hour && d.minute === want.minute && (!u.when!.hasDate || d.hasSame(want, 'day'));
      });
    }
    return undefined;
  }

  private async book(u: Understanding, s: GuidedState): Promise<GuidedResult> {
    if (!s.service) return this.askService(s, 'book');
    const picked = this.pickOffered(u, s);
    const when = picked ? { at: new Date(picked.start), hasTime: true, hasDate: true } : u.when;
    if (!when) {
      const { slots } = await this.tools.availability({ service: s.service, units: s.units, modifiers: s.modifiers });
      return this.offer(slots, { ...s, pending: { kind: 'ask_time' } }, 'The next openings I have are');
    }
    const day = DateTime.fromJSDate(when.at, { zone: this.ctx.timezone });
    if (!when.hasTime) {
      const { slots } = await this.tools.availability({ service: s.service, from: day.startOf('day').toISO()!, units: s.units, modifiers: s.modifiers });
      const sameDay = slots.filter((x) => DateTime.fromISO(x.start).setZone(this.ctx.timezone).hasSame(day, 'day'));
      return this.offer(sameDay.length ? sameDay : slots, { ...s, pending: { kind: 'ask_time' } }, sameDay.length ? 'That day I have' : "That day is full, but I have");
    }
    const { slots } = await this.tools.availability({ service: s.service, from: day.toISO()!, units: s.units, modifiers: s.modifiers });
    if (!slots[0] || DateTime.fromISO(slots[0].start).toMillis() !== day.toMillis()) {
      const around = await this.tools.availability({ service: s.service, from: day.startOf('day').toISO()!, units: s.units, modifiers: s.modifiers });
      return this.offer(around.slots, { ...s, pending: { kind: 'ask_time' } }, `Sorry, ${this.tools.spokenTime(day)} isn't available. I have`);
    }
    if (!this.tools.customer?.address) return { reply: 'Great. What is the address for the cleaning?', state: { ...s, pending: { kind: 'ask_address', start: day.toISO()! } } };
    return this.confirmBooking(s, day.toISO()!, this.tools.customer.address);
  }

  private async confirmBooking(s: GuidedState, start: string, address: string): Promise<GuidedResult> {
    const q = await this.tools.quote({ service: s.service!, units: s.units, modifiers: s.modifiers });
    const units = q.unit ? ` for ${q.units} ${q.unit}${q.units === 1 ? '' : 's'}` : '';
    return {
      reply: `I can book a ${q.serviceName.toLowerCase()}${units} ${this.tools.spokenTime(DateTime.fromISO(start))} at ${address} for ${formatMoney(q.totalCents, q.currency)}, about ${describeDuration(q.durationMinutes)}. Shall I book it?`,
      state: { ...s, address, pending: { kind: 'confirm_book', start } },
    };
  }

  private async doBook(s: GuidedState, start: string): Promise<GuidedResult> {
    try {
      const r = await this.tools.book({ service: s.service!, start, units: s.units, modifiers: s.modifiers, ...(s.address ? { address: s.address } : {}) });
      const remind = this.ctx.sms.confirmations
        ? this.channel === 'call' ? " We'll text you a confirmation." : ` We'll text you a reminder ${this.ctx.sms.reminderHoursBefore} hours before.`
        : '';
      return {
        reply: `You're all set: ${r.appointment.serviceName.toLowerCase()} ${this.tools.spokenTime(r.appointment.start)}.${remind} Anything else?`,
        state: { pending: undefined },
        booked: { id: r.appointment.id, start: r.appointment.start.toISOString() },
      };
    } catch (e) {
      if (e instanceof SlotUnavailableError) {
        return this.offer(e.alternatives.map((a) => this.slot(a.start.toJSDate())), { ...s, pending: { kind: 'ask_time' } }, `Sorry, ${e.message}. I have`);
      }
      throw e;
    }
  }

  private async manage(intent: 'cancel' | 'reschedule', u: Understanding, s: GuidedState): Promise<GuidedResult> {
    const appts = await this.tools.myAppointments();
    if (!appts.length) return { reply: "I don't see any upcoming visits for this number. Is there anything else I can do?", state: s };
    if (appts.length === 1) return this.afterPick(intent, appts[0]!.id, u, s);
    const list = appts.slice(0, 3).map((a, i) => `${['first', 'second', 'third'][i]}: ${a.serviceName.toLowerCase()} ${this.tools.spokenTime(a.start)}`).join('; ');
    return { reply: `You have a few visits booked — ${list}. Which one?`, state: { ...s, pending: { kind: 'pick_appointment', then: intent } } };
  }

  private async afterPick(intent: 'cancel' | 'reschedule', id: string, u: Understanding, s: GuidedState): Promise<GuidedResult> {
    const appt = (await this.tools.myAppointments()).find((a) => a.id === id)!;
    if (intent === 'cancel') {
      return { reply: `Just to confirm, cancel your ${appt.serviceName.toLowerCase()} ${this.tools.spokenTime(appt.start)}?`, state: { ...s, pending: { kind: 'confirm_cancel', id } } };
    }
    s = { ...s, service: appt.serviceId };
    if (u.when?.hasTime) return this.confirmReschedule(s, id, u.when.at);
    return { reply: `Sure. Your ${appt.serviceName.toLowerCase()} is ${this.tools.spokenTime(appt.start)}. What day and time would you like instead?`, state: { ...s, pending: { kind: 'ask_reschedule_time', id } } };
  }

  private confirmReschedule(s: GuidedState, id: string, at: Date): GuidedResult {
    const start = DateTime.fromJSDate(at, { zone: this.ctx.timezone }).toISO()!;
    return { reply: `Shall I move it to ${this.tools.spokenTime(at)}?`, state: { ...s, pending: { kind: 'confirm_reschedule', id, start } } };
  }
}

function overlap(a: string, b: string): number {
  const words = (t: string) => new Set(t.toLowerCase().replace(/[^a-z ]/g, '').split(' ').filter((w) => w.length > 3));
  const wa = words(a);
  const wb = words(b);
  if (!wb.size) return 0;
  let n = 0;
  for (const w of wb) if (wa.has(w)) n++;
  return n / wb.size;
}
