import type { Business } from '../../business/index.js';
import type { StoredContext } from '../../business/context/service.js';
import type { Call, Telephony } from '../../telephony/call.js';
import type { Tts } from '../../speech/types.js';
import type { Logger } from '../../util/logger.js';
import { bridge } from '../../telephony/bridge.js';
import { speech } from '../../speech/speak.js';
import { ringback } from '../../telephony/ringback.js';
import { parsePhoneNumberFromString } from 'libphonenumber-js/min';

/** The state now (TypeScript would keep the narrowing from before an await). */
const isOver = (c: Call) => c.state === 'ended';
const showPhone = (e164: string) => parsePhoneNumberFromString(e164)?.formatNational() ?? e164;

/**
 * Click-to-call: the owner clicks "Call" in the console; frontdesk rings the owner's phone first
 * (their first owner target), and once they answer dials the customer and joins the two. Every
 * step is a 'state' event on the call record, so the console shows it as it happens. The dial
 * policy applies to both legs (each backend's dial guard).
 */

export class ConnectError extends Error {
  constructor(readonly code: 'no_owner_phone' | 'bad_number' | 'no_telephony', message: string) {
    super(message);
  }
}

export interface ConnectDeps {
  telephony: Telephony;
  business: Business;
  tts?: Tts | undefined;
  logger: Logger;
  /** Calls in progress by call-record id (the console's hang-up finds this one here). */
  liveCalls: Map<string, Call>;
}

export interface ConnectRequest {
  context: StoredContext;
  /** The customer's number, E.164. */
  to: string;
  requestedBy: string;
}

/** Starts the call and returns its record id at once; the legs are placed in the background. */
export async function clickToCall(d: ConnectDeps, r: ConnectRequest): Promise<{ id: string; owner: string; done: Promise<string> }> {
  const doc = r.context.document;
  const owner = doc.owner.targets[0];
  if (!owner) throw new ConnectError('no_owner_phone', 'Add your phone under Settings → Owner (find-me list) so frontdesk can ring you first.');
  const from = doc.numbers[0];
  const customer = await d.business.customers.findOrCreateByPhone(r.to);
  const name = customer?.customer.name ?? showPhone(r.to);
  const id = await d.business.calls.start({
    direction: 'outbound', backend: d.telephony.name, from: from ?? '', to: r.to, contextId: r.context.id,
    customerId: customer?.customer.id ?? null, purpose: 'click_to_call',
  });
  const say = (text: string, data?: unknown) => d.business.calls.event(id, 'state', { role: 'system', text, ...(data !== undefined ? { data } : {}) })
    .catch((err: unknown) => d.logger.warn({ err, callId: id }, 'call event not saved'));
  const done = (async (): Promise<string> => {
    await say(`Ringing your phone (${owner.label})…`);
    let ownerLeg: Call;
    try {
      ownerLeg = await d.telephony.dial(owner.value, { timeoutSeconds: owner.ringSeconds, requestedBy: r.requestedBy, ...(from ? { from } : {}) });
    } catch (e) {
      await say(`Your phone (${owner.label}) did not answer: ${(e as Error).message}. ${name} was not called.`);
      return 'owner_no_answer';
    }
    d.liveCalls.set(id, ownerLeg);
    await d.business.calls.answered(id);
    await say(`You answered. Calling ${name}…`);
    if (d.tts) await ownerLeg.play(speech(d.tts, `Calling ${name}. Please hold.`, ownerLeg.sampleRate)).done.catch(() => undefined);
    if (isOver(ownerLeg)) {
      await say(`You hung up before ${name} was called.`);
      return 'owner_hung_up';
    }
    let customerLeg: Call;
    // The owner hears ringing while the customer's phone rings, not dead air.
    const ringing = ownerLeg.play(ringback(ownerLeg.sampleRate));
    try {
      customerLeg = await d.telephony.dial(r.to, { timeoutSeconds: 30, requestedBy: r.requestedBy, ...(from ? { from } : {}) });
      ringing.cancel();
    } catch (e) {
      ringing.cancel();
      await say(`${name} did not answer: ${(e as Error).message}.`);
      if (ownerLeg.state !== 'ended') {
        if (d.tts) await ownerLeg.play(speech(d.tts, `${name} did not answer.`, ownerLeg.sampleRate)).done.catch(() => undefined);
        await ownerLeg.hangup('customer_no_answer').catch(() => {});
      }
      return 'no_answer';
    }
    if (isOver(ownerLeg)) {
      await customerLeg.hangup('owner_hung_up').catch(() => {});
      await say(`You hung up before ${name} answered.`);
      return 'owner_hung_up';
    }
    // The console's "Hang up" ends the customer's leg; the bridge then ends the owner's.
    d.liveCalls.set(id, customerLeg);
    const joined = bridge(ownerLeg, customerLeg, 'click_to_call_ended');
    await say(`Connected: you and ${name} are talking.`);
    const who = await joined.done;
    await say(who === 'a' ? 'You hung up.' : `${name} hung up.`);
    return 'completed';
  })()
    .catch(async (err: unknown) => {
      d.logger.error({ err, callId: id }, 'click-to-call failed');
      await say(`The call failed: ${(err as Error).message}`);
      return 'failed';
    })
    .then(async (disposition) => {
      const leg = d.liveCalls.get(id);
      d.liveCalls.delete(id);
      if (leg && leg.state !== 'ended') await leg.hangup('ended').catch(() => {});
      await d.business.calls.ended(id, disposition).catch((err: unknown) => d.logger.warn({ err, callId: id }, 'call end not saved'));
      return disposition;
    });
  return { id, owner: owner.label, done };
}
