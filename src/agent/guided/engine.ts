import { DateTime } from 'luxon';
import { formatMoney, describeDuration, QuoteError } from '../../business/quotes.js';
import { SlotUnavailableError } from '../../business/scheduling/service.js';
import type { AgentTools, SlotOffer } from '../tools.js';
import { understand, type Intent, type Understanding } from './nlu.js';
import { dialogueDefaults, type DialogueOptions, type Hearing } from './options.js';
import { bareNumber, cleanAddress, looksLikeAddress, cleanName } from './free-text.js';

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
  /** The home's size (bedrooms), for a service priced by it. */
  | { kind: 'ask_size'; start: string }
  | { kind: 'ask_name'; start: string }
  /** "Did you say …?" about a turn heard with middling confidence; `prev` is the question it answered. */
  | { kind: 'confirm_heard'; text: string; prev?: Pending | undefined }
  /** The keypad's main choices were offered (book, price, change, message, owner). */
  | { kind: 'keypad' }
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
  /** The address was not heard surely: not read back; texted to the customer after booking and flagged for the owner. */
  addressUnsure?: { audio?: string | undefined; /** Heard so badly that the text does not repeat it. */ garbled?: boolean };
  /** The address was asked again once because the answer had no house number or street in it. */
  addressAgain?: boolean;
  /** The caller's name, as heard (the customer record has none). */
  name?: string;
  /** A name heard unsurely: not saved on the customer, only noted on the booking for the owner (with its audio). */
  nameUnsure?: { heard: string; audio?: string | undefined };
  /** The caller was offered the keypad: they are not asked for what only speech can give (a name). */
  keypad?: boolean;
  /** Turns in a row the agent did not understand (no-match): each one escalates. */
  misses?: number;
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
  /** The turn was not understood (or not heard surely enough to act on). */
  missed?: boolean;
}

const ORDINALS: Record<string, number> = { first: 0, '1st': 0, second: 1, '2nd': 1, third: 2, '3rd': 2, last: -1 };
const PRIORITY: Intent[] = ['reschedule', 'cancel', 'my_appointments', 'human', 'message', 'book', 'quote', 'hours', 'services', 'goodbye', 'thanks', 'greeting'];

const YES_NO: ReadonlySet<Pending['kind']> = new Set(['offer_book', 'confirm_book', 'confirm_cancel', 'confirm_reschedule', 'confirm_visit', 'confirm_heard']);
/** Intents that only ask: answering them changes nothing. */
const INFORMATIONAL: ReadonlySet<Intent> = new Set(['services', 'hours', 'quote', 'greeting', 'thanks', 'my_appointments']);
/** Questions whose answer is taken as said (an address, a name, a message): no intent is read into it. */
const FREE_TEXT: ReadonlySet<Pending['kind']> = new Set(['ask_address', 'ask_name', 'take_message']);

export class GuidedEngine {
  private readonly o: DialogueOptions;

  constructor(private readonly tools: AgentTools, private readonly channel: 'call' | 'sms', private readonly now: () => Date, opts: Partial<DialogueOptions> = {}) {
    this.o = { ...dialogueDefaults, ...opts };
  }

  private get ctx() {
    return this.tools.context.document;
  }

  private get owner(): string {
    return this.ctx.owner.name;
  }

  private menu(): string {
    return `I can give you a price, book, move or cancel a cleaning, or take a message for ${this.owner}.`;
  }

