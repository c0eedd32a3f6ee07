import { sql, type Kysely } from 'kysely';

/** Each call's outcome as one word (booked, quote, message, …), set with its summary when the call ends. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE calls ADD COLUMN tag text`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE calls DROP COLUMN tag`.execute(db);
}
