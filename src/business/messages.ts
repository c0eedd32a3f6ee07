import type { Db } from '../store/db.js';
import type { OwnerMessage } from '../store/schema.js';
import { audit } from '../store/audit.js';
import type { StoredContext } from './context/service.js';
import type { Alerts } from './alerts.js';

/** Voicemails and messages taken for the owner; saving one alerts the owner in the same transaction. */

export interface NewOwnerMessage {
  kind: 'voicemail' | 'message';
  body: string;
  callId?: string | null;
  customerId?: string | null;
  callerNumber?: string | null;
  callerName?: string | null;
  recordingPath?: string | null;
  durationMs?: number | null;
  urgent?: boolean;
}

/** Words that make a voicemail or message urgent when the agent did not say ("…when a voicemail sounds urgent"). */
const URGENT = /\b(urgent|urgently|emergency|asap|right away|immediately|as soon as possible|flood(ed|ing)?|leak(ing)?|burst)\b/i;

export function soundsUrgent(body: string): boolean {
  return URGENT.test(body);
}

export class MessageService {
  constructor(private readonly db: Db, private readonly alerts: Alerts) {}

  async take(stored: Pick<StoredContext, 'id' | 'document'>, m: NewOwnerMessage, actor = 'agent'): Promise<OwnerMessage> {
    return this.db.transaction().execute(async (tx) => {
      const row = await tx
        .insertInto('owner_messages')
        .values({
          context_id: stored.id,
          call_id: m.callId ?? null,
          customer_id: m.customerId ?? null,
          kind: m.kind,
          caller_number: m.callerNumber ?? null,
          caller_name: m.callerName ?? null,
          body: m.body.trim().slice(0, 5000),
          recording_path: m.recordingPath ?? null,
          duration_ms: m.durationMs ?? null,
          urgent: m.urgent ?? soundsUrgent(m.body),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await this.alerts.handle(tx, stored, {
        type: m.kind, id: row.id, body: row.body, callerNumber: row.caller_number, callerName: row.caller_name, urgent: row.urgent,
      });
      await audit(tx, { actor, action: `${m.kind}.create`, targetType: 'owner_message', targetId: row.id });
      return row;
    });
  }

  async list(opts: { contextId?: string; unreadOnly?: boolean; limit?: number } = {}): Promise<OwnerMessage[]> {
    let q = this.db.selectFrom('owner_messages').selectAll();
    if (opts.contextId) q = q.where('context_id', '=', opts.contextId);
    if (opts.unreadOnly) q = q.where('read_at', 'is', null);
    return q.orderBy('created_at', 'desc').limit(opts.limit ?? 100).execute();
  }

  async markRead(id: string, read: boolean, actor: string): Promise<OwnerMessage | undefined> {
    const row = await this.db
      .updateTable('owner_messages')
      .set({ read_at: read ? new Date() : null })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    if (row) await audit(this.db, { actor, action: read ? 'message.read' : 'message.unread', targetType: 'owner_message', targetId: id });
    return row;
  }
}
