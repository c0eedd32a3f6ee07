import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createBusiness } from '../../src/business/index.js';
import { demoContext } from '../../src/business/context/demo.js';
import { OutboxWorker, enqueue } from '../../src/business/outbox.js';
import { SmsService } from '../../src/sms/service.js';
import { TelnyxProvider } from '../../src/sms/telnyx.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { openStore, type Store } from '../../src/store/db.js';
import { FakeTelnyx } from '../fakes/telnyx.js';
import { FakeSignalWire } from '../fakes/signalwire.js';
import { TwilioCompatProvider } from '../../src/sms/twilio-compat.js';
import { createServerDatabase } from '../helpers/stores.js';

/**
 * The process dies (kill -9) while the provider is taking the text. The next worker must not text
 * the customer again: the attempt was recorded before the call, and the reclaimed item is
 * reconciled, not resent. A text whose send never started still goes out exactly once.
 */

const NOW = new Date('2026-11-20T18:00:00Z');
const telnyx = new FakeTelnyx();
const signalwire = new FakeSignalWire();
let store: Store;
let drop: () => Promise<void>;
let url = '';

beforeAll(async () => {
  await telnyx.start();
  await signalwire.start();
  const dbx = await createServerDatabase();
  url = dbx.url;
  drop = dbx.drop;
  store = await openStore({ databaseUrl: url, poolSize: 3 });
  await migrateToLatest(store.db);
  await createBusiness(store.db, () => NOW).contexts.save(demoContext, 'test');
}, 60_000);
afterAll(async () => {
  await store?.close();
  await drop?.();
  await telnyx.stop();
  await signalwire.stop();
});

const worker = (now: Date) => {
  const biz = createBusiness(store.db, () => now);
  const sms = new SmsService(store.db, biz, {
    providers: [new TelnyxProvider({ apiKey: telnyx.apiKey, publicKey: telnyx.publicKey, baseUrl: telnyx.url })],
    perNumberGapMs: 0, globalPerSecond: 1_000,
  });
  return new OutboxWorker(store.db, { senders: { sms: sms.sender }, now: () => now, leaseMs: 1_000 });
};

it('texts once when the sending process is killed during the provider call', async () => {
  const me = '+15125550701';
  await enqueue(store.db, { contextId: null, channel: 'sms', purpose: 'reminder', recipient: me, payload: { text: 'Your cleaning is tomorrow at 9', from: '+15125550100' }, dedupeKey: 'crash:1', now: NOW });
  // The provider takes the message and then hangs; that is when the process dies.
  let received!: () => void;
  const inCall = new Promise<void>((r) => (received = r));
  telnyx.beforeReply = () => {
    received();
    return new Promise(() => {});
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'tests/helpers/sms-send-child.ts'], {
    env: { ...process.env, FD_DATABASE_URL: url, FD_NOW: NOW.toISOString(), FD_TELNYX_KEY: telnyx.apiKey, FD_TELNYX_PUBLIC: telnyx.publicKey, FD_TELNYX_URL: telnyx.url },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, signal) => r(signal)));
  await Promise.race([inCall, exited.then(() => { throw new Error(`child exited before sending: ${stderr}`); })]);
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
  telnyx.beforeReply = undefined;
  expect(telnyx.sent.filter((m) => m.to === me)).toHaveLength(1);

  // A new process, after the dead one's lease ran out.
  const later = new Date(NOW.getTime() + 60_000);
  expect(await worker(later).runOnce()).toBe(1);
  expect(await worker(new Date(later.getTime() + 3_600_000)).runOnce()).toBe(0);
  expect(telnyx.sent.filter((m) => m.to === me)).toHaveLength(1);
  const row = await store.db.selectFrom('outbox').select(['status', 'last_error']).where('dedupe_key', '=', 'crash:1').executeTakeFirstOrThrow();
  expect(row.status).toBe('suppressed');
  expect(row.last_error).toMatch(/outcome unknown/);
}, 60_000);

it('still sends, once, an item whose claim died before the send started', async () => {
  const me = '+15125550702';
  await enqueue(store.db, { contextId: null, channel: 'sms', purpose: 'reminder', recipient: me, payload: { text: 'See you Tuesday', from: '+15125550100' }, dedupeKey: 'crash:2', now: NOW });
  // Claimed by a worker that died before calling the provider (no send_started_at).
  await store.db.updateTable('outbox').set({ status: 'sending', attempts: 1, locked_until: NOW }).where('dedupe_key', '=', 'crash:2').execute();
  const later = new Date(NOW.getTime() + 60_000);
  expect(await worker(later).runOnce()).toBe(1);
  expect(await worker(later).runOnce()).toBe(0);
  expect(telnyx.sent.filter((m) => m.to === me).map((m) => m.text)).toEqual(['See you Tuesday']);
});

it('asks a Twilio-style provider whether the text went out, instead of resending or giving up', async () => {
  const biz = createBusiness(store.db, () => NOW);
  const sms = new SmsService(store.db, biz, {
    providers: [new TwilioCompatProvider({ name: 'signalwire', apiBase: signalwire.apiBase, accountId: signalwire.projectId, apiToken: signalwire.apiToken, signingKey: signalwire.signingKey })],
    perNumberGapMs: 0, globalPerSecond: 1_000,
  });
  const outbox = new OutboxWorker(store.db, { senders: { sms: sms.sender }, now: () => new Date(NOW.getTime() + 60_000), leaseMs: 1_000 });
  const sendingSince = new Date(Date.now() - 1_000);
  // Two items a dead worker was sending: the provider took the first, never saw the second.
  for (const [key, to, text] of [['crash:3', '+15125550703', 'Your visit is confirmed'], ['crash:4', '+15125550704', 'Your visit is moved']] as const) {
    await enqueue(store.db, { contextId: null, channel: 'sms', purpose: 'confirmation', recipient: to, payload: { text, from: '+15125550100', provider: 'signalwire' }, dedupeKey: key, now: NOW });
    await store.db.updateTable('outbox').set({ status: 'sending', attempts: 1, locked_until: NOW, send_started_at: sendingSince }).where('dedupe_key', '=', key).execute();
  }
  const form = new URLSearchParams({ From: '+15125550100', To: '+15125550703', Body: 'Your visit is confirmed' });
  const taken = await fetch(`${signalwire.apiBase}/2010-04-01/Accounts/${signalwire.projectId}/Messages.json`, {
    method: 'POST', body: form,
    headers: { authorization: `Basic ${Buffer.from(`${signalwire.projectId}:${signalwire.apiToken}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
  });
  const sid = ((await taken.json()) as { sid: string }).sid;
  expect(await outbox.runOnce()).toBe(2);
  expect(signalwire.sent.map((m) => [m.To, m.Body])).toEqual([['+15125550703', 'Your visit is confirmed'], ['+15125550704', 'Your visit is moved']]);
  const rows = await store.db.selectFrom('outbox').select(['dedupe_key', 'status', 'provider_ref']).where('dedupe_key', 'in', ['crash:3', 'crash:4']).orderBy('dedupe_key').execute();
  expect(rows).toEqual([
    { dedupe_key: 'crash:3', status: 'sent', provider_ref: sid },
    { dedupe_key: 'crash:4', status: 'sent', provider_ref: signalwire.sent[1]!.sid },
  ]);
});
