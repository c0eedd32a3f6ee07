import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { demoContext } from '../../src/business/context/demo.js';
import { SipEndpoint } from '../../src/telephony/sip/endpoint.js';
import type { SipCall } from '../../src/telephony/sip/call.js';
import { parseCidrList } from '../../src/util/cidr.js';
import { SHAPES, writeRandomLlama } from '../../scripts/model-writers/gguf.js';
import { generatedSpeechDirs, piperFiles, transducerFiles } from '../../scripts/model-writers/speech.js';
import { freePort } from '../helpers/ports.js';
import { BUILT_MODELS_DIR, GENERATED_MODELS_DIR, MODELS_DIR } from '../helpers/audio.js';
import { aroundTheClock } from '../helpers/contexts.js';
import { TestCaller } from '../helpers/caller.js';

/**
 * A call on the neural set, wired as `frontdesk start` wires it: the sherpa-onnx streaming
 * recognizer, the Piper voice and the LLM, all generated (random weights). The words are noise on
 * both sides, so this checks what a caller would notice regardless: they are greeted, every
 * question gets a spoken answer from the LLM, talking over it stops it, and the call's record
 * keeps the turns with their costs.
 */
describe('talking to the agent on the neural set (generated models)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-voice-neural-'));
  let app: App;
  let phone: SipEndpoint;

  beforeAll(async () => {
    const llm = join(dir, 'tiny.gguf');
    await writeRandomLlama(llm, SHAPES.tiny);
    const gen = generatedSpeechDirs(GENERATED_MODELS_DIR);
    const sipPort = await freePort();
    app = await createApp(loadConfig({
      FRONTDESK_DATA_DIR: join(dir, 'data'), FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR, FRONTDESK_HTTP_HOST: '127.0.0.1',
      FRONTDESK_HTTP_PORT: String(await freePort()), FRONTDESK_SIP_BIND: '127.0.0.1', FRONTDESK_SIP_PORT: String(sipPort),
      FRONTDESK_MODELS_DIR: MODELS_DIR, FRONTDESK_RTP_PORT_MIN: '36400', FRONTDESK_RTP_PORT_MAX: '36499',
      FRONTDESK_STT_MODEL: dirname(transducerFiles(gen.stt).encoder), FRONTDESK_TTS_MODEL: piperFiles(gen.tts).model,
      // One thread: two spin-wait on each other at every token when the cores are busy.
      FRONTDESK_LLM_MODEL: llm, FRONTDESK_LLM_MAX_TOKENS: '8', FRONTDESK_LLM_THREADS: '1',
      // Which engine answers must not depend on how busy the machine is: wait for the LLM's first word.
      FRONTDESK_LLM_FIRST_TOKEN_MS: '30000',
    }), silentLogger);
    await app.contexts.save({ ...demoContext, greeting: 'Hi, Sparkle and Shine.', hours: aroundTheClock, holidays: [] }, 'test');
    await app.start();
    await app.speechReady;
    expect(app.speech.stt?.name).toMatch(/^sherpa-onnx/);
    expect(app.speech.tts?.name).toMatch(/^piper/);
    phone = new SipEndpoint({
      bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]), rtpPortMin: 36500, rtpPortMax: 36599,
      trunk: { host: '127.0.0.1', port: sipPort, transport: 'UDP', register: false, callerId: '+15125550177' },
    });
    await phone.start();
    // A bound for writing the generated models and starting the app on a loaded machine: 60 s was not.
  }, 180_000);
  afterAll(async () => {
    await phone?.stop();
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('greets, answers each question with the LLM, stops when talked over, and records the turns with their costs', async () => {
    const call = (await phone.dial('+15125550100')) as SipCall;
    const caller = new TestCaller(call);
    const greeting = await caller.nextTurn();
    expect(greeting.length / 8000).toBeGreaterThan(0.5);

    await caller.say('Do you bring your own supplies?');
    const answer = await caller.nextTurn(700);
    expect(answer.length / 8000).toBeGreaterThan(0.3);

    // Talk over the next answer: the agent falls silent while the caller is still talking.
    await caller.say('Are your cleaners insured?');
    await caller.agentStartsTalking();
    const interruption = await caller.synthesize('Wait, one more question about the price of a visit.');
    const startedAt = caller.heardMs;
    await call.play(interruption).done;
    const interruptionMs = (interruption.length / 8000) * 1000;
    const lastLoud = caller.timeline.filter((f) => f.at > startedAt && f.at < startedAt + interruptionMs && f.loud).at(-1)?.at ?? startedAt;
    expect(startedAt + interruptionMs - lastLoud).toBeGreaterThan(800);
    // …and answers what it was told instead.
    await caller.agentStartsTalking();
    await call.hangup();

    const rec = await app.store.db.selectFrom('calls').selectAll().orderBy('started_at', 'desc').limit(1).executeTakeFirstOrThrow();
    const evs = await vi.waitFor(async () => {
      const e = await app.business.calls.events(rec.id);
      expect(e.some((x) => x.kind === 'turn' && x.role === 'agent' && (x.data as { completed?: boolean }).completed === false)).toBe(true);
      return e;
    }, { timeout: 10_000, interval: 50 });
    const callerTurns = evs.filter((e) => e.kind === 'turn' && e.role === 'caller');
    expect(callerTurns.length).toBeGreaterThanOrEqual(3);
    // The recognizer's words (noise from random weights) are what the LLM answered.
    const agentTurns = evs.filter((e) => e.kind === 'turn' && e.role === 'agent' && (e.data as { kind?: string }).kind === 'reply');
    expect(agentTurns.length).toBeGreaterThanOrEqual(2);
    expect(agentTurns.every((e) => (e.data as { by?: string }).by === 'llm')).toBe(true);
    expect(agentTurns.some((e) => (e.data as { completed: boolean }).completed === false), 'the answer talked over is recorded as cut short').toBe(true);
    // Each answered turn has its latency breakdown, with what the LLM's prompt cost.
    const latency = evs.filter((e) => e.kind === 'latency').map((e) => e.data as { by: string; fromSpeechEndMs: number; llm?: { evaluatedTokens: number; promptTokens: number; firstTokenMs: number } });
    expect(latency.length).toBeGreaterThanOrEqual(2);
    for (const l of latency) {
      expect(l.by).toBe('llm');
      expect(l.fromSpeechEndMs).toBeGreaterThan(0);
      expect(l.llm!.evaluatedTokens).toBeGreaterThan(0);
      // The business's instructions were evaluated before the caller asked: only the turn is new.
      expect(l.llm!.evaluatedTokens).toBeLessThan(l.llm!.promptTokens / 2);
    }
  }, 90_000);
});
