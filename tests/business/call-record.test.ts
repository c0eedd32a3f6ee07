import { expect, it } from 'vitest';
import { createBusiness } from '../../src/business/index.js';
import { describeStores } from '../helpers/stores.js';

describeStores('the call record', ({ store }) => {
  it('stays ended when the caller cancels while the answer is being recorded', async () => {
    const biz = createBusiness(store().db);
    const id = await biz.calls.start({ direction: 'inbound', backend: 'sip', from: '+15125550177', to: '+15125550100' });
    // The CANCEL's "ended" lands first; the answer's write arrives after it.
    await biz.calls.ended(id, 'abandoned (cancelled)');
    await biz.calls.answered(id);
    expect(await biz.calls.get(id)).toMatchObject({ state: 'ended', disposition: 'abandoned (cancelled)' });
    // In the usual order the call is answered, then ends.
    const ok = await biz.calls.start({ direction: 'inbound', backend: 'sip', from: '+15125550177', to: '+15125550100' });
    await biz.calls.answered(ok);
    expect(await biz.calls.get(ok)).toMatchObject({ state: 'answered' });
  });
});
