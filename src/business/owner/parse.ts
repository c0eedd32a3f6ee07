import * as chrono from 'chrono-node';
import { DateTime } from 'luxon';
import type { AlertRule, BusinessContext } from '../context/schema.js';
import { resolveService } from '../quotes.js';
import { toE164 } from '../../util/phone.js';
import type { OwnerCommandKind } from './policy.js';

/**
 * Reads an owner's command (a text, or a call's transcript after spokenToText) into a structured
 * command. Patterns plus chrono-node in the business's time zone, like the guided flow's NLU: an
 * owner speaks in a few shapes, and what is not understood is answered with the list of shapes.
 * Times are ISO strings so a pending command survives in the thread's state.
 */

export type OwnerCommand =
  | { kind: 'agenda'; from: string; to: string; label: string }
  | { kind: 'messages'; voicemailOnly: boolean }
  | { kind: 'text_customer'; who: string; text: string }
  | { kind: 'move'; who: string; fromDay?: string; to: string }
  | { kind: 'cancel'; who?: string; fromDay?: string; hour?: number; minute?: number }
  | { kind: 'close_day'; date: string; name: string }
  | { kind: 'close_early'; date: string; close: string }
  | { kind: 'forward'; until: string }
  | { kind: 'block'; number?: string }
  | { kind: 'alert_rule'; on: AlertRule['on']; via: 'sms' | 'call'; service?: string; urgentOnly?: boolean; remove: boolean }
  | { kind: 'briefing'; at: string; day: 'today' | 'tomorrow' };

export type ParseResult = OwnerCommand | { kind: 'unknown'; hint?: string };

// Every parsed kind has a row in the policy table (a compile error otherwise).
type Covered = OwnerCommand['kind'] extends OwnerCommandKind ? true : never;
export const policyCoversEveryCommand: Covered = true;

const DAY_NAMES = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const DAY_RE = `(today|tomorrow|${DAY_NAMES.join('|')})`;

const HOUR_WORDS: Record<string, number> = {
  one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, eleven: 11, twelve: 12, noon: 12,
};

function clean(text: string): string {
  return text.toLowerCase().replace(/[’‘]/g, "'").replace(/\b(a|p)\.m\./g, '$1m').replace(/[.!?]+(\s|$)/g, ' ').replace(/\s+/g, ' ').trim()
    // A recognizer writes hours as words: "until five", "my three pm", "at six".
    .replace(/\b(until|at|by|my|around|till) (one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|noon)\b/g, (_, w: string, h: string) => `${w} ${HOUR_WORDS[h]}`);
}

/** The next local day called `word` (today, tomorrow, a weekday: today counts for a weekday). */
function dayOf(word: string, now: DateTime): DateTime {
  if (word === 'today') return now.startOf('day');
  if (word === 'tomorrow') return now.plus({ days: 1 }).startOf('day');
  const wd = DAY_NAMES.indexOf(word) + 1;
  let d = now.startOf('day');
  while (d.weekday !== wd) d = d.plus({ days: 1 });
  return d;
}

