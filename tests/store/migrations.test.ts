import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/store/migrate.js';
import { openTestStore, PGLITE_TEST_MS } from '../helpers/stores.js';

const TABLES = [
  'admin_sessions', 'admin_users', 'api_tokens', 'appointments', 'audit_log', 'call_events', 'calls',
  'context_versions', 'contexts', 'customers', 'jobs', 'login_limits', 'nodes', 'outbox', 'owner_messages', 'phone_numbers',
  'sms_messages', 'sms_threads',
];

for (const dialect of ['pglite', 'postgres'] as const) {
  describe(`migrations [${dialect}]`, () => {
    it('build the whole schema from an empty database and are safe to run again', async () => {
      const { store, dispose } = await openTestStore(dialect, { migrate: false });
      try {
        const first = await migrateToLatest(store.db);
        expect(first.map((m) => [m.migrationName, m.status])).toEqual([['0001_initial', 'Success'], ['0002_security', 'Success'], ['0003_sms_thread_read', 'Success'], ['0004_call_quality', 'Success'], ['0005_call_tag', 'Success'], ['0006_nodes', 'Success']]);
        const again = await migrateToLatest(store.db);
        expect(again).toEqual([]);
        const { rows } = await sql<{ table_name: string }>`
          select table_name from information_schema.tables
          where table_schema = 'public' and table_name not like 'frontdesk_migrations%'
          order by table_name`.execute(store.db);
        expect(rows.map((r) => r.table_name)).toEqual(TABLES);
      } finally {
        await dispose();
      }
    }, PGLITE_TEST_MS);
  });
}
