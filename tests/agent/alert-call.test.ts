import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBusiness, type Business } from '../../src/business/index.js';
import { demoContext } from '../../src/business/context/demo.js';
import { enqueue, OutboxWorker } from '../../src/business/outbox.js';
import { createCallAlertSender } from '../../src/agent/call/alert-call.js';
import { SipEndpoint } from '../../src/telephony/sip/endpoint.js';
import { EspeakTts } from '../../src/speech/tts/espeak.js';
import { parseCidrList } from '../../src/util/cidr.js';
import type { Store } from '../../src/store/db.js';
import { openTestStore } from '../helpers/stores.js';
import { freePort } from '../helpers/ports.js';
import { startSippUas } from '../helpers/sipp.js';

describe('owner alerts by phone call', () => {
  let store: Store;
  let dispose: () => Promise<void>;
  let biz: Business;
  beforeAll(async () => {
    ({ store, dispose } = await openTestStore('pglite'));
    biz = createBusiness(store.db);
  });
  afterAll(async () => dispose());

  it('calls the owner through the trunk, reads the alert out, hangs up, and logs the call', async () => {
    const ctx = await biz.contexts.save({ ...demoContext, alerts: [{ on: 'owner_requested_after_hours', via: 'call', to: '+15125550199' }] }, 'test');
    const owner = await startSippUas('uas-owner.xml', [], 35);
    const ep = new SipEndpoint({
      bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]), rtpPortMin: 36200, rtpPortMax: 36299,
      trunk: { host: '127.0.0.1', port: owner.port, transport: 'UDP', register: false, callerId: '+15125550100' },
    });
    await ep.start();
    try {
      await biz.alerts.handle(store.db, ctx, { type: 'owner_requested_after_hours', callId: 'c-1', callerNumber: '+15125550177', callerName: 'Ann', reason: 'wants a quote for Saturday' });
      const worker = new OutboxWorker(store.db, { senders: { call: createCallAlertSender(ep, new EspeakTts(), biz) } });
      await worker.runOnce();
      const run = await owner.done;
      expect(run.code, run.output).toBe(0);
      const item = await store.db.selectFrom('outbox').select(['status', 'channel', 'recipient']).where('channel', '=', 'call').executeTakeFirstOrThrow();
      expect(item).toEqual({ status: 'sent', channel: 'call', recipient: '+15125550199' });
      const call = await store.db.selectFrom('calls').selectAll().where('purpose', '=', 'owner_alert').executeTakeFirstOrThrow();
      expect(call).toMatchObject({ direction: 'outbound', to_number: '+15125550199', disposition: 'alert_delivered' });
      const said = await biz.calls.events(call.id);
      expect(said[0]?.text).toBe('Ann (+15125550177) asked for you after hours: wants a quote for Saturday');
    } finally {
      await ep.stop();
    }
  }, 40_000);
});
