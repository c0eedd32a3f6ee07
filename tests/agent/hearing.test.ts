import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBusiness, type Business } from '../../src/business/index.js';
import { demoContext } from '../../src/business/context/demo.js';
import { AgentTools } from '../../src/agent/tools.js';
import { GuidedEngine, type GuidedResult, type GuidedState } from '../../src/agent/guided/engine.js';
import type { Hearing } from '../../src/agent/guided/options.js';
import { cleanAddress } from '../../src/agent/guided/free-text.js';
import type { Store } from '../../src/store/db.js';
import { openTestStore } from '../helpers/stores.js';

// Friday 2026-11-20, noon in Chicago.
const NOW = new Date('2026-11-20T18:00:00Z');
const MENU = 'I can give you a price, book, move or cancel a cleaning';

/**
 * The guided dialogue fed what an imperfect recognizer gives: words with a confidence, other
 * readings, key presses. It must confirm, narrow or fall back, never act on a wrong hearing.
 */
describe('a dialogue that copes with imperfect hearing', () => {
  let store: Store;
  let dispose: () => Promise<void>;
  let biz: Business;
  beforeAll(async () => {
    ({ store, dispose } = await openTestStore('pglite'));
    biz = createBusiness(store.db, () => NOW);
    await biz.contexts.save(demoContext, 'test');
  });
  afterAll(async () => dispose());

  /** A call from `phone`: each line is what the recognizer heard and how surely (or a key). */
  async function call(phone: string, state: GuidedState = {}) {
    const context = await biz.contexts.get('sparkle-cleaning');
    const { customer } = (await biz.customers.findOrCreateByPhone(phone))!;
    const tools = new AgentTools({ business: biz, context, customer, channel: 'call' });
    const engine = new GuidedEngine(tools, 'call', () => NOW);
    const turns: GuidedResult[] = [];
    const turn = async (text: string, hearing?: Hearing) => {
      const r = await engine.respond(text, state, undefined, hearing);
      state = r.state;
      turns.push(r);
      return r;
    };
    return { turn, key: (k: string) => turn('', { keyed: k }), turns, state: () => state };
  }

  async function bookings(phone: string) {
    return store.db.selectFrom('appointments').innerJoin('customers', 'customers.id', 'appointments.customer_id')
      .select(['appointments.id', 'appointments.starts_at', 'appointments.address', 'appointments.notes'])
      .where('customers.phone', '=', phone).where('appointments.parent_id', 'is', null).execute();
  }

  it('a request heard unsurely is not acted on: a narrower question, not the same menu', async () => {
    const c = await call('+15125550401');
    const r = await c.turn('i would like a deep cleaning', { confidence: 0.2 });
    expect(r.reply).toBe("Sorry, I didn't catch that. Are you calling to book a cleaning? Please say yes or no.");
    expect(r.reply).not.toContain(MENU);
    // Nothing was taken from the words: no service remembered.
    expect(c.state().service).toBeUndefined();
    expect(r.missed).toBe(true);
  });

  it('a question that only asks, heard with middling confidence, is answered (the answer says what it answers); a request is confirmed', async () => {
    const c = await call('+15125550411');
    expect((await c.turn('what services do you offer', { confidence: 0.6 })).reply).toMatch(/cleaning/i);
    expect((await c.turn('how much is a deep cleaning', { confidence: 0.6 })).reply).toMatch(/^A deep cleaning .* comes to \$/);
    expect((await c.turn('cancel my appointment', { confidence: 0.6 })).reply).toBe('Did you say cancel a visit?');
  });

  it('a time heard with middling confidence is confirmed first ("Did you say …?"); a no asks again, a yes goes on', async () => {
    const c = await call('+15125550402', { service: 'standard', pending: { kind: 'ask_time' } });
    // (As the voice session hands it over: clock times already in digits.)
    const r = await c.turn('thursday at 10', { confidence: 0.62 });
    expect(r.reply).toBe('Did you say Thursday, November 26 at 10 AM?');
    const no = await c.turn('no', { confidence: 0.9 });
    expect(no.reply).toBe("Sorry about that. Which day would suit you? For example, Tuesday.");
    expect(c.state().pending).toEqual({ kind: 'ask_time' });
    await c.turn('thursday at 10', { confidence: 0.62 });
    const yes = await c.turn('yes', { confidence: 0.95 });
    // It goes on with the time it confirmed: the next thing the booking needs is the home's size.
    expect(yes.reply).toBe('And how many bedrooms does your home have?');
    expect(c.state().pending).toMatchObject({ kind: 'ask_size', start: '2026-11-26T10:00:00.000-06:00' });
  });

  it('a caller who carries on after "Did you say …?" lets it stand: the time is taken and the new words answered', async () => {
    const c = await call('+15125550409', { service: 'standard', pending: { kind: 'ask_time' } });
    expect((await c.turn('thursday at 10', { confidence: 0.62 })).reply).toBe('Did you say Thursday, November 26 at 10 AM?');
    const r = await c.turn('two bedrooms', { confidence: 0.9 });
    expect(r.reply).toBe('Great. What is the address for the cleaning?');
    expect(c.state()).toMatchObject({ units: 2, pending: { kind: 'ask_address', start: '2026-11-26T10:00:00.000-06:00' } });
    // Never for a yes: "Did you say yes?" to "Shall I book it?" followed by other words books nothing.
    const b = await call('+15125550409', { service: 'standard', units: 1, name: 'Jo', address: '1 Elm St', pending: { kind: 'confirm_book', start: '2026-11-26T10:00:00.000-06:00' } });
    expect((await b.turn('yes', { confidence: 0.6 })).reply).toBe('Did you say yes?');
    await b.turn('thursday', { confidence: 0.9 });
    expect(b.turns.some((t) => t.booked)).toBe(false);
    expect(await bookings('+15125550409')).toHaveLength(0);
  });

  it('a wrong best reading with the right answer among the others: it asks, and books nothing until the caller agrees', async () => {
    const { customer } = (await biz.customers.findOrCreateByPhone('+15125550403'))!;
    await biz.customers.update(customer.id, { name: 'Ana Ruiz', address: '5 Pine Street' });
    const c2 = await call('+15125550403', { service: 'standard', units: 2, pending: { kind: 'confirm_book', start: '2026-11-24T09:00:00.000-06:00' } });
    // "yes" misheard as "the s"; the lattice's other readings have it.
    const r = await c2.turn('the s', { confidence: 0.3, nbest: ['this', 'yes'] });
    expect(r.reply).toBe('Did you say yes?');
    expect(await bookings('+15125550403')).toHaveLength(0);
    // The caller presses 1 for yes.
    const k = await c2.key('1');
    expect(k.booked).toBeDefined();
    expect(await bookings('+15125550403')).toHaveLength(1);
  });

  it('"yeah" heard unsurely among readings that all say yes is a yes; a "Did you say …?" asked again escalates instead of going round', async () => {
    const phone = '+15125550412';
    const { customer } = (await biz.customers.findOrCreateByPhone(phone))!;
    await biz.customers.update(customer.id, { name: 'Lee', address: '8 Birch Road' });
    const sure = await call(phone, { service: 'standard', units: 1, pending: { kind: 'confirm_book', start: '2026-12-01T11:00:00.000-06:00' } });
    expect((await sure.turn('yeah', { confidence: 0.3, nbest: ['yes', 'yep', 'yeah a'] })).booked).toBeDefined();
    const c = await call(phone, { service: 'standard', units: 1, pending: { kind: 'confirm_book', start: '2026-12-02T11:00:00.000-06:00' } });
    const garbled = { confidence: 0.3, nbest: ['this', 'yes'] };
    expect((await c.turn('the s', garbled)).reply).toBe('Did you say yes?');
    expect((await c.turn('the s', garbled)).reply).toBe("Sorry, I didn't catch that. Was that a yes or a no?");
    expect((await c.turn('the s', garbled)).reply).toBe("Sorry, I didn't catch that. You can use your keypad: press 1 for yes or 2 for no.");
    expect((await c.key('1')).booked).toBeDefined();
  });

  it('a recognizer that gets nothing right: rephrase, then keypad choices, then the owner — never a hang-up', async () => {
    const c = await call('+15125550404');
    const a = await c.turn('at the and', { confidence: 0.1 });
    expect(a.reply).toMatch(/Are you calling to book a cleaning\? Please say yes or no\.$/);
    const b = await c.turn('a cat', { confidence: 0.15 });
    expect(b.reply).toBe("Sorry, I didn't catch that. You can use your keypad: press 1 to book a cleaning, 2 for a price, 3 to change a visit, 4 to leave a message, or 0 for Maria.");
    const d = await c.turn('the the', { confidence: 0.2 });
    expect(d).toMatchObject({ action: 'transfer', reply: "Sorry, I'm having trouble understanding. Let me put you through to Maria." });
    expect(c.turns.some((t) => t.action === 'end')).toBe(false);
  });

  it('words understood by nothing count as misses too, even heard surely; one understood turn starts the count again', async () => {
    const c = await call('+15125550405');
    expect((await c.turn('purple elephants', { confidence: 0.95 })).missed).toBe(true);
    expect(c.state().misses).toBe(1);
    const q = await c.turn('yes', { confidence: 0.95 });
    expect(q.reply).toBe('Happy to help. Which would you like: standard cleaning, deep cleaning or move-out cleaning?');
    expect(c.state().misses).toBeUndefined();
  });

  it('by text, nothing is heard badly, but a thread it cannot follow three times is passed to the owner, not left going round', async () => {
    const context = await biz.contexts.get('sparkle-cleaning');
    const { customer } = (await biz.customers.findOrCreateByPhone('+15125550410'))!;
    const engine = new GuidedEngine(new AgentTools({ business: biz, context, customer, channel: 'sms' }), 'sms', () => NOW);
    let state: GuidedState = {};
    const replies: string[] = [];
    for (const t of ['purple elephants', 'blue giraffes', 'green zebras']) {
      const r = await engine.respond(t, state);
      state = r.state;
      replies.push(r.reply);
    }
    expect(replies[1]).not.toMatch(/keypad/);
    expect(replies[2]).toBe("Sorry, I'm not getting it. I've asked Maria to get back to you.");
    const msg = await store.db.selectFrom('owner_messages').select('body').where('caller_number', '=', '+15125550410').executeTakeFirstOrThrow();
    expect(msg.body).toMatch(/could not understand 3 times/);
  });

  it('books by keypad alone, and an unsure address is not read back but texted to check and flagged for the owner', async () => {
    const phone = '+15125550406';
    const c = await call(phone, { pending: { kind: 'keypad' } });
    expect((await c.key('1')).reply).toBe('Happy to help. Which would you like: standard cleaning, deep cleaning or move-out cleaning?');
    const offered = await c.key('2');
    expect(offered.reply).toMatch(/^The next openings I have are .* Which works for you\?$/);
    expect((await c.key('1')).reply).toBe('And how many bedrooms does your home have?');
    expect((await c.key('2')).reply).toBe('Great. What is the address for the cleaning?');
    // The address is said but heard unsurely; its audio was kept.
    const named = await c.turn('four twelve elm avenue', { confidence: 0.6, audio: '/data/recordings/x-address.wav' });
    expect(named.reply).toBe('And what name should I put it under?');
    // A caller who shares the owner's name is giving it, not asking for her.
    expect((await (await call('+15125550413', { service: 'standard', units: 1, address: '3 Elm St', pending: { kind: 'ask_name', start: '2026-12-03T09:00:00.000-06:00' } })).turn('maria', { confidence: 0.9 })).reply).toMatch(/^I can book/);
    const confirm = await c.turn('ana', { confidence: 0.9 });
    expect(confirm.reply).toMatch(/^I can book a deep cleaning for 2 bedrooms .* at the address you gave, which I'll text you to check, for \$\d+, about .*Shall I book it\?$/);
    expect(confirm.reply).not.toContain('elm');
    const done = await c.key('1');
    expect(done.booked).toBeDefined();
    const [b] = await bookings(phone);
    expect(b).toMatchObject({ address: '412 elm avenue' });
    expect(b!.notes).toContain('Address to check: heard "412 elm avenue"');
    expect(b!.notes).toContain('/data/recordings/x-address.wav');
    const text = await store.db.selectFrom('outbox').select(['recipient', 'payload']).where('purpose', '=', 'address_check').executeTakeFirstOrThrow();
    expect(text.recipient).toBe(phone);
    expect(JSON.stringify(text.payload)).toContain('412 elm avenue');
    expect((await biz.customers.findOrCreateByPhone(phone))!.customer.name).toBe('Ana');
  });

  it('an address heard surely is tidied and read back, and can be corrected at the confirmation', async () => {
    const phone = '+15125550407';
    const c = await call(phone, { service: 'standard', units: 1, name: 'Bo', pending: { kind: 'ask_address', start: '2026-11-24T09:00:00.000-06:00' } });
    const r = await c.turn('um it\'s twelve thirty main street', { confidence: 0.92 });
    expect(r.reply).toContain(' at 1230 main street for ');
    const fixed = await c.turn('no, the address is 14 Oak Street', { confidence: 0.9 });
    expect(fixed.reply).toContain(' at 14 Oak Street for ');
    const wrong = await c.turn("that's the wrong address", { confidence: 0.9 });
    expect(wrong.reply).toBe('Sorry about that. What is the right address?');
    await c.turn('fourteen oak street', { confidence: 0.95 });
    expect((await c.turn('yes', { confidence: 0.95 })).booked).toBeDefined();
    expect((await bookings(phone))[0]).toMatchObject({ address: '14 oak street' });
    expect(await store.db.selectFrom('outbox').select('id').where('purpose', '=', 'address_check').where('recipient', '=', phone).execute()).toEqual([]);
  });

  it('an answer to the address question with no house number or street in it is asked about once more', async () => {
    const phone = '+15125550415';
    const c = await call(phone, { service: 'standard', units: 1, name: 'Bo', pending: { kind: 'ask_address', start: '2026-11-24T09:00:00.000-06:00' } });
    // Heard surely, but no address: not read back as one.
    const misheard = await c.turn('what week', { confidence: 0.9 });
    expect(misheard.reply).toBe("Sorry, what's the street address, with the house number?");
    expect(c.state().address).toBeUndefined();
    const again = await c.turn('four twelve elm avenue', { confidence: 0.95 });
    expect(again.reply).toContain(' at 412 elm avenue for ');
    // Asked once only: a second answer without a number is taken as said (a farm has no house number).
    const farm = await call('+15125550416', { service: 'standard', units: 1, name: 'Bo', pending: { kind: 'ask_address', start: '2026-11-24T09:00:00.000-06:00' } });
    await farm.turn('the blue farmhouse', { confidence: 0.9 });
    expect((await farm.turn('the blue farmhouse past the church', { confidence: 0.9 })).reply).toContain(' at the blue farmhouse past the church for ');
  });

  it('a caller going round in circles (misheard, "yes", the same question again) is offered the keypad, not the loop', async () => {
    const c = await call('+15125550417');
    // What they say (cancel my cleaning appointment) is heard as a booking, which they confirm.
    expect((await c.turn('the crew is cleaning appointment', { confidence: 0.6 })).reply).toBe('Did you say book a cleaning?');
    expect((await c.turn('yes', { confidence: 0.9 })).reply).toMatch(/^Happy to help\. Which would you like/);
    expect((await c.turn('first one we are week', { confidence: 0.3 })).reply).toMatch(/^Sorry, I didn't catch that\. Which one/);
    // Round again: the same mishearing confirmed lands on the same question — no progress.
    expect((await c.turn('the crew is cleaning appointment', { confidence: 0.6 })).reply).toBe('Did you say book a cleaning?');
    await c.turn('yes', { confidence: 0.9 });
    const keys = await c.turn('first one we are week', { confidence: 0.3 });
    expect(keys.reply).toMatch(/press 1/);
  });

  it('keys stand for the choices of the question asked; a key that is none says the choices again', async () => {
    const c = await call('+15125550408', { service: 'standard', pending: { kind: 'ask_service', then: 'quote' } });
    expect((await c.key('9')).reply).toBe("That key isn't one of the choices. Please press 1 for standard cleaning, 2 for deep cleaning, 3 for move-out cleaning.");
    const yn = await call('+15125550408', { pending: { kind: 'offer_book' } });
    expect((await yn.key('2')).reply).toMatch(/^Okay\./);
  });

  it('a home size keyed as a whole number is the size booked and priced', async () => {
    const c = await call('+15125550414', { service: 'standard', name: 'Bo', address: '3 Elm St', pending: { kind: 'ask_size', start: '2026-12-03T09:00:00.000-06:00' } });
    const r = await c.key('12');
    expect(r.reply).toMatch(/^I can book a standard cleaning for 12 bedrooms Thursday, December 3 at 9 AM at 3 Elm St for \$355\.50, about 7 and a half hours\. Shall I book it\?$/);
    expect(c.state().units).toBe(12);
    // Out of range: the choices again, nothing taken.
    const big = await call('+15125550414', { service: 'standard', pending: { kind: 'ask_size', start: '2026-12-03T09:00:00.000-06:00' } });
    expect((await big.key('99')).reply).toBe("That key isn't one of the choices. Please key the number of bedrooms, then press pound.");
    expect(big.state().units).toBeUndefined();
  });

  it('tidies spoken addresses without reading house numbers as clock times', () => {
    expect(cleanAddress("uh it's four hundred and twelve elm avenue")).toBe('412 elm avenue');
    expect(cleanAddress('twelve thirty main street please')).toBe('1230 main street');
    expect(cleanAddress('my address is one two three oak lane')).toBe('123 oak lane');
    expect(cleanAddress('77 Elm Avenue, Austin')).toBe('77 Elm Avenue, Austin');
  });
});
