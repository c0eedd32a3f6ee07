import { DateTime } from 'luxon';
import { createBusiness } from '../../src/business/index.js';
import { demoContext } from '../../src/business/context/demo.js';
import { openStore } from '../../src/store/db.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { createServerDatabase } from '../../tests/helpers/stores.js';
import { percentile, type Suite } from '../lib.js';

/** Slot search and booking throughput on a context holding a year of bookings (Postgres server). */
const suite: Suite = {
  description: 'slot search and booking on a context with a year of bookings (Postgres server)',
  async run() {
    const server = await createServerDatabase();
    const store = await openStore({ databaseUrl: server.url });
    try {
      await migrateToLatest(store.db);
      const start = DateTime.fromISO('2030-01-01T00:00', { zone: 'America/Chicago' });
      let clock = start.toJSDate();
      const biz = createBusiness(store.db, () => clock);
      const ctx = await biz.contexts.save({ ...demoContext, scheduling: { ...demoContext.scheduling, horizonDays: 365 } }, 'bench');

      // A busy year: every working day crew B works a morning and an afternoon job, crew A a morning one.
      const rows = [];
      for (let d = 0; d < 365; d++) {
        const day = start.plus({ days: d });
        if (day.weekday === 7) continue;
        for (const crew of ['crew-a', 'crew-b']) {
          for (const hour of crew === 'crew-a' ? [8] : [8, 12]) {
            const s = day.set({ hour });
            rows.push({
              context_id: ctx.id, service: 'standard', crew, starts_at: s.toJSDate(), ends_at: s.plus({ hours: 3 }).toJSDate(),
              blocked_until: s.plus({ hours: 3, minutes: 30 }).toJSDate(), updated_at: new Date(),
            });
          }
        }
      }
      for (let i = 0; i < rows.length; i += 500) await store.db.insertInto('appointments').values(rows.slice(i, i + 500)).execute();

      const searches: number[] = [];
      for (let i = 0; i < 200; i++) {
        const from = start.plus({ days: (i * 7) % 350 }).toJSDate();
        const t0 = performance.now();
        await biz.scheduling.available({ context: ctx.name, service: 'standard', from, to: new Date(from.getTime() + 14 * 86_400_000) });
        searches.push(performance.now() - t0);
      }
      searches.sort((a, b) => a - b);

      // Book into crew A's free afternoons, one search and one booking per day.
      let booked = 0;
      const t0 = performance.now();
      for (let d = 1; d < 300 && booked < 200; d++) {
        const day = start.plus({ days: d });
        if (day.weekday >= 6) continue;
        const { slots } = await biz.scheduling.available({ context: ctx.name, service: 'standard', from: day.startOf('day').toJSDate(), to: day.endOf('day').toJSDate(), limit: 1 });
        if (!slots[0]) continue;
        await biz.scheduling.book({ context: ctx.name, service: 'standard', start: slots[0].start.toJSDate(), source: 'api' });
        booked++;
      }
      const bookSeconds = (performance.now() - t0) / 1000;
      clock = new Date();
      return {
        bookings_in_year: rows.length,
        slot_search_14d_p50_ms: percentile(searches, 50),
        slot_search_14d_p95_ms: percentile(searches, 95),
        search_and_book_per_s: booked / bookSeconds,
      };
    } finally {
      await store.close();
      await server.drop();
    }
  },
};
export default suite;
