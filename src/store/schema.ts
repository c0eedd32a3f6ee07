import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/** Table types for kysely; kept in step with migrations/ (the migration tests exercise both). */

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type Json<T = unknown> = ColumnType<T, string, string>;
type NullableJson<T = unknown> = ColumnType<T | null, string | null | undefined, string | null>;

export interface ContextsTable {
  id: Generated<string>;
  name: string;
  kind: 'business' | 'personal';
  is_default: Generated<boolean>;
  feed_token: Generated<string>;
  version: number;
  document: Json;
  created_at: Generated<Date>;
  updated_at: Timestamp;
}

export interface ContextVersionsTable {
  context_id: string;
  version: number;
  document: Json;
  author: string;
  message: string | null;
  diff: Json;
  created_at: Generated<Date>;
}

export interface PhoneNumbersTable {
  e164: string;
  context_id: string;
  created_at: Generated<Date>;
}

export interface CustomersTable {
  id: Generated<string>;
  phone: string | null;
  name: string | null;
  address: string | null;
  email: string | null;
  notes: string | null;
  created_at: Generated<Date>;
  updated_at: Timestamp;
}

export type CallState = 'ringing' | 'answered' | 'ended';

export interface CallsTable {
  id: Generated<string>;
  direction: 'inbound' | 'outbound';
  backend: string;
  external_id: string | null;
  from_number: string;
  to_number: string;
  context_id: string | null;
  customer_id: string | null;
  state: Generated<CallState>;
  purpose: string | null;
  started_at: Timestamp;
  answered_at: NullableTimestamp;
  ended_at: NullableTimestamp;
  disposition: string | null;
  recording_path: string | null;
  summary: string | null;
  /** The outcome in one word (0004): see agent/call-summary.ts. */
  tag: string | null;
  result: NullableJson;
  /** Media quality at the end (telephony/rtp/rtcp.ts CallQuality), where the backend measured it. */
  quality: NullableJson;
  /** The node (FRONTDESK_NODE_ID) whose process holds the call's media; null before 0006. */
  node_id: Generated<string | null>;
}

export type CallEventKind =
  | 'turn' | 'dtmf' | 'tool_call' | 'tool_result' | 'state' | 'latency' | 'transfer' | 'error' | 'note';

export interface CallEventsTable {
  id: Generated<string>;
  call_id: string;
  at: Timestamp;
  kind: CallEventKind;
  role: 'caller' | 'agent' | 'system' | null;
  text: string | null;
  data: NullableJson;
}

export interface SmsThreadsTable {
  id: Generated<string>;
  context_id: string | null;
  business_number: string;
  customer_number: string;
  customer_id: string | null;
  provider: string | null;
  state: NullableJson;
  opted_out_at: NullableTimestamp;
  /** When the owner last read the thread in the console (0002). */
  owner_read_at: NullableTimestamp;
  last_message_at: Timestamp;
  created_at: Generated<Date>;
}

export type SmsStatus = 'received' | 'queued' | 'sending' | 'sent' | 'delivered' | 'failed' | 'suppressed';

