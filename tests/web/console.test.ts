import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'vite';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { createAdminUser } from '../../src/http/admin/users.js';
import { FakeTelnyx } from '../fakes/telnyx.js';
import { freePort } from '../helpers/ports.js';
import { MODELS_DIR, BUILT_MODELS_DIR } from '../helpers/audio.js';

/** The admin console in a real browser (Debian's chromium driven by playwright-core). */
const SHOTS = 'test-results/screenshots';

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
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await telnyx.stop();
    rmSync(dir, { recursive: true, force: true });
  });

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
    expect(await page.textContent('[data-path="hours.mon[0].close"]')).toContain('open must be before close');
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
    // Untouched lists come back as they were: the add-ons keep their first-visit discount.
    expect(doc.pricing.modifiers.find((m) => m.id === 'first-visit')).toMatchObject({ kind: 'percent', amount: -10, firstVisitOnly: true });
    await shot('context-forms');
  });

  it('shows the week of appointments on the business clock, moves one and cancels it', async () => {
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
    // Move it to 14:00 the same day, entered on the business's clock.
    await page.fill(`[data-move="${booked.appointment.id}"]`, `${start.toISODate()}T14:00`);
    await page.click(`[data-move-button="${booked.appointment.id}"]`);
    for (let i = 0; i < 20 && (await app.business.scheduling.get(booked.appointment.id)).start.getTime() === start.toMillis(); i++) await new Promise((r) => setTimeout(r, 100));
    expect((await app.business.scheduling.get(booked.appointment.id)).start.toISOString()).toBe(start.set({ hour: 14 }).toUTC().toISO());
    await page.waitForSelector(`[data-cancel="${booked.appointment.id}"]`);
    await page.click(`[data-cancel="${booked.appointment.id}"]`);
    await page.waitForSelector('#week');
    for (let i = 0; i < 20 && (await app.business.scheduling.get(booked.appointment.id)).status !== 'cancelled'; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await app.business.scheduling.get(booked.appointment.id)).status).toBe('cancelled');
  });

  it('opens a call and reads its transcript', async () => {
    await page.goto(`${base}/#/calls`);
    await page.waitForSelector('#calls a');
    await shot('calls');
    // Filter: only voicemails, then only this caller.
    await page.selectOption('#filter-outcome', 'voicemail');
    await page.waitForSelector('#calls tr:nth-child(2) td:has-text("+15125550188")');
    expect(await page.locator('#calls tr').count()).toBe(2);
    await page.selectOption('#filter-outcome', '');
    await page.fill('#filter-caller', '0177');
    await page.press('#filter-caller', 'Enter');
    await page.waitForSelector('#calls tr:nth-child(2) td:has-text("+15125550177")');
    expect(await page.locator('#calls tr').count()).toBe(2);
    await page.click('#calls a');
    await page.waitForSelector('#transcript:has-text("do you clean ovens")');
    const transcript = await page.textContent('#transcript');
    expect(transcript).toContain('inside appliances are part of a deep cleaning');
    // Each reply's latency, stage by stage.
    expect(transcript).toContain('660 ms to answer — recognition 60, thinking 150, voice 140, network 10');
    await shot('call');
  });

  it('sends a text through the provider', async () => {
    await page.goto(`${base}/#/messages`);
    await page.fill('#sms-to', '(512) 555-0142');
    await page.fill('#sms-text', 'Your crew is on the way!');
    await page.click('#sms-send');
    await page.waitForSelector('#sms-status:has-text("Queued")');
    const mine = () => telnyx.sent.find((m) => m.to === '+15125550142');
    for (let i = 0; i < 50 && !mine(); i++) await new Promise((r) => setTimeout(r, 100));
    expect(mine()).toMatchObject({ to: '+15125550142', from: '+15125550100', text: 'Your crew is on the way!' });
    await shot('messages');
    for (const p of ['customers', 'voicemails']) {
      await page.goto(`${base}/#/${p}`);
      await page.waitForSelector('h1');
      await shot(p);
    }
    expect(existsSync(`${SHOTS}/messages.png`)).toBe(true);
  });
});
