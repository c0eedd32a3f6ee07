import { DateTime } from 'luxon';
import type { BusinessContext } from '../context/schema.js';
import { openIntervals } from '../hours.js';

/**
 * Free-slot search. Pure: the caller passes the crews' busy intervals (each booking from its start
 * to its end plus the travel buffer, as the store's exclusion constraint sees it) and the clock.
 * One pass per crew over sorted intervals: a year of bookings costs a scan, not a search per slot.
 */

export interface BusyInterval {
  crew: string;
  /** Epoch ms. */
  start: number;
  /** Epoch ms: the booking's end plus the travel buffer. */
  end: number;
}

export interface SlotQuery {
  ctx: BusinessContext;
  durationMinutes: number;
  crewSize: number;
  from: DateTime;
  to: DateTime;
  now: DateTime;
  busy: readonly BusyInterval[];
  /** Stop after this many slots. */
  limit?: number;
}

export interface Slot {
  start: DateTime;
  end: DateTime;
  /** Crews free for the whole job plus buffer, in the context's order. */
  crews: string[];
}

/** The window bookings may fall in: after the minimum notice, before the horizon. */
export function bookingWindow(ctx: BusinessContext, now: DateTime): { earliest: DateTime; latest: DateTime } {
  return {
    earliest: now.plus({ minutes: Math.round(ctx.scheduling.minNoticeHours * 60) }),
    latest: now.plus({ days: ctx.scheduling.horizonDays }),
  };
}

export function findSlots(q: SlotQuery): Slot[] {
  const { ctx } = q;
  const s = ctx.scheduling;
  const { earliest, latest } = bookingWindow(ctx, q.now);
  const from = DateTime.max(q.from, earliest);
  const to = DateTime.min(q.to, latest);
  if (from > to) return [];
  const limit = q.limit ?? Infinity;
  const stepMs = s.slotMinutes * 60_000;
  const durMs = q.durationMinutes * 60_000;
  const bufMs = s.travelBufferMinutes * 60_000;

  const byCrew = new Map<string, BusyInterval[]>(s.crews.map((c) => [c, []]));
  for (const b of q.busy) byCrew.get(b.crew)?.push(b);
  const crews = s.crews.map((name) => ({ name, busy: byCrew.get(name)!.sort((a, b) => a.start - b.start), i: 0 }));

  const out: Slot[] = [];
  // Work intervals are whole days' hours clipped to [from, to]; the job must start inside and end by close.
  const intervals = openIntervals(ctx, s.workHours ?? ctx.hours, from.startOf('day'), to.endOf('day'));
  for (const iv of intervals) {
    const open = iv.start!.toMillis();
    const close = iv.end!.toMillis();
    // Starts sit on the slot grid counted from the interval's opening time.
    const firstAllowed = Math.max(open, from.toMillis());
    let start = open + Math.ceil((firstAllowed - open) / stepMs) * stepMs;
    for (; start + durMs <= close && start <= to.toMillis(); start += stepMs) {
      const blockEnd = start + durMs + bufMs;
      const free: string[] = [];
      for (const c of crews) {
        // Intervals ending at or before this start can't touch any later start either.
        while (c.i < c.busy.length && c.busy[c.i]!.end <= start) c.i++;
        const next = c.busy[c.i];
        if (!next || next.start >= blockEnd) free.push(c.name);
      }
      if (free.length >= q.crewSize) {
        const zone = ctx.timezone;
        out.push({
          start: DateTime.fromMillis(start, { zone }),
          end: DateTime.fromMillis(start + durMs, { zone }),
          crews: free,
        });
        if (out.length >= limit) return out;
      }
    }
  }
  return out;
}
