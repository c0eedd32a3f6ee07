import type { Db } from './db.js';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

export interface AuditEntry {
  /** Who did it: an admin username, 'agent', 'system', 'cli'. */
  actor: string;
  action: string;
  targetType?: string;
  targetId?: string;
  details?: unknown;
  /** When, on the caller's clock (the owner's PIN lockout counts on the injected clock); default now. */
  at?: Date;
}

export async function audit(db: Db | Kysely<Database> | Transaction<Database>, e: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      actor: e.actor,
      action: e.action,
      target_type: e.targetType ?? null,
      target_id: e.targetId ?? null,
      details: e.details === undefined ? null : JSON.stringify(e.details),
      ...(e.at ? { at: e.at } : {}),
    })
    .execute();
}
