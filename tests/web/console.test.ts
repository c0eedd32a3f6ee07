/// <reference lib="dom" />
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { build } from 'vite';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { createAdminUser } from '../../src/http/admin/users.js';
import { FakeTelnyx } from '../fakes/telnyx.js';
import { freePort } from '../helpers/ports.js';
import { MODELS_DIR, BUILT_MODELS_DIR } from '../helpers/audio.js';
import { CALENDAR_DEFAULTS } from '../../web/src/settings.js';

/** The admin console in a real browser (Debian's chromium driven by playwright-core). */
const SHOTS = 'test-results/screenshots';
const CALENDAR_UNDO_MS = CALENDAR_DEFAULTS.undoSeconds * 1000;

describe('admin console', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-web-'));
  const telnyx = new FakeTelnyx();
  let app: App;
  let browser: Browser;
  let page: Page;
  let base = '';
  let callId = '';

  beforeAll(async () => {
    await build({ configFile: 'web/vite.config.ts', logLevel: 'error' });
    mkdirSync(SHOTS, { recursive: true });
    await telnyx.start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    app = await createApp(loadConfig({
      FRONTDESK_DATA_DIR: join(dir, 'data'), FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR, FRONTDESK_HTTP_HOST: '127.0.0.1', FRONTDESK_HTTP_PORT: String(port), FRONTDESK_TELEPHONY: 'none',
      FRONTDESK_PUBLIC_URL: base, FRONTDESK_MODELS_DIR: MODELS_DIR,
      FRONTDESK_TELNYX_API_KEY: telnyx.apiKey, FRONTDESK_TELNYX_PUBLIC_KEY: telnyx.publicKey, FRONTDESK_TELNYX_API_URL: telnyx.url,
    }), silentLogger);
    await createAdminUser(app.store.db, 'maria', 'correct horse battery');
    const ctx = await app.contexts.get('sparkle-cleaning');
    callId = await app.business.calls.start({ direction: 'inbound', backend: 'sip', from: '+15125550177', to: '+15125550100', contextId: ctx.id });
    await app.business.calls.event(callId, 'turn', { role: 'caller', text: 'Hi, do you clean ovens?' });
    await app.business.calls.event(callId, 'turn', { role: 'agent', text: 'Yes, inside appliances are part of a deep cleaning.' });
    await app.business.calls.event(callId, 'latency', { role: 'system', data: { sttMs: 60, thinkMs: 150, ttsMs: 140, sendMs: 10, totalMs: 360, fromSpeechEndMs: 660 } });
    await app.business.calls.ended(callId, 'completed', { summary: '2 caller turns; completed' });
    // Another caller who left a voicemail: the outcome filter tells them apart.
    const vm = await app.business.calls.start({ direction: 'inbound', backend: 'sip', from: '+15125550188', to: '+15125550100', contextId: ctx.id });
    await app.business.calls.ended(vm, 'voicemail');
    await app.start();
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // A missing element fails with its selector named, well inside the test's own time limit.
    page.setDefaultTimeout(10_000);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await telnyx.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Saves the context and waits for the confirmation; a refusal fails with the errors the owner saw. */
  const saveExpecting = async (said: number | string) => {
    await page.click('#save-context');
    await page.waitForSelector('#context-saved:not(:empty), #form-errors p');
    expect(await page.$$eval('.field-error', (es) => es.map((e) => e.textContent))).toEqual([]);
    expect(await page.textContent('#context-saved')).toBe(typeof said === 'number' ? `Saved as version ${said}.` : said);
  };
  const shot = (name: string) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });

  it('signs in and shows the dashboard', async () => {
    await page.goto(base);
    await page.fill('#username', 'maria');
    await page.fill('#password', 'wrong password');
    await page.click('#login');
    await page.waitForSelector('#login-error:has-text("wrong username or password")');
    await shot('login');
    await page.fill('#password', 'correct horse battery');
    await page.click('#login');
    await page.waitForSelector('#stat-today');
    expect(await page.textContent('#who')).toBe('maria');
    // The median reply time of the last day's turns, counted from when the caller stopped talking.
    expect(await page.textContent('#stat-latency')).toContain('660 ms');
    await shot('dashboard');
  });

  it('edits hours and greeting, sees the routing preview change, and rolls back', async () => {
    await page.goto(`${base}/#/contexts/sparkle-cleaning`);
    await page.waitForSelector('#greeting');
    // Saturday 10:00 in Chicago (16:00 UTC), a time the business is open.
    await page.fill('#preview-at', '2026-11-28T10:00');
    await page.click('#preview');
    await page.waitForSelector('#preview-result:has-text("Open")');
    await shot('context');

    await page.fill('#greeting', 'Thanks for calling Sparkle and Shine! How can we help?');
    await page.check('input[name="sat-closed"]');
    await page.click('#save-context');
    await page.waitForSelector('h1:has-text("v2")');
    await page.fill('#preview-at', '2026-11-28T10:00');
    await page.click('#preview');
    await page.waitForSelector('#preview-result:has-text("Closed")');
    expect(await page.inputValue('#greeting')).toBe('Thanks for calling Sparkle and Shine! How can we help?');
    await shot('context-edited');

    await page.click('button[data-rollback="1"]');
    await page.waitForSelector('h1:has-text("v3")');
    await page.fill('#preview-at', '2026-11-28T10:00');
    await page.click('#preview');
    await page.waitForSelector('#preview-result:has-text("Open")');
    await shot('context-history');
  });

  it('shows field errors for an invalid edit and saves nothing', async () => {
    await page.fill('input[name="mon-open"]', '18:00');
    await page.fill('input[name="mon-close"]', '08:00');
    await page.click('#save-context');
    await page.waitForSelector('[data-path="hours.mon[0].close"]');
    // In words, beside the field, and the cursor is in it.
    expect(await page.textContent('[data-path="hours.mon[0].close"]')).toBe('Monday: Open must be before close.');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('mon-close');
    expect(await page.textContent('#form-errors')).toContain('Not saved');
    expect((await app.contexts.get('sparkle-cleaning')).version).toBe(3);
    await shot('context-invalid');
  });

  it('edits services, scheduling, the owner\'s find-me list and caller rules in forms, with field errors for mistakes', async () => {
    await page.goto(`${base}/#/contexts/sparkle-cleaning`);
    await page.reload();
    await page.waitForSelector('#services input[data-field="price.base"]');
    // A negative price is refused with the field named, and nothing is saved.
    await page.locator('#services input[data-field="price.base"]').first().fill('-10');
    await page.click('#save-context');
    await page.waitForSelector('[data-path="services[0].price.base"]');
    expect((await app.contexts.get('sparkle-cleaning')).version).toBe(3);
    await page.locator('#services input[data-field="price.base"]').first().fill('135');
    // A new last resort for find-me/follow-me, and a VIP caller.
    await page.click('#owner-targets [data-add]');
    const target = page.locator('#owner-targets tbody tr').last();
    await target.locator('[data-field="label"]').fill('Front desk');
    await target.locator('[data-field="kind"]').selectOption('extension');
    await target.locator('[data-field="value"]').fill('102');
    await page.click('#caller-rules [data-add]');
    const rule = page.locator('#caller-rules tbody tr').last();
    await rule.locator('[data-field="match"]').fill('+15125550142');
    await rule.locator('[data-field="label"]').fill('Mrs. Alvarez');
    await page.fill('#travel-buffer', '45');
    await page.fill('#after-hours-greeting', "We're closed, but I can still book you in.");
    await page.click('#alerts [data-add]');
    const alert = page.locator('#alerts tbody tr').last();
    await alert.locator('[data-field="on"]').selectOption('missed_call');
    await alert.locator('[data-field="via"]').selectOption('email');
    await alert.locator('[data-field="to"]').fill('maria@example.com');
    await page.fill('#crews', 'crew-1, crew-2');
    // Ring first: the owner's phones for 15 s, then the receptionist.
    await page.fill('#ring-seconds', '15');
    await page.check('#owner-first');
    await page.click('#save-context');
    await page.waitForSelector('h1:has-text("v4")');
    const doc = (await app.contexts.get('sparkle-cleaning')).document;
    expect(doc.services[0]!.price.base).toBe(135);
    expect(doc.services[0]!.name).toBe('Standard cleaning');
    expect(doc.owner.targets.at(-1)).toEqual({ label: 'Front desk', kind: 'extension', value: '102', ringSeconds: 20 });
    expect(doc.callerRules.at(-1)).toEqual({ match: '+15125550142', action: 'vip', label: 'Mrs. Alvarez' });
    expect(doc.scheduling).toMatchObject({ travelBufferMinutes: 45, crews: ['crew-1', 'crew-2'], slotMinutes: 30 });
    expect(doc.alerts.at(-1)).toEqual({ on: 'missed_call', via: 'email', to: 'maria@example.com' });
    expect(doc.afterHours).toEqual({ action: 'agent', greeting: "We're closed, but I can still book you in." });
    expect(doc.answer).toEqual({ ringSeconds: 15, ownerFirst: true, earlyMedia: false });
    // Untouched lists come back as they were: the add-ons keep their first-visit discount.
    expect(doc.pricing.modifiers.find((m) => m.id === 'first-visit')).toMatchObject({ kind: 'percent', amount: -10, firstVisitOnly: true });
    await shot('context-forms');
  });

  it('shows the week of appointments on the business clock, moves one, cancels it with an undo window, and adds visits', async () => {
    // The page's timers run on a clock the test moves.
    await page.clock.install();
    const { DateTime } = await import('luxon');
    // Two or more days ahead (past the notice), on a weekday, at 10:00 in the business's zone.
    let start = DateTime.now().setZone('America/Chicago').plus({ days: 2 }).set({ hour: 10, minute: 0, second: 0, millisecond: 0 });
    while (start.weekday > 5) start = start.plus({ days: 1 });
    const booked = await app.business.scheduling.book({ context: 'sparkle-cleaning', service: 'standard', start: start.toJSDate(), source: 'admin' });
    await page.goto(`${base}/#/appointments`);
    await page.waitForSelector('#week');
    const onPage = await page.$(`[data-appointment="${booked.appointment.id}"]`);
    if (!onPage) await page.click('text=Next week →');
    await page.waitForSelector(`[data-appointment="${booked.appointment.id}"]`);
    await shot('appointments');
    // The visit's day on its own, then back to its week.
    await page.click(`[data-day="${start.toISODate()}"]`);
    await page.waitForSelector(`#day [data-appointment="${booked.appointment.id}"]`);
    expect(await page.textContent('#day h2')).toContain(start.toFormat('d'));
    await shot('calendar-day');
    await page.click('#week-view');
    await page.waitForSelector(`#week [data-appointment="${booked.appointment.id}"]`);
    // Move it to 14:00 the same day, entered on the business's clock. The owner types the time and
    // looks away; a booking elsewhere redraws the week meanwhile: the typed time is kept for Move.
    await page.fill(`[data-move="${booked.appointment.id}"]`, `${start.toISODate()}T14:00`);
    await page.click('h1');
    await page.evaluate(() => document.querySelector('#week')!.setAttribute('data-before-redraw', ''));
    await app.business.scheduling.book({ context: 'sparkle-cleaning', service: 'standard', start: start.plus({ weeks: 3 }).toJSDate(), source: 'admin' });
    await page.waitForSelector('#week:not([data-before-redraw])');
    await page.click(`[data-move-button="${booked.appointment.id}"]`);
    // Wait for the move to land (a busy machine is slow to click through), not a fixed time.
    await vi.waitFor(async () => expect((await app.business.scheduling.get(booked.appointment.id)).start.getTime()).not.toBe(start.toMillis()), { timeout: 20_000, interval: 100 });
    expect((await app.business.scheduling.get(booked.appointment.id)).start.toISOString()).toBe(start.set({ hour: 14 }).toUTC().toISO());
    // Cancel asks first, then waits out an undo window before anything happens.
    const id = booked.appointment.id;
    await page.click(`[data-cancel="${id}"]`);
    await page.click('text=Keep it');
    await page.click(`[data-cancel="${id}"]`);
    await page.click(`[data-confirm-cancel="${id}"]`);
    await page.waitForSelector(`[data-undo="${id}"]`);
    await shot('calendar-undo');
    await page.click(`[data-undo="${id}"]`);
    await page.waitForSelector(`[data-cancel="${id}"]`);
    await page.clock.runFor(CALENDAR_UNDO_MS * 2);
    expect((await app.business.scheduling.get(id)).status).toBe('booked');
    await page.click(`[data-cancel="${id}"]`);
    await page.click(`[data-confirm-cancel="${id}"]`);
    await page.waitForSelector(`[data-undo="${id}"]`);
    expect((await app.business.scheduling.get(id)).status).toBe('booked');
    await page.clock.runFor(CALENDAR_UNDO_MS);
    await page.waitForSelector(`[data-appointment="${id}"]`, { state: 'detached' });
    expect((await app.business.scheduling.get(id)).status).toBe('cancelled');

    // A visit added by the owner, with the customer's name; a taken time offers the free ones.
    await page.click('#add-visit summary');
    await page.selectOption('#visit-service', 'standard');
    await page.fill('#visit-start', `${start.toISODate()}T10:00`);
    await page.fill('#visit-name', 'Rosa Alvarez');
    await page.fill('#visit-phone', '512-555-0142');
    await page.fill('#visit-address', '12 Oak St');
    await page.click('#visit-book');
    await page.waitForSelector('.visit:has-text("Rosa Alvarez")');
    expect(await page.textContent('.visit:has-text("Rosa Alvarez")')).toContain('(512) 555-0142');
    // A name without a phone would be lost: asked for beside the field.
    await page.click('#add-visit summary');
    await page.fill('#visit-start', `${start.toISODate()}T10:00`);
    await page.fill('#visit-name', 'Tom Baker');
    await page.click('#visit-book');
    await page.waitForSelector('#add-visit .field-error:has-text("Add the customer\'s phone")');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('visit-phone');
    // The second crew takes ten o'clock too; a third visit then is refused with the free times offered.
    await page.fill('#visit-phone', '512-555-0133');
    await page.click('#visit-book');
    await page.waitForSelector('.visit:has-text("Tom Baker")');
    await page.click('#add-visit summary');
    await page.fill('#visit-start', `${start.toISODate()}T10:00`);
    await page.fill('#visit-name', 'Ann Lee');
    await page.fill('#visit-phone', '512-555-0134');
    await page.click('#visit-book');
    await page.waitForSelector('#add-visit [data-alternative]');
    await shot('calendar-alternatives');
    await page.locator('#add-visit [data-alternative]').first().click();
    await page.waitForSelector('.visit:has-text("Ann Lee")');
  });

  it('opens a call and reads its transcript', async () => {
    // A two-second recording at 8 kHz, 16-bit mono.
    const pcm = Buffer.alloc(2 * 8000 * 2);
    for (let i = 0; i < pcm.length / 2; i++) pcm.writeInt16LE(Math.round(3000 * Math.sin(i / 10)), i * 2);
    const head = Buffer.alloc(44);
    head.write('RIFF', 0); head.writeUInt32LE(36 + pcm.length, 4); head.write('WAVEfmt ', 8); head.writeUInt32LE(16, 16);
    head.writeUInt16LE(1, 20); head.writeUInt16LE(1, 22); head.writeUInt32LE(8000, 24); head.writeUInt32LE(16000, 28);
    head.writeUInt16LE(2, 32); head.writeUInt16LE(16, 34); head.write('data', 36); head.writeUInt32LE(pcm.length, 40);
    const wav = join(dir, 'call.wav');
    writeFileSync(wav, Buffer.concat([head, pcm]));
    await app.store.db.updateTable('calls').set({ recording_path: wav }).where('id', '=', callId).execute();
    // What the telephony backend measured when the call ended (RTCP from the caller's phone included).
    await app.business.calls.quality(callId, {
      packetsIn: 497, packetsOut: 610, lost: 3, late: 1, duplicates: 0, discarded: 2, jitterMs: 4.2, maxJitterMs: 11.5,
      rtcpIn: 4, rtcpOut: 5, remote: { lost: 0, fractionLost: 0, jitterMs: 1.1 }, rttMs: 38.2, maxRttMs: 52,
    });
    await page.goto(`${base}/#/calls`);
    await page.waitForSelector('#calls a');
    await shot('calls');
    // Filter: only voicemails, then only this caller.
    await page.selectOption('#filter-outcome', 'voicemail');
    await page.waitForSelector('#calls tr:nth-child(2) td:has-text("(512) 555-0188")');
    // That row may be the unfiltered list's own second row: wait for the filtered list to replace it.
    await expect.poll(() => page.locator('#calls tr').count(), { timeout: 30_000 }).toBe(2);
    await page.selectOption('#filter-outcome', '');
    // The number as an owner writes it finds the call.
    await page.fill('#filter-caller', '512-555-0177');
    await page.press('#filter-caller', 'Enter');
    await page.waitForSelector('#calls tr:nth-child(2) td[data-number="+15125550177"]');
    await expect.poll(() => page.locator('#calls tr').count(), { timeout: 30_000 }).toBe(2);
    await page.fill('#filter-caller', '(512) 555 0188');
    await page.press('#filter-caller', 'Enter');
    await page.waitForSelector('#calls tr:nth-child(2) td[data-number="+15125550188"]');
    expect(await page.locator('#calls tr').count()).toBe(2);
    await page.fill('#filter-caller', '0177');
    await page.press('#filter-caller', 'Enter');
    await page.waitForSelector('#calls tr:nth-child(2) td[data-number="+15125550177"]');
    await page.click('#calls a');
    await page.waitForSelector('#transcript:has-text("do you clean ovens")');
    const transcript = await page.textContent('#transcript');
    expect(transcript).toContain('inside appliances are part of a deep cleaning');
    // Each reply's latency, stage by stage.
    expect(transcript).toContain('660 ms to answer — recognition 60, thinking 150, voice 140, network 10');
    // The player knows the recording's length (and so can seek): the server answers Range requests.
    await page.waitForFunction(() => (document.querySelector('#call-recording') as HTMLAudioElement | null)?.duration === 2);
    const part = await page.evaluate(async (id) => {
      const r = await fetch(`/api/calls/${id}/recording`, { headers: { range: 'bytes=100-199' } });
      return { status: r.status, range: r.headers.get('content-range'), bytes: (await r.arrayBuffer()).byteLength };
    }, callId);
    expect(part).toEqual({ status: 206, range: `bytes 100-199/${44 + 32000}`, bytes: 100 });
    await page.click('#call-quality summary');
    const quality = await page.textContent('#call-quality');
    expect(quality).toContain('497 (lost 3, 0.6 %)');
    expect(quality).toContain('4.2 ms (worst 11.5 ms)');
    expect(quality).toContain('38.2 ms (worst 52 ms)');
    expect(quality).toContain('5 sent, 4 received');
    await shot('call');
  });

  it('sends a text to a number typed any common way', async () => {
    await page.goto(`${base}/#/inbox`);
    await page.waitForSelector('html[data-live="open"]');
    await page.click('#new-text summary');
    await page.waitForSelector('#new-text[open] #sms-to');
    await page.fill('#sms-to', '(512) 555-0142');
    await page.fill('#sms-text', 'Your crew is on the way!');
    // A text arriving while the owner writes redraws the list, not the half-written form.
    const w = telnyx.inbound('+15125550191', '+15125550100', 'Are you open on Sunday?');
    expect((await fetch(`${base}/webhooks/sms/telnyx`, { method: 'POST', body: w.body, headers: w.headers })).status).toBe(200);
    await page.waitForSelector('#inbox:has-text("(512) 555-0191")');
    expect(await page.inputValue('#sms-to')).toBe('(512) 555-0142');
    expect(await page.inputValue('#sms-text')).toBe('Your crew is on the way!');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('sms-text');
    expect(await page.isVisible('#sms-send')).toBe(true);
    await page.click('#sms-send');
    await page.waitForSelector('#sms-status:has-text("Sending to (512) 555-0142")');
    const mine = () => telnyx.sent.find((m) => m.to === '+15125550142' && m.text === 'Your crew is on the way!');
    await vi.waitFor(() => expect(mine()).toBeDefined(), { timeout: 20_000, interval: 100 });
    expect(mine()).toMatchObject({ to: '+15125550142', from: '+15125550100', text: 'Your crew is on the way!' });
    // Not a number: said beside the field, nothing queued.
    await page.fill('#sms-to', '555');
    await page.fill('#sms-text', 'hello');
    await page.click('#sms-send');
    await page.waitForSelector('[data-path="to"]:has-text("Enter a phone number")');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('sms-to');
  });

  it('adds a service priced per bedroom, keeps a second opening interval, and says "Saved" where it stays', async () => {
    await page.goto(`${base}/#/contexts/sparkle-cleaning`);
    await page.reload();
    await page.waitForSelector('#services [data-add]');
    const before = (await app.contexts.get('sparkle-cleaning')).version;
    await page.click('#services [data-add]');
    const row = page.locator('#services tbody tr').last();
    await row.locator('[data-field="name"]').fill('Move-out cleaning');
    await row.locator('[data-field="durationMinutes"]').fill('180');
    await row.locator('[data-field="price.base"]').fill('250');
    await row.locator('[data-field="price.perUnit.amount"]').fill('40');
    // The unit is missing: said in words beside the field, which gets the cursor; nothing saved.
    await page.click('#save-context');
    await page.waitForSelector('.field-error:has-text("extra unit: Required.")');
    expect(await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.field)).toBe('price.perUnit.unit');
    expect((await app.contexts.get('sparkle-cleaning')).version).toBe(before);
    await row.locator('[data-field="price.perUnit.unit"]').fill('bedroom');
    // Monday with a lunch break: two intervals.
    await page.fill('input[name="mon-open"]', '08:00');
    await page.fill('input[name="mon-close"]', '12:00');
    await page.click('[data-add-hours="mon"]');
    await page.fill('input[name="mon-open-2"]', '13:00');
    await page.fill('input[name="mon-close-2"]', '18:00');
    // A follow-me number typed the way people write it.
    await page.click('#owner-targets [data-add]');
    const target = page.locator('#owner-targets tbody tr').last();
    await target.locator('[data-field="label"]').fill('Office');
    await target.locator('[data-field="value"]').fill('512 555 0111');
    await saveExpecting(before + 1);
    const doc = (await app.contexts.get('sparkle-cleaning')).document;
    expect(doc.services.at(-1)).toMatchObject({ id: 'move-out-cleaning', name: 'Move-out cleaning', durationMinutes: 180, price: { base: 250, perUnit: { unit: 'bedroom', amount: 40 } } });
    expect(doc.hours.mon).toEqual([{ open: '08:00', close: '12:00' }, { open: '13:00', close: '18:00' }]);
    expect(doc.owner.targets.at(-1)).toEqual({ label: 'Office', kind: 'phone', value: '+15125550111', ringSeconds: 20 });
    // The page drawn again from the server shows both intervals, and the confirmation is still there.
    expect(await page.inputValue('input[name="mon-open-2"]')).toBe('13:00');
    expect(await page.textContent('#context-saved')).toBe(`Saved as version ${before + 1}.`);
    await shot('context-saved');
  });

  it('refuses a duplicate caller rule, follow-me number or closed day with a message beside it', async () => {
    const before = (await app.contexts.get('sparkle-cleaning')).version;
    await page.click('#caller-rules [data-add]');
    const rule = page.locator('#caller-rules tbody tr').last();
    await rule.locator('[data-field="match"]').fill('(512) 555-0142');
    await page.click('#owner-targets [data-add]');
    const target = page.locator('#owner-targets tbody tr').last();
    await target.locator('[data-field="label"]').fill('Cell again');
    await target.locator('[data-field="value"]').fill('+1 512-555-0111');
    // Christmas is already in the list.
    await page.click('#holidays [data-add]');
    const day = page.locator('#holidays tbody tr').last();
    await day.locator('[data-field="date"]').fill('2026-12-25');
    await day.locator('[data-field="name"]').fill('Christmas');
    await page.click('#save-context');
    await page.waitForSelector('.field-error:has-text("+15125550142 already has a rule.")');
    await page.waitForSelector('.field-error:has-text("+15125550111 is already in the list.")');
    await page.waitForSelector('.field-error:has-text("2026-12-25 is already listed.")');
    expect((await app.contexts.get('sparkle-cleaning')).version).toBe(before);
    await shot('context-duplicates');
    await rule.locator('[data-remove]').click();
    await target.locator('[data-remove]').click();
    await day.locator('[data-remove]').click();
    // What is left is what was saved before.
    await saveExpecting('No changes to save.');
    expect((await app.contexts.get('sparkle-cleaning')).version).toBe(before);
    expect((await app.contexts.get('sparkle-cleaning')).document.holidays.filter((d) => d.date === '2026-12-25')).toHaveLength(1);
  });

  it('keeps texts, voicemails and messages in one inbox: threads, replies in place, unread counts, opt-outs refused', async () => {
    const post = async (w: { body: string; headers: Record<string, string> }) => {
      const res = await fetch(`${base}/webhooks/sms/telnyx`, { method: 'POST', body: w.body, headers: w.headers });
      expect(res.status).toBe(200);
    };
    // What was unread before (texts from earlier tests): the badge must come to that plus these three.
    const unreadNow = () => page.evaluate(async () => {
      const threads = await (await fetch('/api/sms/threads')).json() as { unread: number }[];
      const msgs = await (await fetch('/api/voicemails')).json() as { read_at: string | null }[];
      return threads.reduce((n, t) => n + t.unread, 0) + msgs.filter((m) => !m.read_at).length;
    });
    const before = await unreadNow();
    await post(telnyx.inbound('+15125550142', '+15125550100', 'Hi, could a crew come Friday?'));
    await post(telnyx.inbound('+15125550166', '+15125550100', 'STOP'));
    const db = app.store.db;
    const threadOf = (n: string) => db.selectFrom('sms_threads').selectAll().where('customer_number', '=', n).executeTakeFirst();
    await vi.waitFor(async () => expect((await threadOf('+15125550166'))?.opted_out_at).toBeTruthy(), { timeout: 20_000, interval: 100 });
    const rosa = await app.business.customers.findOrCreateByPhone('+15125550142');
    await app.business.customers.update(rosa!.customer.id, { name: 'Rosa Alvarez' });
    await db.updateTable('sms_threads').set({ customer_id: rosa!.customer.id }).where('customer_number', '=', '+15125550142').execute();
    const ctx = await app.contexts.get('sparkle-cleaning');
    await app.business.messages.take(ctx, { kind: 'voicemail', body: 'Hi, this is Tom, please call me back about a quote.', callerNumber: '+15125550123' });

    await page.goto(`${base}/#/`);
    const unread = before + 3;
    await page.waitForFunction((n) => document.querySelector('#unread')?.textContent === String(n), unread);
    await page.click('nav a[href="#/inbox"]');
    await page.waitForSelector('#inbox [data-message]:has-text("please call me back")');
    const rosaThread = (await threadOf('+15125550142'))!;
    await page.waitForSelector(`[data-thread="${rosaThread.id}"]:has-text("Rosa Alvarez")`);
    expect(await page.textContent(`[data-thread="${rosaThread.id}"] .badge`)).toBe('1');
    await shot('inbox');
    await page.click(`[data-thread="${rosaThread.id}"] a`);
    await page.waitForSelector('#thread:has-text("could a crew come Friday")');
    // Calling back needs a phone line; without one the owner is told why, beside the button.
    await page.click('#call-customer');
    await page.waitForSelector('#call-status.error:has-text("no phone line")');
    await page.fill('#reply-text', 'Friday at 10 works. See you then!');
    await page.click('#reply-send');
    await page.waitForSelector('#thread:has-text("Friday at 10 works")');
    const sent = () => telnyx.sent.find((m) => m.text === 'Friday at 10 works. See you then!');
    await vi.waitFor(() => expect(sent()).toBeDefined(), { timeout: 20_000, interval: 100 });
    expect(sent()).toMatchObject({ to: '+15125550142', from: '+15125550100' });
    await shot('thread');
    // Opened: no longer unread.
    await page.click('text=← Inbox');
    await page.waitForSelector(`[data-thread="${rosaThread.id}"]`);
    expect(await page.locator(`[data-thread="${rosaThread.id}"] .badge`).count()).toBe(0);
    expect(Number(await page.textContent('#unread'))).toBe(unread - 1);

    // The customer who texted STOP: shown, and a text to them is refused before it is queued.
    const stopped = (await threadOf('+15125550166'))!;
    await page.click(`[data-thread="${stopped.id}"] a`);
    await page.waitForSelector('#opted-out:has-text("texted STOP")');
    expect(await page.isDisabled('#reply-send')).toBe(true);
    await page.goto(`${base}/#/inbox`);
    await page.click('#new-text summary');
    await page.fill('#sms-to', '512.555.0166');
    await page.fill('#sms-text', 'Special offer!');
    await page.click('#sms-send');
    await page.waitForSelector('[data-path="to"]:has-text("opted out")');
    expect(await page.textContent('#sms-status')).toBe('');
    const queued = await db.selectFrom('outbox').select('id').where('recipient', '=', '+15125550166').where('purpose', '=', 'admin_sms').execute();
    expect(queued).toHaveLength(0);

    // The voicemail, done.
    await page.locator('[data-message] button:has-text("Mark done")').first().click();
    await page.waitForSelector('[data-message] button:has-text("Mark unread")');
  });

  it('says the server cannot be reached instead of asking to sign in again', async () => {
    await page.route('**/api/**', (r) => r.abort('connectionrefused'));
    await page.goto(`${base}/#/calls`);
    await page.waitForSelector('#offline:has-text("cannot be reached")');
    expect(await page.locator('#login').count()).toBe(0);
    await shot('offline');
    await page.unroute('**/api/**');
    await page.click('#offline button:has-text("Retry now")');
    await page.waitForSelector('#offline', { state: 'hidden' });
    await page.waitForSelector('#calls');
  });

  it('shows calls, transcripts, texts and bookings as they happen, without reloading', async () => {
    await page.goto(`${base}/#/`);
    await page.waitForSelector('html[data-live="open"]');
    // The tiles are links to what they count.
    await page.click('#stat-today');
    await page.waitForSelector('#calls');
    expect(page.url()).toContain('#/calls');
    const ctx = await app.contexts.get('sparkle-cleaning');
    const id = await app.business.calls.start({ direction: 'inbound', backend: 'sip', from: '+15125550144', to: '+15125550100', contextId: ctx.id });
    await page.waitForSelector('#calls td[data-number="+15125550144"]');
    await page.click(`#calls a[href="#/calls/${id}"]`);
    await page.waitForSelector('#call-live');
    expect(await page.isVisible('#hangup')).toBe(true);
    await app.business.calls.event(id, 'turn', { role: 'caller', text: 'Hi, is Saturday free?' });
    await page.waitForSelector('#transcript:has-text("Hi, is Saturday free?")');
    await app.business.calls.event(id, 'turn', { role: 'agent', text: 'Saturday at nine is open.' });
    await page.waitForSelector('#transcript:has-text("Receptionist: Saturday at nine is open.")');
    await shot('call-live');
    await app.business.calls.ended(id, 'completed', { summary: 'asked about Saturday' });
    await page.waitForSelector('#call-live', { state: 'detached' });
    expect(await page.isVisible('#hangup')).toBe(false);

    await page.goto(`${base}/#/inbox`);
    await page.waitForSelector('#inbox');
    const before = Number((await (await page.$('#unread'))?.textContent()) ?? '0');
    const w = telnyx.inbound('+15125550155', '+15125550100', 'Do you do windows?');
    await fetch(`${base}/webhooks/sms/telnyx`, { method: 'POST', body: w.body, headers: w.headers });
    await page.waitForSelector('#inbox:has-text("(512) 555-0155")');
    await page.waitForSelector(`#unread:has-text("${before + 1}")`);

    const { DateTime } = await import('luxon');
    // The weekday after the one the calendar test filled, still within the seven days shown.
    let start = DateTime.now().setZone('America/Chicago').plus({ days: 2 }).set({ hour: 9, minute: 0, second: 0, millisecond: 0 });
    while (start.weekday > 5) start = start.plus({ days: 1 });
    start = start.plus({ days: 1 });
    while (start.weekday > 5) start = start.plus({ days: 1 });
    await page.goto(`${base}/#/appointments`);
    await page.waitForSelector('#week');
    // Within the seven days shown from today: it appears without a reload.
    const booked = await app.business.scheduling.book({ context: 'sparkle-cleaning', service: 'standard', start: start.toJSDate(), source: 'admin' });
    await page.waitForSelector(`[data-appointment="${booked.appointment.id}"]`);
  });

  it('closes the business for today from the dashboard, and reopens it', async () => {
    await page.goto(`${base}/#/`);
    await page.click('#close-today');
    await page.waitForSelector('#today-status:has-text("closed now — closed for Closed today")');
    const today = (await app.contexts.get('sparkle-cleaning')).document.holidays.filter((d) => d.name.startsWith('Closed today'));
    expect(today).toHaveLength(1);
    await shot('closed-today');
    await page.click('#reopen-today');
    await page.waitForSelector('#close-today');
    expect((await app.contexts.get('sparkle-cleaning')).document.holidays.filter((d) => d.name.startsWith('Closed today'))).toHaveLength(0);
  });

  it('fits a phone and a desktop: every page accessible, no sideways scrolling, 44 px targets', async () => {
    const axe = readFileSync('node_modules/axe-core/axe.min.js', 'utf8');
    const thread = (await app.store.db.selectFrom('sms_threads').select('id').where('customer_number', '=', '+15125550142').executeTakeFirstOrThrow()).id;
    const rosa = (await app.business.customers.findByPhone('+15125550142'))!.id;
    const pages: [string, string][] = [
      ['dashboard', '#/'], ['inbox', '#/inbox'], ['thread', `#/inbox/t/${thread}`], ['calls', '#/calls'], ['call', `#/calls/${callId}`],
      ['calendar', '#/appointments'], ['customers', '#/customers'], ['customer', `#/customers/${rosa}`], ['test-call', '#/test-call'],
      ['settings', '#/contexts'], ['context', '#/contexts/sparkle-cleaning'],
    ];
    for (const [size, viewport] of [['desktop', { width: 1280, height: 900 }], ['phone', { width: 390, height: 844 }]] as const) {
      await page.setViewportSize(viewport);
      for (const [name, hash] of pages) {
        await page.goto(`${base}/${hash}`);
        await page.waitForSelector('main h1');
        await page.waitForSelector('nav a', { state: 'attached' });
        const problems = await page.evaluate(async (src) => {
          if (!(window as unknown as { axe?: unknown }).axe) new Function(src)();
          const r = await (window as unknown as { axe: { run: (c: unknown, o: unknown) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } })
            .axe.run(document, { resultTypes: ['violations'] });
          return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
        }, axe);
        expect(problems, `${name} at ${size}`).toEqual([]);
        const wide = await page.evaluate(() => document.documentElement.scrollWidth);
        expect(wide, `${name} at ${size} is ${wide} px wide`).toBeLessThanOrEqual(viewport.width);
        const small = await page.evaluate(() => Array.from(document.querySelectorAll('button, nav a, input:not([type=checkbox]), select, summary, a.button, a.row-link'))
          .filter((e) => (e as HTMLElement).offsetParent !== null && !e.closest('.sr-only'))
          .map((e) => ({ e, r: e.getBoundingClientRect() }))
          .filter(({ r }) => r.height < 44 || r.width < 44)
          .map(({ e, r }) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''} "${(e.textContent ?? '').trim().slice(0, 20)}" ${Math.round(r.width)}x${Math.round(r.height)}`));
        expect(small, `${name} at ${size}`).toEqual([]);
        await page.screenshot({ path: `${SHOTS}/${name}-${size}.png`, fullPage: true });
      }
    }
    // On a phone every menu entry is one tap away, inside the screen.
    await page.click('#menu-toggle');
    const links = await page.$$eval('nav a', (as) => as.map((a) => { const r = a.getBoundingClientRect(); return r.right <= window.innerWidth && r.height >= 44 && r.width > 0; }));
    expect(links).toHaveLength(6);
    expect(links.every(Boolean)).toBe(true);
    await page.screenshot({ path: `${SHOTS}/menu-phone.png` });
    await page.click('nav a[href="#/calls"]');
    await page.waitForSelector('#calls');
    expect(await page.isVisible('nav a[href="#/inbox"]')).toBe(false);
  }, 120_000); // eleven pages, each at two sizes, each through axe

  it('signs out', async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${base}/#/`);
    await page.click('#sign-out');
    await page.waitForSelector('#login');
    await page.reload();
    await page.waitForSelector('#login');
    for (const [size, viewport] of [['desktop', { width: 1280, height: 900 }], ['phone', { width: 390, height: 844 }]] as const) {
      await page.setViewportSize(viewport);
      await page.screenshot({ path: `${SHOTS}/login-${size}.png`, fullPage: true });
    }
  });
});
