import { beforeAll, expect, it } from 'vitest';
import { createBusiness, type Business } from '../../src/business/index.js';
import { demoContext } from '../../src/business/context/demo.js';
import { summarizeStoredCall } from '../../src/agent/call-summary.js';
import { describeStores } from '../helpers/stores.js';

/** One customer's history as the owner reads it: everything theirs, nothing of anyone else's, newest first. */
describeStores('customer timeline', ({ store }) => {
  let biz: Business;
  beforeAll(async () => {
    biz = createBusiness(store().db, () => new Date('2026-11-23T16:00:00Z'));
    await biz.contexts.save(demoContext, 'system');
  });

  it('joins calls (theirs by record or by number, either way), texts, voicemails and visits; each call tagged and summarized', async () => {
    const db = store().db;
    const ctx = await biz.contexts.get(demoContext.name);
    const ana = (await biz.customers.findOrCreateByPhone('+15125550171'))!.customer;
    const other = (await biz.customers.findOrCreateByPhone('+15125550172'))!.customer;
    const at = (iso: string) => new Date(iso);
    // A call recorded before the customer was known (no customer id), one we placed to them, and someone else's.
    const byNumber = await biz.calls.start({ direction: 'inbound', backend: 'sip', from: ana.phone!, to: '+15125550100', contextId: ctx.id });
    await biz.calls.event(byNumber, 'turn', { role: 'caller', text: 'What does a deep cleaning cost?' });
    await biz.calls.ended(byNumber, 'completed');
    const placed = await biz.calls.start({ direction: 'outbound', backend: 'sip', from: '+15125550100', to: ana.phone!, contextId: ctx.id, purpose: 'click_to_call' });
    await biz.calls.ended(placed, 'completed');
    const theirs = await biz.calls.start({ direction: 'inbound', backend: 'sip', from: other.phone!, to: '+15125550100', contextId: ctx.id, customerId: other.id });
    await biz.calls.ended(theirs, 'completed');
    for (const id of [byNumber, placed, theirs]) await summarizeStoredCall(db, biz, id);
    await db.updateTable('calls').set({ started_at: at('2026-11-20T10:00:00Z') }).where('id', '=', byNumber).execute();
    await db.updateTable('calls').set({ started_at: at('2026-11-21T10:00:00Z') }).where('id', '=', placed).execute();
    await biz.messages.take(ctx, { kind: 'voicemail', body: 'Ana here, call me back', callerNumber: ana.phone! });
    await db.updateTable('owner_messages').set({ created_at: at('2026-11-22T10:00:00Z') }).where('caller_number', '=', ana.phone!).execute();
    const thread = await db.insertInto('sms_threads').values({ business_number: '+15125550100', customer_number: ana.phone!, last_message_at: at('2026-11-22T12:00:00Z') }).returning('id').executeTakeFirstOrThrow();
    await db.insertInto('sms_messages').values({ thread_id: thread.id, direction: 'inbound', provider: 'telnyx', body: 'Thanks!', status: 'received', created_at: at('2026-11-22T12:00:00Z'), updated_at: at('2026-11-22T12:00:00Z') }).execute();
    await biz.scheduling.book({ context: demoContext.name, service: 'standard', start: at('2026-11-26T15:00:00Z'), customerId: ana.id, source: 'admin' });

    const t = (await biz.customers.timeline(ana.id))!;
    expect(t.items.map((i) => i.kind)).toEqual(['visit', 'text', 'voicemail', 'call', 'call']);
    const calls = t.items.filter((i) => i.kind === 'call');
    expect(calls.map((c) => [c.id, c.tag])).toEqual([[placed, 'outbound'], [byNumber, 'quote']]);
    expect(calls[1]).toMatchObject({ summary: 'Asked about prices: “What does a deep cleaning cost?”', live: false });
    expect(await biz.customers.timeline('00000000-0000-4000-8000-000000000000')).toBeUndefined();
  });
});
