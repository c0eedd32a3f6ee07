import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { aroundTheClock } from '../helpers/contexts.js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { demoContext } from '../../src/business/context/demo.js';
import { SipEndpoint } from '../../src/telephony/sip/endpoint.js';
import type { SipCall } from '../../src/telephony/sip/call.js';
import { parseCidrList } from '../../src/util/cidr.js';
import { SphinxStt } from '../../src/speech/stt/sphinx/index.js';
import { telephoneModelDir } from '../../src/speech/index.js';
import { contextPhrases } from '../../src/agent/voice/phrases.js';
import { freePort } from '../helpers/ports.js';
import { BUILT_MODELS_DIR, MODELS_DIR, concat, frames, silence, sound } from '../helpers/audio.js';
import { TestCaller } from '../helpers/caller.js';
import { AgentTools } from '../../src/agent/tools.js';
import { placePurposeCall } from '../../src/agent/voice/outbound.js';
import { wordErrorRate } from '../helpers/wer.js';
import type { Stt } from '../../src/speech/types.js';
import type { TurnOptionsInput } from '../../src/agent/turns/options.js';

/**
 * Callers talk to the agent over the built-in SIP endpoint, in real time: synthesized speech in,
 * the agent's speech out, everything through the process wiring `frontdesk start` uses.
 */
