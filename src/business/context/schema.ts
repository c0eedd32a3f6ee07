import { z } from 'zod';
import { IANAZone } from 'luxon';

/**
 * A business context: what the admin edits (the "dialplan context"). One document holds the line's
 * numbers, hours, persona, services and pricing, scheduling rules, owner targets, caller rules,
 * recording, SMS and alert settings. Strict objects so a typo in a YAML key is an error, not a no-op.
 */

export const E164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number like +15125550100');
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'must be a time HH:MM (24-hour)');
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD');
const slug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lower-case letters, digits and dashes (max 63)');
const money = z.number().min(0).max(1_000_000);

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const interval = z
  .strictObject({ open: hhmm, close: hhmm })
  .refine((i) => i.open < i.close, { message: 'open must be before close', path: ['close'] });
const dayHours = z.array(interval).default([]);

const hours = z.strictObject({
  mon: dayHours, tue: dayHours, wed: dayHours, thu: dayHours, fri: dayHours, sat: dayHours, sun: dayHours,
});

const holiday = z.strictObject({
  date: isoDate,
  name: z.string().min(1).max(80),
  /** Special hours that day; empty or absent means closed all day. */
  hours: z.array(interval).default([]),
});

const priceRule = z.strictObject({
  /** Price of the service as described (e.g. one bedroom). */
  base: money,
  /** Optional per-unit pricing, e.g. per bedroom past the first. */
  perUnit: z
    .strictObject({
      unit: z.string().min(1).max(40),
      amount: money,
      /** Units the base price already covers. */
      included: z.number().int().min(0).default(0),
      /** Minutes each extra unit adds to the job. */
      minutes: z.number().int().min(0).default(0),
    })
    .optional(),
  minimum: money.optional(),
});

const service = z.strictObject({
  id: slug,
  name: z.string().min(1).max(80),
  description: z.string().max(500).default(''),
  durationMinutes: z.number().int().min(5).max(24 * 60),
  price: priceRule,
  /** How many crews the job takes at once. */
  crewSize: z.number().int().min(1).max(10).default(1),
  /** Other words callers use for it, to help recognition. */
  aliases: z.array(z.string().min(1).max(60)).default([]),
});

const modifier = z.strictObject({
  id: slug,
  label: z.string().min(1).max(80),
  /** percent: of the subtotal; fixed: an amount added (negative for a discount). */
  kind: z.enum(['percent', 'fixed']),
  amount: z.number().min(-100_000).max(100_000),
  /** Extra job time as a percent of the service duration (a deep clean takes longer). */
  durationPercent: z.number().min(0).max(300).default(0),
  /** Applied automatically to a new customer's first visit. */
  firstVisitOnly: z.boolean().default(false),
});

const ownerTarget = z.strictObject({
  label: z.string().min(1).max(60),
  kind: z.enum(['extension', 'phone', 'sip']),
  /** Extension number, E.164 phone number, or sip: URI, by kind. */
  value: z.string().min(1).max(200),
  ringSeconds: z.number().int().min(5).max(120).default(20),
});

const callerRule = z.strictObject({
  /** E.164 number, or a prefix ending in * (e.g. +1900*). */
  match: z.string().regex(/^\+[1-9]\d{0,14}\*?$/, 'must be an E.164 number or prefix ending in *'),
  action: z.enum(['ring_through', 'block', 'vip']),
  label: z.string().max(80).default(''),
});

const alertRule = z.strictObject({
  on: z.enum([
    'booking_created', 'booking_changed', 'booking_cancelled', 'voicemail', 'message',
    'owner_requested_after_hours', 'missed_call', 'daily_summary', 'vip_call',
  ]),
  /** Booking events: only for this service id ("notify me when someone books a deep clean"). */
  service: slug.optional(),
  /** Voicemail and message events: only urgent ones. */
  urgentOnly: z.boolean().optional(),
  via: z.enum(['sms', 'call', 'email']),
  /** E.164 number for sms/call, an address for email. */
  to: z.string().min(3).max(200),
  /** For daily_summary: local time to send. */
  at: hhmm.optional(),
});

