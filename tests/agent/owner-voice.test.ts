import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { aroundTheClock } from '../helpers/contexts.js';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { demoContext } from '../../src/business/context/demo.js';
import { SipEndpoint } from '../../src/telephony/sip/endpoint.js';
import type { SipCall } from '../../src/telephony/sip/call.js';
import { parseCidrList } from '../../src/util/cidr.js';
import { hashPin } from '../../src/business/owner/pin.js';
import { freePort } from '../helpers/ports.js';
import { BUILT_MODELS_DIR, MODELS_DIR } from '../helpers/audio.js';
import { TestCaller } from '../helpers/caller.js';

/**
 * The owner's line on a call, over the built-in SIP endpoint in real time: the owner's caller ID
 * alone gets the customer agent; '*PIN#' on the keypad (or the PIN said aloud) switches on owner
 * commands, spoken and synthesised with flite, recognised with the business's language model.
 */

const BIZ = '+15125550100';
const OWNER = '+15125550199';
const PIN = '4821';
const STRANGER = '+15125550777';
/** Friday 20 November 2026, noon in Chicago: the business clock (the call's own audio keeps wall time). */
const FRIDAY_NOON = new Date('2026-11-20T18:00:00Z');

describe("the owner's line on a call", () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-owner-voice-'));
  let now = new Date('2026-11-19T15:00:00Z');
  let app: App;
  let phone: SipEndpoint;
  let phonePort = 0;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    const sipPort = await freePort();
    phonePort = await freePort();
    app = await createApp(loadConfig({
      FRONTDESK_DATA_DIR: join(dir, 'data'), FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR, FRONTDESK_HTTP_HOST: '127.0.0.1',
      FRONTDESK_HTTP_PORT: String(await freePort()), FRONTDESK_SIP_BIND: '127.0.0.1', FRONTDESK_SIP_PORT: String(sipPort),
      FRONTDESK_MODELS_DIR: MODELS_DIR, FRONTDESK_RTP_PORT_MIN: '36600', FRONTDESK_RTP_PORT_MAX: '36699',
      // The briefing call goes out through "the trunk": the test's phone.
      FRONTDESK_SIP_TRUNK: `127.0.0.1:${phonePort}`,
    }), silentLogger, { now: () => now });
    await app.contexts.save({
      ...demoContext, hours: aroundTheClock, holidays: [],
      owner: { ...demoContext.owner, numbers: [OWNER], pinHash: await hashPin(PIN) },
    }, 'test');
    const c = (await app.business.customers.findOrCreateByPhone('+15125550301'))!.customer;
    await app.business.customers.update(c.id, { name: 'Ana Garcia', address: '12 Oak Ave' });
    ids.sat = (await app.business.scheduling.book({ context: demoContext.name, service: 'standard', start: new Date('2026-11-21T15:00:00Z'), customerId: c.id, source: 'admin' })).appointment.id;
    ids.fri3 = (await app.business.scheduling.book({ context: demoContext.name, service: 'standard', start: new Date('2026-11-20T21:00:00Z'), customerId: c.id, source: 'admin' })).appointment.id;
    const lee = (await app.business.customers.findOrCreateByPhone('+15125550302'))!.customer;
    await app.business.customers.update(lee.id, { name: 'Grace Lee', address: '5 Elm St' });
    ids.leeTue = (await app.business.scheduling.book({ context: demoContext.name, service: 'standard', start: new Date('2026-11-24T16:00:00Z'), customerId: lee.id, source: 'admin' })).appointment.id;
    now = FRIDAY_NOON;
    const stored = await app.contexts.get(demoContext.name);
    await app.business.calls.start({ direction: 'inbound', backend: 'sip', from: STRANGER, to: BIZ, contextId: stored.id });
    await app.start();
    await app.speechReady;
    expect(app.speech.stt).toBeDefined();
    phone = new SipEndpoint({
      bind: '127.0.0.1', port: phonePort, trusted: parseCidrList([]), rtpPortMin: 36700, rtpPortMax: 36799,
      trunk: { host: '127.0.0.1', port: sipPort, transport: 'UDP', register: false, callerId: OWNER },
    });
    await phone.start();
  }, 180_000);
  afterAll(async () => {
    await phone?.stop();
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The agent's record of the latest inbound call. */
  const callRecord = () => app.store.db.selectFrom('calls').selectAll().where('direction', '=', 'inbound').where('from_number', '=', OWNER)
    .orderBy('started_at', 'desc').limit(1).executeTakeFirstOrThrow();
  /** What the agent said on the latest call, turn by turn (written as each reply finishes playing). */
  async function agentTurns(n: number, timeoutMs = 10_000): Promise<string[]> {
    const id = (await callRecord()).id;
    // The record is written as the reply finishes playing: wait for that write, not a fixed time.
    return vi.waitFor(async () => {
      const evs = await app.business.calls.events(id);
      const turns = evs.filter((e) => e.kind === 'turn' && e.role === 'agent').map((e) => e.text ?? '');
      if (turns.length < n) throw new Error(`the agent said fewer than ${n} things: ${JSON.stringify(evs.map((e) => `${e.kind} ${e.role}: ${e.text}`))}`);
      return turns;
    }, { timeout: timeoutMs, interval: 50 });
  }
  /** Says `line` and returns the agent's answer to it. */
  async function exchange(caller: TestCaller, line: string, n: number): Promise<string> {
    await caller.say(line);
    // The reply is over when the agent's record says it finished playing (an event), not after 0.9 s of
    // quiet, which slow speech synthesis on a loaded machine also leaves mid-reply (the caller then
    // talked over the rest). A bound, not a target: a long read-back took over 20 s on a loaded machine.
    const turns = await agentTurns(n, 90_000).catch((e: Error) => {
      throw new Error(`${e.message} after "${line}"`);
    });
    caller.reset();
    return turns[n - 1]!;
  }
  /** Says `line` and checks the answer; a mismatch names what the recognizer heard. */
  async function answers(caller: TestCaller, line: string, n: number, expected: string | RegExp): Promise<void> {
    const got = await exchange(caller, line, n);
    const evs = await app.business.calls.events((await callRecord()).id);
    const heard = evs.filter((e) => e.kind === 'turn' && e.role === 'caller').at(-1)?.text;
    if (typeof expected === 'string') expect(got, `said "${line}", heard "${heard}"`).toBe(expected);
    else expect(got, `said "${line}", heard "${heard}"`).toMatch(expected);
  }
  const ownerCommands = () => app.store.db.selectFrom('audit_log').select(['details']).where('action', '=', 'owner.command').execute();

  it("the owner's caller ID without the PIN hears the customer agent and changes nothing", async () => {
    const call = (await phone.dial(BIZ)) as SipCall;
    const caller = new TestCaller(call);
    await caller.nextTurn();
    expect((await agentTurns(1))[0]).toBe(demoContext.greeting);
    const answer = await exchange(caller, 'Block the last caller.', 2);
    expect(answer).not.toMatch(/block|PIN|owner line/i);
    await call.hangup();
    expect(await ownerCommands()).toEqual([]);
    expect((await app.contexts.get(demoContext.name)).document.callerRules).toEqual([]);
    const evs = await app.business.calls.events((await callRecord()).id);
    expect(evs.some((e) => e.text === 'owner mode')).toBe(false);
  }, 120_000);

  it('after *PIN# on the keypad, takes spoken owner commands: the schedule, then a block read back and confirmed', async () => {
    const call = (await phone.dial(BIZ)) as SipCall;
    const caller = new TestCaller(call);
    await caller.nextTurn();
    await call.sendDtmf(`*${PIN}#`);
    await caller.nextTurn();
    expect((await agentTurns(2))[1]).toBe("Hi Maria, you're on the owner line. What can I do?");
    // The PIN is nowhere in the call's record.
    expect(JSON.stringify(await app.business.calls.events((await callRecord()).id))).not.toContain(PIN);

    await answers(caller, "What's on tomorrow?", 3, '1 booked tomorrow: 9 AM standard cleaning for Ana Garcia at 12 Oak Ave.');
    // Numbers are read out digit by digit (the record keeps what was said).
    await answers(caller, 'Block the last caller.', 4, 'Block 5 1 2, 5 5 5, 0 7 7 7: their calls get declined. Shall I do it?');
    await answers(caller, 'Yes please.', 5, 'Blocked 5 1 2, 5 5 5, 0 7 7 7.');
    expect((await app.business.route(BIZ, STRANGER))!.decision.action).toBe('reject');
    const ended = new Promise((r) => call.once('ended', r));
    await caller.say("That's all.");
    await ended;
    const done = (await ownerCommands()).map((r) => r.details as Record<string, unknown>).filter((d) => d.verdict === 'done');
    expect(done.map((d) => [d.command, d.tier, d.channel])).toEqual([['agenda', 'low', 'call'], ['block', 'high', 'call']]);
  }, 180_000);

  it('takes the PIN said aloud, then cancels a visit and books the briefing call, which is placed at the time set', async () => {
    const call = (await phone.dial(BIZ)) as SipCall;
    const caller = new TestCaller(call);
    await caller.nextTurn();
    await answers(caller, 'My pin is four eight two one.', 2, "Hi Maria, you're on the owner line. What can I do?");
    await answers(caller, 'Cancel my three p.m.', 3, "Cancel Ana Garcia's standard cleaning on Friday, Nov 20 at 3 PM; they get a text saying so. Shall I do it?");
    await answers(caller, 'Yes please.', 4, 'Cancelled the standard cleaning on Friday, Nov 20 at 3 PM.');
    expect((await app.business.scheduling.get(ids.fri3!)).status).toBe('cancelled');
    await answers(caller, "Call me at six with tomorrow's schedule.", 5, "Call you at 5 1 2, 5 5 5, 0 1 9 9 Friday, Nov 20 at 6 PM with the next day's schedule. Shall I do it?");
    await answers(caller, 'Yes please.', 6, "I'll call you Friday, Nov 20 at 6 PM.");
    await call.hangup();

    // 5:59 pm: nothing yet. 6 pm: the outbox places the call through the trunk, and the owner hears the schedule.
    now = new Date('2026-11-20T23:59:00Z');
    await app.outbox.runOnce();
    expect(await app.store.db.selectFrom('calls').select('id').where('purpose', '=', 'owner_briefing').execute()).toEqual([]);
    const rang = new Promise<{ owner: TestCaller; ended: Promise<unknown> }>((resolve) => phone.once('call', (c) => {
      const ended = new Promise((r) => c.once('ended', r));
      void c.answer().then(() => resolve({ owner: new TestCaller(c), ended }));
    }));
    now = new Date('2026-11-21T00:00:00Z');
    await app.outbox.runOnce();
    // The briefing is read out, then the call hangs up.
    const { owner, ended } = await rang;
    await ended;
    expect(owner.timeline.filter((f) => f.loud).length * 0.02).toBeGreaterThan(3);
    const rec = await app.store.db.selectFrom('calls').selectAll().where('purpose', '=', 'owner_briefing').executeTakeFirstOrThrow();
    expect(rec.to_number).toBe(OWNER);
    const note = (await app.business.calls.events(rec.id)).find((e) => e.kind === 'note');
    expect(note?.text).toBe("Here is tomorrow's schedule, Saturday, November 21. 1 booked tomorrow: 9 AM standard cleaning for Ana Garcia at 12 Oak Ave.");
  }, 240_000);

  it('the rest of the commands by voice: messages, a text to a customer, a move, hours, forwarding and an alert rule', async () => {
    now = FRIDAY_NOON;
    const stored = await app.contexts.get(demoContext.name);
    await app.business.messages.take(stored, { kind: 'voicemail', body: 'Please call me back about Tuesday', callerName: 'Bob', callerNumber: '+15125550555' });
    const call = (await phone.dial(BIZ)) as SipCall;
    const caller = new TestCaller(call);
    await caller.nextTurn();
    await call.sendDtmf(`*${PIN}#`);
    await caller.nextTurn();
    let n = 2;
    const step = (line: string, expected: string | RegExp) => answers(caller, line, ++n, expected);
    await step('Any messages?', /^\d new messages?\. .*voicemail from Bob: Please call me back about Tuesday/);
    await step("Text the Garcias we're running twenty minutes late.", /^Text Ana Garcia at 5 1 2, 5 5 5, 0 3 0 1: "Sparkle .* Shine Cleaning: We're running twenty minutes late" Shall I do it\?$/);
    await step('Yes please.', 'Texted Ana Garcia.');
    await step("Move Grace Lee's Tuesday visit to Thursday at ten.", "Move Grace Lee's standard cleaning on Tuesday, Nov 24 at 10 AM to Thursday, Nov 26 at 10 AM; they get a text saying so. Shall I do it?");
    await step('Yes please.', 'Moved to Thursday, Nov 26 at 10 AM.');
    await step("We're closed Monday for the holiday.", "Mark Monday, November 23 closed, \"Holiday\"; callers hear you're closed. Shall I do it?");
    await step('Yes please.', 'Done: closed Monday, November 23.');
    await step('Close early today at three.', 'Close at 3 PM on Friday, November 20 instead of 12 AM. Shall I do it?');
    await step('Yes please.', 'Done: closing at 3 PM that day.');
    await step('Forward calls to my cell until five.', "Forward calls to Office desk phone, then Maria's cell until Friday, Nov 20 at 5 PM. Shall I do it?");
    await step('Yes please.', 'Forwarding calls until 5 PM.');
    await step('Notify me when a VIP calls.', 'Text 5 1 2, 5 5 5, 0 1 9 9 when a VIP calls. Shall I do it?');
    await step('Yes please.', 'Alert set.');
    await call.hangup();
    const doc = (await app.contexts.get(demoContext.name)).document;
    expect(doc.holidays.map((h) => [h.date, h.hours])).toEqual([['2026-11-20', [{ open: '00:00', close: '15:00' }]], ['2026-11-23', []]]);
    expect(doc.owner.forwardUntil).toBe('2026-11-20T17:00:00.000-06:00');
    expect(doc.alerts).toContainEqual({ on: 'vip_call', via: 'sms', to: OWNER });
    expect((await app.business.scheduling.get(ids.leeTue!)).start.toISOString()).toBe('2026-11-26T16:00:00.000Z');
    const text = await app.store.db.selectFrom('outbox').select(['recipient', 'payload']).where('purpose', '=', 'owner_text').executeTakeFirstOrThrow();
    expect(text.recipient).toBe('+15125550301');
  }, 480_000);

  it('wrong PINs on the keypad lock owner access (even the right PIN then) and alert the owner', async () => {
    // Sunday noon: past the forwarding the owner set above (calls would ring the owner's phones instead).
    now = new Date('2026-11-22T18:00:00Z');
    const call = (await phone.dial(BIZ)) as SipCall;
    const caller = new TestCaller(call);
    await caller.nextTurn();
    for (let i = 1; i <= 5; i++) {
      await call.sendDtmf('*1111#');
      await caller.nextTurn();
      expect((await agentTurns(i + 1))[i]).toBe(i < 5 ? "That PIN isn't right. How else can I help?" : 'Owner access is locked for now. How else can I help?');
    }
    await call.sendDtmf(`*${PIN}#`);
    await caller.nextTurn();
    expect((await agentTurns(7))[6]).toBe('Owner access is locked for now. How else can I help?');
    await call.hangup();
    const alert = await app.store.db.selectFrom('outbox').select(['recipient', 'payload']).where('purpose', '=', 'owner_pin_lockout').execute();
    expect(alert.map((a) => a.recipient)).toContain(OWNER);
    expect((alert[0]!.payload as { text: string }).text).toMatch(/5 wrong owner PINs by call from \+15125550199/);
  }, 180_000);
});
