import type { Db } from '../store/db.js';
import type { Call, CallEventKind } from '../store/schema.js';

/** The call record and its events: what the admin reads afterwards. Plain data in, no telephony. */

export interface NewCall {
  direction: 'inbound' | 'outbound';
  backend: string;
  externalId?: string | null;
  from: string;
  to: string;
  contextId?: string | null;
  customerId?: string | null;
  purpose?: string | null;
}

export class CallLog {
  private readonly endedHooks = new Set<(id: string) => void>();
  /** `nodeId`: this process's node; every call it starts is stamped with it (the owner of its media). */
  constructor(private readonly db: Db, private readonly nodeId: string | null = null) {}

  /** Runs `fn` after each call is recorded as ended (the app writes the call's summary from it). */
  onEnded(fn: (id: string) => void): () => void {
    this.endedHooks.add(fn);
    return () => this.endedHooks.delete(fn);
  }

  async start(c: NewCall): Promise<string> {
    const row = await this.db
      .insertInto('calls')
      .values({
        direction: c.direction, backend: c.backend, external_id: c.externalId ?? null, from_number: c.from, to_number: c.to,
        context_id: c.contextId ?? null, customer_id: c.customerId ?? null, purpose: c.purpose ?? null, started_at: new Date(), node_id: this.nodeId,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  /** Marks the call answered, unless it already ended (a CANCEL that raced the answer wins). */
  async answered(id: string): Promise<void> {
    // A retried write may land after the call ended: it must not bring the call back to life.
    await this.db.updateTable('calls').set({ state: 'answered', answered_at: new Date() }).where('id', '=', id).where('state', '!=', 'ended').execute();
  }

  async ended(id: string, disposition: string, extra: { summary?: string; recordingPath?: string; result?: unknown } = {}): Promise<void> {
    await this.db
      .updateTable('calls')
      .set({
        state: 'ended', ended_at: new Date(), disposition,
        ...(extra.summary !== undefined ? { summary: extra.summary } : {}),
        ...(extra.recordingPath !== undefined ? { recording_path: extra.recordingPath } : {}),
        ...(extra.result !== undefined ? { result: JSON.stringify(extra.result) } : {}),
      })
      .where('id', '=', id)
      .execute();
    for (const fn of this.endedHooks) fn(id);
  }

  /** The call's media quality (packets, loss, jitter, RTT), as the telephony backend measured it. */
  async quality(id: string, quality: unknown): Promise<void> {
    await this.db.updateTable('calls').set({ quality: JSON.stringify(quality) }).where('id', '=', id).execute();
  }

  /**
   * Start-up: calls this node's previous process left `ringing` or `answered` cannot still be up
   * (their media died with it), so they end as `interrupted`; so do calls with no owner (written
   * before nodes were recorded). Other nodes' calls are theirs: a dead node's are ended by the
   * survivors once its heartbeat lapses (cluster/registry.ts). Returns how many were closed.
   */
  async closeInterrupted(): Promise<number> {
    const rows = await this.db
      .updateTable('calls')
      .set({ state: 'ended', ended_at: new Date(), disposition: 'interrupted' })
      .where('state', 'in', ['ringing', 'answered'])
      .where((eb) => (this.nodeId === null ? eb.val(true) : eb.or([eb('node_id', '=', this.nodeId), eb('node_id', 'is', null)])))
      .returning('id')
      .execute();
    return rows.length;
  }

  async recording(id: string, path: string): Promise<void> {
    await this.db.updateTable('calls').set({ recording_path: path }).where('id', '=', id).execute();
  }

  async event(id: string, kind: CallEventKind, e: { role?: 'caller' | 'agent' | 'system'; text?: string; data?: unknown } = {}): Promise<void> {
    await this.db
      .insertInto('call_events')
      .values({ call_id: id, kind, role: e.role ?? null, text: e.text ?? null, data: e.data === undefined ? null : JSON.stringify(e.data), at: new Date() })
      .execute();
  }

  async get(id: string): Promise<Call | undefined> {
    return this.db.selectFrom('calls').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async events(id: string) {
    return this.db.selectFrom('call_events').selectAll().where('call_id', '=', id).orderBy('id').execute();
  }
}
