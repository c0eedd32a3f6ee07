/// <reference lib="dom" />
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'vite';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { createAdminUser } from '../../src/http/admin/users.js';
import { SipEndpoint } from '../../src/telephony/sip/endpoint.js';
import { parseCidrList } from '../../src/util/cidr.js';
import type { Call } from '../../src/telephony/call.js';
import { demoContext } from '../../src/business/context/demo.js';
import { freePort } from '../helpers/ports.js';
import { MODELS_DIR, BUILT_MODELS_DIR } from '../helpers/audio.js';
import { aroundTheClock } from '../helpers/contexts.js';
import { TestCaller } from '../helpers/caller.js';

/**
 * The owner's calls from the console, in Debian's chromium: a customer's timeline (every call
 * with its summary and tag, texts, voicemails, visits), click-to-call through a carrier (our own
 * SIP stack on the far side: the owner's phone rings first, then the customer's, and they hear
 * each other), and a test call from the browser's (fake) microphone to the agent.
 */
const SHOTS = 'test-results/screenshots';
/** Resolves once `call` has delivered `ms` of ringback (440 + 480 Hz holding most of a frame's energy). */
function heardRingback(call: Call, ms: number): Promise<void> {
  const power = (pcm: Int16Array, hz: number) => {
    const k = 2 * Math.cos((2 * Math.PI * hz) / 8000);
    let s1 = 0;
    let s2 = 0;
    for (const x of pcm) [s2, s1] = [s1, x + k * s1 - s2];
    return s1 * s1 + s2 * s2 - k * s1 * s2;
  };
  return new Promise((resolve) => {
    let heard = 0;
    const onAudio = (f: { pcm: Int16Array }) => {
      const energy = f.pcm.reduce((a, x) => a + x * x, 0);
      if (energy > 0 && (power(f.pcm, 440) + power(f.pcm, 480)) / ((f.pcm.length / 2) * energy) > 0.7) heard += (f.pcm.length / 8000) * 1000;
      if (heard >= ms) {
        call.off('audio', onAudio);
        resolve();
      }
    };
    call.on('audio', onAudio);
  });
}

const OWNER = '+15125550111';
const ROSA = '+15125550142';

