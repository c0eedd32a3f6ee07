import { mkdtempSync, rmSync } from 'node:fs';
import { sql } from 'kysely';
import { aroundTheClock } from '../../tests/helpers/contexts.js';
import { SHAPES } from '../../scripts/model-writers/gguf.js';
import { ensureGeneratedLlm } from '../../scripts/generate-models.js';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ensureGeneratedSpeech } from '../../scripts/model-writers/speech.js';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { demoContext } from '../../src/business/context/demo.js';
import { SipEndpoint } from '../../src/telephony/sip/endpoint.js';
import { parseCidrList } from '../../src/util/cidr.js';
import { freePort } from '../../tests/helpers/ports.js';
import { BUILT_MODELS_DIR, MODELS_DIR } from '../../tests/helpers/audio.js';
import { TestCaller } from '../../tests/helpers/caller.js';
import { percentile, trailingSilenceMs, type Metrics, type Suite } from '../lib.js';

/**
 * Real conversations over the built-in SIP endpoint: a caller asks questions in real time and we
 * time, from the caller's side, the end of each question (its last RTP packet) to the first
 * packet of the agent's spoken answer. The agent's own per-turn records give the stage breakdown.
 * BENCH_TURNS sets the number of turns (default 20).
 */
const TURNS = Number(process.env.BENCH_TURNS ?? 20);
const OPEN_QUESTIONS = [
  'Do you bring your own supplies?',
  'Are your cleaners insured?',
  'Do you use eco friendly products?',
  'Do you clean offices?',
  'Do I need to be home?',
];
const QUESTIONS = [
  'What are your hours?',
  'How much is a deep cleaning for three bedrooms?',
  'Do you have anything on friday afternoon?',
  'How much is a standard cleaning?',
  'Can I leave a message for Maria?',
];

/** Turns the guided flow acts on (quotes, availability, a message): with an LLM, it reads them first. */
const TRANSACTIONAL = [
  'How much is a deep cleaning for three bedrooms?',
  'Do you have anything on friday afternoon?',
  'How much is a standard cleaning?',
  'Can I leave a message for Maria?',
];

const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);

/** Qwen3-1.7B in Q4_K_M, the default set's LLM (BENCH_LLM_SHAPE=qwen3-4b for the "better" set, 0.5b-q4 for the smallest). */
const SHAPE = (process.env.BENCH_LLM_SHAPE ?? 'qwen3-1.7b') as keyof typeof SHAPES;
const generatedLlm = () => ensureGeneratedLlm(BUILT_MODELS_DIR, SHAPE);

const prefixed = (prefix: string, m: Metrics): Metrics => Object.fromEntries(Object.entries(m).map(([k, v]) => [`${prefix}${k}`, v]));

/**
 * Engine sets (BENCH_TURNS_SETS, default "neural,floor"):
 * - neural: sherpa-onnx streaming zipformer2 + node-llama-cpp + Piper, all on generated models
 *   (random weights, real compute); the recognizer's words are noise, so every question is an
 *   open one and goes to the LLM. Its metrics are unprefixed: the targets are for it.
 * - floor: Silero VAD, telephone-adapted pocketsphinx, the guided flow and flite (`floor_*`).
 * - llm: the floor with open questions answered by the LLM (`llm_*`).
 * - read: the floor with transactional turns read by the LLM (intent and slots) for the guided flow (`read_*`).
 */
const suite: Suite = {
  description: `${TURNS} spoken turns over SIP per engine set: neural (sherpa-onnx zipformer2 + ${SHAPES[SHAPE].name} + Piper low, generated models, 25-token replies), then the offline floor (pocketsphinx, guided flow, flite)`,
  models: () => ['silero-vad v5.1.2', 'zipformer2 streaming transducer (generated)', `${SHAPES[SHAPE].name} (generated)`, 'piper low, 16 kHz (generated)', 'pocketsphinx en-us (telephone-adapted)', 'guided-flow engine', 'flite slt'],
  async run(): Promise<Metrics> {
    const sets = (process.env.BENCH_TURNS_SETS ?? 'neural,floor').split(',');
    let out: Metrics = {};
    if (sets.includes('neural')) {
      const gen = await ensureGeneratedSpeech(join(BUILT_MODELS_DIR, 'generated'));
      out = { ...out, ...await runSet(OPEN_QUESTIONS, {
        FRONTDESK_LLM_MODEL: await generatedLlm(), FRONTDESK_LLM_MAX_TOKENS: '25',
        FRONTDESK_STT_MODEL: dirname(gen.stt.encoder), FRONTDESK_TTS_MODEL: gen.tts.model,
      }) };
    }
    if (sets.includes('floor')) out = { ...out, ...prefixed('floor_', await runSet(QUESTIONS, {})) };
    if (sets.includes('read')) out = { ...out, ...prefixed('read_', await runSet(TRANSACTIONAL, { FRONTDESK_LLM_MODEL: await generatedLlm() })) };
    if (sets.includes('llm')) out = { ...out, ...prefixed('llm_', await runSet(OPEN_QUESTIONS, { FRONTDESK_LLM_MODEL: await generatedLlm(), FRONTDESK_LLM_MAX_TOKENS: '25' })) };
    return out;
  },
};
export default suite;

