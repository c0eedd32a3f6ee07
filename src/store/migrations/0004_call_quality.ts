import { sql, type Kysely } from 'kysely';

/** Each call's media quality (packets, loss, jitter, RTT from RTCP), written when the call ends. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE calls ADD COLUMN quality jsonb`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE calls DROP COLUMN quality`.execute(db);
}
