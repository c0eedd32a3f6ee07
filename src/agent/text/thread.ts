import type { Logger } from 'pino';
import { DateTime } from 'luxon';
import type { Business } from '../../business/index.js';
import type { StoredContext } from '../../business/context/service.js';
import type { ChatMessage, Llm } from '../../speech/types.js';
import { AgentTools } from '../tools.js';
import type { GuidedState } from '../guided/engine.js';
import { Brain, brainDefaults } from '../brain.js';
import { OwnerAgent, type OwnerState } from '../owner.js';
import { complianceKeyword } from './keywords.js';
import { addressCorrection } from '../guided/address-reply.js';

/**
 * The texting agent: one inbound text in, the reply out. Carrier keywords (STOP, START, HELP)
 * first, then the owner's line (owner tools under the policy), then the customer agent. It knows
 * no provider and no SMS storage: the transport hands it the thread and stores what it decides.
 */

export interface TextThreadDeps {
  business: Business;
  logger?: Logger | undefined;
  /** A local LLM for open questions (the last turns of the thread go with it); else the guided engine answers. */
  llm?: (() => Llm | undefined) | undefined;
  /** The LLM reads transactional texts for the guided flow (FRONTDESK_LLM_UNDERSTANDS; default true). */
  llmUnderstands?: boolean | undefined;
}

export interface TextIn {
  /** The text being answered; `id` names it in logs and in the LLM's conversation. */
  id: string;
  body: string;
  /** The business context the text was sent to, when the number has one. */
  context: StoredContext | undefined;
  customerNumber: string;
  customerId: string | null;
  /** The texter said STOP earlier and has not said START. */
  optedOut: boolean;
  /** What the thread remembered after the last reply. */
  state: unknown;
  /** The thread's earlier texts, oldest first, without this one; read only when an LLM answers. */
  history: (limit: number) => Promise<ChatMessage[]>;
}

export interface TextOut {
  /** The reply as the agent wrote it (the transport fits it to its segments), or none. */
  reply?: string | undefined;
  /** Who the reply is for: compliance replies go out even to an opted-out number. */
  audience: 'compliance' | 'owner' | 'customer' | 'none';
  /** Set: the thread's opt-out changes (a date for STOP, null for START). */
  optOut?: Date | null | undefined;
  /** Set: what the thread remembers for the next text. */
  state?: GuidedState | { owner: OwnerState } | undefined;
  /** The text held the owner's PIN: the stored copy must not keep it. */
  redact?: boolean | undefined;
}

export async function answerText(d: TextThreadDeps, t: TextIn): Promise<TextOut> {
  const { context } = t;
  const keyword = complianceKeyword(t.body);
  const name = context?.document.displayName ?? 'this number';

  if (keyword?.kind === 'stop') {
    if (t.optedOut) return { audience: 'none' };
    let reply = `You're unsubscribed from ${name} texts and won't get any more. Reply START to resubscribe.`;
    // CANCEL is a carrier opt-out word, but a customer with a visit booked may mean the visit.
    if (keyword.word === 'CANCEL' && context) reply += await visitStillBooked(d.business, context, t.customerId);
    return { reply, audience: 'compliance', optOut: new Date() };
  }
  if (keyword?.kind === 'start') {
    return { reply: `You're resubscribed to ${name} texts. Reply STOP to opt out, HELP for help.`, audience: 'compliance', optOut: null };
  }
  if (keyword?.kind === 'help') {
    const doc = context?.document;
    const contact = [doc?.numbers[0], doc?.info.website, doc?.info.email].filter(Boolean).join(', ');
    return { reply: `${name}${contact ? `: ${contact}` : ''}. Text us to get a quote or book a visit. Msg&data rates may apply. Reply STOP to opt out.`, audience: 'compliance' };
  }
  // They asked not to be texted: no reply, but the text is kept for the owner.
  if (t.optedOut || !context) return { audience: 'none' };
  if (context.document.owner.numbers.includes(t.customerNumber)) {
    // The owner's line: owner tools under the policy (src/agent/owner.ts), not the customer agent.
    const prior = (t.state as { owner?: OwnerState } | null)?.owner ?? {};
    const r = await new OwnerAgent(d.business, context, { number: t.customerNumber, channel: 'sms' }).respond(t.body, prior).catch((err: unknown) => {
      d.logger?.error({ err, messageId: t.id }, 'owner command failed');
      return { reply: 'Sorry, that failed on our side; nothing was changed.', state: {} };
    });
    // A PIN is never kept: the thread (and the console's inbox) shows that one was sent, not which.
    return { reply: r.reply, audience: 'owner', state: { owner: r.state }, redact: 'pinSeen' in r && !!r.pinSeen };
  }
  if (!context.document.sms.autoReply) return { audience: 'none' };
  // A reply to the address check texted after a call updates the visit (src/agent/guided/address-reply.ts).
  const state = (t.state as GuidedState | null) ?? {};
  const corrected = await addressCorrection(d.business, context, t.customerId, t.body, !!state.pending);
  if (corrected) return { reply: corrected, audience: 'customer', state };
  const r = await converse(d, context, t);
  return { reply: r.reply, audience: 'customer', state: r.state };
}

/** " Your visit … is still booked; to cancel it, call …", or '' without an upcoming visit. */
async function visitStillBooked(business: Business, context: StoredContext, customerId: string | null): Promise<string> {
  if (!customerId) return '';
  const [next] = await business.scheduling.list({ context: context.name, customerId, from: business.now(), limit: 1 });
  if (!next || next.status !== 'booked') return '';
  const when = DateTime.fromJSDate(next.start, { zone: context.document.timezone }).toFormat("cccc, LLLL d 'at' h:mm a");
  const phone = context.document.numbers[0];
  return ` Your ${next.serviceName.toLowerCase()} on ${when} is still booked; to cancel it, please call us${phone ? ` at ${phone}` : ''}.`;
}

async function converse(d: TextThreadDeps, context: StoredContext, t: TextIn): Promise<{ reply: string; state: GuidedState }> {
  const state = (t.state as GuidedState | null) ?? {};
  const customer = t.customerId ? await d.business.customers.get(t.customerId) : undefined;
  const tools = new AgentTools({ business: d.business, context, customer, channel: 'sms' });
  const llm = d.llm?.();
  const history = llm ? await t.history(brainDefaults.historyTurns * 2) : [];
  const brain = new Brain(tools, {
    llm, conversation: `sms:${t.id}`, channel: 'sms', now: d.business.now, ...(d.llmUnderstands !== undefined ? { understand: d.llmUnderstands } : {}), history, logger: d.logger,
  });
  try {
    const { turn, state: next } = await brain.respond(t.body, state);
    let reply = '';
    if (typeof turn.reply === 'string') reply = turn.reply;
    else for await (const piece of turn.reply) reply += piece;
    return { reply: reply.trim(), state: next };
  } catch (err) {
    d.logger?.error({ err, messageId: t.id }, 'SMS agent failed; sending a holding reply');
    return { reply: `Sorry, something went wrong on our side. ${context.document.owner.name} will get back to you soon.`, state };
  } finally {
    await brain.close().catch(() => {});
  }
}
