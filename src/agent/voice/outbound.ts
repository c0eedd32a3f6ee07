import type { Logger } from 'pino';
import type { Call, Telephony } from '../../telephony/call.js';
import type { Business } from '../../business/index.js';
import type { StoredContext } from '../../business/context/service.js';
import type { SpeechSet } from '../../speech/index.js';
import { AgentTools } from '../tools.js';
import type { GuidedState } from '../guided/engine.js';
import { VoiceSession } from './session.js';
import { recordQualityOnEnd } from '../call/quality.js';
import { AnsweringMachineDetector, BeepFinder, TalkOverDetector, type AmdOptions, type AmdVerdict, type BeepOptions } from '../call/amd.js';
import { speech } from '../../speech/speak.js';
import { forSpeech } from '../../speech/text.js';

/**
 * A call the agent places with a purpose: it speaks first (a reminder of a visit, or returning a
 * caller's call), then it is the same conversation as an inbound call. It listens first: a person
 * says "Hello?" and waits, an answering machine plays a greeting and beeps, and for a machine the
 * agent leaves a short message after the beep instead of talking to a recording. The outcome
 * (confirmed, moved, cancelled, message taken, voicemail left, nobody answered) lands on the call
 * record.
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
  llmFirstTokenMs?: number;
  /** Answering-machine detection (on by default): its thresholds, or false to talk at once. */
  amd?: (Partial<AmdOptions> & { beep?: Partial<BeepOptions> }) | false;
}

/** Feeds the far end's audio to `detector` until it says something or the call ends. */
function listen<T>(call: Call, feed: (pcm: Int16Array, rate: number) => T | undefined): Promise<T | undefined> {
  return listenUntil(call, feed);
}

