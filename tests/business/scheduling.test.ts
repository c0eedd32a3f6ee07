import { expect, it } from 'vitest';
import { createBusiness } from '../../src/business/index.js';
import { SlotUnavailableError } from '../../src/business/scheduling/service.js';
import { demoContext } from '../../src/business/context/demo.js';
import { describeStores } from '../helpers/stores.js';
import { buildHttpServer } from '../../src/http/server.js';
import { createMetrics } from '../../src/http/metrics.js';
import { silentLogger } from '../../src/util/logger.js';

// Friday 2026-11-20, 12:00 in Chicago.
const NOW = new Date('2026-11-20T18:00:00Z');
const MON_9 = new Date('2026-11-23T15:00:00Z'); // Monday 09:00 CST

describeStores('scheduling', ({ store }) => {
  const biz = () => createBusiness(store().db, () => NOW);

  it('books a visit and queues the confirmation, the reminder and the owner alert', async () => {
    const b = biz();
    await b.contexts.save(demoContext, 'test');
    const { customer } = (await b.customers.findOrCreateByPhone('(512) 555-0177'))!;
    await b.customers.update(customer.id, { name: 'Jane Doe', address: '12 Oak St' });
    const { appointment, quote } = await b.scheduling.book({
      context: 'sparkle-cleaning', service: 'standard cleaning', start: MON_9, customerId: customer.id, units: 2, source: 'call',
    });
    expect(appointment).toMatchObject({ serviceId: 'standard', crews: ['crew-a'], address: '12 Oak St', status: 'booked' });
    // 120 + 25 for a second bedroom, 10 % first-visit discount.
    expect(quote.totalCents).toBe(13050);
    expect(appointment.end.toISOString()).toBe('2026-11-23T17:30:00.000Z');

    const outbox = await store().db.selectFrom('outbox').select(['purpose', 'recipient', 'next_attempt_at', 'payload']).orderBy('purpose').execute();
    expect(outbox.map((o) => [o.purpose, o.recipient])).toEqual([
      ['booking_confirmation', '+15125550177'],
      ['owner_alert', '+15125550199'],
      ['reminder', '+15125550177'],
    ]);
    expect((outbox[0]!.payload as { text: string }).text).toBe(
      'Sparkle & Shine Cleaning: your standard cleaning is booked for Monday, November 23 at 9:00 AM. Reply to this text to change or cancel.',
    );
    expect(outbox[2]!.next_attempt_at.toISOString()).toBe('2026-11-22T15:00:00.000Z');
    expect((outbox[1]!.payload as { text: string }).text).toMatch(/^New booking: Standard cleaning on Monday, November 23 at 9:00 AM for Jane Doe \(\+15125550177\), 12 Oak St\.$/);
  });

  it('never double-books under concurrent requests: two crews, two winners, the rest told it is taken', async () => {
    const b = biz();
    const tuesday = new Date('2026-11-24T15:00:00Z');
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => b.scheduling.book({ context: 'sparkle-cleaning', service: 'standard', start: tuesday, source: 'api' })),
    );
    const won = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<Awaited<ReturnType<typeof b.scheduling.book>>>).value);
    expect(won.map((w) => w.appointment.crews[0]).sort()).toEqual(['crew-a', 'crew-b']);
    for (const r of results.filter((x) => x.status === 'rejected')) {
      const err = (r as PromiseRejectedResult).reason;
      expect(err).toBeInstanceOf(SlotUnavailableError);
      expect(err.reason).toBe('taken');
      expect(err.alternatives.length).toBeGreaterThan(0);
      expect(err.alternatives[0].start.toMillis()).toBeGreaterThan(tuesday.getTime());
    }
  });

  it('explains why a time cannot be booked', async () => {
    const b = biz();
    const tooSoon = b.scheduling.book({ context: 'sparkle-cleaning', service: 'standard', start: new Date('2026-11-20T20:00:00Z'), source: 'api' });
    await expect(tooSoon).rejects.toMatchObject({ reason: 'notice' });
    const sunday = b.scheduling.book({ context: 'sparkle-cleaning', service: 'standard', start: new Date('2026-11-22T16:00:00Z'), source: 'api' });
    await expect(sunday).rejects.toMatchObject({ reason: 'closed' });
    const farAway = b.scheduling.book({ context: 'sparkle-cleaning', service: 'standard', start: new Date('2027-06-01T15:00:00Z'), source: 'api' });
    await expect(farAway).rejects.toMatchObject({ reason: 'horizon' });
  });

  it('moves a visit, replacing its reminder, and cancels with the late-notice flag', async () => {
    const b = biz();
    const [appt] = await b.scheduling.list({ context: 'sparkle-cleaning', from: MON_9, to: new Date(MON_9.getTime() + 1) });
    const moved = await b.scheduling.reschedule(appt!.id, new Date('2026-11-25T19:00:00Z'), 'maria');
    expect(moved.start.toISOString()).toBe('2026-11-25T19:00:00.000Z');
    expect(moved.crews).toEqual(['crew-a']);
    const reminders = await store().db.selectFrom('outbox').select(['status', 'next_attempt_at']).where('purpose', '=', 'reminder').orderBy('created_at').execute();
    expect(reminders.map((r) => [r.status, r.next_attempt_at.toISOString()])).toEqual([
      ['cancelled', '2026-11-22T15:00:00.000Z'],
      ['pending', '2026-11-24T19:00:00.000Z'],
    ]);
    // The old time is free again.
    const again = await b.scheduling.book({ context: 'sparkle-cleaning', service: 'standard', start: MON_9, source: 'api' });
    expect(again.appointment.crews).toEqual(['crew-a']);

    const early = await b.scheduling.cancel(moved.id, 'caller');
    expect(early.late).toBe(false);
    const saturday = await b.scheduling.book({ context: 'sparkle-cleaning', service: 'standard', start: new Date('2026-11-21T15:00:00Z'), source: 'api' });
    const late = await b.scheduling.cancel(saturday.appointment.id, 'caller');
    expect(late.late).toBe(true);
    expect(late.policy).toMatch(/24 hours/);
    await b.scheduling.cancel(again.appointment.id, 'caller');
    const pending = await store().db.selectFrom('outbox').select('id').where('purpose', '=', 'reminder').where('status', '=', 'pending').execute();
    expect(pending).toEqual([]);
  });

  it('books multi-crew jobs on several crews and frees them all on cancel', async () => {
    const b = biz();
    const wed = new Date('2026-11-25T14:00:00Z');
    const { appointment } = await b.scheduling.book({ context: 'sparkle-cleaning', service: 'move-out', start: wed, source: 'admin' });
    expect(appointment.crews).toEqual(['crew-a', 'crew-b']);
    await expect(b.scheduling.book({ context: 'sparkle-cleaning', service: 'standard', start: wed, source: 'api' })).rejects.toMatchObject({ reason: 'taken' });
    await b.scheduling.cancel(appointment.id, 'admin');
    await b.scheduling.book({ context: 'sparkle-cleaning', service: 'standard', start: wed, source: 'api' });
  });

  it('publishes bookings as an ICS feed behind the context token', async () => {
    const b = biz();
    const token = await b.scheduling.feedToken('sparkle-cleaning');
    const ics = await b.scheduling.icsFeed(token);
    expect(ics).toMatch(/^BEGIN:VCALENDAR/);
    expect(ics).toContain('SUMMARY:Standard cleaning');
    expect(ics).toContain('STATUS:CANCELLED');
    expect(await b.scheduling.icsFeed('not-the-token')).toBeUndefined();

    const http = await buildHttpServer({ store: store(), business: b, metrics: createMetrics(), logger: silentLogger, version: 't' });
    const res = await http.inject(`/calendar/${token}.ics`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/calendar; charset=utf-8');
    expect(res.body).toContain('SUMMARY:Standard cleaning');
    expect((await http.inject(`/calendar/${'0'.repeat(32)}.ics`)).statusCode).toBe(404);
    expect((await http.inject('/calendar/../../etc/passwd')).statusCode).toBe(404);
    expect((await http.inject('/calendar/abc.ics')).statusCode).toBe(400);
    await http.close();
  });
});
