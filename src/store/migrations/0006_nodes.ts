import { sql, type Kysely } from 'kysely';

/**
 * More than one node on one database: each node registers itself and heartbeats; each call
 * records which node owns it, so a survivor can end a dead node's calls and the admin API on
 * any node can reach a call on another.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE TABLE nodes (
    id text PRIMARY KEY,
    instance text NOT NULL,
    sip_uri text,
    http_url text,
    capacity integer NOT NULL DEFAULT 0,
    calls integer NOT NULL DEFAULT 0,
    state text NOT NULL DEFAULT 'up' CHECK (state IN ('up', 'draining', 'gone')),
    started_at timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL
  )`.execute(db);
  await sql`ALTER TABLE calls ADD COLUMN node_id text`.execute(db);
  await sql`CREATE INDEX calls_open_by_node ON calls (node_id) WHERE state <> 'ended'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX calls_open_by_node`.execute(db);
  await sql`ALTER TABLE calls DROP COLUMN node_id`.execute(db);
  await sql`DROP TABLE nodes`.execute(db);
}
