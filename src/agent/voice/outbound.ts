import type { Logger } from 'pino';
import type { Telephony } from '../../telephony/call.js';
import type { Business } from '../../business/index.js';
import type { StoredContext } from '../../business/context/service.js';
import type { SpeechSet } from '../../speech/index.js';
import { AgentTools } from '../tools.js';
import type { GuidedState } from '../guided/engine.js';
import { VoiceSession } from './session.js';
import { recordQualityOnEnd } from '../call/quality.js';

/**
 * A call the agent places with a purpose: it speaks first (a reminder of a visit, or returning a
 * caller's call), then it is the same conversation as an inbound call. The outcome (confirmed,
 * moved, cancelled, message taken, nobody answered) lands on the call record.
 */

export type CallPurpose = 'reminder' | 'callback';

export interface PurposeCall {
  to: string;
  context: StoredContext;
  purpose: CallPurpose;
  /** For a reminder: the visit to remind them of (it must be theirs). */
  appointmentId?: string;
  /** Who asked (audit log): an admin username; default 'agent'. */
  requestedBy?: string;
}

export interface OutboundDeps {
  telephony: Telephony;
  business: Business;
  speech: SpeechSet;
  dataDir: string;
  logger?: Logger | undefined;
  llmMaxTokens?: number;
  llmUnderstands?: boolean;
}

export class PurposeCallError extends Error {}

/** Places the call; resolves with the call record's id once dialling starts, `done` when it ends. */
export async function placePurposeCall(d: OutboundDeps, p: PurposeCall): Promise<{ id: string; done: Promise<string> }> {
  const { business } = d;
  const { tts, stt } = d.speech;
  if (!tts || !stt) throw new PurposeCallError('the agent cannot hold a conversation here: no voice or speech recognition installed');
  const doc = p.context.document;
  const found = await business.customers.findOrCreateByPhone(p.to);
  if (!found) throw new PurposeCallError(`${p.to} is not a phone number`);
  const customer = found.customer;
  const tools = new AgentTools({ business, context: p.context, customer, channel: 'call' });
  let opening: string;
  let initialState: GuidedState = {};
  if (p.purpose === 'reminder') {
    if (!p.appointmentId) throw new PurposeCallError('a reminder call needs the appointment');
    const appt = await business.scheduling.get(p.appointmentId);
    if (appt.customerId !== customer.id) throw new PurposeCallError('that appointment is not this customer\'s');
    if (appt.status !== 'booked') throw new PurposeCallError(`that appointment is ${appt.status}`);
    opening = `Hi, this is ${doc.persona.name} from ${doc.displayName}, calling to remind you about your ${appt.serviceName.toLowerCase()} ${tools.spokenTime(appt.start)}. Is that still good for you?`;
    initialState = { pending: { kind: 'confirm_visit', id: appt.id } };
  } else {
    opening = `Hi, this is ${doc.persona.name} from ${doc.displayName}, returning your call. How can I help?`;
  }
  const id = await business.calls.start({
    direction: 'outbound', backend: d.telephony.name, from: doc.numbers[0] ?? '', to: p.to, contextId: p.context.id, customerId: customer.id, purpose: p.purpose,
  });
  const done = (async () => {
    let call;
    try {
      call = await d.telephony.dial(p.to, { timeoutSeconds: 30, requestedBy: p.requestedBy ?? 'agent', ...(doc.numbers[0] ? { from: doc.numbers[0] } : {}) });
    } catch (err) {
      await business.calls.ended(id, 'no_answer', { summary: `${p.purpose}: ${(err as Error).message}`, result: { purpose: p.purpose, reached: false } });
      return 'no_answer';
    }
    recordQualityOnEnd(business.calls, id, call, (err) => d.logger?.warn({ err, callId: id }, 'call quality not saved'));
    try {
      const session = new VoiceSession(
        { business, tts, stt, newVad: d.speech.newVad, dataDir: d.dataDir, logger: d.logger, transcribe: d.speech.transcribe, llm: d.speech.llm, ...(d.llmMaxTokens ? { llmMaxTokens: d.llmMaxTokens } : {}), ...(d.llmUnderstands !== undefined ? { llmUnderstands: d.llmUnderstands } : {}) },
        { call, callId: id, context: p.context, greeting: opening, customer, initialState },
      );
      const r = await session.run();
      await business.calls.ended(id, r.disposition, { summary: `${p.purpose}: ${r.summary}`, result: { purpose: p.purpose, reached: true } });
      return r.disposition;
    } catch (err) {
      d.logger?.error({ err, call: id }, 'outbound call failed');
      await call.hangup('error').catch(() => {});
      await business.calls.ended(id, 'failed').catch(() => {});
      return 'failed';
    }
  })();
  return { id, done };
}
