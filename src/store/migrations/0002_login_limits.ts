import { sql, type Kysely } from 'kysely';

/**
 * Login attempt counters for @fastify/rate-limit (http/admin/login-limits.ts): in the database so
 * that every process counts together, increments are atomic (one upsert), and `frontdesk admin
 * unlock` can clear them from another process.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql.raw(`CREATE TABLE login_limits (
     key text PRIMARY KEY,
     hits integer NOT NULL,
     window_start timestamptz NOT NULL)`).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw('DROP TABLE IF EXISTS login_limits').execute(db);
}
