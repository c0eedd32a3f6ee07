import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { findSlots, type BusyInterval } from '../../src/business/scheduling/slots.js';
import { quote, QuoteError } from '../../src/business/quotes.js';
import { demo } from '../helpers/contexts.js';

const tz = 'America/Chicago';
const local = (s: string) => DateTime.fromISO(s, { zone: tz });
const hhmm = (s: { start: DateTime }) => s.start.setZone(tz).toFormat('ccc HH:mm');

describe('free slots', () => {
  const ctx = demo({ scheduling: { ...demo().scheduling, crews: ['a'] }, services: demo().services.filter((s) => s.crewSize === 1) });
  const now = local('2026-11-20T12:00'); // Friday noon
  const q = (busy: BusyInterval[], from: string, to: string, durationMinutes = 120, crewSize = 1) =>
    findSlots({ ctx, durationMinutes, crewSize, from: local(from), to: local(to), now, busy });

  it('offers starts on the slot grid within work hours, ending by close', () => {
    const slots = q([], '2026-11-23T00:00', '2026-11-23T23:59');
    expect(slots.map(hhmm)[0]).toBe('Mon 08:00');
    expect(slots.map(hhmm).at(-1)).toBe('Mon 15:00'); // 2 h job, work hours end at 17:00
    expect(slots).toHaveLength(15);
  });

  it('respects minimum notice and the booking horizon', () => {
    // Saturday 09:00 is 21 h after Friday noon: past the 12 h notice, so bookable.
    expect(q([], '2026-11-21T00:00', '2026-11-21T23:59').map(hhmm)[0]).toBe('Sat 09:00');
    const soon = findSlots({ ctx, durationMinutes: 60, crewSize: 1, from: now, to: now.plus({ days: 1 }), now, busy: [] });
    expect(soon.every((s) => s.start >= now.plus({ hours: 12 }))).toBe(true);
    expect(q([], '2027-03-01T00:00', '2027-03-02T00:00')).toEqual([]);
  });

  it('keeps the travel buffer around existing jobs', () => {
    const busy = [{ crew: 'a', start: local('2026-11-23T10:00').toMillis(), end: local('2026-11-23T12:30').toMillis() }];
    const starts = q(busy, '2026-11-23T00:00', '2026-11-23T23:59').map(hhmm);
    // A 2 h job + 30 min buffer starting 08:00 would run into 10:00; 12:30 is the first after.
    expect(starts.slice(0, 3)).toEqual(['Mon 12:30', 'Mon 13:00', 'Mon 13:30']);
    expect(starts).not.toContain('Mon 08:00');
  });

  it('needs enough free crews at once for a multi-crew job', () => {
    const two = demo();
    const busy = [{ crew: 'crew-a', start: local('2026-11-23T08:00').toMillis(), end: local('2026-11-23T11:30').toMillis() }];
    const slots = findSlots({ ctx: two, durationMinutes: 180, crewSize: 2, from: local('2026-11-23T00:00'), to: local('2026-11-23T23:59'), now, busy });
    expect(slots.map(hhmm)[0]).toBe('Mon 11:30');
    expect(slots[0]!.crews).toEqual(['crew-a', 'crew-b']);
  });

  it('skips holidays and Sundays', () => {
    const slots = q([], '2026-12-24T18:00', '2026-12-27T23:59', 60);
    expect(new Set(slots.map((s) => s.start.toFormat('MM-dd')))).toEqual(new Set(['12-26']));
  });

  it('counts work hours in local time on a DST day', () => {
    const spring = findSlots({ ctx, durationMinutes: 60, crewSize: 1, from: local('2026-03-09T00:00'), to: local('2026-03-09T23:59'), now: local('2026-03-01T00:00'), busy: [] });
    expect(spring.map(hhmm)[0]).toBe('Mon 08:00');
    expect(spring[0]!.start.toUTC().toISO()).toBe('2026-03-09T13:00:00.000Z');
  });
});

describe('quotes', () => {
  const ctx = demo();

  it('prices per bedroom with options, itemized', () => {
    const r = quote(ctx, { service: 'standard', units: 3, modifiers: ['pets'] });
    expect(r.lines).toEqual([
      { label: 'Standard cleaning', cents: 12000 },
      { label: '2 extra bedrooms', cents: 5000 },
      { label: 'Pet hair', cents: 2000 },
    ]);
    expect(r.totalCents).toBe(19000);
    // 120 + 2×30 min, +10 % for pets = 198 → rounded up to the 30-minute grid.
    expect(r.durationMinutes).toBe(210);
    expect(r.spoken).toBe('A standard cleaning for 3 bedrooms with pet hair comes to $190, and takes about 3 and a half hours.');
    expect(r.itemized).toContain('Total: $190');
  });

  it('finds the service by what callers say and gives new customers the first-visit discount', () => {
    const r = quote(ctx, { service: 'a deep clean please', units: 2, firstVisit: true });
    expect(r.serviceId).toBe('deep');
    expect(r.lines.at(-1)).toEqual({ label: 'First visit discount', cents: -2600 });
    expect(r.totalCents).toBe(23400);
  });

  it('adds tax and explains unknown services and options', () => {
    const taxed = demo({ pricing: { ...demo().pricing, taxPercent: 8.25 } });
    expect(quote(taxed, { service: 'standard' }).totalCents).toBe(12990);
    expect(() => quote(ctx, { service: 'window washing' })).toThrow(QuoteError);
    try {
      quote(ctx, { service: 'standard', modifiers: ['jacuzzi'] });
    } catch (e) {
      expect((e as QuoteError).options).toEqual(['Pet hair', 'Inside fridge']);
    }
  });
});