async function runSet(questions: string[], engines: Record<string, string>): Promise<Metrics> {
  {
    const dir = mkdtempSync(join(tmpdir(), 'fd-bench-turns-'));
    const sipPort = await freePort();
    const app = await createApp(loadConfig({
      FRONTDESK_DATA_DIR: join(dir, 'data'), FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR, FRONTDESK_HTTP_HOST: '127.0.0.1',
      FRONTDESK_HTTP_PORT: String(await freePort()), FRONTDESK_SIP_BIND: '127.0.0.1', FRONTDESK_SIP_PORT: String(sipPort),
      FRONTDESK_MODELS_DIR: MODELS_DIR, FRONTDESK_RTP_PORT_MIN: '38000', FRONTDESK_RTP_PORT_MAX: '38099',
      ...engines,
    }), silentLogger);
    await app.contexts.save({
      ...demoContext, greeting: 'Hi, Sparkle and Shine.',
      hours: aroundTheClock,
      holidays: [],
    }, 'bench');
    await app.start();
    await app.speechReady;
    const phone = new SipEndpoint({
      bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]), rtpPortMin: 38100, rtpPortMax: 38199,
      trunk: { host: '127.0.0.1', port: sipPort, transport: 'UDP', register: false, callerId: '+15125550123' },
    });
    await phone.start();
    const latencies: number[] = [];
    try {
      let turns = 0;
      while (turns < TURNS) {
        const call = await phone.dial('+15125550100');
        const caller = new TestCaller(call);
        await caller.nextTurn();
        for (const q of questions) {
          if (turns >= TURNS || call.state === 'ended') break;
          const audio = await caller.synthesize(q);
          caller.reset();
          await call.play(audio).done;
          // End of speech is the last loud 20 ms of the question, not the end of its file; dated,
          // like the caller's timeline, in the call's audio received.
          const saidAt = caller.heardMs - trailingSilenceMs(audio);
          await caller.nextTurn(900, 30_000);
          const first = caller.timeline.find((f) => f.at >= saidAt && f.loud);
          if (first) latencies.push(first.at - saidAt);
          turns++;
        }
        await call.hangup();
      }
      const records = await app.store.db.selectFrom('call_events').select('data').where('kind', '=', 'latency').execute();
      const byLlm = await app.store.db.selectFrom('call_events').select('id').where('kind', '=', 'turn').where('role', '=', 'agent').where(sql<boolean>`data::jsonb->>'by' = 'llm'`).execute();
      const stages = records.map((r) => r.data as { sttMs: number; thinkMs: number; ttsMs: number; sendMs: number; totalMs: number; fromSpeechEndMs: number; by?: string; llm?: { evaluatedTokens: number; firstTokenMs: number }; reading?: { ms: number; inTime: boolean; ahead: boolean }; understoodBy?: string });
      const read = stages.filter((s) => s.reading);
      const byLlmStages = stages.filter((s) => s.by === 'llm');
      const sorted = [...latencies].sort((a, b) => a - b);
      return {
        turns: latencies.length,
        turns_answered_by_llm: byLlm.length,
        turn_latency_p50_ms: percentile(sorted, 50),
        turn_latency_p95_ms: percentile(sorted, 95),
        stage_vad_hangover_ms: 300,
        stage_stt_final_after_vad_p50_ms: median(stages.map((s) => s.sttMs)),
        stage_endpoint_and_think_p50_ms: median(stages.map((s) => s.thinkMs)),
        stage_tts_first_audio_p50_ms: median(stages.map((s) => s.ttsMs)),
        stage_first_packet_p50_ms: median(stages.map((s) => s.sendMs)),
        agent_side_total_p50_ms: median(stages.map((s) => s.totalMs)),
        ...(byLlmStages.length ? {
          answered_by_llm_from_speech_end_p50_ms: median(byLlmStages.map((s) => s.fromSpeechEndMs)),
          answered_by_llm_from_speech_end_p95_ms: percentile(byLlmStages.map((s) => s.fromSpeechEndMs).sort((a, b) => a - b), 95),
          answered_by_llm_think_p50_ms: median(byLlmStages.map((s) => s.thinkMs)),
          answered_by_llm_tts_first_audio_p50_ms: median(byLlmStages.map((s) => s.ttsMs)),
          llm_first_token_p50_ms: median(byLlmStages.map((s) => s.llm?.firstTokenMs ?? 0)),
          llm_prompt_tokens_evaluated_p50: median(byLlmStages.map((s) => s.llm?.evaluatedTokens ?? 0)),
        } : {}),
        ...(read.length ? {
          turns_read_by_llm: read.length,
          turns_read_ahead: read.filter((s) => s.reading!.ahead).length,
          turns_read_in_time: read.filter((s) => s.reading!.inTime).length,
          turns_acted_on_llm_reading: stages.filter((s) => s.understoodBy === 'llm').length,
          reading_ms_p50: median(read.map((s) => s.reading!.ms)),
          reading_ms_max: Math.max(...read.map((s) => s.reading!.ms)),
        } : {}),
        rss_mib: process.memoryUsage().rss / 2 ** 20,
      };
    } finally {
      await phone.stop();
      await app.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
