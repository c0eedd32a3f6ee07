import { describe, expect, it } from 'vitest';
import { createBusiness } from '../../src/business/index.js';
import { toE164 } from '../../src/business/customers.js';
import { demoContext } from '../../src/business/context/demo.js';
import { describeStores } from '../helpers/stores.js';

describe('phone numbers', () => {
  it('normalizes what trunks and providers send to E.164', () => {
    expect(toE164('sip:+15125550100@trunk.example')).toBe('+15125550100');
    expect(toE164('(512) 555-0100')).toBe('+15125550100');
    expect(toE164('15125550100')).toBe('+15125550100');
    expect(toE164('tel:+44 20 7946 0958')).toBe('+442079460958');
    expect(toE164('anonymous')).toBeUndefined();
    expect(toE164('')).toBeUndefined();
  });
});

describeStores('customers and messages', ({ store }) => {
  it('recognizes a caller across contacts and keeps what they told us', async () => {
    const biz = createBusiness(store().db);
    const first = await biz.customers.findOrCreateByPhone('512-555-0133');
    expect(first?.created).toBe(true);
    await biz.customers.update(first!.customer.id, { name: 'Ann Lee', address: '4 Elm St' });
    const again = await biz.customers.findOrCreateByPhone('+15125550133');
    expect(again).toMatchObject({ created: false, customer: { name: 'Ann Lee', address: '4 Elm St' } });
    await biz.customers.update(first!.customer.id, { name: '  ', notes: 'gate code 1234' });
    expect(await biz.customers.get(first!.customer.id)).toMatchObject({ name: 'Ann Lee', notes: 'gate code 1234' });
    expect(await biz.customers.findOrCreateByPhone('anonymous')).toBeUndefined();
  });

  it('stores a voicemail with its transcript, alerts the owner, and tracks read state', async () => {
    const biz = createBusiness(store().db);
    const ctx = await biz.contexts.save(demoContext, 'test');
    const vm = await biz.messages.take(ctx, {
      kind: 'voicemail', body: 'Hi, this is Ann, please call me back about Friday.', callerNumber: '+15125550133', callerName: 'Ann Lee',
      recordingPath: 'voicemail/abc.wav', durationMs: 6400,
    });
    const alert = await store().db.selectFrom('outbox').select(['recipient', 'payload']).where('dedupe_key', 'like', `alert:voicemail:${vm.id}%`).executeTakeFirstOrThrow();
    expect(alert.recipient).toBe('+15125550199');
    expect((alert.payload as { text: string }).text).toBe('Voicemail from Ann Lee (+15125550133): Hi, this is Ann, please call me back about Friday.');
    expect((await biz.messages.list({ unreadOnly: true })).map((m) => m.id)).toEqual([vm.id]);
    await biz.messages.markRead(vm.id, true, 'maria');
    expect(await biz.messages.list({ unreadOnly: true })).toEqual([]);
    await biz.messages.markRead(vm.id, false, 'maria');
    expect(await biz.messages.list({ unreadOnly: true })).toHaveLength(1);
  });
});
