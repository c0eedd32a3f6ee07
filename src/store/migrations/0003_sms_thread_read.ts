import { sql, type Kysely } from 'kysely';

/** When the owner last read each text thread in the console: texts after it count as unread. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE sms_threads ADD COLUMN owner_read_at timestamptz`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE sms_threads DROP COLUMN owner_read_at`.execute(db);
}
