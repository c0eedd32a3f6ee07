import { Migrator, type Migration, type MigrationResult } from 'kysely';
import type { Db } from './db.js';
import * as m0001 from './migrations/0001_initial.js';
import * as m0002 from './migrations/0002_security.js';
import * as m0003 from './migrations/0003_sms_thread_read.js';
import * as m0004 from './migrations/0004_call_quality.js';
import * as m0005 from './migrations/0005_call_tag.js';
import * as m0006 from './migrations/0006_nodes.js';

/** Migrations are listed here, not read from disk, so they work the same under tsx, tsc and bundles. */
const migrations: Record<string, Migration> = {
  '0001_initial': m0001,
  '0002_security': m0002,
  '0003_sms_thread_read': m0003,
  '0004_call_quality': m0004,
  '0005_call_tag': m0005,
  '0006_nodes': m0006,
};

export class MigrationError extends Error {}

export async function migrateToLatest(db: Db): Promise<MigrationResult[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'frontdesk_migrations',
    migrationLockTableName: 'frontdesk_migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new MigrationError(
      `migration ${failed?.migrationName ?? '(unknown)'} failed: ${(error as Error).message ?? String(error)}`,
    );
  }
  return results ?? [];
}