export const contextSchema = z
  .strictObject({
    name: slug,
    kind: z.enum(['business', 'personal']).default('business'),
    displayName: z.string().min(1).max(120),
    /** Answers any dialled number no other context claims. */
    default: z.boolean().default(false),
    timezone: z.string().refine((tz) => IANAZone.isValidZone(tz), 'must be an IANA time zone like America/Chicago'),
    numbers: z.array(E164).default([]),
    hours,
    holidays: z.array(holiday).default([]),
    afterHours: z
      .strictObject({
        /** agent: the agent answers with a limited scope; voicemail; forward: to the owner targets. */
        action: z.enum(['agent', 'voicemail', 'forward']).default('agent'),
        greeting: z.string().max(500).optional(),
      })
      .default({ action: 'agent' }),
    greeting: z.string().min(1).max(500),
    persona: z
      .strictObject({
        name: z.string().min(1).max(40).default('Alex'),
        style: z.string().max(500).default('warm, brief and professional'),
        voice: z.string().max(80).optional(),
      })
      .default({ name: 'Alex', style: 'warm, brief and professional' }),
    info: z
      .strictObject({
        address: z.string().max(200).optional(),
        serviceArea: z.string().max(300).optional(),
        website: z.string().max(200).optional(),
        email: z.string().max(200).optional(),
        policies: z.array(z.string().min(1).max(500)).default([]),
        faq: z.array(z.strictObject({ q: z.string().min(1).max(300), a: z.string().min(1).max(1000) })).default([]),
      })
      .default({ policies: [], faq: [] }),
    services: z.array(service).default([]),
    pricing: z
      .strictObject({
        currency: z.string().regex(/^[A-Z]{3}$/, 'must be a 3-letter currency code').default('USD'),
        modifiers: z.array(modifier).default([]),
        /** Percent, applied after modifiers. */
        taxPercent: z.number().min(0).max(50).default(0),
      })
      .default({ currency: 'USD', modifiers: [], taxPercent: 0 }),
    scheduling: z
      .strictObject({
        slotMinutes: z.number().int().min(5).max(240).default(30),
        travelBufferMinutes: z.number().int().min(0).max(240).default(30),
        minNoticeHours: z.number().min(0).max(24 * 14).default(12),
        horizonDays: z.number().int().min(1).max(365).default(60),
        crews: z.array(z.string().min(1).max(40)).min(1).default(['crew-1']),
        /** Hours when jobs may run; absent means opening hours. */
        workHours: hours.optional(),
        cancelNoticeHours: z.number().min(0).max(24 * 14).default(24),
        cancellationPolicy: z.string().max(500).default(''),
      })
      .default({
        slotMinutes: 30, travelBufferMinutes: 30, minNoticeHours: 12, horizonDays: 60, crews: ['crew-1'],
        cancelNoticeHours: 24, cancellationPolicy: '',
      }),
    owner: z
      .strictObject({
        name: z.string().max(80).default('the owner'),
        /** Tried in order (find-me/follow-me). */
        targets: z.array(ownerTarget).default([]),
        /** DTMF digit that transfers the caller to the owner at any time. */
        transferDigit: z.string().regex(/^[0-9*#]$/, 'must be one DTMF digit').default('0'),
        /** Warm transfer whispers a summary to the owner before bridging. */
        transferMode: z.enum(['blind', 'warm']).default('warm'),
        /** Numbers the owner calls or texts from: they reach the owner's line (a call only after the PIN). */
        numbers: z.array(E164).default([]),
        /** argon2id hash of the owner's PIN, set in the console; never the PIN itself. */
        pinHash: z.string().max(300).regex(/^\$argon2id\$/, 'must be an argon2id hash: set the PIN in the console').optional(),
        /** Calls ring the owner targets until this time ("forward calls to my cell until 5"). */
        forwardUntil: z.iso.datetime({ offset: true }).optional(),
      })
      .default({ name: 'the owner', targets: [], transferDigit: '0', transferMode: 'warm', numbers: [] }),
    /**
     * The ring phase before the agent answers. `ringSeconds` > 0: the caller hears ringing that
     * long (their phone's own ringback after 180, or ours with `earlyMedia`: 183 and a ringback
     * tone). `ownerFirst`: the owner's phones (owner.targets) ring during it, and whoever picks up
     * gets the caller; the agent answers only if nobody does.
     */
    answer: z
      .strictObject({
        ringSeconds: z.number().int().min(0).max(120).default(0),
        ownerFirst: z.boolean().default(false),
        earlyMedia: z.boolean().default(false),
      })
      .default({ ringSeconds: 0, ownerFirst: false, earlyMedia: false }),
    callerRules: z.array(callerRule).default([]),
    recording: z
      .strictObject({
        enabled: z.boolean().default(false),
        consentMessage: z.string().max(300).default('This call may be recorded for quality.'),
      })
      .default({ enabled: false, consentMessage: 'This call may be recorded for quality.' }),
    sms: z
      .strictObject({
        autoReply: z.boolean().default(true),
        quietHours: z.strictObject({ start: hhmm, end: hhmm }).optional(),
        confirmations: z.boolean().default(true),
        reminderHoursBefore: z.number().min(0).max(24 * 7).default(24),
      })
      .default({ autoReply: true, confirmations: true, reminderHoursBefore: 24 }),
    alerts: z.array(alertRule).default([]),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.services.forEach((s, i) => {
      if (seen.has(s.id)) ctx.addIssue({ code: 'custom', path: ['services', i, 'id'], message: `duplicate service id "${s.id}"` });
      seen.add(s.id);
      if (s.crewSize > c.scheduling.crews.length) {
        ctx.addIssue({
          code: 'custom', path: ['services', i, 'crewSize'],
          message: `needs ${s.crewSize} crews but scheduling.crews lists ${c.scheduling.crews.length}`,
        });
      }
    });
    const nums = new Set<string>();
    c.numbers.forEach((n, i) => {
      if (nums.has(n)) ctx.addIssue({ code: 'custom', path: ['numbers', i], message: `duplicate number ${n}` });
      nums.add(n);
    });
    if (c.answer.ownerFirst && c.answer.ringSeconds > 0 && !c.owner.targets.length) {
      ctx.addIssue({ code: 'custom', path: ['answer', 'ownerFirst'], message: 'ringing the owner first needs at least one owner target' });
    }
    if (c.answer.ownerFirst && c.answer.ringSeconds === 0) {
      ctx.addIssue({ code: 'custom', path: ['answer', 'ringSeconds'], message: 'ringing the owner first needs ringSeconds above 0' });
    }
    c.alerts.forEach((a, i) => {
      if ((a.via === 'sms' || a.via === 'call') && !E164.safeParse(a.to).success) {
        ctx.addIssue({ code: 'custom', path: ['alerts', i, 'to'], message: 'must be an E.164 number for sms or call alerts' });
      }
      if (a.via === 'email' && !/^[^@\s]+@[^@\s]+$/.test(a.to)) {
        ctx.addIssue({ code: 'custom', path: ['alerts', i, 'to'], message: 'must be an e-mail address' });
      }
      if (a.on === 'daily_summary' && !a.at) {
        ctx.addIssue({ code: 'custom', path: ['alerts', i, 'at'], message: 'daily_summary needs a time "at"' });
      }
    });
    // The same entry twice is a mistake the owner should hear about, not a silent no-op.
    const once = <T>(items: readonly T[], key: (t: T) => string, path: (i: number) => (string | number)[], what: (t: T) => string) => {
      const seen = new Set<string>();
      items.forEach((t, i) => {
        const k = key(t);
        if (seen.has(k)) ctx.addIssue({ code: 'custom', path: path(i), message: what(t) });
        seen.add(k);
      });
    };
    once(c.callerRules, (r) => r.match, (i) => ['callerRules', i, 'match'], (r) => `${r.match} already has a rule`);
    once(c.owner.targets, (t) => `${t.kind}:${t.value}`, (i) => ['owner', 'targets', i, 'value'], (t) => `${t.value} is already in the list`);
    once(c.owner.numbers, (n) => n, (i) => ['owner', 'numbers', i], (n) => `${n} is already in the list`);
    c.owner.numbers.forEach((n, i) => {
      if (nums.has(n)) ctx.addIssue({ code: 'custom', path: ['owner', 'numbers', i], message: `${n} is one of the business's own numbers` });
    });
    c.alerts.forEach((a, i) => {
      if (a.service && !c.services.some((s) => s.id === a.service)) ctx.addIssue({ code: 'custom', path: ['alerts', i, 'service'], message: `no service with id "${a.service}"` });
    });
    once(c.holidays, (d) => d.date, (i) => ['holidays', i, 'date'], (d) => `${d.date} is already listed`);
    once(c.alerts, (a) => `${a.on}:${a.via}:${a.to}`, (i) => ['alerts', i, 'to'], () => 'the same alert is already in the list');
    once(c.pricing.modifiers, (m) => m.id, (i) => ['pricing', 'modifiers', i, 'id'], (m) => `duplicate add-on id "${m.id}"`);
    c.owner.targets.forEach((t, i) => {
      const ok =
        t.kind === 'phone' ? E164.safeParse(t.value).success
        : t.kind === 'extension' ? /^[0-9*#]{1,10}$/.test(t.value)
        : /^sips?:[^\s]+$/.test(t.value);
      if (!ok) ctx.addIssue({ code: 'custom', path: ['owner', 'targets', i, 'value'], message: `not a valid ${t.kind}` });
    });
  });

export type BusinessContext = z.output<typeof contextSchema>;
export type ContextInput = z.input<typeof contextSchema>;
export type Service = BusinessContext['services'][number];
export type PriceModifier = BusinessContext['pricing']['modifiers'][number];
export type OwnerTarget = BusinessContext['owner']['targets'][number];
export type Hours = BusinessContext['hours'];
export type AlertRule = BusinessContext['alerts'][number];

export interface FieldError {
  /** Dotted path to the field, e.g. services[1].durationMinutes. */
  path: string;
  message: string;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(document)';
}

export class ContextValidationError extends Error {
  constructor(public readonly errors: FieldError[]) {
    super(`invalid context:\n${errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}`);
    this.name = 'ContextValidationError';
  }
}

export function parseContext(input: unknown): BusinessContext {
  const r = contextSchema.safeParse(input);
  if (!r.success) {
    throw new ContextValidationError(r.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })));
  }
  return r.data;
}
