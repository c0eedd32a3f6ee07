import { statSync } from 'node:fs';
import { SHAPES } from '../../scripts/model-writers/gguf.js';
import { LlamaCppLlm } from '../../src/speech/llm/llama.js';
import type { ChatMessage } from '../../src/speech/types.js';
import { ensureGeneratedLlm } from '../../scripts/generate-models.js';
import { BUILT_MODELS_DIR } from '../../tests/helpers/audio.js';
import { percentile, type Metrics, type Suite } from '../lib.js';
import { demoContext } from '../../src/business/context/demo.js';
import { contextSchema } from '../../src/business/context/schema.js';
import { llmNluDefaults, readingPrompt, readingSchema } from '../../src/agent/guided/llm-nlu.js';

/**
 * The LLM on a generated model with Qwen2-0.5B's geometry (Q8_0, random weights: real compute,
 * meaningless words): load time, prefill and generation speed, first-token latency of a turn
 * whose system prompt and history are already evaluated, and memory. BENCH_LLM_MODEL points it
 * at a real GGUF instead.
 */
const system = `You are Sam, the friendly receptionist of Sparkle and Shine Cleaning in Austin. Be brief: one or two short sentences.
Services: standard cleaning from $120 (2 hours), deep cleaning from $220 (4 hours), move-out cleaning from $300.
Extra bedrooms $25 each. Pet hair $20. Inside the fridge $30. Hours: Monday to Friday 8 to 6, Saturday 9 to 2.
Cancel at least 24 hours ahead or pay a $50 fee. We bring our own supplies and use eco-friendly products.`;

/** Qwen3-1.7B in Q4_K_M by default, the default set's LLM. */
const SHAPE = (process.env.BENCH_LLM_SHAPE ?? 'qwen3-1.7b') as keyof typeof SHAPES;
/** CPU threads (BENCH_LLM_THREADS, default 2: FRONTDESK_LLM_THREADS's default). */
const THREADS = Number(process.env.BENCH_LLM_THREADS ?? 2);

const suite: Suite = {
  description: `node-llama-cpp on a generated GGUF of ${SHAPES[SHAPE].name} geometry (random weights; BENCH_LLM_SHAPE=${SHAPE}: 0.5b-q4, qwen3-1.7b, qwen3-4b), ${THREADS} thread${THREADS === 1 ? '' : 's'} (BENCH_LLM_THREADS)`,
  models: () => [process.env.BENCH_LLM_MODEL ?? `${SHAPES[SHAPE].name} (generated)`],
  async run(): Promise<Metrics> {
    const path = process.env.BENCH_LLM_MODEL ?? await ensureGeneratedLlm(BUILT_MODELS_DIR, SHAPE);
    const rss0 = process.memoryUsage().rss;
    let t0 = performance.now();
    const llm = await LlamaCppLlm.load({ model: path, sequences: 2, contextPerSequence: 2048, threads: THREADS });
    const m: Metrics = { model_mib: statSync(path).size / 2 ** 20, load_ms: performance.now() - t0 };

    // Cold prefill: the whole system prompt.
    const history: ChatMessage[] = [{ role: 'system', content: system }];
    const questions = ['Hi, how much is a deep cleaning?', 'Do you bring your own supplies?', 'What if I need to cancel?', 'Are you open on saturday?', 'Do you do move out cleanings?', 'Thanks, that is all.'];
    const firsts: number[] = [];
    let genTokens = 0;
    let genMs = 0;
    for (const [i, q] of questions.entries()) {
      history.push({ role: 'user', content: q });
      let reply = '';
      t0 = performance.now();
      let firstAt = 0;
      for await (const t of llm.chat(history, { conversation: 'bench', maxTokens: 25 })) {
        firstAt ||= performance.now();
        reply += t;
      }
      const s = llm.lastStats!;
      if (i === 0) {
        m.prefill_tokens = s.evaluatedTokens;
        m.prefill_tokens_per_s = s.evaluatedTokens / (s.firstTokenMs / 1000);
        m.first_token_cold_ms = s.firstTokenMs;
      } else firsts.push(s.firstTokenMs);
      genTokens += s.generatedTokens - 1;
      genMs += performance.now() - firstAt;
      history.push({ role: 'assistant', content: reply });
    }
    firsts.sort((a, b) => a - b);
    m.first_token_reused_prefix_p50_ms = percentile(firsts, 50);
    m.first_token_reused_prefix_max_ms = firsts.at(-1)!;
    m.generation_tokens_per_s = genTokens / (genMs / 1000);
    m.reply_25_tokens_ms = m.first_token_reused_prefix_p50_ms + 24 / m.generation_tokens_per_s * 1000;
    Object.assign(m, await readings(llm, m.generation_tokens_per_s));
    m.rss_added_mib = (process.memoryUsage().rss - rss0) / 2 ** 20;
    await llm.close();
    return m;
  },
};
export default suite;

/** Transactional turns the LLM reads for the guided flow (intent and slots). */
const SAID = [
  'I want to book a deep cleaning on tuesday at nine',
  'How much is a standard cleaning for three bedrooms?',
  'Can you move my cleaning to friday afternoon?',
  'Please cancel my appointment',
  'Do you have anything tomorrow morning?',
];
const NOW = new Date('2026-11-20T18:00:00Z');
/** What a trained model would reply to the first turn, in the old one-field-per-slot form and in the label list. */
const TYPICAL = {
  fields: '{"intents":["book"],"service":"deep","units":null,"date":"2026-11-24","time":"09:00","name":null,"phone":null}',
  labels: '{"r":["book","deep","tuesday","9am"]}',
};

/**
 * The reading of a transactional turn: its cost in prompt tokens evaluated, first token, tokens
 * generated and time. Random weights pick random (valid) labels, so the typical reading's length
 * is given too, with the time it would take at the measured speeds.
 */
async function readings(llm: LlamaCppLlm, tokensPerS: number): Promise<Metrics> {
  const ms: number[] = [];
  const firsts: number[] = [];
  const gen: number[] = [];
  const evaluated: number[] = [];
  let failed = 0;
  const ctx = contextSchema.parse(demoContext);
  for (const s of SAID) {
    const t0 = performance.now();
    await llm.structured(readingPrompt(ctx, NOW, {}, s), readingSchema(ctx, NOW), { maxTokens: llmNluDefaults.maxTokens }).catch(() => failed++);
    ms.push(performance.now() - t0);
    const st = llm.lastStats!;
    firsts.push(st.firstTokenMs);
    gen.push(st.generatedTokens);
    evaluated.push(st.evaluatedTokens);
  }
  const med = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);
  const typical = Object.fromEntries(Object.entries(TYPICAL).map(([k, t]) => [k, llm.tokenize(t).length]));
  return {
    reading_prompt_evaluated_p50: med(evaluated.slice(1)),
    reading_first_token_p50_ms: med(firsts.slice(1)),
    reading_generated_tokens_p50: med(gen),
    reading_ms_p50: med(ms.slice(1)),
    reading_incomplete: failed,
    reading_typical_tokens_fields: typical.fields!,
    reading_typical_tokens_labels: typical.labels!,
    reading_typical_labels_est_ms: med(firsts.slice(1)) + (typical.labels! - 1) / tokensPerS * 1000,
  };
}
