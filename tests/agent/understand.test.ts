import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBusiness, type Business } from '../../src/business/index.js';
import { demoContext } from '../../src/business/context/demo.js';
import { AgentTools } from '../../src/agent/tools.js';
import { Brain } from '../../src/agent/brain.js';
import { readingPrompt, readingSchema, type LlmReading } from '../../src/agent/guided/llm-nlu.js';
import { OpenAiLlm } from '../../src/speech/llm/openai.js';
import { LlamaCppLlm } from '../../src/speech/llm/llama.js';
import { SHAPES, writeRandomLlama } from '../../scripts/model-writers/gguf.js';
import type { Llm } from '../../src/speech/types.js';
import type { Store } from '../../src/store/db.js';
import { openTestStore } from '../helpers/stores.js';

const NOW = new Date('2026-11-20T18:00:00Z'); // Friday, noon in Chicago

/**
 * With an LLM, the caller's words are read by it (intent and slots as JSON against the business's
 * own schema) and the guided flow acts on the reading with its validated tools; the rules read
 * them when the LLM fails, is slow or says nothing usable. The LLM here is a local server speaking
 * the OpenAI streaming wire format (what llama-server, vLLM and Ollama speak) with a scripted reading,
 * and a generated GGUF through llama.cpp for the grammar.
 */
describe('the LLM reads what callers want; the guided flow acts', () => {
  let store: Store;
  let dispose: () => Promise<void>;
  let biz: Business;
  let server: Server;
  let llm: OpenAiLlm;
  const bodies: Record<string, unknown>[] = [];
  let answer: (res: ServerResponse) => void = () => {};

  const sse = (res: ServerResponse, json: object) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const text = JSON.stringify(json);
    for (let i = 0; i < text.length; i += 12) res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: text.slice(i, i + 12) }, finish_reason: null }] })}\n\n`);
    res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
    res.end('data: [DONE]\n\n');
  };

  beforeAll(async () => {
    ({ store, dispose } = await openTestStore('pglite'));
    biz = createBusiness(store.db, () => NOW);
    await biz.contexts.save(demoContext, 'test');
    server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        bodies.push(JSON.parse(body) as Record<string, unknown>);
        answer(res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    llm = await OpenAiLlm.connect({ baseUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`, model: 'qwen3' });
  });
  afterAll(async () => {
    server.closeAllConnections();
    server.close();
    await dispose();
  });

  async function brain(o: { llm?: Llm; understand?: boolean; understandTimeoutMs?: number } = {}) {
    const context = await biz.contexts.get('sparkle-cleaning');
    const { customer } = (await biz.customers.findOrCreateByPhone('+15125550911'))!;
    const tools = new AgentTools({ business: biz, context, customer, channel: 'call' });
    return new Brain(tools, { llm: o.llm, conversation: `u-${Math.random()}`, channel: 'call', now: () => NOW, ...(o.understand === false ? { understand: false } : {}), ...(o.understandTimeoutMs ? { understandTimeoutMs: o.understandTimeoutMs } : {}) });
  }

  // The rules know "Tuesday", but not that scrubbing the whole house is a deep cleaning at 9.
  const SAID = 'Could somebody scrub the whole house top to bottom on Tuesday, first thing in the morning?';
  const READING: LlmReading = { r: ['book', 'deep', 'tuesday', '9am'] };

  it('books from what the LLM read: the service and the time the rules could not', async () => {
    answer = (res) => sse(res, READING);
    const b = await brain({ llm });
    const { turn, state } = await b.respond(SAID, {});
    expect(turn.by).toBe('guided');
    expect(turn.understoodBy).toBe('llm');
    expect(state.service).toBe('deep');
    // Tuesday 9:00 in Chicago is free: the flow asks the home's size (priced by bedroom), holding that start.
    expect(state.pending).toEqual({ kind: 'ask_size', start: '2026-11-24T09:00:00.000-06:00' });
    expect(turn.reply).toMatch(/how many bedrooms/);
    // The model was asked for JSON against this business's own schema: its services, the coming days, times.
    const format = bodies.at(-1)!.response_format as { json_schema: { schema: { properties: { r: { items: { enum: string[] } } } } } };
    const labels = format.json_schema.schema.properties.r.items.enum;
    expect(labels).toEqual(expect.arrayContaining(['standard', 'deep', 'move-out', 'today', 'tuesday', 'dec 10', '9am', '2:30pm', '3 bedrooms']));
    expect(labels).not.toContain('dec 11');
    // The rules alone do not get there.
    const rules = await (await brain({ llm, understand: false })).respond(SAID, {});
    expect(rules.state.service).toBeUndefined();
    await b.close();
  });

  it('the rules read the turn when the server fails, and when it is too slow', async () => {
    const rules = await (await brain()).respond(SAID, {});
    answer = (res) => void res.writeHead(500).end('{"error":{"message":"out of memory"}}');
    const failed = await (await brain({ llm })).respond(SAID, {});
    expect(failed.turn.understoodBy).toBeUndefined();
    expect(failed.turn.reply).toBe(rules.turn.reply);
    // A server that never answers: the rules answer once the deadline passes.
    answer = () => {};
    const slow = await (await brain({ llm, understandTimeoutMs: 200 })).respond(SAID, {});
    expect(slow.turn.understoodBy).toBeUndefined();
    expect(slow.turn.reply).toBe(rules.turn.reply);
  });

  it('a reading that names nothing usable leaves the turn to the rules', async () => {
    answer = (res) => sse(res, { r: [] });
    const rules = await (await brain()).respond('How much is a deep cleaning for three bedrooms?', {});
    const r = await (await brain({ llm })).respond('How much is a deep cleaning for three bedrooms?', {});
    expect(r.turn.understoodBy).toBeUndefined();
    expect(r.turn.reply).toBe(rules.turn.reply);
    expect(r.turn.reply).toMatch(/\$\d+/);
  });

  it('the grammar holds a model to the schema: even random weights name only real services, days and times', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fd-understand-'));
    await writeRandomLlama(join(dir, 'tiny.gguf'), SHAPES.tiny);
    const local = await LlamaCppLlm.load({ model: join(dir, 'tiny.gguf'), sequences: 1, contextPerSequence: 2048, threads: 1 });
    let read = 0;
    try {
      const ctx = (await biz.contexts.get('sparkle-cleaning')).document;
      const schema = readingSchema(ctx, NOW) as { properties: { r: { items: { enum: string[] }; maxItems: number } } };
      for (let i = 0; i < 1; i++) {
        const r = await local.structured<LlmReading>(readingPrompt(ctx, NOW, {}, SAID), schema, { maxTokens: 400 });
        read++;
        expect(Array.isArray(r.r)).toBe(true);
        expect(r.r.length).toBeLessThanOrEqual(schema.properties.r.maxItems);
        for (const label of r.r) expect(schema.properties.r.items.enum).toContain(label);
      }
      expect(read).toBe(1);
    } finally {
      await local.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
