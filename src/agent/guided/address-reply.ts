import { DateTime } from 'luxon';
import type { Business } from '../../business/index.js';
import type { StoredContext } from '../../business/context/service.js';
import { cleanAddress } from './free-text.js';
import { understand } from './nlu.js';

/**
 * A text answering "we couldn't make out your address … please reply with your full street
 * address" (sent after a call whose address was not heard surely): the visit takes the address
 * texted back (or a "yes, that's right" confirms the one read to them), the owner's flag is
 * cleared, and the reply says so. Anything else is for the texting agent.
 */

/** "no, it's 42 Elm Street" → "42 Elm Street"; undefined when the text is not an address. */
export function textedAddress(ctx: StoredContext['document'], text: string, now: Date): string | undefined {
  const bare = text.trim().replace(/^((no|nope|not quite|actually|sorry|wrong|correction)\b[\s,.!:;-]*)+/i, '');
  const address = cleanAddress(bare).replace(/[.!]+$/, '');
  // A street address starts with its house number and has a street after it ("42 Elm St Apt 3").
  // ("2 dogs in the yard, gate code 4411" has a number but no street: not an address.)
  if (!/^\d+[a-z]?\s+[a-z]{2,}/i.test(address) || address.length < 6 || address.length > 100 || !/\b(street|st|avenue|ave|road|rd|drive|dr|lane|ln|boulevard|blvd|court|ct|place|pl|way|circle|cir|parkway|pkwy|highway|hwy|trail|terrace|loop|square|route)\b/i.test(address)) return undefined;
  // "2 bedrooms", "3 pm on Tuesday", "1 more question": a size, a time or a request, not an address.
  const u = understand(ctx, bare, now);
  if (u.when || u.units || u.service || u.intents.some((i) => i !== 'yes' && i !== 'no')) return undefined;
  return address;
}

/** A short "yes, that's right" to the address read back to them. */
function confirms(ctx: StoredContext['document'], text: string, now: Date): boolean {
  const u = understand(ctx, text, now);
  return text.trim().split(/\s+/).length <= 6 && u.intents.includes('yes') && !u.intents.includes('no') && !u.when && !u.service;
}

/**
 * The reply to a text answering the address check, after the visit was updated; undefined: not
 * one. `busy`: the texting agent has a question of its own pending (its "yes" is not ours).
 */
export async function addressCorrection(business: Business, context: StoredContext, customerId: string | null, text: string, busy = false): Promise<string | undefined> {
  // The texting agent's own question comes first ("what's the address?" for a new booking is not the check's).
  if (!customerId || busy) return undefined;
  // Only this business's visits: one customer record may have visits with several businesses.
  const [visit] = await business.scheduling.addressesToCheck(customerId, context.document.name);
  if (!visit) return undefined;
  const when = DateTime.fromJSDate(visit.start, { zone: context.document.timezone }).toFormat("cccc, LLLL d 'at' h:mm a");
  const service = visit.serviceName.toLowerCase();
  const address = textedAddress(context.document, text, business.now());
  if (address) {
    await business.scheduling.settleAddress(visit.id, address, 'customer:sms');
    return `Thanks, I've updated the address for your ${service} on ${when} to ${address}.`;
  }
  if (visit.readBack && confirms(context.document, text, business.now())) {
    await business.scheduling.settleAddress(visit.id, undefined, 'customer:sms');
    return `Thanks for confirming. See you at ${visit.address} for your ${service} on ${when}.`;
  }
  return undefined;
}
