import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBusiness, type Business } from '../../src/business/index.js';
import { demoContext } from '../../src/business/context/demo.js';
import { AgentTools, ToolError } from '../../src/agent/tools.js';
import { GuidedEngine, type GuidedState } from '../../src/agent/guided/engine.js';
import type { Store } from '../../src/store/db.js';
import { openTestStore } from '../helpers/stores.js';

// Friday 2026-11-20, noon in Chicago.
const NOW = new Date('2026-11-20T18:00:00Z');

describe('guided-flow engine (typed utterances)', () => {
  let store: Store;
  let dispose: () => Promise<void>;
  let biz: Business;
  beforeAll(async () => {
    ({ store, dispose } = await openTestStore('pglite'));
    biz = createBusiness(store.db, () => NOW);
    await biz.contexts.save(demoContext, 'test');
  });
  afterAll(async () => dispose());

  async function conversation(phone: string, channel: 'call' | 'sms' = 'sms') {
    const context = await biz.contexts.get('sparkle-cleaning');
    const { customer } = (await biz.customers.findOrCreateByPhone(phone))!;
    const tools = new AgentTools({ business: biz, context, customer, channel });
    const engine = new GuidedEngine(tools, channel, () => NOW);
    let state: GuidedState = {};
    return async (text: string) => {
      const r = await engine.respond(text, state);
      state = r.state;
      return r;
    };
  }

  it('quotes, then books with what it learned in the first message', async () => {
    const say = await conversation('+15125550301');
    const q = await say('Hi, how much is a deep clean for a 3 bedroom house? We have a dog so pet hair too');
    expect(q.reply).toBe('A deep cleaning for 3 bedrooms with pet hair comes to $290, including your first visit discount, and takes about 6 and a half hours. Would you like to book it?');
    const b = await say('Yes, next Tuesday at 9am please');
    expect(b.reply).toBe('Great. What is the address for the cleaning?');
    const c = await say('12 Oak Street, Austin');
    expect(c.reply).toBe('I can book a deep cleaning for 3 bedrooms Tuesday, November 24 at 9 AM at 12 Oak Street, Austin for $290, about 6 and a half hours. Shall I book it?');
    const done = await say('yes');
    expect(done.reply).toMatch(/^You're all set: deep cleaning Tuesday, November 24 at 9 AM\./);
    expect(done.booked).toBeDefined();
    const row = await store.db.selectFrom('appointments').selectAll().where('id', '=', done.booked!.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ service: 'deep', address: '12 Oak Street, Austin', source: 'sms', price_cents: 29000 });
  });

  it('offers openings when no time is given, and books the one picked', async () => {
    const say = await conversation('+15125550302');
    const r = await say('Can I book a standard cleaning on Monday?');
    expect(r.reply).toBe('That day I have Monday, November 23 at 8 AM, Monday, November 23 at 8:30 AM or Monday, November 23 at 9 AM. Which works for you?');
    const pick = await say('the second one');
    // Priced by bedroom: the home's size is asked, not assumed.
    expect(pick.reply).toBe('And how many bedrooms does your home have?');
    expect((await say('just one')).reply).toBe('Great. What is the address for the cleaning?');
    await say('77 Elm Avenue');
    const ok = await say('sure');
    expect(ok.booked?.start).toBe('2026-11-23T14:30:00.000Z');
  });

  it('moves and cancels only the caller’s own visit, with a confirmation each time', async () => {
    const say = await conversation('+15125550302');
    const m = await say('I need to reschedule my cleaning');
    expect(m.reply).toBe('Sure. Your standard cleaning is Monday, November 23 at 8:30 AM. What day and time would you like instead?');
    expect((await say('Wednesday at noon')).reply).toBe('Shall I move it to Wednesday, November 25 at 12 PM?');
    // A correction at the confirmation moves it to the time said now; it books nothing new.
    expect((await say('no, I said Wednesday at 1pm')).reply).toBe('Shall I move it to Wednesday, November 25 at 1 PM?');
    expect((await say('yes')).reply).toBe("Done, you're moved to Wednesday, November 25 at 1 PM.");
    expect((await say('actually please cancel it')).reply).toBe('Just to confirm, cancel your standard cleaning Wednesday, November 25 at 1 PM?');
    expect((await say('yes')).reply).toBe('Done, your standard cleaning Wednesday, November 25 at 1 PM is cancelled.');
    // Somebody else texting "cancel" finds nothing of theirs to cancel.
    const other = await conversation('+15125550399');
    expect((await other('cancel my appointment')).reply).toMatch(/^I don't see any upcoming visits/);
  });

  it('offers free times instead of confirming a move to a closed hour, and "the first one" takes the first of them', async () => {
    const say = await conversation('+15125550306');
    expect((await say('Can I book a standard cleaning on Monday at 9am?')).reply).toBe('And how many bedrooms does your home have?');
    await say('two');
    await say('8 Pine Road');
    expect((await say('yes')).booked).toBeDefined();
    expect((await say('I need to move my cleaning')).reply).toMatch(/What day and time would you like instead\?$/);
    // 10 PM is after hours: no "Shall I move it to …?" that can only fail after the caller says yes.
    const late = await say('Wednesday at 10pm');
    expect(late.reply).not.toMatch(/Shall I move/);
    expect(late.reply).toMatch(/^Sorry, that time is outside our working hours.*I do have Thursday, November 26 at 8 AM/);
    // The pick among the times offered wins over a stray number heard with it.
    expect((await say('the first one one thirty')).reply).toBe('Shall I move it to Thursday, November 26 at 8 AM?');
    expect((await say('yes')).reply).toBe("Done, you're moved to Thursday, November 26 at 8 AM.");
  });

  it('times offered for a booking are not picked from when the caller then moves a visit to a day they name', async () => {
    const say = await conversation('+15125550307');
    await say('Can I book a standard cleaning on Monday at 10am?');
    await say('two');
    await say('8 Pine Road');
    expect((await say('yes')).booked).toBeDefined();
    expect((await say('what times do you have for a deep cleaning on Tuesday?')).reply).toMatch(/Which works for you\?$/);
    expect((await say('actually I need to move my cleaning')).reply).toMatch(/What day and time would you like instead\?$/);
    expect((await say('first thing Wednesday at 9am')).reply).toBe('Shall I move it to Wednesday, November 25 at 9 AM?');
  });

  it('takes a message for the owner, and transfers a caller who asks for a person', async () => {
    const say = await conversation('+15125550303');
    expect((await say('Can you take a message for Maria?')).reply).toBe('Sure, what would you like me to tell Maria?');
    expect((await say('The gate code changed to 4321')).reply).toBe("Thanks, I've passed that on to Maria. Anything else I can help with?");
    const msg = await store.db.selectFrom('owner_messages').select(['body', 'caller_number']).where('caller_number', '=', '+15125550303').executeTakeFirstOrThrow();
    expect(msg.body).toBe('The gate code changed to 4321');
    // Said in the same breath as asking: taken at once, in the caller's words.
    const same = await conversation('+15125550305');
    expect((await same('Could you tell Maria the key is under the mat?')).reply).toBe("Thanks, I've passed that on to Maria. Anything else I can help with?");
    const kept = await store.db.selectFrom('owner_messages').select('body').where('caller_number', '=', '+15125550305').executeTakeFirstOrThrow();
    expect(kept.body).toBe('Could you tell Maria the key is under the mat?');
    const call = await conversation('+15125550304', 'call');
    const t = await call('Can I talk to the owner please?');
    expect(t).toMatchObject({ action: 'transfer', reply: 'Sure, let me get Maria for you.' });
  });

  it('validates tool arguments and never books for another customer', async () => {
    const context = await biz.contexts.get('sparkle-cleaning');
    const tools = new AgentTools({ business: biz, context, customer: undefined, channel: 'call' });
    await expect(tools.invoke('book', { service: 'deep' })).rejects.toThrow(ToolError);
    await expect(tools.invoke('cancel', { appointment_id: 'not-a-uuid' })).rejects.toThrow(/bad arguments/);
    const someone = await store.db.selectFrom('appointments').select('id').executeTakeFirstOrThrow();
    await expect(tools.invoke('cancel', { appointment_id: someone.id })).rejects.toThrow(/no such appointment/);
    await expect(tools.invoke('transfer_to', { number: '+19005550000' })).rejects.toThrow(/unknown tool/);
  });

  it('on a reminder call: "yes" confirms and ends, "no" moves the visit, "cancel it" cancels after asking', async () => {
    const context = await biz.contexts.get('sparkle-cleaning');
    const { customer } = (await biz.customers.findOrCreateByPhone('+15125550377'))!;
    const tools = new AgentTools({ business: biz, context, customer, channel: 'call' });
    const engine = new GuidedEngine(tools, 'call', () => NOW);
    const visits = [];
    for (const day of ['2026-12-01T15:00:00Z', '2026-12-02T15:00:00Z', '2026-12-03T15:00:00Z']) visits.push((await tools.book({ service: 'standard', start: day, address: '9 Elm St' })).appointment);
    const yes = await engine.respond('yes', { pending: { kind: 'confirm_visit', id: visits[0]!.id } });
    expect(yes).toMatchObject({ action: 'end', confirmed: visits[0]!.id });
    const no = await engine.respond('no, that does not work', { pending: { kind: 'confirm_visit', id: visits[1]!.id } });
    expect(no.reply).toMatch(/What day and time would work better/);
    const moved = await engine.respond('thursday at 2 pm', no.state);
    expect(moved.reply).toMatch(/Shall I|move/i);
    const cancel = await engine.respond('please cancel it', { pending: { kind: 'confirm_visit', id: visits[2]!.id } });
    expect(cancel.reply).toBe('Do you want me to cancel it?');
    const done = await engine.respond('yes', cancel.state);
    expect(done.reply).toMatch(/is cancelled/);
    expect((await biz.scheduling.get(visits[2]!.id)).status).toBe('cancelled');
    expect((await biz.scheduling.get(visits[0]!.id)).status).toBe('booked');
  });
});
