/// <reference lib="dom" />
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'vite';
import { verify } from '@node-rs/argon2';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { createAdminUser } from '../../src/http/admin/users.js';
import { FakeTelnyx } from '../fakes/telnyx.js';
import { freePort } from '../helpers/ports.js';
import { MODELS_DIR, BUILT_MODELS_DIR } from '../helpers/audio.js';

/** Each browser step may wait up to 30 s on a loaded machine (page.setDefaultTimeout): a test gets several. */
const BROWSER_BOUND_MS = 180_000;

/** The owner's numbers and PIN edited in the console, and the owner's commands shown there (chromium via playwright-core). */
describe("the owner's line in the console", () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-web-owner-'));
  const telnyx = new FakeTelnyx();
  let app: App;
  let browser: Browser;
  let page: Page;
  let base = '';

  beforeAll(async () => {
    await build({ configFile: 'web/vite.config.ts', logLevel: 'error' });
    await telnyx.start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    app = await createApp(loadConfig({
      FRONTDESK_DATA_DIR: join(dir, 'data'), FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR, FRONTDESK_HTTP_HOST: '127.0.0.1', FRONTDESK_HTTP_PORT: String(port), FRONTDESK_TELEPHONY: 'none',
      FRONTDESK_PUBLIC_URL: base, FRONTDESK_MODELS_DIR: MODELS_DIR,
      FRONTDESK_TELNYX_API_KEY: telnyx.apiKey, FRONTDESK_TELNYX_PUBLIC_KEY: telnyx.publicKey, FRONTDESK_TELNYX_API_URL: telnyx.url,
    }), silentLogger);
    await createAdminUser(app.store.db, 'maria', 'correct horse battery');
    await app.start();
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(30_000); // a bound for a loaded machine, not a target
    await page.goto(base);
    await page.fill('#username', 'maria');
    await page.fill('#password', 'correct horse battery');
    await page.click('#login');
    await page.waitForSelector('#stat-today');
    // A bound for a web build, the app and a browser starting on a loaded machine: 120 s was not.
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await telnyx.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const doc = async () => (await app.contexts.get('sparkle-cleaning')).document;
  const save = async (said: string) => {
    await page.click('#save-context');
    await page.waitForSelector('#context-saved:not(:empty), #form-errors p');
    expect(await page.$$eval('.field-error', (es) => es.map((e) => e.textContent))).toEqual([]);
    expect(await page.textContent('#context-saved')).toBe(said);
  };

  it('sets the owner numbers and PIN; a bad PIN is refused beside its field; the hash never reaches the browser', async () => {
    await page.goto(`${base}/#/contexts/sparkle-cleaning`);
    await page.waitForSelector('#owner-pin');
    expect(await page.getAttribute('#owner-pin', 'placeholder')).toBe('not set');
    const before = (await app.contexts.get('sparkle-cleaning')).version;
    await page.fill('#owner-numbers', '(512) 555-0199');
    await page.fill('#owner-pin', '12');
    await page.click('#save-context');
    await page.waitForSelector('[data-path="owner.pin"]');
    expect(await page.textContent('[data-path="owner.pin"]')).toMatch(/4 to 10 digits/);
    expect((await app.contexts.get('sparkle-cleaning')).version).toBe(before);
    await page.fill('#owner-pin', '1234');
    await page.click('#save-context');
    await page.waitForSelector('[data-path="owner.pin"]:has-text("run like 1234")');
    await page.fill('#owner-pin', '4821');
    await save(`Saved as version ${before + 1}.`);
    const d = await doc();
    expect(d.owner.numbers).toEqual(['+15125550199']);
    expect(await verify(d.owner.pinHash!, '4821')).toBe(true);
    expect(await page.getAttribute('#owner-pin', 'placeholder')).toBe('set (type to change)');
    // Neither the page nor the API it reads carries the hash (a 4-digit PIN's hash is a minutes-long search away).
    const seen = await page.evaluate(async () => [document.documentElement.outerHTML,
      await (await fetch('/api/contexts/sparkle-cleaning')).text(), await (await fetch('/api/contexts/sparkle-cleaning/history')).text()].join('\n'));
    expect(seen).not.toContain('argon2');
    expect(await page.textContent('#owner-line-status')).toMatch(/PIN set/);
    // Saving something else keeps the PIN.
    await page.fill('#greeting', 'Thanks for calling Sparkle and Shine, this is Sam.');
    await save(`Saved as version ${before + 2}.`);
    expect((await doc()).owner.pinHash).toBe(d.owner.pinHash);
    const audit = await app.store.db.selectFrom('audit_log').select(['actor', 'action']).where('action', '=', 'owner.pin_set').execute();
    expect(audit).toEqual([{ actor: 'maria', action: 'owner.pin_set' }]);
  }, BROWSER_BOUND_MS);

  it("shows the policy table and the owner's commands, with tier and verdict, as the owner texts them", async () => {
    const text = async (body: string) => {
      const w = telnyx.inbound('+15125550199', '+15125550100', body);
      // Counted before the webhook: the reply may reach the provider before the webhook's 200 does.
      const n = telnyx.sent.length;
      const r = await fetch(`${base}/webhooks/sms/telnyx`, { method: 'POST', body: w.body, headers: w.headers });
      expect(r.status).toBe(200);
      // The running app answers the text on its own; wait for the reply to reach the provider.
      await telnyx.sentCount(n + 1);
      return telnyx.sent.at(-1)!.text;
    };
    // The running app's clock is today's: a day that is always ahead.
    expect(await text("We're closed tomorrow for the holiday")).toMatch(/Reply with your PIN to confirm/);
    expect(await text('4821')).toMatch(/^Done: closed /);
    await page.goto(`${base}/#/contexts/sparkle-cleaning`);
    await page.reload();
    await page.waitForSelector('#owner-commands');
    const rows = await page.$$eval('#owner-commands tr', (trs) => trs.slice(1).map((tr) => Array.from(tr.querySelectorAll('td')).slice(2, 5).map((td) => td.textContent)));
    // Newest first (rows written in the same millisecond may come in either order).
    expect(rows[0]).toEqual(['close_day', 'high', 'done']);
    expect(rows.slice(1)).toEqual(expect.arrayContaining([['PIN', '', 'PIN accepted'], ['close_day', 'high', 'awaiting_confirmation'], ['PIN', '', 'PIN set']]));
    expect(rows).toHaveLength(4);
    expect(await page.textContent('#owner-policy')).toContain('High: PIN and confirmed');
  }, BROWSER_BOUND_MS);

  it('the context page with the owner card stays accessible and fits a phone', async () => {
    const axe = readFileSync('node_modules/axe-core/axe.min.js', 'utf8');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/#/contexts/sparkle-cleaning`);
    await page.reload();
    await page.waitForSelector('#owner-commands');
    const problems = await page.evaluate(async (src) => {
      if (!(window as unknown as { axe?: unknown }).axe) new Function(src)();
      const r = await (window as unknown as { axe: { run: (c: unknown, o: unknown) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } })
        .axe.run(document.getElementById('owner-line'), { resultTypes: ['violations'] });
      return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    }, axe);
    expect(problems).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const pin = await page.locator('#owner-pin').boundingBox();
    expect(pin!.height).toBeGreaterThanOrEqual(44);
  }, BROWSER_BOUND_MS);
});
