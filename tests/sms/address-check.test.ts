import { afterAll, beforeAll, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createBusiness, type Business } from '../../src/business/index.js';
import { demoContext } from '../../src/business/context/demo.js';
import { OutboxWorker } from '../../src/business/outbox.js';
import { JobRunner } from '../../src/store/jobs.js';
import { SmsService, INBOUND_QUEUE } from '../../src/sms/service.js';
import { TelnyxProvider } from '../../src/sms/telnyx.js';
import { buildHttpServer } from '../../src/http/server.js';
import { createMetrics } from '../../src/http/metrics.js';
import { silentLogger } from '../../src/util/logger.js';
import { AgentTools } from '../../src/agent/tools.js';
import { textedAddress } from '../../src/agent/guided/address-reply.js';
import { FakeTelnyx } from '../fakes/telnyx.js';
import { describeStores } from '../helpers/stores.js';

const NOW = new Date('2026-11-20T18:00:00Z'); // Friday noon in Chicago
const BIZ = '+15125550100';
const PUBLIC = 'https://frontdesk.example.com';

/**
 * After a call whose address was not heard surely, the customer is texted to check it; what they
 * text back is the visit's address, and the owner's flag is cleared.
 */
describeStores('an address corrected by text after the call', ({ store }) => {
  const telnyx = new FakeTelnyx();
  let biz: Business;
  let http: FastifyInstance;
  let outbox: OutboxWorker;
  let jobs: JobRunner;

  beforeAll(async () => {
    await telnyx.start();
    biz = createBusiness(store().db, () => NOW);
    await biz.contexts.save(demoContext, 'test');
    const sms = new SmsService(store().db, biz, {
      providers: [new TelnyxProvider({ apiKey: telnyx.apiKey, publicKey: telnyx.publicKey, baseUrl: telnyx.url })],
      publicUrl: PUBLIC, perNumberGapMs: 0, globalPerSecond: 1_000, llmUnderstands: false,
    });
    http = await buildHttpServer({ store: store(), business: biz, sms, publicUrl: PUBLIC, metrics: createMetrics(), logger: silentLogger, version: 't' });
    outbox = new OutboxWorker(store().db, { senders: { sms: sms.sender }, now: () => NOW });
    jobs = new JobRunner(store().db, { queue: INBOUND_QUEUE, handler: (j) => sms.process(j), now: () => NOW });
  });
  afterAll(async () => {
    await http.close();
    await telnyx.stop();
  });

  const settle = async () => {
    await jobs.runOnce();
    await outbox.runOnce();
  };
  const text = async (from: string, body: string) => {
    expect((await http.inject({ method: 'POST', url: '/webhooks/sms/telnyx', ...(() => { const w = telnyx.inbound(from, BIZ, body); return { payload: w.body, headers: w.headers }; })() })).statusCode).toBe(200);
    await settle();
    return telnyx.sent.filter((m) => m.to === from).at(-1)!.text;
  };

  /** A visit booked on a call whose address was heard unsurely: flagged and texted, as the agent does. */
  async function bookedOnCall(phone: string, heard: string, garbled = false) {
    const context = await biz.contexts.get(demoContext.name);
    const { customer } = (await biz.customers.findOrCreateByPhone(phone))!;
    const tools = new AgentTools({ business: biz, context, customer, channel: 'call' });
    const { slots } = await tools.availability({ service: 'standard' });
    const { appointment } = await tools.book({ service: 'standard', start: slots[0]!.start, address: heard });
    await tools.addressToCheck(appointment, heard, { audio: '/data/recordings/c1-address-3.wav', garbled });
    await outbox.runOnce();
    return appointment.id;
  }
  const visit = (id: string) => store().db.selectFrom('appointments').select(['address', 'notes']).where('id', '=', id).executeTakeFirstOrThrow();

  it('"no, it\'s 42 Elm Street" becomes the visit\'s address, the flag a note, and the reply says so', async () => {
    const me = '+15125550601';
    const id = await bookedOnCall(me, '412 elm avenue');
    // The booking's confirmation and the address check go out together, in either order.
    expect(telnyx.sent.filter((m) => m.to === me).map((m) => m.text)).toContainEqual(expect.stringMatching(/we have the address as "412 elm avenue"\. If that's not right, please reply/));
    const reply = await text(me, "No, it's 42 Elm Street.");
    expect(reply).toMatch(/^Thanks, I've updated the address for your standard cleaning on \w+, \w+ \d+ at \d+:\d\d [AP]M to 42 Elm Street\.$/);
    const v = await visit(id);
    expect(v.address).toBe('42 Elm Street');
    expect(v.notes).not.toContain('Address to check');
    expect(v.notes).toContain('Address corrected by the customer by text (heard "412 elm avenue" on the call).');
    const audited = await store().db.selectFrom('audit_log').select(['actor', 'details']).where('action', '=', 'appointment.address').where('target_id', '=', id).executeTakeFirstOrThrow();
    expect(audited.actor).toBe('customer:sms');
  });

  it('an address that could not be made out is answered with the bare address', async () => {
    const me = '+15125550602';
    const id = await bookedOnCall(me, 'the and', true);
    expect(await text(me, '42 Elm St Apt 3')).toMatch(/ to 42 Elm St Apt 3\.$/);
    expect((await visit(id)).address).toBe('42 Elm St Apt 3');
  });

  it('"yes, that\'s right" to the address read back confirms it; to one that was not made out it confirms nothing', async () => {
    const me = '+15125550605';
    const id = await bookedOnCall(me, '77 cedar court');
    expect(await text(me, "Yes, that's right")).toMatch(/^Thanks for confirming\. See you at 77 cedar court for your standard cleaning on \w+, \w+ \d+ at \d+:\d\d [AP]M\.$/);
    const v = await visit(id);
    expect(v.address).toBe('77 cedar court');
    expect(v.notes).not.toContain('Address to check');
    expect(v.notes).toContain('Address confirmed by the customer by text (heard "77 cedar court" on the call).');

    const other = '+15125550606';
    const garbled = await bookedOnCall(other, 'the and', true);
    expect(await text(other, 'Yes')).not.toMatch(/^Thanks for confirming/);
    expect((await visit(garbled)).notes).toContain('Address to check: heard "the and"');
  });

  it('a text that is no address goes to the texting agent; the visit and its flag stay', async () => {
    const me = '+15125550603';
    const id = await bookedOnCall(me, '9 oak lane');
    const reply = await text(me, 'How much is a deep cleaning for 3 bedrooms?');
    expect(reply).toMatch(/^A deep cleaning for 3 bedrooms comes to/);
    const v = await visit(id);
    expect(v.address).toBe('9 oak lane');
    expect(v.notes).toContain('Address to check: heard "9 oak lane"');
  });

  it('without an address to check, an address-like text is the texting agent\'s', async () => {
    const me = '+15125550604';
    const reply = await text(me, '42 Elm Street');
    expect(reply).not.toMatch(/updated the address/);
  });

  it('reads an address out of how people text one back, and nothing else as one', async () => {
    const ctx = (await biz.contexts.get(demoContext.name)).document;
    expect(textedAddress(ctx, "no, it's 42 Elm Street", NOW)).toBe('42 Elm Street');
    expect(textedAddress(ctx, 'Actually the address is 7 Pine Rd, Austin', NOW)).toBe('7 Pine Rd, Austin');
    expect(textedAddress(ctx, '1200b Lamar Blvd', NOW)).toBe('1200b Lamar Blvd');
    expect(textedAddress(ctx, '2 bedrooms', NOW)).toBeUndefined();
    expect(textedAddress(ctx, '3 pm on Tuesday', NOW)).toBeUndefined();
    expect(textedAddress(ctx, 'yes', NOW)).toBeUndefined();
    expect(textedAddress(ctx, 'Can I move it to Tuesday?', NOW)).toBeUndefined();
    // A number and words, but no street: a note for the crew, not the visit's new address.
    expect(textedAddress(ctx, '2 dogs in the yard, gate code 4411', NOW)).toBeUndefined();
  });

  it("an address-like answer to the texting agent's own question is that question's answer, not the address check's", async () => {
    const me = '+15125550605';
    const id = await bookedOnCall(me, '9 birch road');
    // The texting agent asks a question of its own (here: what to tell Maria) …
    expect(await text(me, 'Can you take a message for Maria?')).toMatch(/what would you like me to tell Maria/);
    // … and the answer is its, not the check's.
    expect(await text(me, '42 Elm Street')).toMatch(/passed that on to Maria/);
    expect((await visit(id)).address).toBe('9 birch road');
  });
});