  /**
   * Understanding from elsewhere (the LLM's reading) replaces the rules' when given. `hearing` is
   * how sure the recognizer was (a typed text or a key press needs none): a sure hearing is acted
   * on, a middling one confirmed, an unsure one not acted on at all.
   */
  async respond(text: string, state: GuidedState = {}, understood?: Understanding, hearing?: Hearing): Promise<GuidedResult> {
    if (hearing?.keyed !== undefined) {
      const r = await this.onKey(hearing.keyed, state);
      if (!r.missed) delete r.state.misses;
      return r;
    }
    const p = state.pending;
    // "yeah", "yes", "yep" compete in the recognizer's lattice but mean one thing: readings that
    // all agree on yes (or all on no) are a sure answer to a yes-or-no question.
    if (p && YES_NO.has(p.kind) && this.band(hearing) !== 'high' && this.agreed(text, hearing)) hearing = { ...hearing, confidence: 1 };
    if (p?.kind === 'confirm_heard') {
      const a = understand(this.ctx, text, this.now());
      const back: GuidedState = { ...state, pending: p.prev };
      if (a.intents.includes('yes') && this.band(hearing) !== 'low') return this.respond(p.text, back);
      if (a.intents.includes('no')) return this.miss(back, 'Sorry about that.');
      // A caller who carries on ("two bedrooms" after "Did you say Tuesday at 10?") let it stand:
      // taken as heard, then the new words on top. Never for a yes or no, whose hearing would commit something.
      const confirmed = understand(this.ctx, p.text, this.now());
      const commits = (p.prev && YES_NO.has(p.prev.kind)) || confirmed.intents.includes('yes') || confirmed.intents.includes('no');
      if (!commits && this.band(hearing) !== 'low') {
        const first = await this.respond(p.text, back);
        // The new words answer the question that follows (a time, a size … or the address asked next).
        const next = first.state.pending;
        const fits = this.meaningful(a) || (next && FREE_TEXT.has(next.kind) && a.text.split(' ').length >= 2);
        if (fits && !first.action && !first.booked && !first.missed) return this.respond(text, first.state, understood, hearing);
      }
      // Something else: a new answer to the question before; asked about again, it counts as not understood.
      const r = await this.respond(text, back, understood, hearing);
      if (r.state.pending?.kind === 'confirm_heard' && !r.missed) return this.miss(state);
      return r;
    }
    if (p && FREE_TEXT.has(p.kind)) return this.understood(text, state, understood, hearing);
    const band = this.band(hearing);
    if (band === 'high') return this.understood(text, state, understood, hearing);
    const u = understood ?? understand(this.ctx, text, this.now());
    // A question that only asks (what we do, the hours, a price) is answered: the answer names what
    // it answers, so a mishearing shows, and nothing is changed by it.
    if (band === 'medium' && !u.when && (u.intents.length || u.service) && u.intents.every((i) => INFORMATIONAL.has(i))) return this.understood(text, state, understood, hearing);
    if (band === 'medium' && this.meaningful(u)) return this.confirmHeard(text, u, state);
    // Unsure: another reading that answers what was asked is worth a "did you say" …
    for (const alt of hearing?.nbest ?? []) {
      const a = understand(this.ctx, alt, this.now());
      if (this.answers(a, p)) return this.confirmHeard(alt, a, state);
    }
    if (band === 'medium' && this.answers(u, p)) return this.confirmHeard(text, u, state);
    // … otherwise nothing is acted on.
    return this.miss(state);
  }

  /** The best reading and at least one other are all yes, or all no (other readings disagreeing on nothing). */
  private agreed(text: string, h: Hearing | undefined): boolean {
    const said = [text, ...(h?.nbest ?? [])].map((t) => understand(this.ctx, t, this.now()).intents).map((i) => (i.includes('yes') ? 'yes' : i.includes('no') ? 'no' : undefined));
    const top = said[0];
    return !!top && said.length >= 2 && said.filter((x) => x === top).length >= 2 && said.every((x) => x === top || x === undefined) && said.slice(1).some((x) => x === top);
  }

  private band(h: Hearing | undefined): 'high' | 'medium' | 'low' {
    const c = h?.confidence;
    if (c === undefined || c >= this.o.actAtConfidence) return 'high';
    return c >= this.o.confirmAtConfidence ? 'medium' : 'low';
  }

  /** Understood at all: an intent, a service, a time or a size. */
  private meaningful(u: Understanding): boolean {
    return u.intents.length > 0 || !!u.service || !!u.when || !!u.units;
  }

  /** Whether `u` answers the pending question (a yes/no to a yes/no question, a time to a time question …). */
  private answers(u: Understanding, p: Pending | undefined): boolean {
    if (!p) return u.intents.some((i) => i !== 'yes' && i !== 'no') || !!u.service;
    if (YES_NO.has(p.kind)) return u.intents.includes('yes') || u.intents.includes('no');
    switch (p.kind) {
      case 'ask_service': return !!u.service;
      case 'ask_size': return !!u.units || bareNumber(u.text) !== undefined;
      case 'ask_time': case 'ask_reschedule_time': case 'pick_appointment': return !!u.when || this.ordinal(u.text) !== undefined;
      default: return this.meaningful(u);
    }
  }

