import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueue, OutboxWorker, quietHoursEnd, type Delivery } from '../../src/business/outbox.js';
import { createEmailSender } from '../../src/business/email.js';
import { createBusiness } from '../../src/business/index.js';
import { demoContext } from '../../src/business/context/demo.js';
import type { OutboxItem } from '../../src/store/schema.js';
import { describeStores } from '../helpers/stores.js';

describeStores('notification outbox', ({ store }) => {
  const req = (key: string, channel: 'sms' | 'email' = 'sms') => ({
    contextId: null, channel, purpose: 'test', recipient: '+15125550100', payload: { text: key }, dedupeKey: key,
  });

  it('queues each notification once, whatever the retries of the event behind it', async () => {
    expect(await enqueue(store().db, req('once'))).toBe(true);
    expect(await enqueue(store().db, req('once'))).toBe(false);
    const rows = await store().db.selectFrom('outbox').select('id').where('dedupe_key', '=', 'once').execute();
    expect(rows).toHaveLength(1);
  });

  it('delivers every item exactly once with two workers racing', async () => {
    for (let i = 0; i < 30; i++) await enqueue(store().db, req(`race-${i}`));
    const delivered: string[] = [];
    const sms = async (item: OutboxItem): Promise<Delivery> => {
      // A send that takes a moment, so the two workers' leases overlap (the race under test).
      await new Promise((r) => setTimeout(r, 2));
      delivered.push(item.dedupe_key);
      return { status: 'sent', ref: `msg-${item.dedupe_key}` };
    };
    const a = new OutboxWorker(store().db, { senders: { sms }, batchSize: 4 });
    const b = new OutboxWorker(store().db, { senders: { sms }, batchSize: 4 });
    await Promise.all([a.runOnce(), b.runOnce()]);
    const races = delivered.filter((k) => k.startsWith('race-'));
    expect(races).toHaveLength(30);
    expect(new Set(races).size).toBe(30);
    const statuses = await store().db.selectFrom('outbox').select(['status', 'provider_ref']).where('dedupe_key', 'like', 'race-%').execute();
    expect(statuses.every((s) => s.status === 'sent' && s.provider_ref?.startsWith('msg-race-'))).toBe(true);
  });

  it('retries a failed send with backoff, delivers it once, and gives up after the last attempt', async () => {
    let clock = new Date('2030-01-01T00:00:00Z');
    await enqueue(store().db, { ...req('flaky'), notBefore: clock });
    await enqueue(store().db, { ...req('broken'), notBefore: clock });
    await store().db.updateTable('outbox').set({ max_attempts: 2 }).where('dedupe_key', '=', 'broken').execute();
    let flakyCalls = 0;
    const sends: string[] = [];
    const sms = async (item: OutboxItem): Promise<Delivery> => {
      if (item.dedupe_key === 'broken') throw new Error('provider said 500');
      if (item.dedupe_key === 'flaky' && ++flakyCalls === 1) throw new Error('timeout');
      sends.push(item.dedupe_key);
      return { status: 'sent' };
    };
    const w = new OutboxWorker(store().db, { senders: { sms }, now: () => clock, backoffBaseMs: 10_000 });
    await w.runOnce();
    const after1 = await store().db.selectFrom('outbox').select(['dedupe_key', 'status', 'attempts', 'last_error']).where('dedupe_key', 'in', ['flaky', 'broken']).orderBy('dedupe_key').execute();
    expect(after1).toEqual([
      { dedupe_key: 'broken', status: 'pending', attempts: 1, last_error: 'provider said 500' },
      { dedupe_key: 'flaky', status: 'pending', attempts: 1, last_error: 'timeout' },
    ]);
    await w.runOnce(); // backoff not over: nothing happens
    expect(flakyCalls).toBe(1);
    clock = new Date(clock.getTime() + 11_000);
    await w.runOnce();
    await w.runOnce();
    expect(sends).toEqual(['flaky']);
    const final = await store().db.selectFrom('outbox').select(['dedupe_key', 'status']).where('dedupe_key', 'in', ['flaky', 'broken']).orderBy('dedupe_key').execute();
    expect(final).toEqual([{ dedupe_key: 'broken', status: 'failed' }, { dedupe_key: 'flaky', status: 'sent' }]);
  });

  it("picks up an item whose worker died mid-send once the claim expires", async () => {
    await enqueue(store().db, req('orphan'));
    await store().db.updateTable('outbox')
      .set({ status: 'sending', attempts: 1, locked_until: new Date(Date.now() - 1000) })
      .where('dedupe_key', '=', 'orphan').execute();
    const sent: string[] = [];
    await new OutboxWorker(store().db, { senders: { sms: async (i) => (sent.push(i.dedupe_key), { status: 'sent' }) } }).runOnce();
    expect(sent).toEqual(['orphan']);
  });

  it('keeps items for a channel that is not configured until a worker that has it comes along', async () => {
    await enqueue(store().db, req('later', 'email'));
    await new OutboxWorker(store().db, { senders: { sms: async () => ({ status: 'sent' }) } }).runOnce();
    const row = await store().db.selectFrom('outbox').select(['status', 'attempts']).where('dedupe_key', '=', 'later').executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'pending', attempts: 0 });
    await new OutboxWorker(store().db, { senders: { email: async () => ({ status: 'sent' }) } }).runOnce();
    const sent = await store().db.selectFrom('outbox').select('status').where('dedupe_key', '=', 'later').executeTakeFirstOrThrow();
    expect(sent.status).toBe('sent');
  });

  describe('e-mailed daily summary over real SMTP', () => {
    const received: { to: string; data: string }[] = [];
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, session, cb) {
        let data = '';
        stream.on('data', (c: Buffer) => (data += c.toString()));
        stream.on('end', () => {
          received.push({ to: session.envelope.rcptTo.map((r) => r.address).join(','), data });
          cb();
        });
      },
    });
    let port = 0;
    beforeAll(async () => {
      await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
      port = (smtp.server.address() as { port: number }).port;
    });
    afterAll(async () => new Promise<void>((r) => smtp.close(() => r())));

    it('sends the summary once per day at the owner’s chosen local time', async () => {
      let clock = new Date('2030-02-04T23:00:00Z'); // 17:00 in Chicago
      const biz = createBusiness(store().db, () => clock);
      await biz.contexts.save({ ...demoContext, alerts: [{ on: 'daily_summary', via: 'email', to: 'maria@example.com', at: '18:00' }] }, 'test');
      const stored = await biz.contexts.list();
      expect(await biz.alerts.dailySummaries(store().db, stored)).toBe(0);
      clock = new Date('2030-02-05T00:30:00Z'); // 18:30 local
      expect(await biz.alerts.dailySummaries(store().db, stored)).toBe(1);
      expect(await biz.alerts.dailySummaries(store().db, stored)).toBe(0);
      const email = createEmailSender(`smtp://127.0.0.1:${port}`, 'frontdesk@example.com', { allowPlain: true });
      await new OutboxWorker(store().db, { senders: { email }, now: () => clock }).runOnce();
      email.close();
      expect(received).toHaveLength(1);
      expect(received[0]!.to).toBe('maria@example.com');
      expect(received[0]!.data).toMatch(/Subject: Sparkle & Shine Cleaning: today's summary/);
      // Quoted-printable soft line breaks are transport, not content.
      expect(received[0]!.data.replace(/=\r?\n/g, '')).toMatch(/Monday Feb 4: 0 calls, 0 new bookings, 0 messages; 0 visits tomorrow/);
    });
  });
});

describe('quiet hours', () => {
  it('defers to the end of quiet hours, across midnight, in the context time zone', () => {
    const q = { start: '21:00', end: '08:00' };
    expect(quietHoursEnd(q, 'America/Chicago', new Date('2030-02-05T04:00:00Z'))?.toISOString()).toBe('2030-02-05T14:00:00.000Z');
    expect(quietHoursEnd(q, 'America/Chicago', new Date('2030-02-05T18:00:00Z'))).toBeUndefined();
    expect(quietHoursEnd(undefined, 'America/Chicago', new Date())).toBeUndefined();
  });
});
