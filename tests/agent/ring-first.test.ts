import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBusiness, type Business } from '../../src/business/index.js';
import { demoContext } from '../../src/business/context/demo.js';
import { ringThenAnswer } from '../../src/agent/call/ring-first.js';
import { SipEndpoint } from '../../src/telephony/sip/endpoint.js';
import type { SipCall } from '../../src/telephony/sip/call.js';
import type { AudioSource, Call, DialOptions, Telephony } from '../../src/telephony/call.js';
import { parseCidrList } from '../../src/util/cidr.js';
import type { Store } from '../../src/store/db.js';
import { openTestStore } from '../helpers/stores.js';
import { freePort } from '../helpers/ports.js';
import { runSipp, startSippUas } from '../helpers/sipp.js';
import { aroundTheClock } from '../helpers/contexts.js';

/**
 * Ring first, then answer (context `answer`), with SIPp as the caller and as the owner's phone
 * behind the trunk, the built-in endpoint between them and the call record in PGlite.
 */
describe('ring first, then answer', () => {
  let store: Store;
  let dispose: () => Promise<void>;
  let biz: Business;
  beforeAll(async () => {
    ({ store, dispose } = await openTestStore('pglite'));
    biz = createBusiness(store.db);
  });
  afterAll(async () => dispose());

  async function setup(answer: { ringSeconds: number; ownerFirst?: boolean; earlyMedia?: boolean }, ownerScenario?: string) {
    const stored = await biz.contexts.save({
      ...demoContext, hours: aroundTheClock, answer,
      owner: { ...demoContext.owner, targets: [{ label: 'Mobile', kind: 'phone', value: '+15125550123', ringSeconds: 20 }] },
      alerts: [{ on: 'missed_call', via: 'sms', to: '+15125550199' }],
    }, 'test');
    const owner = ownerScenario ? await startSippUas(ownerScenario, [], 30) : undefined;
    const ep = new SipEndpoint({
      bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList(['127.0.0.0/8']), rtpPortMin: 36600, rtpPortMax: 36799,
      ...(owner ? { trunk: { host: '127.0.0.1', port: owner.port, transport: 'UDP' as const, register: false, callerId: '+15125550100' } } : {}),
    });
    await ep.start();
    // The owner legs the ring phase places; what each is sent is counted (frames with speech in them).
    const legs: { leg: Call; loud: number }[] = [];
    const telephony: Telephony = Object.assign(Object.create(ep) as SipEndpoint, {
      dial: async (to: string, opts?: DialOptions) => {
        const leg = await ep.dial(to, opts);
        const seen = { leg, loud: 0 };
        legs.push(seen);
        const play = leg.play.bind(leg);
        leg.play = (src: AudioSource) => play(src instanceof Int16Array ? src : (async function* () {
          for await (const f of src) {
            if (f.some((v) => Math.abs(v) > 2000)) seen.loud++;
            yield f;
          }
        })());
        return leg;
      },
    });
    /** The next inbound call run through the ring phase as the app does: handled there, or left to the agent. */
    const next = () => new Promise<{ call: SipCall; callId: string; handled: Promise<boolean> }>((resolve) => {
      ep.once('call', (c) => void (async () => {
        const call = c as SipCall;
        const routed = (await biz.route(call.to, call.from))!;
        const callId = await biz.calls.start({ direction: 'inbound', backend: 'sip', externalId: call.id, from: call.from, to: call.to, contextId: routed.context.id });
        resolve({ call, callId, handled: ringThenAnswer({ business: biz, db: store.db, telephony }, call, callId, routed.context, routed.decision) });
      })());
    });
    return { stored, owner, ep, legs, next, target: `127.0.0.1:${ep.port}` };
  }

  it('rings, plays our ringback as early media (183), then the agent answers', async () => {
    const s = await setup({ ringSeconds: 1, earlyMedia: true });
    try {
      const callP = s.next();
      const caller = runSipp({ scenario: 'uac-ring-early-media.xml', target: s.target });
      const { call, handled } = await callP;
      expect(await handled).toBe(false);
      // Still ringing, and the ringback already went out to the caller.
      expect(call.state).toBe('ringing');
      expect(call.rtp.stats.packetsOut).toBeGreaterThan(10);
      const ended = new Promise<string>((r) => call.once('ended', r));
      await call.answer();
      expect(await ended).toBe('remote_hangup');
      const run = await caller;
      expect(run.code, run.output).toBe(0);
    } finally {
      await s.ep.stop();
    }
  }, 30_000);

  it("rings the owner's phone first; the owner picks up and talks with the caller through us", async () => {
    const s = await setup({ ringSeconds: 20, ownerFirst: true }, 'uas-owner.xml');
    try {
      const callP = s.next();
      const caller = runSipp({ scenario: 'uac-ring-owner.xml', target: s.target });
      const { call, callId, handled } = await callP;
      expect(await handled).toBe(true);
      expect(call.state).toBe('ended');
      const [run, ownerRun] = await Promise.all([caller, s.owner!.done]);
      expect(run.code, run.output).toBe(0);
      // The owner's phone got our BYE when the caller hung up.
      expect(ownerRun.code, ownerRun.output).toBe(0);
      // The caller's speech reached the owner's phone through the bridge.
      expect(s.legs).toHaveLength(1);
      expect(s.legs[0]!.loud).toBeGreaterThan(20);
      const rec = await biz.calls.get(callId);
      expect(rec).toMatchObject({ state: 'ended', disposition: 'owner_answered' });
      expect(rec!.answered_at).not.toBeNull();
      const notes = (await biz.calls.events(callId)).map((e) => e.text);
      expect(notes).toEqual(expect.arrayContaining(['ringing +15125550123 first', '+15125550123 picked up']));
    } finally {
      await s.ep.stop();
    }
  }, 40_000);

  it("is a missed call, alerted, when the caller hangs up while the owner's phone rings; the owner's phone is CANCELled", async () => {
    const s = await setup({ ringSeconds: 20, ownerFirst: true }, 'uas-cancelled.xml');
    try {
      const callP = s.next();
      const caller = runSipp({ scenario: 'uac-ring-cancel.xml', target: s.target });
      const { callId, handled } = await callP;
      expect(await handled).toBe(true);
      const [run, ownerRun] = await Promise.all([caller, s.owner!.done]);
      expect(run.code, run.output).toBe(0);
      expect(ownerRun.code, ownerRun.output).toBe(0);
      const rec = await biz.calls.get(callId);
      expect(rec).toMatchObject({ state: 'ended', answered_at: null });
      expect(rec!.disposition).toMatch(/^abandoned \(hung up while ringing/);
      const alert = await store.db.selectFrom('outbox').select(['channel', 'recipient', 'payload']).where('dedupe_key', 'like', `%missed_call:${callId}%`).executeTakeFirst();
      expect(alert).toMatchObject({ channel: 'sms', recipient: '+15125550199' });
      expect(s.ep.activeCalls()).toBe(0);
    } finally {
      await s.ep.stop();
    }
  }, 40_000);
});
