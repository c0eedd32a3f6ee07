import { sql, type Kysely } from 'kysely';

/**
 * login_limits: login attempt counters for @fastify/rate-limit (http/admin/login-limits.ts): in the database so
 * that every process counts together, increments are atomic (one upsert), and `frontdesk admin
 * unlock` can clear them from another process.
 * outbox.send_started_at: set just before a provider API call, so a worker that finds the item
 * claimed by a dead process knows the send may have happened and reconciles instead of resending.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql.raw(`CREATE TABLE login_limits (
     key text PRIMARY KEY,
     hits integer NOT NULL,
     window_start timestamptz NOT NULL)`).execute(db);
  await sql.raw('ALTER TABLE outbox ADD COLUMN send_started_at timestamptz').execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw('ALTER TABLE outbox DROP COLUMN IF EXISTS send_started_at').execute(db);
  await sql.raw('DROP TABLE IF EXISTS login_limits').execute(db);
}