/** "3", "3:30", "3 pm", "10 am", "3 o'clock" → hour and minute; a bare 1-7 is afternoon (a working day). */
function clock(s: string): { hour: number; minute: number } | undefined {
  const m = /\b(\d{1,2})(?::(\d{2}))?\s*(am|pm|a m|p m|o'?clock)?\b/.exec(s);
  if (!m) return undefined;
  let hour = Number(m[1]);
  const minute = Number(m[2] ?? 0);
  if (hour > 23 || minute > 59) return undefined;
  const p = m[3]?.replace(' ', '');
  if (p === 'pm' && hour < 12) hour += 12;
  else if (p === 'am' && hour === 12) hour = 0;
  else if ((!p || p.startsWith('o')) && hour >= 1 && hour <= 7) hour += 12;
  return { hour, minute };
}

function when(s: string, ctx: BusinessContext, now: Date): DateTime | undefined {
  const offset = DateTime.fromJSDate(now, { zone: ctx.timezone }).offset;
  const r = chrono.parse(s, { instant: now, timezone: offset }, { forwardDate: true })[0];
  if (!r) return undefined;
  let at = DateTime.fromJSDate(r.start.date(), { zone: ctx.timezone });
  if (r.start.isCertain('hour') && !r.start.isCertain('meridiem') && at.hour >= 1 && at.hour <= 6) at = at.plus({ hours: 12 });
  if (!r.start.isCertain('hour')) at = at.startOf('day');
  return at;
}

function hhmm(c: { hour: number; minute: number }): string {
  return `${String(c.hour).padStart(2, '0')}:${String(c.minute).padStart(2, '0')}`;
}

export function parseOwnerCommand(raw: string, ctx: BusinessContext, nowDate: Date): ParseResult {
  // The recognizer's usual slips of "cancel my 3 pm" ("can my", "can sell my"): no other command starts so.
  const t = clean(raw).replace(/^(?:can sell|can)(?= my \d)/, 'cancel');
  const now = DateTime.fromJSDate(nowDate, { zone: ctx.timezone });
  const dayWord = new RegExp(`\\b${DAY_RE}\\b`).exec(t)?.[1];

  // "Call me at 6 with tomorrow's schedule"
  if (/\bcall me (at|around)\b/.test(t) && !/\bwhen\b/.test(t)) {
    const m = /\bcall me (?:at|around) (\d{1,2})(?::(\d{2}))?\s*(am|pm)?/.exec(t);
    if (!m) return { kind: 'unknown', hint: 'Say when, like "call me at 6 with tomorrow\'s schedule".' };
    const h = Number(m[1]);
    const min = Number(m[2] ?? 0);
    if (h > 23 || min > 59) return { kind: 'unknown', hint: 'That is not a time of day.' };
    const hours = m[3] === 'pm' ? [h % 12 + 12] : m[3] === 'am' ? [h % 12] : h >= 12 ? [h] : [h, h + 12];
    // The next time the clock shows it: "at 6" at noon is 6 pm, at 7 pm it is 6 tomorrow morning.
    const at = [0, 1].flatMap((d) => hours.map((hh) => now.startOf('day').plus({ days: d }).set({ hour: hh, minute: min })))
      .filter((x) => x > now).sort((a, b) => a.toMillis() - b.toMillis())[0]!;
    return { kind: 'briefing', at: at.toISO()!, day: /\btoday'?s?\b/.test(t) ? 'today' : 'tomorrow' };
  }

  // "Notify me when someone books a deep clean", "…when a VIP calls", "call me when a voicemail sounds urgent"
  if (/\b(notify|tell|text|alert|let|ping|call) me\b.*\b(when|if)\b/.test(t) || /\b(stop|don't|do not) (notifying|telling|texting|alerting|calling) me\b/.test(t)) {
    const remove = /\b(stop|don't|do not|no more)\b/.test(t);
    const via: 'sms' | 'call' = /\bcall me\b|\bcalling me\b/.test(t) ? 'call' : 'sms';
    const tail = t.replace(/^.*?\b(when|if)\b/, '');
    const urgentOnly = /\burgent|emergency\b/.test(tail) || undefined;
    if (/\bvip\b/.test(tail)) return { kind: 'alert_rule', on: 'vip_call', via, remove };
    if (/\bvoice ?mail/.test(tail)) return { kind: 'alert_rule', on: 'voicemail', via, remove, ...(urgentOnly ? { urgentOnly } : {}) };
    if (/\bmessage/.test(tail)) return { kind: 'alert_rule', on: 'message', via, remove, ...(urgentOnly ? { urgentOnly } : {}) };
    if (/\bcancel/.test(tail)) return { kind: 'alert_rule', on: 'booking_cancelled', via, remove };
    if (/\b(moves|reschedul)/.test(tail)) return { kind: 'alert_rule', on: 'booking_changed', via, remove };
    if (/\bmiss/.test(tail)) return { kind: 'alert_rule', on: 'missed_call', via, remove };
    if (/\bbook/.test(tail)) {
      const svc = resolveService(ctx, tail.replace(/^.*\bbook(s|ed|ing)?\b\s*(an?|the)?\s*/, ''));
      return { kind: 'alert_rule', on: 'booking_created', via, remove, ...(svc ? { service: svc.id } : {}) };
    }
    return { kind: 'unknown', hint: 'I can notify you when someone books (a service), a VIP calls, a voicemail or message comes in (or an urgent one), a booking is cancelled or moved, or a call is missed.' };
  }

  // "Text the Garcias we're running 20 minutes late."
  const text = /^(?:please )?(?:text|message|sms) (.+)$/.exec(t);
  if (text) {
    const rest = raw.trim().replace(/^\s*(?:please\s+)?(?:text|message|sms)\s+/i, '');
    const split = /^(.+?)(?:\s+(?:that|saying|to say)\s+|\s*[:,]\s*|\s+(?=(?:we're|we are|we'll|we will|i'm|i am|i'll|your|the crew|our|running|sorry)\b))(.+)$/i.exec(rest);
    if (!split) return { kind: 'unknown', hint: 'Say who and what, like "text the Garcias we\'re running 20 minutes late".' };
    return { kind: 'text_customer', who: split[1]!.trim(), text: split[2]!.trim().replace(/^./, (c) => c.toUpperCase()) };
  }

  // "Move Mrs. Lee's Tuesday visit to Thursday at 10."
  const move = new RegExp(`^(?:please )?(?:move|reschedule|push) (.+?)(?:'s)?(?: ${DAY_RE})? (?:visit|appointment|cleaning|booking|job) to (.+)$`).exec(t);
  if (move) {
    const to = when(move[3]!, ctx, nowDate);
    if (!to) return { kind: 'unknown', hint: 'Say when to move it to, like "to Thursday at 10".' };
    return { kind: 'move', who: move[1]!, ...(move[2] ? { fromDay: dayOf(move[2], now).toISODate()! } : {}), to: to.toISO()! };
  }

  // "Cancel my 3 pm." / "Cancel Mrs. Lee's Tuesday visit."
  if (/^(?:please )?cancel\b/.test(t)) {
    const who = new RegExp(`^(?:please )?cancel (?!my\\b|the\\b)(.+?)(?:'s)?(?: ${DAY_RE})? (?:visit|appointment|cleaning|booking|job)\\b`).exec(t);
    if (who) return { kind: 'cancel', who: who[1]!, ...(who[2] ? { fromDay: dayOf(who[2], now).toISODate()! } : {}) };
    const c = clock(t.replace(/^.*?cancel/, ''));
    if (c) return { kind: 'cancel', hour: c.hour, minute: c.minute, ...(dayWord ? { fromDay: dayOf(dayWord, now).toISODate()! } : {}) };
    return { kind: 'unknown', hint: 'Say which, like "cancel my 3 pm" or "cancel Mrs. Lee\'s Tuesday visit".' };
  }

  // "Close early today at 3."
  if (/\bclos(e|ing) early\b/.test(t)) {
    const c = clock(t.replace(/^.*?\bat\b/, '')) ;
    if (!c || !/\bat\b/.test(t)) return { kind: 'unknown', hint: 'Say when, like "close early today at 3".' };
    return { kind: 'close_early', date: dayOf(dayWord ?? 'today', now).toISODate()!, close: hhmm(c) };
  }

  // "We're closed Friday for the holiday."
  if (/\b(we're|we are|we'll be|we will be) closed\b|^close (on )?/.test(t)) {
    const d = dayWord ? dayOf(dayWord, now) : when(t, ctx, nowDate)?.startOf('day');
    if (!d) return { kind: 'unknown', hint: 'Say which day, like "we\'re closed Friday for the holiday".' };
    const name = /\bfor (?:the |a )?(.+)$/.exec(t)?.[1]?.trim();
    return { kind: 'close_day', date: d.toISODate()!, name: name ? name.replace(/^./, (c) => c.toUpperCase()).slice(0, 80) : 'Closed' };
  }

  // "Forward calls to my cell until 5."
  if (/\bforward\b.*\bcalls?\b|\bcalls? forward/.test(t)) {
    const u = /\buntil (.+)$/.exec(t)?.[1];
    const c = u ? clock(u) : undefined;
    let until: DateTime | undefined;
    if (c) {
      until = dayOf(dayWord ?? 'today', now).set({ hour: c.hour, minute: c.minute });
      if (until <= now && !dayWord) until = until.plus({ days: 1 });
    } else if (u) until = when(u, ctx, nowDate);
    if (!until) return { kind: 'unknown', hint: 'Say until when, like "forward calls to my cell until 5".' };
    return { kind: 'forward', until: until.toISO()! };
  }

  // "Block the last caller." / "Block 512 555 0142."
  if (/^(?:please )?block\b/.test(t)) {
    if (/\b(last|latest|previous) (caller|call|number)\b|\bwho just called\b|\bthat (caller|number)\b/.test(t)) return { kind: 'block' };
    const n = toE164(t.replace(/[^\d+]/g, ''));
    if (n) return { kind: 'block', number: n };
    return { kind: 'unknown', hint: 'Say "block the last caller" or give the number.' };
  }

  if (/\b(messages?|voice ?mails?)\b/.test(t)) return { kind: 'messages', voicemailOnly: /\bvoice ?mail/.test(t) };

  // "What's on tomorrow?" / "…this week?"
  if (/^(and )?(this|next) week$/.test(t) || /\b(what's|what is|whats|what about|how about|how does|how's|what have i got|what do (i|we) have|anything|schedule|agenda|calendar|bookings|jobs)\b/.test(t)) {
    if (/\bthis week\b/.test(t)) {
      return { kind: 'agenda', from: now.toISO()!, to: now.endOf('week').toISO()!, label: 'this week' };
    }
    if (/\bnext week\b/.test(t)) {
      const s = now.plus({ weeks: 1 }).startOf('week');
      return { kind: 'agenda', from: s.toISO()!, to: s.endOf('week').toISO()!, label: 'next week' };
    }
    const d = dayOf(dayWord ?? 'today', now);
    const label = dayWord === 'today' || !dayWord ? 'today' : dayWord === 'tomorrow' ? 'tomorrow' : d.toFormat('cccc');
    return { kind: 'agenda', from: (label === 'today' ? now : d).toISO()!, to: d.endOf('day').toISO()!, label };
  }
  return { kind: 'unknown' };
}
