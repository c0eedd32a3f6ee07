import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHAPES, writeRandomLlama } from '../../scripts/model-writers/gguf.js';
import { LlamaCppLlm, StructuredOutputError } from '../../src/speech/llm/llama.js';
import type { ChatMessage } from '../../src/speech/types.js';

/**
 * The neural LLM path on a generated model: a real GGUF (llama layout, Q8_0, ChatML tokens) with
 * random weights, loaded and run by llama.cpp exactly as a downloaded model would be.
 */
describe('local LLM through node-llama-cpp (generated model)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-llm-'));
  let llm: LlamaCppLlm;
  const system: ChatMessage = { role: 'system', content: `You are Sam at Sparkle and Shine Cleaning. ${'Standard cleaning is $120. Deep cleaning is $220. '.repeat(8)}` };

  beforeAll(async () => {
    const path = join(dir, 'tiny.gguf');
    await writeRandomLlama(path, SHAPES.tiny);
    // One thread in every test: llama.cpp's threads spin-wait on each other at each token, and on a busy
    // two-core machine two of them took 85 s for what one does in 0.5 s.
    llm = await LlamaCppLlm.load({ model: path, sequences: 2, contextPerSequence: 1024, threads: 1 });
  });
  afterAll(async () => {
    await llm?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('streams a reply token by token and stops at the cap', async () => {
    const chunks: string[] = [];
    for await (const t of llm.chat([system, { role: 'user', content: 'How much is a deep cleaning?' }], { maxTokens: 12 })) chunks.push(t);
    expect(chunks.length).toBeGreaterThan(1);
    expect(llm.lastStats!.generatedTokens).toBeLessThanOrEqual(12);
    expect(llm.lastStats!.firstTokenMs).toBeGreaterThan(0);
  });

  it('stops within one token when the caller barges in (abort)', async () => {
    const ac = new AbortController();
    let n = 0;
    let atAbort = 0;
    for await (const _ of llm.chat([system, { role: 'user', content: 'Tell me everything.' }], { maxTokens: 200, signal: ac.signal })) {
      if (++n === 3) {
        // Tokens so far (some add no text of their own: half a multi-byte character).
        atAbort = llm.lastStats!.generatedTokens;
        ac.abort();
      }
    }
    expect(n).toBe(3);
    expect(llm.lastStats!.generatedTokens - atAbort).toBeLessThanOrEqual(1);
  });

  it('work ahead of a turn skips when other calls hold every sequence, and fills in what the turn then reuses', async () => {
    const user = { role: 'user' as const, content: 'Do you clean offices on the weekend?' };
    // Two calls hold both sequences.
    await llm.prefill([system], 'busy-a');
    await llm.prefill([system], 'busy-b');
    try {
      // A third call's look-ahead does not wait for them (a wait here would hang the test).
      await llm.prefill([system, user], 'third', { open: true, onlyIfFree: true });
      await llm.release('busy-a');
      // With a sequence free, the look-ahead evaluates the words so far: the turn only adds its
      // last token and the closing of the message.
      await llm.prefill([system, user], 'third', { open: true, onlyIfFree: true });
      for await (const _ of llm.chat([system, user], { conversation: 'third', maxTokens: 2 })) { /* drain */ }
      const ending = llm.tokenize('<|im_end|>\n').length + llm.tokenize('<|im_start|>assistant\n').length;
      expect(llm.lastStats!.evaluatedTokens).toBe(ending + 1);
    } finally {
      await llm.release('third');
      await llm.release('busy-a');
      await llm.release('busy-b');
    }
  });

  it('reuses the evaluated system prompt and history on the next turn of a conversation', async () => {
    const turn1: ChatMessage[] = [system, { role: 'user', content: 'Hi there.' }];
    let reply = '';
    for await (const t of llm.chat(turn1, { conversation: 'call-1', maxTokens: 8 })) reply += t;
    const first = llm.lastStats!;
    expect(first.evaluatedTokens).toBe(first.promptTokens);
    for await (const _ of llm.chat([...turn1, { role: 'assistant', content: reply }, { role: 'user', content: 'And on friday?' }], { conversation: 'call-1', maxTokens: 8 })) { /* drain */ }
    const second = llm.lastStats!;
    expect(second.promptTokens).toBeGreaterThan(first.promptTokens);
    // Only the new turn is read: far fewer tokens than the whole prompt.
    expect(second.evaluatedTokens).toBeLessThan(second.promptTokens / 3);
    await llm.release('call-1', first.promptTokens - 8);
  });

  it('the next call of the same business starts from the evaluated system prompt', async () => {
    for await (const _ of llm.chat([system, { role: 'user', content: 'Hello?' }], { conversation: 'call-2', maxTokens: 4 })) { /* drain */ }
    const s = llm.lastStats!;
    expect(s.evaluatedTokens).toBeLessThan(s.promptTokens / 3);
    await llm.release('call-2');
  });

  it('a prefill on the partial transcript leaves the turn only what the final changed', async () => {
    const final: ChatMessage[] = [system, { role: 'user', content: 'Do you bring your own supplies?' }];
    const turn = async (conversation: string) => {
      for await (const _ of llm.chat(final, { conversation, maxTokens: 4 })) { /* drain */ }
      await llm.release(conversation, llm.messageTokens([system]));
      return llm.lastStats!.evaluatedTokens;
    };
    const cold = await turn('call-3');
    await llm.prefill([system, { role: 'user', content: 'Do you bring your own' }], 'call-4');
    const prefilled = await turn('call-4');
    // Only "supplies?" and the reply header are left once the partial has been read.
    expect(prefilled).toBeLessThan(cold - 10);
  });

  it('serves two conversations at once from one loaded model', async () => {
    const run = async (id: string) => {
      let text = '';
      for await (const t of llm.chat([system, { role: 'user', content: `Caller ${id}` }], { conversation: id, maxTokens: 10 })) text += t;
      await llm.release(id);
      return text;
    };
    const [a, b] = await Promise.all([run('a'), run('b')]);
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);
  });

  it('returns schema-valid structured output, even from a model with random weights', async () => {
    const schema = {
      type: 'object',
      properties: {
        intent: { enum: ['book', 'quote', 'cancel', 'message', 'transfer'] },
        day: { enum: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday'] },
        bedrooms: { enum: [1, 2, 3, 4] },
      },
      required: ['intent', 'day', 'bedrooms'],
    };
    for (let i = 0; i < 3; i++) {
      const out = await llm.structured<{ intent: string; day: string; bedrooms: number }>([system, { role: 'user', content: 'Book me a deep clean on friday, three bedrooms.' }], schema, { maxTokens: 80 });
      expect(['book', 'quote', 'cancel', 'message', 'transfer']).toContain(out.intent);
      expect(['monday', 'tuesday', 'wednesday', 'thursday', 'friday']).toContain(out.day);
      expect([1, 2, 3, 4]).toContain(out.bedrooms);
    }
  });

  it("a turn's reading (no conversation) leaves its system prompt evaluated for the next reading", async () => {
    const reader: ChatMessage = { role: 'system', content: `You read what a customer said and reply with JSON only. ${'Services: standard, deep, move-out; days: today, tomorrow, a weekday; times like 9am. '.repeat(4)}` };
    const schema = { type: 'object', properties: { r: { type: 'array', items: { enum: ['book', 'quote', 'deep', 'tuesday', '9am'] }, maxItems: 3 } }, required: ['r'] };
    await llm.structured([reader, { role: 'user', content: 'Book a deep clean on tuesday.' }], schema, { maxTokens: 40 }).catch(() => {});
    expect(llm.lastStats!.evaluatedTokens).toBeGreaterThan(llm.lastStats!.promptTokens / 2);
    await llm.structured([reader, { role: 'user', content: 'How much is it?' }], schema, { maxTokens: 40 }).catch(() => {});
    expect(llm.lastStats!.evaluatedTokens).toBeLessThan(llm.lastStats!.promptTokens / 3);
  });

  it('says so when structured output cannot finish within the cap (the agent then falls back)', async () => {
    const schema = { type: 'object', properties: { reply: { type: 'string' } }, required: ['reply'] };
    await expect(llm.structured([system, { role: 'user', content: 'Hi' }], schema, { maxTokens: 3 })).rejects.toThrow(StructuredOutputError);
  });

  it("speaks each model's own chat template, read from the GGUF", async () => {
    expect(llm.template).toBe('ChatML');
    // A Gemma-style file: no ChatML anywhere, and llama.cpp is prompted in its turn markers.
    const gemma = "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'assistant' %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}";
    const path = join(dir, 'gemma-style.gguf');
    await writeRandomLlama(path, { ...SHAPES.tiny, chatTemplate: gemma });
    const other = await LlamaCppLlm.load({ model: path, sequences: 1, contextPerSequence: 512, threads: 1 });
    try {
      expect(other.template).not.toBe('ChatML');
      const marker = other.tokenize('<start_of_turn>').length;
      // The prompt is the template's: the system prompt plus the turn markers, not ChatML's.
      const n = other.messageTokens([{ role: 'system', content: 'Hi' }, { role: 'user', content: 'Hello' }]);
      expect(n).toBeGreaterThan(2 * marker);
      let text = '';
      for await (const t of other.chat([{ role: 'user', content: 'Hello' }], { maxTokens: 4 })) text += t;
      expect(other.lastStats!.generatedTokens).toBeGreaterThan(0);
    } finally {
      await other.close();
    }
  });

  it("runs Qwen3's own architecture in Q4_K_M: q/k norms, heads wider than width / heads, tied embeddings (the 1.7B and 4B shapes)", async () => {
    const path = join(dir, 'qwen3-style.gguf');
    // 4 heads of 128 on a 256-wide model, as Qwen3-4B has 32 heads of 128 on 2560; K-quant blocks.
    const bytes = await writeRandomLlama(path, SHAPES['tiny-qwen3']);
    // Q4_K for most matrices, Q6_K for the tied embedding and the favoured layers: between 4.5 and 6.6 bits a weight.
    const weights = 1024 * 256 + 2 * (256 * 512 * 2 + 256 * 256 * 2 + 2 * 256 * 512 + 512 * 256);
    expect(bytes * 8 / weights).toBeGreaterThan(4.5);
    expect(bytes * 8 / weights).toBeLessThan(8);
    const other = await LlamaCppLlm.load({ model: path, sequences: 1, contextPerSequence: 512, threads: 1 });
    try {
      for await (const _ of other.chat([{ role: 'user', content: 'Hello' }], { maxTokens: 3 })) { /* drain */ }
      expect(other.lastStats!.generatedTokens).toBeGreaterThan(0);
    } finally {
      await other.close();
    }
    expect(SHAPES['qwen3-1.7b']).toMatchObject({ arch: 'qwen3', quant: 'q4_k_m', vocab: 151936, embd: 2048, layers: 28, heads: 16, headsKv: 8, headDim: 128, ff: 6144, tiedEmbeddings: true });
  });

  it('refuses a missing model file with the command that fetches it', async () => {
    await expect(LlamaCppLlm.load({ model: join(dir, 'nope.gguf') })).rejects.toThrow(/nope\.gguf is missing; run `npm run models`/);
  });
});
