import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { describeHours, openState } from '../../src/business/hours.js';
import { route } from '../../src/business/routing.js';
import { demo } from '../helpers/contexts.js';

const at = (iso: string) => DateTime.fromISO(iso, { setZone: true });

describe('opening hours', () => {
  const ctx = demo();

  it('uses the context time zone, not the server clock', () => {
    // 13:30 UTC on a Monday is 07:30 in Chicago (CST): not yet open.
    expect(openState(ctx, at('2026-11-23T13:30:00Z')).open).toBe(false);
    expect(openState(ctx, at('2026-11-23T14:00:00Z')).open).toBe(true);
    // The same instant for a London business is mid-afternoon: open.
    const london = demo({ timezone: 'Europe/London' });
    expect(openState(london, at('2026-11-23T13:30:00Z')).open).toBe(true);
  });

  it('keeps local opening times across DST changes', () => {
    // Chicago springs forward on 2026-03-08 and falls back on 2026-11-01.
    // Monday 2026-03-09 08:00 CDT is 13:00 UTC; the Monday before, 08:00 CST was 14:00 UTC.
    expect(openState(ctx, at('2026-03-02T13:30:00Z')).open).toBe(false);
    expect(openState(ctx, at('2026-03-09T13:30:00Z')).open).toBe(true);
    expect(openState(ctx, at('2026-11-02T13:30:00Z')).open).toBe(false);
    expect(openState(ctx, at('2026-10-26T13:30:00Z')).open).toBe(true);
    // Saturday after fall-back: next opening is 09:00 local.
    const next = openState(ctx, at('2026-10-31T23:00:00Z')).nextChange!;
    expect(next.setZone('America/Chicago').toISO()).toBe('2026-11-02T08:00:00.000-06:00');
  });

  it('closes for holidays and honours holiday special hours', () => {
    const christmas = openState(ctx, at('2026-12-25T16:00:00Z'));
    expect(christmas).toMatchObject({ open: false, reason: 'holiday', holiday: 'Christmas Day' });
    const eve = demo({ holidays: [{ date: '2026-12-24', name: 'Christmas Eve', hours: [{ open: '08:00', close: '12:00' }] }] });
    expect(openState(eve, at('2026-12-24T15:00:00Z'))).toMatchObject({ open: true, reason: 'holiday_hours' });
    expect(openState(eve, at('2026-12-24T19:00:00Z'))).toMatchObject({ open: false, reason: 'closed' });
  });

  it('describes the week the way a receptionist says it', () => {
    expect(describeHours(ctx.hours)).toBe('Monday to Friday 8 AM to 6 PM; Saturday 9 AM to 2 PM; closed Sunday');
    // Around the clock, and evenings into midnight: not "12 AM to 12 AM".
    const day = (open: string, close: string) => [{ open, close }];
    const allDay = day('00:00', '24:00');
    expect(describeHours({ mon: allDay, tue: allDay, wed: allDay, thu: allDay, fri: allDay, sat: allDay, sun: allDay })).toBe('Monday to Sunday all day');
    const late = day('17:00', '24:00');
    expect(describeHours({ mon: late, tue: late, wed: late, thu: late, fri: day('00:00', '02:00'), sat: [], sun: [] }))
      .toBe('Monday to Thursday 5 PM to midnight; Friday midnight to 2 AM; closed Saturday to Sunday');
  });
});

describe('routing', () => {
  const ctx = demo({
    afterHours: { action: 'voicemail' },
    callerRules: [
      { match: '+15125550142', action: 'ring_through', label: 'Mom' },
      { match: '+1900*', action: 'block', label: 'premium spam' },
      { match: '+19005550100', action: 'vip', label: 'property manager' },
    ],
  });
  const open = at('2026-11-23T16:00:00Z');
  const closed = at('2026-11-24T03:00:00Z');

  it('sends callers to the agent when open and to voicemail after hours', () => {
    expect(route(ctx, '+14155550000', open)).toMatchObject({ action: 'agent', open: true, greeting: ctx.greeting });
    expect(route(ctx, '+14155550000', closed)).toMatchObject({ action: 'voicemail', open: false });
    expect(route(demo(), '+14155550000', closed)).toMatchObject({
      action: 'agent_after_hours',
      greeting: demo().afterHours.greeting,
    });
  });

  it('rings known contacts through, blocks listed numbers, and lets VIPs reach the agent after hours', () => {
    expect(route(ctx, '+15125550142', closed)).toMatchObject({ action: 'ring_owner', reason: 'known contact (Mom): ring the owner' });
    expect(route(ctx, '+19005551234', open)).toMatchObject({ action: 'reject' });
    // The exact VIP number beats the blocked prefix it falls under.
    expect(route(ctx, '+19005550100', closed)).toMatchObject({ action: 'agent', vip: true });
  });

  it('forwards after hours when asked, and falls back to voicemail without owner targets', () => {
    expect(route(demo({ afterHours: { action: 'forward' } }), '+14155550000', closed).action).toBe('forward');
    const noTargets = demo({ afterHours: { action: 'forward' }, owner: { targets: [] } });
    expect(route(noTargets, '+14155550000', closed).action).toBe('voicemail');
  });

  it('treats a withheld caller ID as an ordinary caller', () => {
    expect(route(ctx, 'anonymous', open).action).toBe('agent');
    expect(route(ctx, undefined, closed).action).toBe('voicemail');
  });

  it('is closed all Christmas Day, whatever the weekday', () => {
    expect(route(ctx, '+14155550000', at('2026-12-25T17:00:00Z'))).toMatchObject({ action: 'voicemail', reason: 'closed for Christmas Day: voicemail' });
  });
});
