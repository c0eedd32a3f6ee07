import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAiLlm } from '../../src/speech/llm/openai.js';
import { StructuredOutputError } from '../../src/speech/types.js';
import { createBusiness, type Business } from '../../src/business/index.js';
import { demoContext } from '../../src/business/context/demo.js';
import { AgentTools } from '../../src/agent/tools.js';
import { Brain } from '../../src/agent/brain.js';
import type { Store } from '../../src/store/db.js';
import { openTestStore } from '../helpers/stores.js';

const NOW = new Date('2026-11-20T18:00:00Z');

/**
 * A local server speaking the OpenAI chat completions wire format as llama-server, vLLM and Ollama
 * do: GET /v1/models, POST /v1/chat/completions with `stream: true` answered as server-sent events
 * (`data: {chunk}` lines, a usage chunk, `data: [DONE]`).
 */
describe('the OpenAI-compatible LLM client', () => {
  let server: Server;
  let base = '';
  const bodies: Record<string, unknown>[] = [];
  /** What the next completion request gets. */
  let reply: (req: IncomingMessage, res: ServerResponse) => void = () => {};
  let store: Store;
  let dispose: () => Promise<void>;
  let biz: Business;

  const chunk = (o: { content?: string; finish?: string; usage?: object; timings?: object }) =>
    `data: ${JSON.stringify({
      id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'qwen3-1.7b',
      choices: o.usage ? [] : [{ index: 0, delta: o.content !== undefined ? { content: o.content } : {}, finish_reason: o.finish ?? null }],
      ...(o.usage ? { usage: o.usage } : {}), ...(o.timings ? { timings: o.timings } : {}),
    })}\n\n`;

  function sse(res: ServerResponse, pieces: string[], finish = 'stop'): void {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const p of pieces) res.write(chunk({ content: p }));
    res.write(chunk({ finish }));
    res.write(chunk({ usage: { prompt_tokens: 120, completion_tokens: pieces.length, total_tokens: 120 + pieces.length }, timings: { prompt_n: 9 } }));
    res.end('data: [DONE]\n\n');
  }

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ object: 'list', data: [{ id: 'qwen3-1.7b', object: 'model', created: 1, owned_by: 'llamacpp' }] }));
      }
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        bodies.push(JSON.parse(body) as Record<string, unknown>);
        reply(req, res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
    ({ store, dispose } = await openTestStore('pglite'));
    biz = createBusiness(store.db, () => NOW);
    await biz.contexts.save(demoContext, 'test');
  });
  afterAll(async () => {
    server.closeAllConnections();
    server.close();
    await dispose();
  });

  it('streams a reply piece by piece, asking the model the server lists', async () => {
    reply = (_req, res) => sse(res, ['We', ' bring', ' our own', ' supplies.']);
    const llm = await OpenAiLlm.connect({ baseUrl: base });
    expect(llm.name).toBe(`OpenAI-compatible server ${base} (qwen3-1.7b)`);
    const pieces: string[] = [];
    let first: number | undefined;
    for await (const p of llm.chat([{ role: 'system', content: 'You are Sam.' }, { role: 'user', content: 'Supplies?' }], { maxTokens: 40, onFirstToken: (s) => (first = s.firstTokenMs) })) pieces.push(p);
    expect(pieces).toEqual(['We', ' bring', ' our own', ' supplies.']);
    expect(first).toBeGreaterThan(0);
    expect(bodies.at(-1)).toMatchObject({ model: 'qwen3-1.7b', stream: true, max_tokens: 40, messages: [{ role: 'system', content: 'You are Sam.' }, { role: 'user', content: 'Supplies?' }] });
    expect(llm.lastStats).toMatchObject({ promptTokens: 120, evaluatedTokens: 9, generatedTokens: 4 });
  });

  it('asks for JSON-schema output and parses it', async () => {
    reply = (_req, res) => sse(res, ['{"intent":', '"book",', '"service":"deep-clean"}']);
    const llm = await OpenAiLlm.connect({ baseUrl: base, model: 'served-name' });
    const schema = { type: 'object', properties: { intent: { enum: ['book', 'quote'] }, service: { type: 'string' } }, required: ['intent'] };
    expect(await llm.structured([{ role: 'user', content: 'book a deep clean' }], schema)).toEqual({ intent: 'book', service: 'deep-clean' });
    expect(bodies.at(-1)).toMatchObject({ model: 'served-name', response_format: { type: 'json_schema', json_schema: { schema } } });
  });

  it('refuses a structured reply cut off by the token cap', async () => {
    reply = (_req, res) => sse(res, ['{"intent":'], 'length');
    const llm = await OpenAiLlm.connect({ baseUrl: base, model: 'm' });
    await expect(llm.structured([{ role: 'user', content: 'x' }], { type: 'object' }, { maxTokens: 2 })).rejects.toThrow(StructuredOutputError);
  });

  it('an abort closes the request, so the server stops generating', async () => {
    let closed: Promise<unknown> = Promise.resolve();
    reply = (req, res) => {
      closed = once(res, 'close');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // A server that would go on for ever: one piece each time the client reads one.
      const more = () => res.write(chunk({ content: ' word' }), () => setImmediate(more));
      more();
    };
    const llm = await OpenAiLlm.connect({ baseUrl: base, model: 'm' });
    const ac = new AbortController();
    let n = 0;
    for await (const _ of llm.chat([{ role: 'user', content: 'talk' }], { signal: ac.signal })) if (++n === 3) ac.abort();
    await closed;
    expect(n).toBeGreaterThanOrEqual(3);
  });

  it('names the URL and the fix when no server answers', async () => {
    const dead = 'http://127.0.0.1:9/v1';
    await expect(OpenAiLlm.connect({ baseUrl: dead })).rejects.toThrow(`FRONTDESK_LLM_URL ${dead} does not answer GET /models`);
  });

  it('serves the agent: open questions stream from the server, and a failing server hands the turn to the guided flow', async () => {
    const llm = await OpenAiLlm.connect({ baseUrl: base });
    const context = await biz.contexts.get('sparkle-cleaning');
    const { customer } = (await biz.customers.findOrCreateByPhone('+15125550902'))!;
    const tools = new AgentTools({ business: biz, context, customer, channel: 'call' });
    const brain = new Brain(tools, { llm, conversation: 'http-1', channel: 'call', now: () => NOW });
    reply = (_req, res) => sse(res, ['Yes,', ' we bring', ' everything.']);
    const ok = await brain.respond('Do you bring your own supplies?', {});
    expect(ok.turn.by).toBe('llm');
    let said = '';
    for await (const p of ok.turn.reply as AsyncIterable<string>) said += p;
    expect(said).toBe('Yes, we bring everything.');
    expect((bodies.at(-1)!.messages as { content: string }[])[0]!.content).toContain('Deep cleaning from $220');
    reply = (_req, res) => void res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"model crashed"}}');
    const fallback = await brain.respond('Do you bring your own supplies?', {});
    expect(fallback.turn.by).toBe('guided');
    expect(fallback.turn.reply).toMatch(/bring/i);
    await brain.close();
  });
});
