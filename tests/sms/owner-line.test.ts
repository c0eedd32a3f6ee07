import { afterAll, beforeAll, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createBusiness, type Business } from '../../src/business/index.js';
import { demoContext } from '../../src/business/context/demo.js';
import { OutboxWorker } from '../../src/business/outbox.js';
import { JobRunner } from '../../src/store/jobs.js';
import { SmsService, INBOUND_QUEUE } from '../../src/sms/service.js';
import { TelnyxProvider } from '../../src/sms/telnyx.js';
import { buildHttpServer } from '../../src/http/server.js';
import { createMetrics } from '../../src/http/metrics.js';
import { silentLogger } from '../../src/util/logger.js';
import { hashPin } from '../../src/business/owner/pin.js';
import type { OutboxItem } from '../../src/store/schema.js';
import { FakeTelnyx } from '../fakes/telnyx.js';
import { describeStores } from '../helpers/stores.js';

/**
 * The owner's line by text: the owner texts the business number from a number listed as theirs
 * and gets owner tools under the policy (read-only at once, changes read back and confirmed, the
 * high tier with the PIN), with every command in the audit log.
 */

const BIZ = '+15125550100';
const OWNER = '+15125550199';
const PIN = '4821';
const GARCIA = '+15125550301';
const LEE = '+15125550302';
const STRANGER = '+15125550777';
/** Thursday 19 November 2026, 9:00 in Chicago: when the bookings are made. */
const THURSDAY = new Date('2026-11-19T15:00:00Z');
/** Friday 20 November 2026, noon in Chicago: when the owner starts texting. */
const FRIDAY_NOON = new Date('2026-11-20T18:00:00Z');
const at = (iso: string) => new Date(iso);

