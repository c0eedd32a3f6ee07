import type { Db } from '../../store/db.js';

/**
 * What changed, for the console's live view (server-sent events): calls starting and ending, each
 * new line of a call's transcript, texts, voicemails and messages, bookings. Read from the store on
 * one shared timer while anyone is watching, so it sees changes made by every part of frontdesk (and
 * by other processes on the same database) without each of them having to announce them.
 */

export type LiveEvent =
  | { type: 'call'; id: string; state: string; from: string; disposition: string | null }
  | { type: 'call_event'; call: string; kind: string; role: string | null; text: string | null; at: string }
  | { type: 'text'; thread: string; direction: string }
  | { type: 'voicemail'; id: string; kind: string }
  | { type: 'booking'; id: string; status: string };

export const LIVE_FEED_DEFAULTS = {
  /** How often the store is read while someone watches (ms). */
  pollMs: 1000,
  /** The most rows of one kind reported per read. */
  batch: 200,
} as const satisfies Record<string, number>;

/** A high-water mark: rows at or after `at`, minus the ones already reported at exactly `at`. */
class Mark {
  at = new Date(0);
  private seen = new Set<string>();
  fresh<T extends { id: string }>(rows: T[], ts: (r: T) => Date): T[] {
    const out = rows.filter((r) => !(ts(r).getTime() === this.at.getTime() && this.seen.has(r.id)));
    for (const r of out) {
      const t = ts(r);
      if (t > this.at) {
        this.at = t;
        this.seen = new Set();
      }
      if (t.getTime() === this.at.getTime()) this.seen.add(r.id);
    }
    return out;
  }
}

export class LiveFeed {
  private subs = new Set<(e: LiveEvent) => void>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private marks = { calls: new Mark(), ends: new Mark(), events: new Mark(), texts: new Mark(), messages: new Mark(), bookings: new Mark() };
  private primed = false;
  /** Bumped when the last watcher leaves, so a read still in flight does not start a second loop. */
  private generation = 0;

  constructor(private readonly db: Db, private readonly o: Partial<typeof LIVE_FEED_DEFAULTS> = {}) {}

  private waiting: (() => void)[] = [];

  /** `ready` is called once the feed knows where "now" is: everything after it will be heard. */
  subscribe(fn: (e: LiveEvent) => void, ready: () => void = () => {}): () => void {
    this.subs.add(fn);
    if (this.primed) ready();
    else this.waiting.push(ready);
    if (!this.timer) this.schedule(0);
    return () => {
      this.subs.delete(fn);
      if (!this.subs.size && this.timer) {
        this.generation++;
        clearTimeout(this.timer);
        this.timer = undefined;
        this.primed = false;
        this.marks = { calls: new Mark(), ends: new Mark(), events: new Mark(), texts: new Mark(), messages: new Mark(), bookings: new Mark() };
      }
    };
  }

  stop(): void {
    this.generation++;
    this.subs.clear();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    const gen = this.generation;
    this.timer = setTimeout(() => {
      // A failed read (database restarting) is tried again on the next tick.
      void this.read().catch(() => {}).finally(() => {
        if (gen === this.generation && this.subs.size) this.schedule(this.o.pollMs ?? LIVE_FEED_DEFAULTS.pollMs);
      });
    }, ms);
  }

  /** A new watcher hears what happens from now on: each mark starts at the newest row there is. */
  private async prime(): Promise<void> {
    const max = async (q: Promise<{ t: Date | string | null } | undefined>) => {
      const t = (await q)?.t;
      return t ? new Date(t) : new Date(0);
    };
    const m = this.marks;
    [m.calls.at, m.ends.at, m.events.at, m.texts.at, m.messages.at, m.bookings.at] = await Promise.all([
      max(this.db.selectFrom('calls').select((e) => e.fn.max('started_at').as('t')).executeTakeFirst()),
      max(this.db.selectFrom('calls').select((e) => e.fn.max('ended_at').as('t')).executeTakeFirst()),
      max(this.db.selectFrom('call_events').select((e) => e.fn.max('at').as('t')).executeTakeFirst()),
      max(this.db.selectFrom('sms_messages').select((e) => e.fn.max('created_at').as('t')).executeTakeFirst()),
      max(this.db.selectFrom('owner_messages').select((e) => e.fn.max('created_at').as('t')).executeTakeFirst()),
      max(this.db.selectFrom('appointments').select((e) => e.fn.max('updated_at').as('t')).executeTakeFirst()),
    ]);
    // Rows at exactly the mark were there before: bump past them.
    for (const k of Object.keys(m) as (keyof typeof m)[]) if (m[k].at.getTime() > 0) m[k].at = new Date(m[k].at.getTime() + 1);
    this.primed = true;
    for (const r of this.waiting.splice(0)) r();
  }

  private async read(): Promise<void> {
    if (!this.primed) return this.prime();
    const n = this.o.batch ?? LIVE_FEED_DEFAULTS.batch;
    const m = this.marks;
    const [calls, ends, events, texts, messages, bookings] = await Promise.all([
      this.db.selectFrom('calls').select(['id', 'state', 'from_number', 'disposition', 'started_at']).where('started_at', '>=', m.calls.at).orderBy('started_at').limit(n).execute(),
      this.db.selectFrom('calls').select(['id', 'state', 'from_number', 'disposition', 'ended_at']).where('ended_at', '>=', m.ends.at).orderBy('ended_at').limit(n).execute(),
      this.db.selectFrom('call_events').select(['id', 'call_id', 'kind', 'role', 'text', 'at']).where('at', '>=', m.events.at).orderBy('at').limit(n).execute(),
      this.db.selectFrom('sms_messages').select(['id', 'thread_id', 'direction', 'created_at']).where('created_at', '>=', m.texts.at).orderBy('created_at').limit(n).execute(),
      this.db.selectFrom('owner_messages').select(['id', 'kind', 'created_at']).where('created_at', '>=', m.messages.at).orderBy('created_at').limit(n).execute(),
      this.db.selectFrom('appointments').select(['id', 'status', 'updated_at']).where('updated_at', '>=', m.bookings.at).orderBy('updated_at').limit(n).execute(),
    ]);
    const out: LiveEvent[] = [
      ...m.calls.fresh(calls, (r) => r.started_at).map((r) => ({ type: 'call' as const, id: r.id, state: r.state, from: r.from_number, disposition: r.disposition })),
      ...m.ends.fresh(ends, (r) => r.ended_at!).map((r) => ({ type: 'call' as const, id: r.id, state: r.state, from: r.from_number, disposition: r.disposition })),
      ...m.events.fresh(events, (r) => r.at).map((r) => ({ type: 'call_event' as const, call: r.call_id, kind: r.kind, role: r.role, text: r.text, at: r.at.toISOString() })),
      ...m.texts.fresh(texts, (r) => r.created_at).map((r) => ({ type: 'text' as const, thread: r.thread_id, direction: r.direction })),
      ...m.messages.fresh(messages, (r) => r.created_at).map((r) => ({ type: 'voicemail' as const, id: r.id, kind: r.kind })),
      ...m.bookings.fresh(bookings, (r) => r.updated_at).map((r) => ({ type: 'booking' as const, id: r.id, status: r.status })),
    ];
    for (const e of out) for (const fn of this.subs) fn(e);
  }
}