  private describe(u: Understanding): string {
    const parts: string[] = [];
    if (u.service) parts.push(`a ${this.ctx.services.find((x) => x.id === u.service)?.name.toLowerCase() ?? 'cleaning'}`);
    if (u.units) parts.push(`${u.units} ${this.unit()}${u.units === 1 ? '' : 's'}`);
    if (u.when) parts.push(u.when.hasTime ? this.tools.spokenTime(u.when.at) : DateTime.fromJSDate(u.when.at, { zone: this.ctx.timezone }).toFormat('cccc'));
    const i = this.ordinal(u.text);
    if (!parts.length && i !== undefined) parts.push(`the ${['first', 'second', 'third'][i] ?? 'last'} one`);
    if (parts.length) return parts.join(', ');
    const said: Partial<Record<Intent, string>> = {
      yes: 'yes', no: 'no', book: 'book a cleaning', quote: 'a price', cancel: 'cancel a visit', reschedule: 'move a visit',
      message: 'leave a message', human: `speak to ${this.owner}`, my_appointments: 'when your visit is', hours: 'our hours', services: 'what we do',
    };
    return u.intents.map((x) => said[x]).find(Boolean) ?? u.text;
  }

  private confirmHeard(text: string, u: Understanding, s: GuidedState): GuidedResult {
    // "The first one" among times just offered is checked as the time it names.
    const i = this.ordinal(u.text);
    const o = i !== undefined ? s.offered?.at(i) : undefined;
    const what = o ? `the ${['first', 'second', 'third'][i!] ?? 'last'} one, ${o.spoken}` : this.describe(u);
    return { reply: `Did you say ${what}?`, state: { ...s, pending: { kind: 'confirm_heard', text, prev: s.pending } } };
  }

  private unit(): string {
    return this.ctx.services.find((x) => x.price.perUnit)?.price.perUnit?.unit ?? 'bedroom';
  }

  private async understood(text: string, state: GuidedState, understood: Understanding | undefined, hearing: Hearing | undefined): Promise<GuidedResult> {
    const u = understood ?? understand(this.ctx, text, this.now());
    const s: GuidedState = { ...state };
    if (u.service) s.service = u.service;
    if (u.units) s.units = u.units;
    if (u.modifiers.length) s.modifiers = [...new Set([...(s.modifiers ?? []), ...u.modifiers])];
    try {
      const handled = await this.onPending(u, s, text, hearing);
      const r = handled ?? await this.onIntent(u, s, text);
      // Understood counts only when the conversation moved on: a "yes, I said that" that lands on
      // the same question again is no progress, so the escalation to keys is not reset by a loop.
      if (!r.missed && (!state.misses || r.state.pending?.kind !== state.pending?.kind || r.action || r.booked)) delete r.state.misses;
      return r;
    } catch (e) {
      if (e instanceof QuoteError) {
        delete s.service;
        return { reply: `Sorry, we don't offer that. We do ${e.options.join(', ')}. Which would you like?`, state: { ...s, pending: { kind: 'ask_service', then: 'quote' } } };
      }
      throw e;
    }
  }

  /**
   * A turn not understood. The first gets a narrower question than the one asked, the next the
   * keypad's choices, then the owner (or their voicemail); nobody is left repeating themselves.
   */
  private async miss(s: GuidedState, lead = 'Sorry, I didn\'t catch that.'): Promise<GuidedResult> {
    const misses = (s.misses ?? 0) + 1;
    const next: GuidedState = { ...s, misses };
    if (misses >= this.o.handOffAfterMisses) {
      if (this.channel === 'sms') {
        await this.tools.takeMessage({ message: `A texter the assistant could not understand ${misses} times in a row: please read the thread and get back to them.` });
        return { reply: `Sorry, I'm not getting it. I've asked ${this.owner} to get back to you.`, state: { ...next, pending: undefined, misses: 0 }, missed: true };
      }
      const reply = this.ctx.owner.targets.length
        ? `Sorry, I'm having trouble understanding. Let me put you through to ${this.owner}.`
        : `Sorry, I'm having trouble understanding. Please leave a message for ${this.owner} after the tone.`;
      return { reply, state: { ...next, pending: undefined, misses: 0 }, action: 'transfer', missed: true };
    }
    const q = misses >= this.o.keypadAfterMisses && this.channel === 'call' ? this.keypad({ ...next, keypad: true }) : this.narrow(next);
    return { reply: `${lead} ${q.reply}`, state: q.state, missed: true };
  }

