import { beforeAll, expect, it } from 'vitest';
import { describeStores } from '../helpers/stores.js';

/** The database itself, not application code, refuses two overlapping bookings for one crew. */
describeStores('appointment overlap guarantee', ({ store }) => {
  let contextId = '';
  beforeAll(async () => {
    const row = await store()
      .db.insertInto('contexts')
      .values({ name: 'overlap', kind: 'business', version: 1, document: '{}', updated_at: new Date() })
      .returning('id')
      .executeTakeFirstOrThrow();
    contextId = row.id;
  });

  const booking = (crew: string, start: string, end: string, bufferMin = 0) => ({
    context_id: contextId,
    service: 'standard',
    crew,
    starts_at: new Date(start),
    ends_at: new Date(end),
    blocked_until: new Date(new Date(end).getTime() + bufferMin * 60_000),
    updated_at: new Date(),
  });

  it('rejects a booking that overlaps another for the same crew', async () => {
    const db = store().db;
    await db.insertInto('appointments').values(booking('a', '2030-03-04T15:00:00Z', '2030-03-04T17:00:00Z')).execute();
    await expect(
      db.insertInto('appointments').values(booking('a', '2030-03-04T16:00:00Z', '2030-03-04T18:00:00Z')).execute(),
    ).rejects.toThrow(/appointments_no_overlap/);
    // Another crew, and a back-to-back slot, are fine.
    await db.insertInto('appointments').values(booking('b', '2030-03-04T16:00:00Z', '2030-03-04T18:00:00Z')).execute();
    await db.insertInto('appointments').values(booking('a', '2030-03-04T17:00:00Z', '2030-03-04T18:00:00Z')).execute();
  });

  it('counts the travel buffer and ignores cancelled bookings', async () => {
    const db = store().db;
    const first = await db
      .insertInto('appointments')
      .values(booking('c', '2030-03-05T15:00:00Z', '2030-03-05T17:00:00Z', 30))
      .returning('id')
      .executeTakeFirstOrThrow();
    await expect(
      db.insertInto('appointments').values(booking('c', '2030-03-05T17:15:00Z', '2030-03-05T18:00:00Z')).execute(),
    ).rejects.toThrow(/appointments_no_overlap/);
    await db.updateTable('appointments').set({ status: 'cancelled' }).where('id', '=', first.id).execute();
    await db.insertInto('appointments').values(booking('c', '2030-03-05T17:15:00Z', '2030-03-05T18:00:00Z')).execute();
  });

  it('lets exactly one of two concurrent conflicting bookings through', async () => {
    const db = store().db;
    const attempts = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        db.insertInto('appointments').values(booking('d', `2030-03-06T15:${String(i * 5).padStart(2, '0')}:00Z`, '2030-03-06T17:00:00Z')).execute(),
      ),
    );
    expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(1);
    const rows = await db.selectFrom('appointments').select('id').where('crew', '=', 'd').execute();
    expect(rows).toHaveLength(1);
  });
});