describeStores('the owner\'s line by text', ({ store }) => {
  const telnyx = new FakeTelnyx();
  let now = THURSDAY;
  let biz: Business;
  let http: FastifyInstance;
  let outbox: OutboxWorker;
  let jobs: JobRunner;
  const briefingCalls: { item: OutboxItem; text: string; at: Date }[] = [];
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    await telnyx.start();
    biz = createBusiness(store().db, () => now);
    await biz.contexts.save({ ...demoContext, owner: { ...demoContext.owner, numbers: [OWNER], pinHash: await hashPin(PIN) } }, 'test');
    const sms = new SmsService(store().db, biz, {
      providers: [new TelnyxProvider({ apiKey: telnyx.apiKey, publicKey: telnyx.publicKey, baseUrl: telnyx.url })],
      perNumberGapMs: 0, globalPerSecond: 1_000, llmUnderstands: false,
    });
    http = await buildHttpServer({ store: store(), business: biz, sms, metrics: createMetrics(), logger: silentLogger, version: 't' });
    // The call channel's sender records what the briefing call would say, on the same clock.
    outbox = new OutboxWorker(store().db, {
      now: () => now,
      senders: {
        sms: sms.sender,
        call: async (item) => {
          const ctx = (await biz.contexts.getById(item.context_id!))!;
          const day = (item.payload as { briefing?: 'today' | 'tomorrow' }).briefing;
          briefingCalls.push({ item, text: day ? await biz.owner.briefingText(ctx, day) : '', at: now });
          return { status: 'sent', ref: 'call-1' };
        },
      },
    });
    jobs = new JobRunner(store().db, { queue: INBOUND_QUEUE, handler: (j) => sms.process(j), now: () => now });
    // Customers and their visits, booked on Thursday.
    for (const [phone, name, address] of [[GARCIA, 'Ana Garcia', '12 Oak Ave'], [LEE, 'Grace Lee', '5 Elm St']] as const) {
      const c = (await biz.customers.findOrCreateByPhone(phone))!.customer;
      await biz.customers.update(c.id, { name, address });
      ids[name] = c.id;
    }
    const book = async (customer: string, start: string, service = 'standard') =>
      (await biz.scheduling.book({ context: demoContext.name, service, start: at(start), customerId: ids[customer]!, address: 'x', source: 'admin', actor: 'test' })).appointment.id;
    ids.garciaSat = await book('Ana Garcia', '2026-11-21T15:00:00Z'); // Saturday 9 am
    ids.leeTue = await book('Grace Lee', '2026-11-24T16:00:00Z'); // Tuesday 10 am
    ids.garciaFri3 = await book('Ana Garcia', '2026-11-20T21:00:00Z'); // Friday 3 pm
    now = FRIDAY_NOON;
  });
  afterAll(async () => {
    await http.close();
    await telnyx.stop();
  });

  const settle = async () => {
    await jobs.runOnce();
    await outbox.runOnce();
  };
  /** Texts the business from `from` and returns the reply it got. */
  const text = async (body: string, from = OWNER): Promise<string> => {
    const sentBefore = telnyx.sent.length;
    const w = telnyx.inbound(from, BIZ, body);
    expect((await http.inject({ method: 'POST', url: '/webhooks/sms/telnyx', payload: w.body, headers: w.headers })).statusCode).toBe(200);
    await settle();
    // The reply to this text (other texts, like an alert to the owner, may go out in the same pass).
    const reply = await store().db.selectFrom('outbox').select(['payload', 'status']).where('purpose', '=', 'sms_reply').where('recipient', '=', from)
      .orderBy('created_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();
    const said = (reply.payload as { text: string }).text;
    expect(telnyx.sent.slice(sentBefore).filter((m) => m.to === from).map((m) => m.text), `no reply to "${body}"`).toContain(said);
    return said;
  };
  const ownerAudit = async () => (await store().db.selectFrom('audit_log').select(['actor', 'action', 'details', 'at']).where('action', 'like', 'owner.%').orderBy('at').orderBy('id').execute())
    .map((r) => ({ ...r, details: r.details as Record<string, unknown> }));
  const lastCommand = async () => (await ownerAudit()).filter((r) => r.action === 'owner.command').at(-1)!.details;
  const doc = async () => (await biz.contexts.get(demoContext.name)).document;

  it('reads the schedule and the messages at once (read-only), each audited as low tier', async () => {
    expect(await text("What's on tomorrow?")).toBe('1 booked tomorrow: 9 AM standard cleaning for Ana Garcia at x.');
    expect(await lastCommand()).toMatchObject({ command: 'agenda', tier: 'low', verdict: 'done', channel: 'sms' });
    const week = await text('What about this week?');
    expect(week).toMatch(/^2 booked this week: Friday 3 PM standard cleaning for Ana Garcia at x; Saturday 9 AM standard cleaning for Ana Garcia at x\.$/);

    const stored = await biz.contexts.get(demoContext.name);
    await biz.messages.take(stored, { kind: 'voicemail', body: 'The kitchen sink is leaking, please call back', callerNumber: '+15125550555', callerName: 'Bob' });
    await biz.messages.take(stored, { kind: 'message', body: 'Can you bring extra towels', callerNumber: LEE, callerName: 'Grace Lee' });
    expect(await text('Read me the voicemails.')).toBe('1 new voicemail. 1. Urgent voicemail from Bob: The kitchen sink is leaking, please call back');
    expect(await text('Any messages?')).toBe('1 new message. 1. message from Grace Lee: Can you bring extra towels');
    expect(await text('Any messages?')).toBe('No new messages.');
  });

  it('texts a customer from the business number only after YES', async () => {
    const readBack = await text("Text the Garcias we're running 20 minutes late.");
    expect(readBack).toBe(`Text Ana Garcia at ${GARCIA}: "Sparkle & Shine Cleaning: We're running 20 minutes late." Reply YES to confirm, or NO.`);
    expect(telnyx.sent.filter((m) => m.to === GARCIA && /late/.test(m.text))).toHaveLength(0);
    expect(await lastCommand()).toMatchObject({ command: 'text_customer', tier: 'medium', verdict: 'awaiting_confirmation' });
    expect(await text('YES')).toBe('Texted Ana Garcia.');
    const sent = telnyx.sent.filter((m) => m.to === GARCIA && /late/.test(m.text));
    expect(sent.map((m) => [m.from, m.text])).toEqual([[BIZ, "Sparkle & Shine Cleaning: We're running 20 minutes late."]]);
    expect(await lastCommand()).toMatchObject({ command: 'text_customer', verdict: 'done', changed: { textTo: GARCIA } });
  });

  it('NO leaves everything as it was, and that is audited too', async () => {
    expect(await text('Text Grace Lee that the crew is on the way')).toMatch(/^Text Grace Lee/);
    // Words that are no command leave it waiting.
    expect(await text('hmm')).toBe('Reply YES to confirm, or NO.');
    expect(await text('no')).toBe('OK, not done.');
    expect(telnyx.sent.filter((m) => m.to === LEE && /crew/.test(m.text))).toHaveLength(0);
    expect(await lastCommand()).toMatchObject({ command: 'text_customer', verdict: 'declined' });
  });

  it('moves a visit and cancels one, each read back and confirmed; the customer hears of it', async () => {
    expect(await text("Move Mrs. Lee's Tuesday visit to Thursday at 10.")).toBe(
      "Move Grace Lee's standard cleaning on Tuesday, Nov 24 at 10 AM to Thursday, Nov 26 at 10 AM; they get a text saying so. Reply YES to confirm, or NO.");
    expect(await text('yes')).toBe('Moved to Thursday, Nov 26 at 10 AM.');
    expect((await biz.scheduling.get(ids.leeTue!)).start.toISOString()).toBe('2026-11-26T16:00:00.000Z');
    expect(telnyx.sent.filter((m) => m.to === LEE).at(-1)!.text).toMatch(/your standard cleaning has moved to Thursday, November 26 at 10:00 AM/);
    expect(await lastCommand()).toMatchObject({ command: 'move', tier: 'medium', verdict: 'done', changed: { from: '2026-11-24T16:00:00.000Z', to: '2026-11-26T16:00:00.000Z' } });

    expect(await text('Cancel my 3 pm.')).toBe("Cancel Ana Garcia's standard cleaning on Friday, Nov 20 at 3 PM; they get a text saying so. Reply YES to confirm, or NO.");
    expect(await text('Yes')).toBe('Cancelled the standard cleaning on Friday, Nov 20 at 3 PM.');
    expect((await biz.scheduling.get(ids.garciaFri3!)).status).toBe('cancelled');
    const audit = await store().db.selectFrom('audit_log').select(['actor']).where('action', '=', 'appointment.cancel').where('target_id', '=', ids.garciaFri3!).executeTakeFirstOrThrow();
    expect(audit.actor).toBe(`owner:${OWNER}`);
  });

  it('the high tier (hours, routing, blocks) needs the PIN by text: YES alone is not enough', async () => {
    expect(await text("We're closed Monday for the holiday.")).toBe("Mark Monday, November 23 closed, \"Holiday\"; callers hear you're closed. Reply with your PIN to confirm, or NO.");
    expect(await text('YES')).toBe('This change needs your PIN: reply with the PIN to confirm, or NO.');
    expect((await doc()).holidays.find((h) => h.date === '2026-11-23')).toBeUndefined();
    expect(await text(PIN)).toBe('Done: closed Monday, November 23.');
    expect((await doc()).holidays.find((h) => h.date === '2026-11-23')).toEqual({ date: '2026-11-23', name: 'Holiday', hours: [] });
    const done = await lastCommand();
    expect(done).toMatchObject({ command: 'close_day', tier: 'high', verdict: 'done', changed: { holiday: { before: null, after: { date: '2026-11-23' } } } });
    // The PIN itself is never written down: not in the audit log, not in the thread the console shows.
    expect(JSON.stringify(await ownerAudit())).not.toContain(PIN);
    const bodies = await store().db.selectFrom('sms_messages').select('body').where('body', 'like', `%${PIN}%`).execute();
    expect(bodies).toEqual([]);
    expect((await biz.route(BIZ, GARCIA, at('2026-11-23T16:00:00Z')))!.decision.reason).toMatch(/closed for Holiday/);

    expect(await text('Close early today at 3.')).toBe('Close at 3 PM on Friday, November 20 instead of 6 PM. Reply with your PIN to confirm, or NO.');
    expect(await text(`yes ${PIN}`)).toBe('Done: closing at 3 PM that day.');
    expect((await biz.route(BIZ, GARCIA, at('2026-11-20T20:30:00Z')))!.decision.open).toBe(true);
    expect((await biz.route(BIZ, GARCIA, at('2026-11-20T21:30:00Z')))!.decision.open).toBe(false);

    expect(await text('Forward calls to my cell until 5.')).toBe("Forward calls to Office desk phone, then Maria's cell until Friday, Nov 20 at 5 PM. Reply with your PIN to confirm, or NO.");
    expect(await text(PIN)).toBe('Forwarding calls until 5 PM.');
    expect((await biz.route(BIZ, GARCIA, at('2026-11-20T22:30:00Z')))!.decision.action).toBe('forward');
    expect((await biz.route(BIZ, GARCIA, at('2026-11-20T23:01:00Z')))!.decision.action).not.toBe('forward');
  });

  it('blocks the last caller (never the owner), after the PIN', async () => {
    const stored = await biz.contexts.get(demoContext.name);
    await biz.calls.start({ direction: 'inbound', backend: 'sip', from: STRANGER, to: BIZ, contextId: stored.id });
    await biz.calls.start({ direction: 'inbound', backend: 'sip', from: OWNER, to: BIZ, contextId: stored.id });
    expect(await text('Block the last caller.')).toBe(`Block ${STRANGER}: their calls get declined. Reply with your PIN to confirm, or NO.`);
    expect(await text(PIN)).toBe(`Blocked ${STRANGER}.`);
    expect((await biz.route(BIZ, STRANGER))!.decision.action).toBe('reject');
    expect(await lastCommand()).toMatchObject({ command: 'block', verdict: 'done', changed: { callerRule: { before: null, after: { match: STRANGER, action: 'block' } } } });
  });

  it('creates and changes alert rules: a deep clean booking, a VIP call, an urgent voicemail', async () => {
    expect(await text('Notify me when someone books a deep clean')).toBe(`Text ${OWNER} when someone books a deep cleaning. Reply with your PIN to confirm, or NO.`);
    expect(await text(PIN)).toBe('Alert changed.');
    expect(await text('Let me know when a VIP calls')).toMatch(/^Text \+15125550199 when a VIP calls\./);
    expect(await text(PIN)).toBe('Alert set.');
    expect(await text('Text me when a voicemail sounds urgent')).toMatch(/when an urgent voicemail comes in\./);
    expect(await text(PIN)).toBe('Alert changed.');
    const alerts = (await doc()).alerts.filter((a) => a.to === OWNER);
    expect(alerts).toEqual(expect.arrayContaining([
      { on: 'booking_created', via: 'sms', to: OWNER, service: 'deep' },
      { on: 'vip_call', via: 'sms', to: OWNER },
      { on: 'voicemail', via: 'sms', to: OWNER, urgentOnly: true },
    ]));
    expect(alerts).toHaveLength(3);
    // What the rules do: a standard clean no longer texts the owner, a deep clean does; only the urgent voicemail does.
    const alertsTo = async () => (await store().db.selectFrom('outbox').select(['payload']).where('purpose', '=', 'owner_alert').where('recipient', '=', OWNER).execute()).length;
    const before = await alertsTo();
    await biz.scheduling.book({ context: demoContext.name, service: 'standard', start: at('2026-12-01T15:00:00Z'), customerId: ids['Grace Lee']!, source: 'admin' });
    expect(await alertsTo()).toBe(before);
    await biz.scheduling.book({ context: demoContext.name, service: 'deep', start: at('2026-12-02T15:00:00Z'), customerId: ids['Grace Lee']!, source: 'admin' });
    expect(await alertsTo()).toBe(before + 1);
    const stored = await biz.contexts.get(demoContext.name);
    await biz.messages.take(stored, { kind: 'voicemail', body: 'just saying thanks' });
    expect(await alertsTo()).toBe(before + 1);
    await biz.messages.take(stored, { kind: 'voicemail', body: 'Water is flooding the basement, urgent' });
    expect(await alertsTo()).toBe(before + 2);
  });

  it('places the briefing call at the time the owner set, through the outbox queue on the business clock', async () => {
    expect(await text("Call me at 6 with tomorrow's schedule")).toBe(`Call you at ${OWNER} Friday, Nov 20 at 6 PM with the next day's schedule. Reply YES to confirm, or NO.`);
    expect(await text('YES')).toBe("I'll call you Friday, Nov 20 at 6 PM.");
    now = new Date('2026-11-20T23:59:00Z'); // 5:59 pm
    await outbox.runOnce();
    expect(briefingCalls).toHaveLength(0);
    now = new Date('2026-11-21T00:00:00Z'); // 6 pm
    await outbox.runOnce();
    expect(briefingCalls).toHaveLength(1);
    expect(briefingCalls[0]!.item.recipient).toBe(OWNER);
    expect(briefingCalls[0]!.text).toBe("Here is tomorrow's schedule, Saturday, November 21. 1 booked tomorrow: 9 AM standard cleaning for Ana Garcia at x.");
    await outbox.runOnce();
    expect(briefingCalls).toHaveLength(1);
    now = FRIDAY_NOON;
  });

  it('a spoofed owner number gets nothing it did not already have: a stranger is the customer agent, and wrong PINs lock out and alert the owner', async () => {
    // A number that is not the owner's gets the customer agent, not owner tools.
    const reply = await text('Block the last caller.', GARCIA);
    expect(reply).not.toMatch(/PIN|Block/);
    // A PIN with nothing waiting for it changes nothing, and is not kept either.
    expect(await text(PIN)).toBe('Nothing is waiting for a PIN. Send the command first.');
    const rulesBefore = (await doc()).callerRules;
    expect(await text("We're closed Saturday for the holiday.")).toMatch(/Reply with your PIN/);
    for (let i = 4; i >= 1; i--) expect(await text('1111')).toBe(`That PIN is wrong; nothing was changed. ${i} ${i === 1 ? 'try' : 'tries'} left before owner changes lock for 15 minutes.`);
    expect(await text('2222')).toBe('Too many wrong PINs: owner changes are locked for 15 minutes. Nothing was changed.');
    // Locked: even the right PIN does nothing now.
    expect(await text("We're closed Saturday for the holiday.")).toBe('Owner changes are locked for a while after too many wrong PINs. Nothing was changed.');
    expect((await doc()).holidays.find((h) => h.date === '2026-11-21')).toBeUndefined();
    expect((await doc()).callerRules).toEqual(rulesBefore);
    const lockAlert = await store().db.selectFrom('outbox').select(['recipient', 'payload']).where('purpose', '=', 'owner_pin_lockout').execute();
    expect(lockAlert.map((a) => a.recipient)).toEqual([OWNER]);
    expect((lockAlert[0]!.payload as { text: string }).text).toMatch(/5 wrong owner PINs by sms from \+15125550199/);
    expect((await ownerAudit()).filter((r) => r.action === 'owner.pin_failed')).toHaveLength(5);
    // Read-only still answers; 15 minutes later the PIN works again.
    expect(await text("What's on tomorrow?")).toMatch(/booked tomorrow/);
    now = new Date(FRIDAY_NOON.getTime() + 16 * 60_000);
    expect(await text("We're closed Saturday for the holiday.")).toMatch(/Reply with your PIN/);
    expect(await text(PIN)).toBe('Done: closed Saturday, November 21.');
  });

  it('every change the owner made is in the audit log with tier, verdict, who and what changed', async () => {
    const done = (await ownerAudit()).filter((r) => r.action === 'owner.command' && r.details.verdict === 'done' && r.details.tier !== 'low');
    expect(done.map((r) => r.details.command)).toEqual([
      'text_customer', 'move', 'cancel', 'close_day', 'close_early', 'forward', 'block', 'alert_rule', 'alert_rule', 'alert_rule', 'briefing', 'close_day',
    ]);
    for (const r of done) {
      expect(r.actor).toBe(`owner:${OWNER}`);
      expect(r.details.changed).toBeTruthy();
      expect(['medium', 'high']).toContain(r.details.tier);
    }
    // The context's own history says who changed it.
    const history = await biz.contexts.history(demoContext.name);
    expect(history.filter((v) => v.author === `owner:${OWNER}`).length).toBeGreaterThanOrEqual(8);
  });
});