  /** The question again, narrower: yes or no, one slot, a short list. */
  narrow(s: GuidedState): { reply: string; state: GuidedState } {
    const p = s.pending;
    if (!p || p.kind === 'keypad') return { reply: 'Are you calling to book a cleaning? Please say yes or no.', state: { ...s, pending: { kind: 'offer_book' } } };
    if (YES_NO.has(p.kind)) return { reply: 'Was that a yes or a no?', state: s };
    switch (p.kind) {
      case 'ask_service': return { reply: `Which one: ${this.serviceList()}? Just the name is fine.`, state: s };
      case 'ask_size': return { reply: `How many ${this.unit()}s does your home have? Just the number is fine.`, state: s };
      case 'ask_time':
      case 'ask_reschedule_time':
        return s.offered?.length
          ? { reply: `Which time: ${s.offered.slice(0, 3).map((o, i) => `the ${['first', 'second', 'third'][i]}, ${o.spoken}`).join('; ')}?`, state: s }
          : { reply: 'Which day would suit you? For example, Tuesday.', state: s };
      case 'pick_appointment': return { reply: 'Which visit: the first or the second?', state: s };
      default: return { reply: this.menu(), state: s };
    }
  }

  /** The choices of the question asked, by key. */
  keypad(s: GuidedState): { reply: string; state: GuidedState } {
    const p = s.pending;
    const owner = `or ${this.ctx.owner.transferDigit} for ${this.owner}`;
    const keys = (items: string[]) => items.slice(0, 9).map((t, i) => `${i + 1} for ${t}`).join(', ');
    // The narrowed "are you calling to book?" gets the main choices: its yes is their 1.
    if (!p || p.kind === 'keypad' || p.kind === 'offer_book') return { reply: `You can use your keypad: press 1 to book a cleaning, 2 for a price, 3 to change a visit, 4 to leave a message, ${owner}.`, state: { ...s, pending: { kind: 'keypad' } } };
    if (YES_NO.has(p.kind)) return { reply: `You can use your keypad: press 1 for yes or 2 for no.`, state: s };
    switch (p.kind) {
      case 'ask_service': return { reply: `Please press ${keys(this.ctx.services.map((x) => x.name.toLowerCase()))}.`, state: s };
      case 'ask_size': return { reply: `Please key the number of ${this.unit()}s, then press pound.`, state: s };
      case 'ask_time':
      case 'ask_reschedule_time':
        return s.offered?.length
          ? { reply: `Please press ${keys(s.offered.map((o) => o.spoken))}.`, state: s }
          : { reply: 'Please press 1 to hear the next openings.', state: s };
      case 'pick_appointment': return { reply: 'Please press 1 for the first visit or 2 for the second.', state: s };
      default: return { reply: `You can use your keypad: press 1 to book a cleaning, 2 for a price, 3 to change a visit, 4 to leave a message, ${owner}.`, state: { ...s, pending: { kind: 'keypad' } } };
    }
  }

  /** A key pressed instead of an answer: the choice it stands for in the question asked. */
  private async onKey(key: string, state: GuidedState): Promise<GuidedResult> {
    const p = state.pending;
    const n = /^[1-9]$/.test(key) ? Number(key) : undefined;
    const said = (text: string, s: GuidedState = state) => this.respond(text, s);
    // A home size comes keyed as a whole number ("12"), the other questions' choices as one key.
    if (p?.kind === 'ask_size' && /^\d{1,2}$/.test(key) && Number(key) >= 1 && Number(key) <= 50) return this.afterSize({ ...state, units: Number(key) }, p.start);
    if (n !== undefined) {
      if (p && YES_NO.has(p.kind) && n <= 2) return said(n === 1 ? 'yes' : 'no');
      switch (p?.kind) {
        case undefined:
        case 'keypad': {
          const s = { ...state, pending: undefined };
          if (n === 1) return this.book({ intents: ['book'], modifiers: [], text: 'book' }, s);
          if (n === 2) return s.service ? this.quote(s) : this.askService(s, 'quote');
          if (n === 3) return this.manage('reschedule', { intents: ['reschedule'], modifiers: [], text: 'change' }, s);
          if (n === 4) return this.respond('leave a message', s);
          break;
        }
        case 'ask_service': {
          const svc = this.ctx.services[n - 1];
          if (svc) return this.respond(svc.name, state);
          break;
        }
        case 'ask_time':
        case 'ask_reschedule_time':
        case 'pick_appointment':
          if (p.kind !== 'pick_appointment' && !state.offered?.length && n === 1) return p.kind === 'ask_time' ? this.book({ intents: [], modifiers: [], text: '' }, state) : said('next week');
          if (n <= 3) return said(`the ${['first', 'second', 'third'][n - 1]} one`);
          break;
      }
    }
    // A key that is no choice here: the choices again.
    const k = this.keypad(state);
    return { reply: `That key isn't one of the choices. ${k.reply}`, state: k.state };
  }

