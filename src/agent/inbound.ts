// Routing an inbound call to its answer (reject, ring first, voice session or keypad menu), out of app.ts so that file is wiring only.
import type { TurnOptionsInput } from './turns/options.js';
import type { Store } from '../store/db.js';
import type { Business } from '../business/index.js';
import type { SpeechSet } from '../speech/index.js';
import type { Logger } from '../util/logger.js';
import type { Call, Telephony } from '../telephony/index.js';
import type { Metrics } from '../http/metrics.js';
import { retrying } from '../util/retry.js';
import { recordQualityOnEnd } from './call/quality.js';
import { ringThenAnswer } from './call/ring-first.js';
import { VoiceSession } from './voice/session.js';
import { KeypadMenu } from './keypad/menu.js';

export interface CallDeps {
  store: Store;
  business: Business;
  speech: SpeechSet;
  dataDir: string;
  logger: Logger;
  liveCalls: Map<string, Call>;
  /** For the ring phase's calls to the owner's phones. */
  telephony: Telephony | undefined;
  llmMaxTokens: number;
  llmUnderstands: boolean;
  llmFirstTokenMs?: number;
  /** Turn-taking timings for inbound conversations (tests move the answer-anyway waits out of the way). */
  turn?: TurnOptionsInput | undefined;
  metrics?: Metrics;
  /** The node is draining: a new call is refused with 503 so the carrier or dispatcher goes elsewhere. */
  draining: () => boolean;
}

let setupQueue: Promise<void> = Promise.resolve();

/** Waits for this call's turn to be set up (after the one before it, from a fresh event-loop turn); call the result when done. */
function setupTurn(): Promise<() => void> {
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const start = setupQueue.then(() => new Promise<void>((r) => setImmediate(r)));
  setupQueue = start.then(() => finished);
  return start.then(() => done);
}

/**
 * An inbound call: routed, logged, then answered by the answering flow (greeting, the owner on a
 * key press, voicemail) until the conversational agent lands. Blocked callers get 603; with no
 * voice installed the call is declined with 480 so the carrier can fail over.
 */
export async function handleInboundCall(d: CallDeps, call: Call): Promise<void> {
  const { business, logger } = d;
  let id: string | undefined;
  if (d.draining()) {
    // The built-in endpoint refuses these itself; a PBX backend's calls are refused here.
    await call.reject(503, 'Service Unavailable').catch(() => {});
    return;
  }
  try {
    // Calls are set up one at a time, each from a turn of the event loop of its own: fifty arriving
    // at once otherwise route (hours arithmetic) back to back in one turn while the media clock waits.
    const turn = await setupTurn();
    let routed: Awaited<ReturnType<Business['route']>>;
    let customer: Awaited<ReturnType<Business['customers']['findOrCreateByPhone']>>;
    try {
      // Reads retried through a database blip (the caller hears ringing meanwhile).
      routed = await retrying(() => business.route(call.to, call.from));
      customer = await retrying(() => business.customers.findOrCreateByPhone(call.from));
      id = await business.calls.start({
        direction: 'inbound', backend: call.backend, externalId: call.id, from: call.from, to: call.to,
        contextId: routed?.context.id ?? null, customerId: customer?.customer.id ?? null,
      });
    } finally {
      turn();
    }
    const callRecordId = id;
    // The routing note is worth keeping, not worth holding the caller for: retried in the background.
    void retrying(() => business.calls.event(callRecordId, 'state', { role: 'system', text: routed?.decision.reason ?? 'no context', data: routed?.decision ?? null }))
      .catch((err: unknown) => logger.warn({ err, callId: callRecordId }, 'call event not saved'));
    if (routed?.decision.vip) {
      // "Notify me when a VIP calls": in the background, the caller is not held for it.
      void retrying(() => business.alerts.handle(d.store.db, routed.context, { type: 'vip_call', callId: callRecordId, callerNumber: call.from, label: routed.decision.rule?.label ?? '' }))
        .catch((err: unknown) => logger.warn({ err, callId: callRecordId }, 'VIP alert not queued'));
    }
    if (routed?.decision.action === 'reject') {
      await call.reject(603, 'Decline');
      await business.calls.ended(id, 'rejected');
      return;
    }
    if (!routed || !d.speech.tts) {
      await call.reject(480, 'Temporarily Unavailable');
      await business.calls.ended(id, 'no_agent');
      if (routed) await business.alerts.handle(d.store.db, routed.context, { type: 'missed_call', callId: id, callerNumber: call.from });
      return;
    }
    const callId = id;
    d.liveCalls.set(callId, call);
    recordQualityOnEnd(business.calls, callId, call, (err) => logger.warn({ err, callId }, 'call quality not saved'));
    const ended = new Promise<string>((r) => call.once('ended', (reason) => {
      d.liveCalls.delete(callId);
      r(reason);
    }));
    const agentAnswers = routed.decision.action === 'agent' || routed.decision.action === 'agent_after_hours';
    // Ring first (context `answer`): the caller hears ringing, the owner's phones may ring; the agent answers after.
    if (agentAnswers && await ringThenAnswer({ business, db: d.store.db, telephony: d.telephony, logger }, call, callId, routed.context, routed.decision)) return;
    const conversational = d.speech.stt && agentAnswers;
    if (conversational) {
      const session = new VoiceSession(
        { business, tts: d.speech.tts, stt: d.speech.stt!, newVad: d.speech.newVad, dataDir: d.dataDir, logger, transcribe: d.speech.transcribe, llm: d.speech.llm, llmMaxTokens: d.llmMaxTokens, llmUnderstands: d.llmUnderstands, ...(d.llmFirstTokenMs ? { llmFirstTokenMs: d.llmFirstTokenMs } : {}), turnDetector: d.speech.turn, ...(d.turn ? { turn: d.turn } : {}),
          onTurnLatency: (l) => d.metrics?.turnLatency.observe(l.fromSpeechEndMs / 1000) },
        { call, callId, context: routed.context, greeting: routed.decision.greeting, customer: customer?.customer },
      );
      const { disposition, summary } = await session.run();
      await retrying(() => business.calls.ended(callId, disposition, { summary }));
      return;
    }
    const flow = new KeypadMenu(
      { business, tts: d.speech.tts, newVad: d.speech.newVad, dataDir: d.dataDir, logger, transcribe: d.speech.transcribe },
      { call, callId, context: routed.context, decision: routed.decision, customerId: customer?.customer.id ?? null },
    );
    const disposition = await flow.run();
    const reason = call.state === 'ended' ? await ended : 'ended';
    await retrying(() => business.calls.ended(callId, disposition === 'abandoned' ? `abandoned (${reason})` : disposition));
  } catch (err) {
    logger.error({ err, call: call.id, callId: id }, 'inbound call handling failed; ending the call as failed');
    if (call.state === 'ringing') await call.reject(500, 'Server Internal Error').catch(() => {});
    else await call.hangup('error').catch(() => {});
    if (id) await retrying(() => business.calls.ended(id!, 'failed')).catch((e: unknown) => logger.warn({ err: e, callId: id }, 'call end not saved'));
  }
}