describe('console: customer timeline, click-to-call, test call from the browser', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-web-calls-'));
  let app: App;
  let carrier: SipEndpoint;
  let browser: Browser;
  let page: Page;
  let base = '';
  let rosaId = '';
  /** Calls the carrier got from frontdesk, by the number dialled. */
  const legs = new Map<string, { call: Call; ear: TestCaller }>();
  const legWaiters: { to: string; resolve: () => void }[] = [];

  beforeAll(async () => {
    await build({ configFile: 'web/vite.config.ts', logLevel: 'error' });
    mkdirSync(SHOTS, { recursive: true });
    const carrierPort = await freePort();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    app = await createApp(loadConfig({
      FRONTDESK_DATA_DIR: join(dir, 'data'), FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR, FRONTDESK_HTTP_HOST: '127.0.0.1', FRONTDESK_HTTP_PORT: String(port),
      FRONTDESK_PUBLIC_URL: base, FRONTDESK_MODELS_DIR: MODELS_DIR,
      FRONTDESK_SIP_BIND: '127.0.0.1', FRONTDESK_SIP_PORT: String(await freePort()), FRONTDESK_RTP_PORT_MIN: '37400', FRONTDESK_RTP_PORT_MAX: '37499',
      // Every outbound call goes to "the carrier": the test's own SIP endpoint.
      FRONTDESK_SIP_TRUNK: `127.0.0.1:${carrierPort}`,
    }), silentLogger);
    await createAdminUser(app.store.db, 'maria', 'correct horse battery');
    // Open around the clock (the test call hears the agent whenever the test runs); the owner's cell rings first.
    await app.contexts.save({
      ...demoContext, hours: aroundTheClock, holidays: [],
      owner: { ...demoContext.owner, targets: [{ label: 'Cell', kind: 'phone', value: OWNER, ringSeconds: 15 }] },
    }, 'test');
    carrier = new SipEndpoint({
      bind: '127.0.0.1', port: carrierPort, trusted: parseCidrList(['127.0.0.0/8']), rtpPortMin: 37500, rtpPortMax: 37599,
    });
    carrier.on('call', (call) => {
      // Each phone picks up; its ear records what it hears. The customer's phone rings until the
      // owner (on the line already) has heard half a second of ringback: without it, nobody answers.
      const ear = new TestCaller(call);
      const pickUp = call.to === ROSA ? heardRingback(legs.get(OWNER)!.call, 500) : Promise.resolve();
      void pickUp.then(() => call.answer()).then(() => {
        legs.set(call.to, { call, ear });
        for (const w of legWaiters.filter((x) => x.to === call.to)) w.resolve();
      });
    });
    await carrier.start();
    await app.start();
    await app.speechReady;

    // Rosa's history: a call asking a price, a call that hung up at once, a voicemail, texts, a visit.
    const ctx = await app.contexts.get(demoContext.name);
    const rosa = (await app.business.customers.findOrCreateByPhone(ROSA))!.customer;
    rosaId = rosa.id;
    await app.business.customers.update(rosa.id, { name: 'Rosa Alvarez', address: '12 Main St' });
    const priced = await app.business.calls.start({ direction: 'inbound', backend: 'sip', from: ROSA, to: ctx.document.numbers[0]!, contextId: ctx.id, customerId: rosa.id });
    await app.business.calls.event(priced, 'turn', { role: 'caller', text: 'Hi, how much is a deep cleaning for a three bedroom house?' });
    await app.business.calls.event(priced, 'turn', { role: 'agent', text: 'A deep cleaning is $180 plus $30 per bedroom.' });
    await app.business.calls.ended(priced, 'completed');
    const missed = await app.business.calls.start({ direction: 'inbound', backend: 'sip', from: ROSA, to: ctx.document.numbers[0]!, contextId: ctx.id, customerId: rosa.id });
    await app.business.calls.ended(missed, 'abandoned (remote_hangup)');
    await app.business.messages.take(ctx, { kind: 'voicemail', body: 'It is Rosa, can the crew bring their own vacuum?', callerNumber: ROSA });
    const thread = await app.store.db.insertInto('sms_threads')
      .values({ context_id: ctx.id, business_number: ctx.document.numbers[0]!, customer_number: ROSA, customer_id: rosa.id, last_message_at: new Date() })
      .returning('id').executeTakeFirstOrThrow();
    await app.store.db.insertInto('sms_messages').values({ thread_id: thread.id, direction: 'inbound', provider: 'telnyx', body: 'Is Friday still on?', status: 'received', created_at: new Date(), updated_at: new Date() }).execute();
    const { DateTime } = await import('luxon');
    let start = DateTime.now().setZone(ctx.document.timezone).plus({ days: 3 }).set({ hour: 10, minute: 0, second: 0, millisecond: 0 });
    while (start.weekday > 5) start = start.plus({ days: 1 });
    await app.business.scheduling.book({ context: demoContext.name, service: 'standard', start: start.toJSDate(), customerId: rosa.id, source: 'admin' });

    // A spoken question for the fake microphone, played over and over: a pause for the greeting, the question, quiet for the answer.
    const said = join(dir, 'said.wav');
    execFileSync('flite', ['-t', 'How much is a standard cleaning?', '-o', said]);
    execFileSync('sox', [said, '-r', '16000', '-c', '1', '-b', '16', join(dir, 'question.wav'), 'pad', '7', '15']);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
        '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${join(dir, 'question.wav')}`,
        '--autoplay-policy=no-user-gesture-required',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(15_000);
    await page.goto(base);
    await page.fill('#username', 'maria');
    await page.fill('#password', 'correct horse battery');
    await page.click('#login');
    await page.waitForSelector('#stat-today');
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await carrier?.stop();
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const leg = (to: string) => (legs.has(to) ? Promise.resolve() : new Promise<void>((resolve) => legWaiters.push({ to, resolve }))).then(() => legs.get(to)!);

  it('shows one customer\'s calls (each with a summary and a tag), texts, voicemails and visits in time order', async () => {
    await page.click('nav a[href="#/customers"]');
    await page.click(`#customers [data-customer="${rosaId}"] a`);
    await page.waitForSelector('#timeline [data-visit]');
    expect(await page.textContent('h1')).toBe('Rosa Alvarez');
    // The summaries are written when each call ends: the price question and the hang-up.
    await page.waitForSelector('#timeline [data-call] [data-tag="quote"]');
    await page.waitForSelector('#timeline [data-call] [data-tag="missed"]');
    const calls = await page.$$eval('#timeline [data-call]', (els) => els.map((e) => e.textContent ?? ''));
    expect(calls.find((c) => c.includes('price asked'))).toContain('Asked about prices: “Hi, how much is a deep cleaning for a three bedroom house?”');
    expect(calls.find((c) => c.includes('missed'))).toContain('Hung up before saying anything.');
    expect(await page.textContent('#timeline [data-message]')).toContain('bring their own vacuum');
    expect(await page.textContent('#timeline [data-text]')).toContain('Is Friday still on?');
    // Newest first: the coming visit, then the text, the voicemail, the calls.
    const order = await page.$$eval('#timeline > li', (els) => els.map((e) => Object.keys((e as HTMLElement).dataset)[0]));
    expect(order).toEqual(['visit', 'text', 'message', 'call', 'call']);
    // The calls list shows the same tag, and filters by it.
    await page.goto(`${base}/#/calls?outcome=quote`);
    await page.waitForSelector('#calls [data-tag="quote"]');
    expect(await page.locator('#calls tr').count()).toBe(2);
    await page.goto(`${base}/#/customers/${rosaId}`);
    await page.waitForSelector('#timeline');
    await page.screenshot({ path: `${SHOTS}/customer-desktop.png`, fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: `${SHOTS}/customer-phone.png`, fullPage: true });
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(wide).toBeLessThanOrEqual(390);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('calls a customer back: the owner\'s phone rings first, then the customer\'s, and they hear each other', async () => {
    await page.goto(`${base}/#/customers/${rosaId}`);
    await page.waitForSelector('html[data-live="open"]');
    await page.click('#call-customer');
    await page.waitForSelector('#call-status:has-text("Ringing your phone (Cell)")');
    // The owner's phone first; the customer's only once the owner has answered.
    const owner = await leg(OWNER);
    expect(legs.has(ROSA)).toBe(false);
    await page.waitForSelector('#call-status:has-text("Connected: you and Rosa Alvarez are talking.")', { timeout: 30_000 });
    const rosa = await leg(ROSA);
    // The owner heard the whisper ("Calling Rosa Alvarez…") before the customer was connected, then
    // ringback while Rosa's phone rang (her phone answers only after it: see the carrier above).
    expect(owner.ear.timeline.some((f) => f.loud)).toBe(true);
    rosa.ear.reset();
    owner.ear.reset();
    // The owner speaks: Rosa hears it; Rosa answers: the owner hears it.
    const heardByRosa = rosa.ear.nextTurn(600, 15_000);
    await owner.ear.say('Hi Rosa, this is Maria from Sparkle.');
    expect((await heardByRosa).length).toBeGreaterThan(8000 * 0.5);
    const heardByOwner = owner.ear.nextTurn(600, 15_000);
    await rosa.ear.say('Hello Maria, thanks for calling back.');
    expect((await heardByOwner).length).toBeGreaterThan(8000 * 0.5);
    await page.screenshot({ path: `${SHOTS}/click-to-call.png`, fullPage: true });
    // Rosa hangs up: the owner's leg is hung up too, and the console says so.
    const ownerEnded = new Promise<string>((r) => (owner.call.state === 'ended' ? r('ended') : owner.call.once('ended', r)));
    await rosa.call.hangup();
    await ownerEnded;
    await page.waitForSelector('#call-status:has-text("Rosa Alvarez hung up.")');
    const rec = await app.store.db.selectFrom('calls').selectAll().where('purpose', '=', 'click_to_call').executeTakeFirstOrThrow();
    expect(rec).toMatchObject({ direction: 'outbound', to_number: ROSA, customer_id: rosaId });
    await expect.poll(async () => (await app.business.calls.get(rec.id))?.disposition, { timeout: 10_000 }).toBe('completed');
  }, 90_000);

  it('refuses to call a number the dial policy forbids, before the owner\'s phone rings', async () => {
    const before = legs.size;
    const r = await page.evaluate(async () => {
      const me = await (await fetch('/api/auth/me')).json() as { csrfToken: string };
      const res = await fetch('/api/calls/connect', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrfToken }, body: JSON.stringify({ to: '911' }) });
      return { status: res.status, body: await res.json() as { message: string } };
    });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/emergency/);
    expect(legs.size).toBe(before);
  });

  it('talks to the receptionist from the browser: the greeting, a spoken question, and a reply in the transcript', async () => {
    await page.goto(`${base}/#/`);
    await page.click('#talk');
    await page.waitForSelector('html[data-live="open"]');
    await page.click('#test-call');
    await page.waitForSelector('#test-hangup');
    // The greeting, what the (fake) microphone asked, and the receptionist's answer.
    await page.waitForSelector(`#test-transcript .turn-agent:has-text("${demoContext.greeting.slice(0, 20)}")`, { timeout: 30_000 });
    // On a failure, what the call's record says happened.
    const record = async () => {
      await page.click('#test-hangup').catch(() => {});
      const c = await app.store.db.selectFrom('calls').select('id').where('purpose', '=', 'test_call').executeTakeFirst();
      if (c) await expect.poll(async () => (await app.business.calls.get(c.id))?.state, { timeout: 10_000 }).toBe('ended').catch(() => {});
      return c ? (await app.business.calls.events(c.id)).map((e) => `${e.kind} ${e.role}: ${e.text ?? ''} ${JSON.stringify(e.data)}`).join('\n') : 'no call';
    };
    await page.waitForSelector('#test-transcript .turn-caller', { timeout: 60_000 }).catch(async (e: Error) => { throw new Error(`${e.message}\n${await record()}`); });
    await page.waitForSelector('#test-transcript .turn-caller ~ .turn-agent', { timeout: 60_000 }).catch(async (e: Error) => { throw new Error(`${e.message}\n${await record()}`); });
    const lines = await page.$$eval('#test-transcript > div', (els) => els.map((e) => e.textContent ?? ''));
    await page.screenshot({ path: `${SHOTS}/test-call.png`, fullPage: true });
    expect(lines[0]).toContain('Receptionist:');
    expect(lines.some((l) => l.startsWith('You:'))).toBe(true);
    await page.click('#test-hangup');
    await page.waitForSelector('#test-call');
    const rec = await app.store.db.selectFrom('calls').selectAll().where('purpose', '=', 'test_call').executeTakeFirstOrThrow();
    expect(rec).toMatchObject({ backend: 'browser', from_number: 'browser:maria' });
    await expect.poll(async () => (await app.business.calls.get(rec.id))?.state, { timeout: 10_000 }).toBe('ended');
  }, 150_000);

  it('refuses a test call without a session, or from another site', async () => {
    const { WebSocket } = await import('ws');
    const open = (headers: Record<string, string>) => new Promise<number>((resolve) => {
      const ws = new WebSocket(`${base.replace('http', 'ws')}/api/test-call`, { headers });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => { ws.close(); resolve(101); });
      ws.on('error', () => resolve(-1));
    });
    expect(await open({})).toBe(401);
    const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    expect(await open({ cookie, origin: 'https://evil.example' })).toBe(401);
  });
});