export interface SmsMessagesTable {
  id: Generated<string>;
  thread_id: string;
  direction: 'inbound' | 'outbound';
  provider: string;
  provider_message_id: string | null;
  body: string;
  status: SmsStatus;
  error: string | null;
  segments: number | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export type AppointmentStatus = 'booked' | 'cancelled' | 'completed' | 'no_show';

export interface AppointmentsTable {
  id: Generated<string>;
  context_id: string;
  parent_id: string | null;
  customer_id: string | null;
  service: string;
  crew: string;
  starts_at: Timestamp;
  ends_at: Timestamp;
  blocked_until: Timestamp;
  status: Generated<AppointmentStatus>;
  address: string | null;
  notes: string | null;
  price_cents: number | null;
  quote: NullableJson;
  source: Generated<'call' | 'sms' | 'admin' | 'api'>;
  created_at: Generated<Date>;
  updated_at: Timestamp;
  cancelled_at: NullableTimestamp;
}

export interface OwnerMessagesTable {
  id: Generated<string>;
  context_id: string | null;
  call_id: string | null;
  customer_id: string | null;
  kind: 'voicemail' | 'message';
  caller_number: string | null;
  caller_name: string | null;
  body: Generated<string>;
  recording_path: string | null;
  duration_ms: number | null;
  urgent: Generated<boolean>;
  read_at: NullableTimestamp;
  created_at: Generated<Date>;
}

export type OutboxStatus = 'pending' | 'sending' | 'sent' | 'failed' | 'suppressed' | 'cancelled';

export interface OutboxTable {
  id: Generated<string>;
  context_id: string | null;
  channel: 'sms' | 'call' | 'email';
  purpose: string;
  recipient: string;
  payload: Json;
  dedupe_key: string;
  status: Generated<OutboxStatus>;
  attempts: Generated<number>;
  max_attempts: Generated<number>;
  next_attempt_at: Timestamp;
  locked_until: NullableTimestamp;
  last_error: string | null;
  provider_ref: string | null;
  sent_at: NullableTimestamp;
  /** Set just before a provider call: a reclaimed item with it may already have gone out. */
  send_started_at: NullableTimestamp;
  created_at: Generated<Date>;
}

export interface JobsTable {
  id: Generated<string>;
  queue: string;
  payload: Json;
  dedupe_key: string | null;
  status: Generated<'pending' | 'running' | 'done' | 'failed'>;
  attempts: Generated<number>;
  max_attempts: Generated<number>;
  run_at: Timestamp;
  locked_until: NullableTimestamp;
  last_error: string | null;
  done_at: NullableTimestamp;
  created_at: Generated<Date>;
}

export interface AuditLogTable {
  id: Generated<string>;
  at: Timestamp;
  actor: string;
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: NullableJson;
}

export interface AdminUsersTable {
  id: Generated<string>;
  username: string;
  password_hash: string;
  role: Generated<'admin' | 'viewer'>;
  failed_attempts: Generated<number>;
  locked_until: NullableTimestamp;
  last_login_at: NullableTimestamp;
  created_at: Generated<Date>;
}

export interface ApiTokensTable {
  id: Generated<string>;
  user_id: string;
  name: string;
  token_hash: string;
  created_at: Generated<Date>;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
}

export interface AdminSessionsTable {
  id: string;
  user_id: string;
  csrf_token: string;
  created_at: Generated<Date>;
  expires_at: Timestamp;
  last_seen_at: Timestamp;
}

export type NodeState = 'up' | 'draining' | 'gone';

/** One frontdesk process sharing the database (cluster/registry.ts). */
export interface NodesTable {
  id: string;
  /** Random per process start: a second process claiming a live node's id is refused. */
  instance: string;
  sip_uri: string | null;
  http_url: string | null;
  capacity: number;
  calls: number;
  state: NodeState;
  started_at: Timestamp;
  heartbeat_at: Timestamp;
}

export interface LoginLimitsTable {
  key: string;
  hits: number;
  window_start: Timestamp;
}

export interface Database {
  contexts: ContextsTable;
  context_versions: ContextVersionsTable;
  phone_numbers: PhoneNumbersTable;
  customers: CustomersTable;
  calls: CallsTable;
  call_events: CallEventsTable;
  sms_threads: SmsThreadsTable;
  sms_messages: SmsMessagesTable;
  appointments: AppointmentsTable;
  owner_messages: OwnerMessagesTable;
  outbox: OutboxTable;
  jobs: JobsTable;
  audit_log: AuditLogTable;
  admin_users: AdminUsersTable;
  api_tokens: ApiTokensTable;
  admin_sessions: AdminSessionsTable;
  login_limits: LoginLimitsTable;
  nodes: NodesTable;
}

export type Customer = Selectable<CustomersTable>;
export type Appointment = Selectable<AppointmentsTable>;
export type NewAppointment = Insertable<AppointmentsTable>;
export type AppointmentUpdate = Updateable<AppointmentsTable>;
export type Call = Selectable<CallsTable>;
export type OwnerMessage = Selectable<OwnerMessagesTable>;
export type OutboxItem = Selectable<OutboxTable>;
