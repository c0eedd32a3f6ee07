import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { DateTime } from 'luxon';
import type { CallDeps } from '../inbound.js';
import { route } from '../../business/routing.js';
import type { BrowserLine } from '../../telephony/browser/index.js';
import { VoiceSession } from '../voice/session.js';
import { retrying } from '../../util/retry.js';

/**
 * The console's "Test call": the signed-in owner talks to the receptionist from the browser's
 * microphone. The call runs the same VoiceSession as a phone call (turn-taking, tools, transcript),
 * with the business's greeting for now; it is recorded as a call with purpose 'test_call'.
 */

const refuse = (sock: Duplex, status: number, text: string, message: string): void => void sock.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify({ error: text.toLowerCase().replace(/ /g, '_'), message })}`);

export async function acceptTestCall(d: CallDeps, http: FastifyInstance, line: BrowserLine, req: IncomingMessage, sock: Duplex, head: Buffer): Promise<void> {
  const who = await http.authenticateUpgrade(req);
  if (!who) return refuse(sock, 401, 'Unauthorized', 'sign in to the console first');
  if (who.role === 'viewer') return refuse(sock, 403, 'Forbidden', 'viewers cannot place test calls');
  const q = new URL(req.url ?? '/', 'http://x').searchParams;
  const rate = Number(q.get('rate') ?? 16000);
  if (rate !== 8000 && rate !== 16000) return refuse(sock, 400, 'Bad Request', 'rate must be 8000 or 16000');
  const name = q.get('context');
  const contexts = await d.business.contexts.list();
  const stored = name ? contexts.find((c) => c.name === name) : contexts.find((c) => c.document.default) ?? contexts[0];
  if (!stored) return refuse(sock, 404, 'Not Found', 'no such business');
  if (!d.speech.tts || !d.speech.stt) return refuse(sock, 409, 'Conflict', 'the receptionist has no voice or no speech recognition on this server');
  const call = await line.accept(req, sock, head, { from: `browser:${who.username}`, to: stored.document.numbers[0] ?? 'test', sampleRate: rate });
  if (!call) return;
  const { business, logger } = d;
  const id = await business.calls.start({ direction: 'inbound', backend: 'browser', externalId: call.id, from: call.from, to: call.to, contextId: stored.id, purpose: 'test_call' });
  d.liveCalls.set(id, call);
  call.once('ended', () => d.liveCalls.delete(id));
  call.notify({ type: 'call', id });
  try {
    const decision = route(stored.document, undefined, DateTime.fromJSDate(business.now()));
    void retrying(() => business.calls.event(id, 'state', { role: 'system', text: `test call from the console by ${who.username}` })).catch(() => {});
    await call.answer();
    const session = new VoiceSession(
      { business, tts: d.speech.tts, stt: d.speech.stt, newVad: d.speech.newVad, dataDir: d.dataDir, logger, transcribe: d.speech.transcribe, llm: d.speech.llm, llmMaxTokens: d.llmMaxTokens, llmUnderstands: d.llmUnderstands },
      { call, callId: id, context: stored, greeting: decision.greeting, customer: undefined },
    );
    const { disposition, summary } = await session.run();
    // "It didn't hear me": whether the microphone's audio arrived at all.
    await retrying(() => business.calls.event(id, 'state', { role: 'system', text: `${(call.receivedMs / 1000).toFixed(1)} s of microphone audio received`, data: { receivedMs: Math.round(call.receivedMs) } })).catch(() => {});
    await retrying(() => business.calls.ended(id, disposition, { summary }));
  } catch (err) {
    logger.error({ err, callId: id }, 'test call failed');
    await call.hangup('error').catch(() => {});
    await retrying(() => business.calls.ended(id, 'failed')).catch(() => {});
  }
}
