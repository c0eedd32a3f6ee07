import { sql, type Kysely } from 'kysely';

/**
 * The whole product's schema, designed up front so later features fill it rather than reshape it.
 * Statements run one by one: PGlite's extended protocol takes a single statement per query.
 */
const up_statements = [
  `CREATE EXTENSION IF NOT EXISTS btree_gist`,

  // Business contexts ("dialplan contexts"): the current document plus every version.
  `CREATE TABLE contexts (
     id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
     name text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
     kind text NOT NULL CHECK (kind IN ('business', 'personal')),
     is_default boolean NOT NULL DEFAULT false,
     -- Secret part of the context's calendar (ICS) feed URL.
     feed_token text NOT NULL UNIQUE DEFAULT md5(random()::text || clock_timestamp()::text),
     version integer NOT NULL CHECK (version >= 1),
     document jsonb NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now(),
     updated_at timestamptz NOT NULL DEFAULT now())`,
  // At most one context answers numbers nobody claims.
  `CREATE UNIQUE INDEX contexts_one_default ON contexts (is_default) WHERE is_default`,
  `CREATE TABLE context_versions (
     context_id uuid NOT NULL REFERENCES contexts(id) ON DELETE CASCADE,
     version integer NOT NULL,
     document jsonb NOT NULL,
     author text NOT NULL,
     message text,
     diff jsonb NOT NULL DEFAULT '[]',
     created_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (context_id, version))`,
  // A dialled number (DID) belongs to exactly one context.
  `CREATE TABLE phone_numbers (
     e164 text PRIMARY KEY CHECK (e164 ~ '^\\+[1-9][0-9]{6,14}$'),
     context_id uuid NOT NULL REFERENCES contexts(id) ON DELETE CASCADE,
     created_at timestamptz NOT NULL DEFAULT now())`,

  `CREATE TABLE customers (
     id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
     phone text UNIQUE CHECK (phone ~ '^\\+[1-9][0-9]{6,14}$'),
     name text,
     address text,
     email text,
     notes text,
     created_at timestamptz NOT NULL DEFAULT now(),
     updated_at timestamptz NOT NULL DEFAULT now())`,

  `CREATE TABLE calls (
     id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
     direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
     backend text NOT NULL,
     external_id text,
     from_number text NOT NULL,
     to_number text NOT NULL,
     context_id uuid REFERENCES contexts(id) ON DELETE SET NULL,
     customer_id uuid REFERENCES customers(id) ON DELETE SET NULL,
     state text NOT NULL DEFAULT 'ringing' CHECK (state IN ('ringing', 'answered', 'ended')),
     purpose text,
     started_at timestamptz NOT NULL DEFAULT now(),
     answered_at timestamptz,
     ended_at timestamptz,
     disposition text,
     recording_path text,
     summary text,
     result jsonb)`,
  `CREATE INDEX calls_started_at ON calls (started_at DESC)`,
  `CREATE INDEX calls_context ON calls (context_id, started_at DESC)`,
  `CREATE INDEX calls_customer ON calls (customer_id, started_at DESC)`,
  `CREATE TABLE call_events (
     id bigserial PRIMARY KEY,
     call_id uuid NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
     at timestamptz NOT NULL DEFAULT now(),
     kind text NOT NULL CHECK (kind IN ('turn', 'dtmf', 'tool_call', 'tool_result', 'state', 'latency', 'transfer', 'error', 'note')),
     role text CHECK (role IN ('caller', 'agent', 'system')),
     text text,
     data jsonb)`,
  `CREATE INDEX call_events_call ON call_events (call_id, id)`,

  `CREATE TABLE sms_threads (
     id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
     context_id uuid REFERENCES contexts(id) ON DELETE SET NULL,
     business_number text NOT NULL,
     customer_number text NOT NULL,
     customer_id uuid REFERENCES customers(id) ON DELETE SET NULL,
     -- Which provider the thread came in on (replies go out the same way).
     provider text,
     -- The dialogue state carried between texts (guided-flow slots, pending confirmation).
     state jsonb,
     opted_out_at timestamptz,
     last_message_at timestamptz NOT NULL DEFAULT now(),
     created_at timestamptz NOT NULL DEFAULT now(),
     UNIQUE (business_number, customer_number))`,
  `CREATE TABLE sms_messages (
     id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
     thread_id uuid NOT NULL REFERENCES sms_threads(id) ON DELETE CASCADE,
     direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
     provider text NOT NULL,
     provider_message_id text,
     body text NOT NULL,
     status text NOT NULL CHECK (status IN ('received', 'queued', 'sending', 'sent', 'delivered', 'failed', 'suppressed')),
     error text,
     segments integer,
     created_at timestamptz NOT NULL DEFAULT now(),
     updated_at timestamptz NOT NULL DEFAULT now(),
     UNIQUE (provider, provider_message_id))`,
  `CREATE INDEX sms_messages_thread ON sms_messages (thread_id, created_at)`,

  // Two bookings for the same crew never overlap, travel buffer included: enforced by Postgres.
  `CREATE TABLE appointments (
     id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
     context_id uuid NOT NULL REFERENCES contexts(id) ON DELETE CASCADE,
     -- A job that takes several crews is one row per crew; the extra rows point at the first.
     parent_id uuid REFERENCES appointments(id) ON DELETE CASCADE,
     customer_id uuid REFERENCES customers(id) ON DELETE SET NULL,
     service text NOT NULL,
     crew text NOT NULL,
     starts_at timestamptz NOT NULL,
     ends_at timestamptz NOT NULL,
     blocked_until timestamptz NOT NULL,
     status text NOT NULL DEFAULT 'booked' CHECK (status IN ('booked', 'cancelled', 'completed', 'no_show')),
     address text,
     notes text,
     price_cents integer,
     quote jsonb,
     source text NOT NULL DEFAULT 'admin' CHECK (source IN ('call', 'sms', 'admin', 'api')),
     created_at timestamptz NOT NULL DEFAULT now(),
     updated_at timestamptz NOT NULL DEFAULT now(),
     cancelled_at timestamptz,
     CHECK (ends_at > starts_at),
     CHECK (blocked_until >= ends_at),
     CONSTRAINT appointments_no_overlap EXCLUDE USING gist (
       context_id WITH =, crew WITH =, tstzrange(starts_at, blocked_until, '[)') WITH &&
     ) WHERE (status = 'booked'))`,
  `CREATE INDEX appointments_context_time ON appointments (context_id, starts_at)`,
  `CREATE INDEX appointments_customer ON appointments (customer_id, starts_at)`,

  // Voicemails and messages taken for the owner.
  `CREATE TABLE owner_messages (
     id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
     context_id uuid REFERENCES contexts(id) ON DELETE SET NULL,
     call_id uuid REFERENCES calls(id) ON DELETE SET NULL,
     customer_id uuid REFERENCES customers(id) ON DELETE SET NULL,
     kind text NOT NULL CHECK (kind IN ('voicemail', 'message')),
     caller_number text,
     caller_name text,
     body text NOT NULL DEFAULT '',
     recording_path text,
     duration_ms integer,
     urgent boolean NOT NULL DEFAULT false,
     read_at timestamptz,
     created_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE INDEX owner_messages_context ON owner_messages (context_id, created_at DESC)`,

  // Notifications to send (SMS, calls, e-mail), each exactly once thanks to dedupe_key.
  `CREATE TABLE outbox (
     id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
     context_id uuid REFERENCES contexts(id) ON DELETE SET NULL,
     channel text NOT NULL CHECK (channel IN ('sms', 'call', 'email')),
     -- What it is for: booking_confirmation, reminder, owner_alert, daily_summary, ...
     purpose text NOT NULL,
     recipient text NOT NULL,
     payload jsonb NOT NULL,
     dedupe_key text NOT NULL UNIQUE,
     status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'suppressed', 'cancelled')),
     attempts integer NOT NULL DEFAULT 0,
     max_attempts integer NOT NULL DEFAULT 8,
     next_attempt_at timestamptz NOT NULL DEFAULT now(),
     locked_until timestamptz,
     last_error text,
     provider_ref text,
     sent_at timestamptz,
     created_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status IN ('pending', 'sending')`,

  // Durable internal work (e.g. answering an inbound text) that must survive a crash.
  `CREATE TABLE jobs (
     id bigserial PRIMARY KEY,
     queue text NOT NULL,
     payload jsonb NOT NULL,
     dedupe_key text UNIQUE,
     status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed')),
     attempts integer NOT NULL DEFAULT 0,
     max_attempts integer NOT NULL DEFAULT 8,
     run_at timestamptz NOT NULL DEFAULT now(),
     locked_until timestamptz,
     last_error text,
     done_at timestamptz,
     created_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE INDEX jobs_due ON jobs (queue, run_at) WHERE status IN ('pending', 'running')`,

  `CREATE TABLE audit_log (
     id bigserial PRIMARY KEY,
     at timestamptz NOT NULL DEFAULT now(),
     actor text NOT NULL,
     action text NOT NULL,
     target_type text,
     target_id text,
     details jsonb)`,
  `CREATE INDEX audit_log_at ON audit_log (at DESC)`,

  `CREATE TABLE admin_users (
     id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
     username text NOT NULL UNIQUE,
     password_hash text NOT NULL,
     role text NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'viewer')),
     failed_attempts integer NOT NULL DEFAULT 0,
     locked_until timestamptz,
     last_login_at timestamptz,
     created_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE TABLE api_tokens (
     id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
     user_id uuid NOT NULL REFERENCES admin_users(id) ON DELETE CASCADE,
     name text NOT NULL,
     token_hash text NOT NULL UNIQUE,
     created_at timestamptz NOT NULL DEFAULT now(),
     last_used_at timestamptz,
     revoked_at timestamptz)`,
  `CREATE TABLE admin_sessions (
     id text PRIMARY KEY,
     user_id uuid NOT NULL REFERENCES admin_users(id) ON DELETE CASCADE,
     csrf_token text NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now(),
     expires_at timestamptz NOT NULL,
     last_seen_at timestamptz NOT NULL DEFAULT now())`,
];

const tables = [
  'admin_sessions', 'api_tokens', 'admin_users', 'audit_log', 'jobs', 'outbox', 'owner_messages',
  'appointments', 'sms_messages', 'sms_threads', 'call_events', 'calls', 'customers', 'phone_numbers',
  'context_versions', 'contexts',
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of up_statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of tables) await sql.raw(`DROP TABLE IF EXISTS ${t}`).execute(db);
}
