import { DateTime, Interval } from 'luxon';
import { WEEKDAYS, type BusinessContext, type Hours } from './context/schema.js';

/**
 * Opening hours in the context's own time zone. Everything is computed from local wall-clock
 * times through luxon, so DST changes and holidays fall out of the same code path.
 */

type DayIntervals = readonly { open: string; close: string }[];

export interface OpenState {
  open: boolean;
  /** Why: regular hours, a holiday's special hours, or closed (holiday or outside hours). */
  reason: 'hours' | 'holiday_hours' | 'holiday' | 'closed';
  holiday?: string;
  /** When it next opens (or closes, if open), as an instant; undefined if never within 14 days. */
  nextChange?: DateTime;
}

function weekdayKey(d: DateTime): keyof Hours {
  return WEEKDAYS[d.weekday - 1]!;
}

function atLocal(day: DateTime, hhmm: string): DateTime {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  // "24:00" is the end of the day: midnight of the next.
  return h === 24 ? day.startOf('day').plus({ days: 1 }) : day.startOf('day').set({ hour: h, minute: m });
}

/** The intervals (as instants) in which the context is open on one local calendar date. */
export function intervalsOn(
  ctx: Pick<BusinessContext, 'timezone' | 'holidays'>,
  weekly: Hours,
  localDate: DateTime,
): { intervals: Interval[]; holiday?: string } {
  const day = localDate.setZone(ctx.timezone).startOf('day');
  const iso = day.toISODate();
  const holiday = ctx.holidays.find((h) => h.date === iso);
  const spec: DayIntervals = holiday ? holiday.hours : weekly[weekdayKey(day)];
  const intervals = spec
    .map((i) => Interval.fromDateTimes(atLocal(day, i.open), atLocal(day, i.close)))
    .filter((i) => i.isValid && !i.isEmpty());
  return holiday ? { intervals, holiday: holiday.name } : { intervals };
}

/** Open intervals between two instants, in order. */
export function openIntervals(
  ctx: Pick<BusinessContext, 'timezone' | 'holidays'>,
  weekly: Hours,
  from: DateTime,
  to: DateTime,
): Interval[] {
  const out: Interval[] = [];
  const window = Interval.fromDateTimes(from, to);
  let day = from.setZone(ctx.timezone).startOf('day');
  const last = to.setZone(ctx.timezone).startOf('day');
  while (day <= last) {
    for (const i of intervalsOn(ctx, weekly, day).intervals) {
      const clipped = i.intersection(window);
      if (clipped && !clipped.isEmpty()) out.push(clipped);
    }
    day = day.plus({ days: 1 });
  }
  return out;
}

/** Is the business open at `at`, and when does that change next? */
export function openState(ctx: Pick<BusinessContext, 'timezone' | 'holidays' | 'hours'>, at: DateTime): OpenState {
  const local = at.setZone(ctx.timezone);
  const today = intervalsOn(ctx, ctx.hours, local);
  const current = today.intervals.find((i) => i.contains(local));
  const upcoming = openIntervals(ctx, ctx.hours, local, local.plus({ days: 14 }));
  if (current) {
    return {
      open: true,
      reason: today.holiday ? 'holiday_hours' : 'hours',
      ...(today.holiday ? { holiday: today.holiday } : {}),
      nextChange: current.end!,
    };
  }
  const next = upcoming.find((i) => i.start! > local)?.start ?? undefined;
  const closedAllDayForHoliday = today.holiday !== undefined && today.intervals.length === 0;
  return {
    open: false,
    reason: closedAllDayForHoliday ? 'holiday' : 'closed',
    ...(today.holiday ? { holiday: today.holiday } : {}),
    ...(next ? { nextChange: next } : {}),
  };
}

/** "Monday to Friday 8 AM to 6 PM; Saturday 9 AM to 2 PM; closed Sunday" — for the agent to say. */
export function describeHours(hours: Hours): string {
  const names = { mon: 'Monday', tue: 'Tuesday', wed: 'Wednesday', thu: 'Thursday', fri: 'Friday', sat: 'Saturday', sun: 'Sunday' };
  const fmt = (t: string) => {
    // "12 AM to 12 AM" said for a day open around the clock left callers guessing.
    if (t === '00:00' || t === '24:00') return 'midnight';
    const [h, m] = t.split(':').map(Number) as [number, number];
    const h12 = h % 12 === 0 ? 12 : h % 12;
    return `${h12}${m ? `:${String(m).padStart(2, '0')}` : ''} ${h < 12 || h === 24 ? 'AM' : 'PM'}`;
  };
  const spec = (d: keyof Hours) => hours[d].length === 1 && hours[d][0]!.open === '00:00' && hours[d][0]!.close === '24:00'
    ? 'all day'
    : hours[d].map((i) => `${fmt(i.open)} to ${fmt(i.close)}`).join(' and ');
  const groups: { from: keyof Hours; to: keyof Hours; text: string }[] = [];
  for (const d of WEEKDAYS) {
    const text = spec(d);
    const last = groups[groups.length - 1];
    if (last && last.text === text) last.to = d;
    else groups.push({ from: d, to: d, text });
  }
  return groups
    .map((g) => {
      const days = g.from === g.to ? names[g.from] : `${names[g.from]} to ${names[g.to]}`;
      return g.text ? `${days} ${g.text}` : `closed ${days}`;
    })
    .join('; ');
}