describe('talking to the agent', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-voice-'));
  let app: App;
  let phone: SipEndpoint;
  let ownerPort = 0;
  let ear: SphinxStt;

  let phonePort = 0;
  /** Turn-taking waits for the calls placed from here on; read when each call starts. */
  const turn: TurnOptionsInput = {};
  beforeAll(async () => {
    const sipPort = await freePort();
    ownerPort = await freePort();
    phonePort = await freePort();
    app = await createApp(loadConfig({
      FRONTDESK_DATA_DIR: join(dir, 'data'), FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR, FRONTDESK_HTTP_HOST: '127.0.0.1',
      FRONTDESK_HTTP_PORT: String(await freePort()), FRONTDESK_SIP_BIND: '127.0.0.1', FRONTDESK_SIP_PORT: String(sipPort),
      FRONTDESK_MODELS_DIR: MODELS_DIR, FRONTDESK_RTP_PORT_MIN: '36200', FRONTDESK_RTP_PORT_MAX: '36299',
      // Outbound calls go through "the trunk": here, the test's phone.
      FRONTDESK_SIP_TRUNK: `127.0.0.1:${phonePort}`,
    }), silentLogger, { turn });
    // Open around the clock so the agent (not after-hours voicemail) answers whenever the test runs.
    await app.contexts.save({
      ...demoContext,
      hours: aroundTheClock,
      holidays: [],
      owner: { ...demoContext.owner, transferMode: 'blind', targets: [{ label: 'Desk', kind: 'sip', value: `sip:maria@127.0.0.1:${ownerPort}`, ringSeconds: 10 }] },
    }, 'test');
    await app.start();
    await app.speechReady;
    expect(app.speech.stt).toBeDefined();
    phone = new SipEndpoint({
      bind: '127.0.0.1', port: phonePort, trusted: parseCidrList([]), rtpPortMin: 36300, rtpPortMax: 36399,
      trunk: { host: '127.0.0.1', port: sipPort, transport: 'UDP', register: false, callerId: '+15125550142' },
    });
    await phone.start();
    ear = new SphinxStt({ model: telephoneModelDir(BUILT_MODELS_DIR), workDir: join(dir, 'ear') });
  });
  afterAll(async () => {
    ear?.close();
    await phone?.stop();
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The test's ear: the recognizer, expecting the business's words and the agent's greeting. */
  async function transcribe(pcm: Int16Array): Promise<string> {
    const s = ear.stream([...contextPhrases((await app.contexts.get(demoContext.name))!.document), demoContext.greeting]);
    for (const f of frames(pcm)) s.accept(f, 8000);
    return (await s.finish()).text;
  }

  async function events(callId: string) {
    return app.business.calls.events(callId);
  }

  /** A visit booked for the customer at `phone`, `days` out; the agent's reminder call placed. */
  async function remind(phone_: string, service: string, days: number, address: string) {
    const context = await app.contexts.get(demoContext.name);
    const { customer } = (await app.business.customers.findOrCreateByPhone(phone_))!;
    const tools = new AgentTools({ business: app.business, context, customer, channel: 'call' });
    const { slots } = await tools.availability({ service, from: new Date(Date.now() + days * 86_400_000).toISOString() });
    const visit = await tools.book({ service, start: slots[0]!.start, address });
    const placed = await placePurposeCall(
      { telephony: app.telephony!, business: app.business, speech: app.speech, dataDir: join(dir, 'data') },
      { to: phone_, context, purpose: 'reminder', appointmentId: visit.appointment.id },
    );
    return { visit, ...placed };
  }

  /** The agent's record of the latest call (its call id differs from the caller's). */
  async function callRecord() {
    return app.store.db.selectFrom('calls').selectAll().orderBy('started_at', 'desc').limit(1).executeTakeFirstOrThrow();
  }

  it('books a cleaning by voice: greeting, request, address, confirmation; the SMS confirmation is queued', async () => {
    const call = (await phone.dial('+15125550100')) as SipCall;
    const caller = new TestCaller(call);
    const ended = new Promise<string>((r) => call.on('ended', r));
    const greeting = await caller.nextTurn();
    // What the caller heard is the context's greeting (transcribed back by the recognizer).
    expect(wordErrorRate(demoContext.greeting, await transcribe(greeting))).toBeLessThan(0.25);

    // The caller answers what the agent asks (read from the agent's record of what it said), as a
    // person would: a "Did you say …?" gets a yes, whichever question it follows.
    const answers: [RegExp, string][] = [
      [/^You're all set/, "That's all, goodbye."],
      [/Did you say|Shall I book it|yes or (a )?no/i, 'Yes please.'],
      [/how many bedrooms/i, 'Two bedrooms.'],
      [/address/i, 'Twelve main street.'],
      [/what name/i, 'Maria.'],
    ];
    const first = await callRecord();
    let heard = 1;
    await caller.say('I would like a standard cleaning next tuesday at ten in the morning.');
    const reply = await caller.nextTurn();
    // A control for the ear: a reply is not heard as the greeting.
    expect(wordErrorRate(demoContext.greeting, await transcribe(reply))).toBeGreaterThan(0.5);
    for (let turn = 0; turn < 10 && call.state !== 'ended'; turn++) {
      const said = await vi.waitFor(async () => {
        const t = (await events(first.id)).filter((e) => e.kind === 'turn' && e.role === 'agent');
        expect(t.length).toBeGreaterThan(heard);
        return t;
      }, { timeout: 30_000, interval: 50 });
      heard = said.length;
      const last = said.at(-1)!.text ?? '';
      const answer = answers.find(([re]) => re.test(last))?.[1];
      if (!answer && /have a great day|goodbye/i.test(last)) break;
      if (!answer) throw new Error(`the caller has no answer to: ${last}`);
      await caller.say(answer);
    }
    await ended;
    const rec = await callRecord();
    const log = (await events(rec.id)).map((e) => `${e.kind} ${e.role}: ${e.text} ${JSON.stringify(e.data)}`).join("\n");
    const appt = await app.store.db.selectFrom('appointments').innerJoin('customers', 'customers.id', 'appointments.customer_id')
      .select(['appointments.id', 'appointments.starts_at', 'appointments.status', 'appointments.source'])
      .where('customers.phone', '=', '+15125550142').executeTakeFirst();
    expect(appt, `no appointment; the conversation was:\n${log}`).toBeDefined();
    expect(appt!.status).toBe('booked');
    // Tuesday at ten, in the business's time zone.
    const local = new Date(appt!.starts_at).toLocaleString('en-US', { timeZone: demoContext.timezone, weekday: 'long', hour: 'numeric' });
    expect(local).toBe('Tuesday 10 AM');
    const confirmation = await app.store.db.selectFrom('outbox').select(['channel', 'recipient'])
      .where('purpose', '=', 'booking_confirmation').where('recipient', '=', '+15125550142').executeTakeFirst();
    expect(confirmation).toEqual({ channel: 'sms', recipient: '+15125550142' });
    // The call record has the transcript, per-turn latency and a summary.
    const evs = await events(rec.id);
    expect(evs.filter((e) => e.kind === 'turn' && e.role === 'caller').length).toBeGreaterThanOrEqual(3);
    const latency = evs.filter((e) => e.kind === 'latency').map((e) => e.data as { totalMs: number; sttMs: number });
    expect(latency.length).toBeGreaterThanOrEqual(3);
    for (const l of latency) expect(l.totalMs).toBeGreaterThan(0);
    await vi.waitFor(async () => expect((await callRecord()).state).toBe('ended'), { timeout: 10_000, interval: 50 });
    expect((await callRecord()).summary).toMatch(/booked/);
  }, 180_000);

  it('books a caller the recognizer cannot understand: a narrower question, then the keypad, a confirmation; the address is checked by text', async () => {
    // Whatever this caller says comes out as a few unsure words (a voice the recognizer was never tuned on).
    const unintelligible: Stt = {
      name: 'unintelligible',
      stream: () => ({ accept() {}, partial: () => '', finish: async () => ({ text: 'at the and', final: true, startMs: 0, endMs: 0, confidence: 0.15 }), close() {} }),
      close() {},
    };
    const real = app.speech.stt;
    app.speech.stt = unintelligible;
    const number = '+15125550146';
    const mumbler = new SipEndpoint({
      bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]), rtpPortMin: 36500, rtpPortMax: 36599,
      trunk: { host: '127.0.0.1', port: app.config.sip.port, transport: 'UDP', register: false, callerId: number },
    });
    await mumbler.start();
    try {
      const call = (await mumbler.dial('+15125550100')) as SipCall;
      const caller = new TestCaller(call);
      const started = Date.now();
      const rec = await vi.waitFor(async () => {
        const r = await callRecord();
        expect(r.started_at.getTime()).toBeGreaterThanOrEqual(started - 1000);
        return r;
      }, { timeout: 10_000, interval: 50 });
      const agentTurns = async () => (await events(rec.id)).filter((e) => e.kind === 'turn' && e.role === 'agent').map((e) => e.text ?? '');
      /** The agent's next reply, once it has been said in full. */
      let heard = 0;
      const reply = async () => {
        const said = await vi.waitFor(async () => {
          const t = await agentTurns();
          expect(t.length).toBeGreaterThan(heard);
          return t;
        }, { timeout: 30_000, interval: 50 });
        heard = said.length;
        return said.at(-1)!;
      };
      await reply();
      caller.reset();
      await caller.say('I would like to book a cleaning please.');
      expect(await reply()).toBe("Sorry, I didn't catch that. Are you calling to book a cleaning? Please say yes or no.");
      await caller.say('Yes.');
      expect(await reply()).toBe("Sorry, I didn't catch that. You can use your keypad: press 1 to book a cleaning, 2 for a price, 3 to change a visit, 4 to leave a message, or 0 for Maria.");
      await call.sendDtmf('1');
      expect(await reply()).toMatch(/^Happy to help\. Which would you like: standard cleaning/);
      await call.sendDtmf('1');
      expect(await reply()).toMatch(/^The next openings I have are /);
      await call.sendDtmf('1');
      expect(await reply()).toBe('And how many bedrooms does your home have?');
      // The home size keyed digit by digit: a slip cleared with star, then 1 and 2 make one answer, 12.
      await call.sendDtmf('9*12');
      expect(await reply()).toBe('Great. What is the address for the cleaning?');
      await caller.say('Twelve Main Street.');
      // Not read back (it was not heard), and no name asked of a caller on the keypad.
      expect(await reply()).toMatch(/^I can book a standard cleaning for 12 bedrooms .* at the address you gave, which I'll text you to check, for \$\d+.*Shall I book it\?$/);
      await call.sendDtmf('1');
      expect(await reply()).toMatch(/^You're all set: standard cleaning /);
      await call.hangup();
      const appt = await app.store.db.selectFrom('appointments').innerJoin('customers', 'customers.id', 'appointments.customer_id')
        .select(['appointments.status', 'appointments.notes', 'appointments.quote']).where('customers.phone', '=', number).executeTakeFirstOrThrow();
      expect(appt.status).toBe('booked');
      expect(appt.quote).toMatchObject({ units: 12 });
      // Flagged for the owner, with the caller's own words kept as audio.
      expect(appt.notes).toMatch(/^Address to check: heard "the and" on the call \(audio: .*address-\d+\.wav\); texted to the customer\.$/);
      const wav = readFileSync(/\(audio: (.*?)\)/.exec(appt.notes!)![1]!);
      expect((wav.length - 44) / 2 / 8000).toBeGreaterThan(0.5);
      // The text the customer gets (the SMS provider sends what the outbox holds).
      const text = await app.store.db.selectFrom('outbox').select(['channel', 'payload']).where('purpose', '=', 'address_check').where('recipient', '=', number).executeTakeFirstOrThrow();
      expect(text.channel).toBe('sms');
      expect(JSON.stringify(text.payload)).toMatch(/couldn't make out your address on the call\. Please reply with your full street address/);
      const callerTurns = (await events(rec.id)).filter((e) => e.kind === 'turn' && e.role === 'caller');
      expect(callerTurns.length).toBeLessThanOrEqual(8);
      expect(callerTurns.filter((e) => /^\(pressed \d+\)$/.test(e.text ?? '')).map((e) => e.text)).toEqual(['(pressed 1)', '(pressed 1)', '(pressed 1)', '(pressed 12)', '(pressed 1)']);
    } finally {
      app.speech.stt = real;
      await mumbler.stop();
    }
  }, 120_000);

  it('answers a caller whose phone sends only the words and no RTP after them (DTX)', async () => {
    // A desk phone with silence suppression: packets only while the caller speaks.
    const dtx = new SipEndpoint({
      bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]), rtpPortMin: 36400, rtpPortMax: 36499, sendSilence: false,
      trunk: { host: '127.0.0.1', port: app.config.sip.port, transport: 'UDP', register: false, callerId: '+15125550143' },
    });
    await dtx.start();
    try {
      const call = (await dtx.dial('+15125550100')) as SipCall;
      const caller = new TestCaller(call);
      await caller.nextTurn();
      const sentBefore = call.rtp.stats.packetsOut;
      await caller.say('What services do you offer?');
      const sentForWords = call.rtp.stats.packetsOut - sentBefore;
      const answer = await caller.nextTurn();
      expect(answer.length / 8000).toBeGreaterThan(1);
      // The phone sent the words and nothing else: the pause was the agent's own doing.
      expect(call.rtp.stats.packetsOut - sentBefore).toBe(sentForWords);
      const evs = await events((await callRecord()).id);
      const turns = evs.filter((e) => e.kind === 'turn').map((e) => `${e.role}: ${e.text}`);
      // The caller's turn ended on the pause, and the agent answered it (a list of services).
      expect(turns.slice(1)).toEqual([expect.stringMatching(/^caller: /), expect.stringMatching(/^agent: .*cleaning/i)]);
      await call.hangup();
    } finally {
      await dtx.stop();
    }
  }, 60_000);

  it('with an end-of-turn model, lets the caller pause mid-sentence and answers the whole of it', async () => {
    // The model's verdicts, scripted: "not done" until the caller has said the second half.
    const heard: { samples: number; rate: number }[] = [];
    let resumed = false;
    app.speech.turn = {
      name: 'scripted end of turn',
      decide: async (pcm, rate) => {
        heard.push({ samples: pcm.length, rate });
        return resumed ? { complete: true, probability: 0.9 } : { complete: false, probability: 0.1 };
      },
      close: () => {},
    };
    // The model's verdicts alone decide: the waits that answer a caller anyway after an "incomplete"
    // verdict or a slow one run on the app's wall clock, and a loaded machine hears the caller resume
    // late. Those waits are the turn machine's unit tests (tests/agent/turns.test.ts), on a test clock.
    Object.assign(turn, { semantic: { incompleteDelayMs: 60_000, verdictTimeoutMs: 60_000 }, endpointing: { maxDelayMs: 60_000 } });
    try {
      const call = (await phone.dial('+15125550100')) as SipCall;
      const caller = new TestCaller(call);
      await caller.nextTurn();
      // Said back to back (synthesised first, so the pause is exactly the one intended).
      const [first, second] = [await caller.synthesize('I would like to book a cleaning'), await caller.synthesize('a deep clean')];
      await call.play(first).done;
      // A second of thinking aloud; without the model the agent would answer into it (after 0.3 s).
      const pauseFrom = caller.heardMs;
      await call.play(new Int16Array(8000 * 1)).done;
      const pauseTo = caller.heardMs;
      resumed = true;
      await call.play(second).done;
      await caller.nextTurn();
      expect(caller.timeline.filter((f) => f.loud && f.at > pauseFrom && f.at < pauseTo)).toEqual([]);
      await call.hangup();
      // It judged the caller's own audio: at the call's rate, the first words and no more than 8 s.
      expect(heard.length).toBeGreaterThanOrEqual(2);
      expect(heard[0]!.rate).toBe(8000);
      expect(heard[0]!.samples).toBeGreaterThan(8000);
      expect(heard.every((h) => h.samples <= 8 * 8000)).toBe(true);
      const evs = await events((await callRecord()).id);
      const callerTurns = evs.filter((e) => e.kind === 'turn' && e.role === 'caller');
      // One turn, both halves in it.
      expect(callerTurns.map((e) => e.text), JSON.stringify(evs.map((e) => [e.kind, e.role, e.text]))).toHaveLength(1);
      const verdicts = evs.filter((e) => e.kind === 'state' && e.text === 'turn_verdict').map((e) => (e.data as { complete: boolean }).complete);
      expect(verdicts[0]).toBe(false);
      expect(verdicts.at(-1)).toBe(true);
    } finally {
      app.speech.turn = undefined;
      for (const k of Object.keys(turn)) delete turn[k as keyof TurnOptionsInput];
    }
  }, 60_000);

  it('stops talking when the caller talks over it, and answers the new question', async () => {
    const call = (await phone.dial('+15125550100')) as SipCall;
    const caller = new TestCaller(call);
    await caller.nextTurn();
    await caller.say('What services do you offer?');
    await caller.agentStartsTalking();
    // Let the long answer run a moment (700 ms of it heard), then interrupt it.
    await caller.hear(700);
    const interruption = await caller.synthesize('How much is a deep cleaning for three bedrooms?');
    const startedAt = caller.heardMs;
    const saying = call.play(interruption).done;
    // The agent falls silent while the caller is still talking.
    const interruptionMs = (interruption.length / 8000) * 1000;
    await saying;
    // How soon it stops is a speed target, which a loaded machine misses (no bench measures it yet);
    // what the caller notices here: it stopped while they were still talking, and stayed quiet.
    const quietFrom = caller.timeline.filter((f) => f.at > startedAt && f.at < startedAt + interruptionMs);
    const lastLoud = quietFrom.filter((f) => f.loud).at(-1)?.at ?? startedAt;
    expect(lastLoud).toBeLessThan(startedAt + interruptionMs - 200);
    caller.reset();
    const answer = await caller.nextTurn();
    expect(answer.length / 8000).toBeGreaterThan(1);
    await call.hangup();
    const evs = await events((await callRecord()).id);
    expect(evs.some((e) => e.kind === 'state' && e.text === 'barge_in')).toBe(true);
    const cut = evs.find((e) => e.kind === 'turn' && e.role === 'agent' && (e.data as { completed: boolean }).completed === false);
    expect(cut, 'the interrupted reply is recorded as cut short').toBeDefined();
    // The transcript keeps what the caller actually heard, not the whole reply.
    const full = evs.filter((e) => e.kind === 'turn' && e.role === 'agent' && (e.data as { completed: boolean }).completed);
    expect(full.every((e) => e.text !== cut!.text)).toBe(true);
    // The new question was heard and answered: a price for a deep cleaning.
    const asked = evs.findIndex((e) => e.kind === 'turn' && e.role === 'caller' && /deep/.test(e.text ?? ''));
    expect(asked).toBeGreaterThan(0);
    expect(evs.slice(asked).find((e) => e.kind === 'turn' && e.role === 'agent')?.text).toMatch(/deep cleaning.*\$\d+/i);
  }, 60_000);

  it('hands the caller to the owner when they press 0 mid-conversation', async () => {
    const call = (await phone.dial('+15125550100')) as SipCall;
    const caller = new TestCaller(call);
    const referred = new Promise<string>((r) => phone.once('refer', (_c, target) => r(target)));
    await caller.nextTurn();
    await call.sendDtmf('0');
    expect(await referred).toBe(`sip:maria@127.0.0.1:${ownerPort}`);
    await call.hangup();
    const rec = await vi.waitFor(async () => {
      const r = await callRecord();
      expect(r.state).toBe('ended');
      return r;
    }, { timeout: 10_000, interval: 50 });
    // The hand-off decides the record: the owner's desk was tried, and the outcome is the transfer's
    // (this test phone declines the REFER and hangs up), not a finished conversation.
    expect((await events(rec.id)).some((e) => e.kind === 'transfer' && e.text === 'trying Desk')).toBe(true);
    expect(rec.disposition).toMatch(/^(abandoned|transferred)/);
  }, 30_000);

  it('calls a customer to remind them of a visit, speaks first, and records that they confirmed', async () => {
    const answered = new Promise<TestCaller>((resolve) => phone.once('call', (c) => {
      void c.answer().then(() => resolve(new TestCaller(c)));
    }));
    const { visit, id, done } = await remind('+15125550142', 'standard', 9, '12 Oak Street');
    const caller = await answered;
    // A person answers the way people do, and waits.
    await caller.say('Hello?');
    const opening = await caller.nextTurn();
    expect(opening.length / 8000).toBeGreaterThan(3);
    // What the customer heard names their visit.
    expect(await transcribe(opening)).toMatch(/standard cleaning/);
    await caller.say('Yes please.');
    expect(await done).toBe('completed');
    const rec = await app.business.calls.get(id);
    expect(rec).toMatchObject({ direction: 'outbound', purpose: 'reminder', to_number: '+15125550142', disposition: 'completed' });
    expect(rec!.summary).toMatch(/^reminder: .*visit confirmed/);
    const evs = await events(id);
    expect(evs.find((e) => e.kind === 'turn' && e.role === 'agent')?.text).toMatch(/^Hi, this is Sam from Sparkle and Shine Cleaning, calling to remind you about your standard cleaning/);
    // The visit is still booked.
    expect((await app.business.scheduling.get(visit.appointment.id)).status).toBe('booked');
    // The agent knew it had a person on the line.
    expect(rec!.result).toMatchObject({ answeredBy: 'human' });
  }, 60_000);

  it('leaves a reminder on an answering machine after its beep, and records that it did', async () => {
    // The machine: a recorded greeting, its beep, then it records whatever comes.
    let beepOverAt = 0;
    const recorded: Int16Array[] = [];
    const machine = new Promise<TestCaller>((resolve) => phone.once('call', (c) => {
      void c.answer().then(async () => {
        const m = new TestCaller(c);
        c.on('audio', (f) => recorded.push(Int16Array.from(f.pcm)));
        resolve(m);
        await c.play(concat([silence(300), sound('vm-intro'), silence(300), sound('beep')])).done;
        beepOverAt = m.heardMs; // the timeline is dated in audio received
      });
    }));
    const { visit, id, done } = await remind('+15125550143', 'deep', 10, '14 Elm Street');
    const m = await machine;
    // The agent hangs up after its message; the record says a voicemail was left.
    expect(await done).toBe('voicemail_left');
    // Nothing was said over the greeting: the agent's first sound came after the beep.
    const firstLoud = m.timeline.find((t) => t.loud);
    expect(beepOverAt).toBeGreaterThan(0);
    expect(firstLoud!.at).toBeGreaterThanOrEqual(beepOverAt);
    // What the machine recorded names the business and the visit.
    const heard = await transcribe(concat(recorded));
    expect(heard).toMatch(/sparkle and shine/);
    expect(heard).toMatch(/deep clean/);
    const rec = await app.business.calls.get(id);
    expect(rec).toMatchObject({ direction: 'outbound', purpose: 'reminder', disposition: 'voicemail_left' });
    expect(rec!.result).toMatchObject({ answeredBy: 'machine', voicemailLeft: true, after: 'beep' });
    expect((await events(id)).find((e) => e.kind === 'turn' && e.role === 'agent')?.text).toMatch(/^Hi, this is Sam from Sparkle and Shine Cleaning, calling to remind you about your deep cleaning .* call us back at/);
    expect((await app.business.scheduling.get(visit.appointment.id)).status).toBe('booked');
  }, 90_000);

  it('talks with a person whose long hello sounded like a machine, once they talk over the message', async () => {
    const answered = new Promise<TestCaller>((resolve) => phone.once('call', (c) => {
      void c.answer().then(() => resolve(new TestCaller(c)));
    }));
    const { id, done } = await remind('+15125550144', 'standard', 11, '16 Pine Street');
    const person = await answered;
    await person.say('Hello, this is the Morgan residence, Pat speaking, how can I help you?');
    // The agent takes that for a machine and, after a quiet while, starts its message; Pat talks over it.
    await person.agentStartsTalking(30_000);
    person.reset();
    await person.say('Hello? Who is this?');
    // The message stopped, and the agent talks to Pat instead: an apology, then the reminder's question.
    await vi.waitFor(async () => {
      const evs = await events(id);
      expect(evs.some((e) => e.kind === 'note' && /talked over the voicemail message/.test(e.text ?? ''))).toBe(true);
      expect(evs.some((e) => e.kind === 'turn' && e.role === 'agent' && /^Sorry, I thought I'd reached your voicemail\. Hi, this is Sam/.test(e.text ?? ''))).toBe(true);
    }, { timeout: 30_000, interval: 100 });
    await person.nextTurn();
    await person.say('Yes please.');
    expect(await done).toBe('completed');
    const rec = await app.business.calls.get(id);
    expect(rec).toMatchObject({ disposition: 'completed' });
    expect(rec!.result).toMatchObject({ answeredBy: 'human' });
    const evs = await events(id);
    expect(evs.some((e) => e.kind === 'note' && /talked over the voicemail message/.test(e.text ?? ''))).toBe(true);
    expect(evs.filter((e) => e.kind === 'turn' && e.role === 'agent').map((e) => e.text)).toContainEqual(expect.stringMatching(/^Sorry, I thought I'd reached your voicemail\. Hi, this is Sam/));
  }, 120_000);

  it('records the whole call after the consent line, caller and agent on their own channels', async () => {
    const stored = await app.contexts.get(demoContext.name);
    await app.contexts.save({ ...stored.document, recording: { enabled: true, consentMessage: 'This call is recorded.' } }, 'test');
    try {
      const call = (await phone.dial('+15125550100')) as SipCall;
      const caller = new TestCaller(call);
      // The consent line, then the greeting: wait until the greeting has been said, however long
      // the pause between the two (a quiet gap is not the end of what the agent says first).
      const started = Date.now();
      await vi.waitFor(async () => {
        const rec = await callRecord();
        expect(rec.started_at.getTime()).toBeGreaterThanOrEqual(started - 1000);
        expect((await events(rec.id)).some((e) => e.kind === 'turn' && e.role === 'agent' && /How can I help/.test(e.text ?? ''))).toBe(true);
      }, { timeout: 30_000, interval: 100 });
      caller.reset();
      await caller.say('What are your hours?');
      await caller.nextTurn();
      await call.hangup();
      const rec = await vi.waitFor(async () => {
        const r = await callRecord();
        expect(r.recording_path).toBeTruthy();
        return r;
      }, { timeout: 10_000, interval: 100 });
      expect(rec.recording_path).toMatch(/recordings\/.+\.wav$/);
      const wav = readFileSync(rec.recording_path!);
      expect(wav.readUInt16LE(22)).toBe(2); // stereo
      expect(wav.readUInt32LE(24)).toBe(8000);
      const samples = new Int16Array(wav.buffer, wav.byteOffset + 44, (wav.length - 44) / 2);
      const energy = (channel: 0 | 1) => {
        let loud = 0;
        for (let i = channel; i + 320 < samples.length; i += 320) {
          let e = 0;
          for (let k = i; k < i + 320; k += 2) e += Math.abs(samples[k]!);
          if (e / 160 > 300) loud++;
        }
        return loud * 20; // ms of speech
      };
      // Both voices are there: the caller's question, the agent's greeting and answer.
      expect(energy(0)).toBeGreaterThan(600);
      expect(energy(1)).toBeGreaterThan(2000);
      // The transcript starts at the greeting; the consent line was said before recording began.
      const evs = await events(rec.id);
      expect(evs.find((e) => e.kind === 'turn' && e.role === 'agent')?.text).toBe('Thanks for calling Sparkle and Shine Cleaning, this is Sam. How can I help you today?');
    } finally {
      await app.contexts.save(stored.document, 'test');
    }
  }, 60_000);
});