  private serviceList(): string {
    const names = this.ctx.services.map((x) => x.name.toLowerCase());
    return names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : names[0] ?? 'a cleaning';
  }

  private has(u: Understanding, i: Intent): boolean {
    return u.intents.includes(i);
  }

  private async onPending(u: Understanding, s: GuidedState, raw: string, hearing?: Hearing): Promise<GuidedResult | undefined> {
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
        const address = cleanAddress(raw);
        if (address.length < 6) return this.miss(s);
        // Words with no house number or street in them ("what week") are likely a mishearing: asked
        // once more. Garbled hearings keep their audio and are checked by text instead, as below.
        if (!looksLikeAddress(address) && this.band(hearing) !== 'low' && !s.addressAgain) {
          return { reply: "Sorry, what's the street address, with the house number?", state: { ...s, addressAgain: true } };
        }
        // Read back only what was heard surely; otherwise it is checked by text after the call.
        const unsure = this.band(hearing) !== 'high';
        const next: GuidedState = { ...s, address };
        delete next.addressAgain;
        if (unsure) next.addressUnsure = { audio: hearing?.audio, garbled: this.band(hearing) === 'low' };
        else delete next.addressUnsure;
        return this.afterAddress(next, p.start);
      }
      case 'ask_size': {
        if (u.units) return this.afterSize(s, p.start);
        const n = bareNumber(raw);
        if (n) return this.afterSize({ ...s, units: n }, p.start);
        if (switching) break;
        return undefined;
      }
      case 'ask_name': {
        // A short answer is a name, even one that is also the owner's ("Maria" is not asking for her).
        if (switching && u.text.split(' ').length > 3) break;
        const name = cleanName(raw);
        if (!name) return this.miss(s);
        if (this.band(hearing) === 'low') return this.confirmBooking({ ...s, nameUnsure: { heard: name, audio: hearing?.audio } }, p.start);
        return this.confirmBooking({ ...s, name }, p.start);
      }
      case 'confirm_book': {
        // "No, the address is 14 Oak Street": corrected here, then confirmed again.
        if (/\b(address|street|avenue|road|drive|lane|boulevard|court|place|way)\b/.test(u.text) && !this.has(u, 'yes')) {
          const corrected = cleanAddress(raw.replace(/^.*?\b(address|it)\s+(is|should be)\b/i, ''));
          if (/\d/.test(corrected) && corrected.length >= 6 && !/\baddress\b/i.test(corrected)) {
            const next: GuidedState = { ...s, address: corrected };
            if (this.band(hearing) !== 'high') next.addressUnsure = { audio: hearing?.audio };
            else delete next.addressUnsure;
            return this.confirmBooking(next, p.start);
          }
          return { reply: 'Sorry about that. What is the right address?', state: { ...s, pending: { kind: 'ask_address', start: p.start } } };
        }
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
          return { reply: 'No problem. What day and time would work better? Or I can cancel it.', state: { ...s, offered: [], pending: { kind: 'ask_reschedule_time', id: p.id } } };
        }
        break;
      }
      case 'ask_reschedule_time': {
        if (this.has(u, 'cancel')) return { reply: 'Do you want me to cancel it?', state: { ...s, pending: { kind: 'confirm_cancel', id: p.id } } };
        // "The first one" picks from the times just offered, whatever else was heard with it.
        // (Not "first thing Thursday at 8": a day named is a new time, not a pick.)
        const chosen = this.ordinal(u.text) !== undefined && !u.when?.hasDate ? this.pickOffered(u, s) : undefined;
        if (chosen) return this.confirmReschedule(s, p.id, new Date(chosen.start));
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
        if (this.has(u, 'no')) return { reply: 'What time would work instead?', state: { ...s, offered: [], pending: { kind: 'ask_reschedule_time', id: p.id } } };
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
        return this.miss(s);
      }
    }
  }

  private askService(s: GuidedState, then: 'quote' | 'book'): GuidedResult {
    return { reply: `Happy to help. Which would you like: ${this.serviceList()}?`, state: { ...s, pending: { kind: 'ask_service', then } } };
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
    return this.afterTime(s, day.toISO()!);
  }

  /** The time is free: what the booking still needs (size, address, name), one question at a time. */
  private async afterTime(s: GuidedState, start: string): Promise<GuidedResult> {
    const perUnit = this.ctx.services.find((x) => x.id === s.service)?.price.perUnit;
    if (perUnit && !s.units) return { reply: `And how many ${perUnit.unit}s does your home have?`, state: { ...s, pending: { kind: 'ask_size', start } } };
    return this.afterSize(s, start);
  }

  private async afterSize(s: GuidedState, start: string): Promise<GuidedResult> {
    // A bigger home takes longer: the time is checked again with the size (a longer visit may not fit).
    const { slots } = await this.tools.availability({ service: s.service!, from: start, units: s.units, modifiers: s.modifiers });
    if (!slots[0] || DateTime.fromISO(slots[0].start).toMillis() !== DateTime.fromISO(start).toMillis()) {
      const day = DateTime.fromISO(start, { zone: this.ctx.timezone });
      const around = await this.tools.availability({ service: s.service!, from: day.startOf('day').toISO()!, units: s.units, modifiers: s.modifiers });
      return this.offer(around.slots, { ...s, pending: { kind: 'ask_time' } }, `For a home that size, ${this.tools.spokenTime(day)} doesn't fit. I have`);
    }
    if (!s.address && !this.tools.customer?.address) return { reply: 'Great. What is the address for the cleaning?', state: { ...s, pending: { kind: 'ask_address', start } } };
    return this.afterAddress(s, start);
  }

  private async afterAddress(s: GuidedState, start: string): Promise<GuidedResult> {
    if (this.channel === 'call' && !s.name && !s.nameUnsure && !s.keypad && !this.tools.customer?.name) return { reply: 'And what name should I put it under?', state: { ...s, pending: { kind: 'ask_name', start } } };
    return this.confirmBooking(s, start);
  }

  private async confirmBooking(s: GuidedState, start: string): Promise<GuidedResult> {
    const address = s.address ?? this.tools.customer?.address ?? '';
    const q = await this.tools.quote({ service: s.service!, units: s.units, modifiers: s.modifiers });
    const units = q.unit ? ` for ${q.units} ${q.unit}${q.units === 1 ? '' : 's'}` : '';
    const where = s.addressUnsure ? " at the address you gave, which I'll text you to check," : ` at ${address}`;
    return {
      reply: `I can book a ${q.serviceName.toLowerCase()}${units} ${this.tools.spokenTime(DateTime.fromISO(start))}${where} for ${formatMoney(q.totalCents, q.currency)}, about ${describeDuration(q.durationMinutes)}. Shall I book it?`,
      state: { ...s, address, pending: { kind: 'confirm_book', start } },
    };
  }

  private async doBook(s: GuidedState, start: string): Promise<GuidedResult> {
    try {
      const r = await this.tools.book({ service: s.service!, start, units: s.units, modifiers: s.modifiers, ...(s.address ? { address: s.address } : {}), ...(s.name ? { name: s.name } : {}) });
      // Heard unsurely: the customer gets it by text to correct, and the owner sees it flagged.
      if (s.addressUnsure && s.address) await this.tools.addressToCheck(r.appointment, s.address, s.addressUnsure);
      if (s.nameUnsure) await this.tools.noteForOwner(r.appointment, `Name not heard clearly: "${s.nameUnsure.heard}"${s.nameUnsure.audio ? ` (audio: ${s.nameUnsure.audio})` : ''}.`);
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
    return { reply: `Sure. Your ${appt.serviceName.toLowerCase()} is ${this.tools.spokenTime(appt.start)}. What day and time would you like instead?`, state: { ...s, offered: [], pending: { kind: 'ask_reschedule_time', id } } };
  }

  /** "Shall I move it to …?" only for a time it can move to; otherwise the free times around it. */
  private async confirmReschedule(s: GuidedState, id: string, at: Date): Promise<GuidedResult> {
    const start = DateTime.fromJSDate(at, { zone: this.ctx.timezone }).toISO()!;
    const no = await this.tools.checkMove(id, start);
    if (no) return this.offer(no.alternatives.map((a) => this.slot(a.start.toJSDate())), { ...s, pending: { kind: 'ask_reschedule_time', id } }, `Sorry, ${no.message}. I do have`);
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
