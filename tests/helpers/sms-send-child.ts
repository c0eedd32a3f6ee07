// A frontdesk outbox worker in its own process, for the kill -9 test (tests/sms/crash-send.test.ts).
import { createBusiness } from '../../src/business/index.js';
import { OutboxWorker } from '../../src/business/outbox.js';
import { SmsService } from '../../src/sms/service.js';
import { TelnyxProvider } from '../../src/sms/telnyx.js';
import { openStore } from '../../src/store/db.js';

const env = process.env;
const now = () => new Date(env.FD_NOW!);
const store = await openStore({ databaseUrl: env.FD_DATABASE_URL!, poolSize: 2 });
const biz = createBusiness(store.db, now);
const sms = new SmsService(store.db, biz, {
  providers: [new TelnyxProvider({ apiKey: env.FD_TELNYX_KEY!, publicKey: env.FD_TELNYX_PUBLIC!, baseUrl: env.FD_TELNYX_URL! })],
  perNumberGapMs: 0, globalPerSecond: 1_000,
});
await new OutboxWorker(store.db, { senders: { sms: sms.sender }, now, leaseMs: 1_000 }).runOnce();
await store.close();