/** As listen(), also giving up (undefined) when `signal` aborts. */
function listenUntil<T>(call: Call, feed: (pcm: Int16Array, rate: number) => T | undefined, signal?: AbortSignal): Promise<T | undefined> {
  return new Promise((resolve) => {
    const onAudio = (f: { pcm: Int16Array; sampleRate: number }) => {
      const r = feed(f.pcm, f.sampleRate);
      if (r !== undefined) finish(r);
    };
    const onEnded = () => finish(undefined);
    const onAbort = () => finish(undefined);
    function finish(r: T | undefined) {
      call.off('audio', onAudio);
      call.off('ended', onEnded);
      signal?.removeEventListener('abort', onAbort);
      resolve(r);
    }
    call.on('audio', onAudio);
    call.on('ended', onEnded);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (call.state === 'ended' || signal?.aborted) finish(undefined);
  });
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
  let voicemail: string;
  let initialState: GuidedState = {};
  // forSpeech reads the number digit by digit, in its groups.
  const callBack = doc.numbers[0] ? ` at ${doc.numbers[0]}` : '';
  if (p.purpose === 'reminder') {
    if (!p.appointmentId) throw new PurposeCallError('a reminder call needs the appointment');
    const appt = await business.scheduling.get(p.appointmentId);
    if (appt.customerId !== customer.id) throw new PurposeCallError('that appointment is not this customer\'s');
    if (appt.status !== 'booked') throw new PurposeCallError(`that appointment is ${appt.status}`);
    const visit = `your ${appt.serviceName.toLowerCase()} ${tools.spokenTime(appt.start)}`;
    opening = `Hi, this is ${doc.persona.name} from ${doc.displayName}, calling to remind you about ${visit}. Is that still good for you?`;
    voicemail = `Hi, this is ${doc.persona.name} from ${doc.displayName}, calling to remind you about ${visit}. If that still works, there is nothing you need to do. To change it, please call us back${callBack}. Thank you, goodbye.`;
    initialState = { pending: { kind: 'confirm_visit', id: appt.id } };
  } else {
    opening = `Hi, this is ${doc.persona.name} from ${doc.displayName}, returning your call. How can I help?`;
    voicemail = `Hi, this is ${doc.persona.name} from ${doc.displayName}, returning your call. Please call us back${callBack} whenever suits you. Thank you, goodbye.`;
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
      let who: AmdVerdict | undefined;
      let greeting = opening;
      if (d.amd !== false) {
        const { beep, ...o } = d.amd ?? {};
        const detector = new AnsweringMachineDetector(o);
        who = await listen(call, (pcm, rate) => detector.accept(pcm, rate));
        if (!who) {
          await business.calls.ended(id, 'abandoned', { summary: `${p.purpose}: they hung up before saying anything`, result: { purpose: p.purpose, reached: false } });
          return 'abandoned';
        }
        await business.calls.event(id, 'note', { role: 'system', text: `answered by ${who.answeredBy === 'unknown' ? 'someone (not sure who)' : `a ${who.answeredBy}`}: ${who.reason}`, data: who });
        if (who.answeredBy === 'machine') {
          const left = await leaveVoicemail(call, who, beep);
          if (left !== 'person') return left;
          // Somebody talked over the message: a person with a long hello after all.
          who = { answeredBy: 'human', reason: `talked over the voicemail message (${who.reason})`, atMs: who.atMs };
          await business.calls.event(id, 'note', { role: 'system', text: 'a person talked over the voicemail message: talking with them', data: who });
          greeting = `Sorry, I thought I'd reached your voicemail. ${opening}`;
        }
      }
      const session = new VoiceSession(
        { business, tts, stt, newVad: d.speech.newVad, dataDir: d.dataDir, logger: d.logger, transcribe: d.speech.transcribe, llm: d.speech.llm, ...(d.llmMaxTokens ? { llmMaxTokens: d.llmMaxTokens } : {}), ...(d.llmUnderstands !== undefined ? { llmUnderstands: d.llmUnderstands } : {}), ...(d.llmFirstTokenMs ? { llmFirstTokenMs: d.llmFirstTokenMs } : {}) },
        { call, callId: id, context: p.context, greeting, customer, initialState },
      );
      const r = await session.run();
      await business.calls.ended(id, r.disposition, { summary: `${p.purpose}: ${r.summary}`, result: { purpose: p.purpose, reached: true, ...(who ? { answeredBy: who.answeredBy } : {}) } });
      return r.disposition;
    } catch (err) {
      d.logger?.error({ err, call: id }, 'outbound call failed');
      await call.hangup('error').catch(() => {});
      await business.calls.ended(id, 'failed').catch(() => {});
      return 'failed';
    }
  })();
  /** After the beep (or once the greeting has plainly ended), the message; then goodbye. */
  async function leaveVoicemail(call: Call, who: AmdVerdict, beepOptions: Partial<BeepOptions> | undefined): Promise<string> {
    const finder = new BeepFinder(beepOptions);
    const cue = await listen(call, (pcm, rate) => finder.accept(pcm, rate));
    const result = { purpose: p.purpose, reached: false, answeredBy: 'machine', amd: who.reason };
    if (!cue) {
      await business.calls.ended(id, 'no_answer', { summary: `${p.purpose}: an answering machine, which hung up before the message`, result: { ...result, voicemailLeft: false } });
      return 'no_answer';
    }
    const message = call.play(speech(tts!, voicemail, call.sampleRate));
    // A machine records in silence; speech over the message is a person, and the message stops.
    const talk = new TalkOverDetector();
    const stopListening = new AbortController();
    const interrupted = listenUntil(call, (pcm, rate) => talk.accept(pcm, rate), stopListening.signal);
    const first = await Promise.race([message.done, interrupted.then((r) => (r ? 'person' as const : undefined))]);
    stopListening.abort();
    if (first === 'person') {
      message.cancel();
      await business.calls.event(id, 'turn', { role: 'agent', text: forSpeech(voicemail), data: { voicemail: true, after: cue.why, cutShortMs: message.playedMs() } });
      return 'person';
    }
    const played = first ?? (await message.done);
    await business.calls.event(id, 'turn', { role: 'agent', text: forSpeech(voicemail), data: { voicemail: true, after: cue.why } });
    await call.hangup('voicemail left').catch(() => {});
    const left = played.completed;
    await business.calls.ended(id, left ? 'voicemail_left' : 'no_answer', {
      summary: left ? `${p.purpose}: left a voicemail` : `${p.purpose}: an answering machine; the message was cut off`,
      result: { ...result, voicemailLeft: left, after: cue.why },
    });
    return left ? 'voicemail_left' : 'no_answer';
  }

  return { id, done };
}
