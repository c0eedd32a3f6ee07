import OpenAI from 'openai';
import { parseStructured, StructuredOutputError, type ChatMessage, type Llm, type LlmChatOptions, type LlmTurnStats } from '../types.js';

/**
 * An LLM behind an OpenAI-compatible chat completions server — llama.cpp's llama-server, vLLM,
 * Ollama — so one GPU box can serve many frontdesk nodes. Replies stream (server-sent events),
 * an abort closes the request, and structured output is the server's JSON-schema mode
 * (`response_format: json_schema`, which llama-server and vLLM turn into a grammar).
 *
 * The server keeps prefixes itself (llama-server's prompt cache, vLLM's prefix caching), so
 * prefill, warm and release have nothing to do here.
 */

export const openAiLlmDefaults = {
  /** A request the server has not answered within this long fails, ms (the brain's own first-token deadline is shorter). */
  timeoutMs: 30_000,
  /** Reply cap when the caller gives none, tokens. */
  maxTokens: 60,
  temperature: 0.3,
} as const satisfies Record<string, number>;

export interface OpenAiLlmOptions {
  /** The server's OpenAI API base, e.g. http://gpu-box:8080/v1 (llama-server) or http://host:11434/v1 (Ollama). */
  baseUrl: string;
  apiKey?: string | undefined;
  /** The model name to ask for; default: the first one the server lists. */
  model?: string | undefined;
  timeoutMs?: number | undefined;
}

export class OpenAiLlm implements Llm {
  readonly name: string;
  lastStats: LlmTurnStats | undefined;

  private constructor(private readonly client: OpenAI, private readonly model: string, baseUrl: string) {
    this.name = `OpenAI-compatible server ${baseUrl} (${model})`;
  }

  private static client(o: OpenAiLlmOptions): OpenAI {
    // No retries: a caller is waiting, and the guided flow answers if the server is slow.
    return new OpenAI({ baseURL: o.baseUrl, apiKey: o.apiKey ?? 'none', timeout: o.timeoutMs ?? openAiLlmDefaults.timeoutMs, maxRetries: 0 });
  }

  /** The models the server serves; fails with the URL and the fix when it does not answer. */
  static async models(o: OpenAiLlmOptions): Promise<string[]> {
    try {
      return (await OpenAiLlm.client(o).models.list()).data.map((m) => m.id);
    } catch (e) {
      throw new Error(`FRONTDESK_LLM_URL ${o.baseUrl} does not answer GET /models (${(e as Error).message}); start the server or fix the URL (it ends in /v1)`);
    }
  }

  /** A client for the named model, or the first one the server lists. */
  static async connect(o: OpenAiLlmOptions): Promise<OpenAiLlm> {
    const model = o.model ?? (await OpenAiLlm.models(o))[0];
    if (!model) throw new Error(`FRONTDESK_LLM_URL ${o.baseUrl} lists no model; load one, or name it with FRONTDESK_LLM_SERVER_MODEL`);
    return new OpenAiLlm(OpenAiLlm.client(o), model, o.baseUrl);
  }

  async *chat(messages: readonly ChatMessage[], opts: LlmChatOptions = {}): AsyncIterable<string> {
    const t0 = performance.now();
    const stats: LlmTurnStats = { promptTokens: 0, evaluatedTokens: 0, generatedTokens: 0, firstTokenMs: 0, totalMs: 0 };
    this.lastStats = stats;
    const stream = await this.client.chat.completions.create(
      {
        model: this.model,
        messages: messages.map((m) => ({ role: m.role === 'tool' ? 'user' : m.role, content: m.content })),
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: opts.maxTokens ?? openAiLlmDefaults.maxTokens,
        temperature: openAiLlmDefaults.temperature,
        ...(opts.schema ? { response_format: { type: 'json_schema' as const, json_schema: { name: 'reply', schema: opts.schema as Record<string, unknown>, strict: true } } } : {}),
      },
      opts.signal ? { signal: opts.signal } : {},
    );
    let finish: string | null | undefined;
    try {
      for await (const chunk of stream as AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
        if (chunk.usage) {
          stats.promptTokens = chunk.usage.prompt_tokens;
          stats.generatedTokens = chunk.usage.completion_tokens;
          // llama-server says how much of the prompt it evaluated (the rest came from its cache).
          const timings = (chunk as { timings?: { prompt_n?: number } }).timings;
          stats.evaluatedTokens = timings?.prompt_n ?? chunk.usage.prompt_tokens;
        }
        const choice = chunk.choices[0];
        if (!choice) continue;
        finish = choice.finish_reason ?? finish;
        const piece = choice.delta?.content;
        if (!piece) continue;
        if (!stats.firstTokenMs) {
          stats.firstTokenMs = performance.now() - t0;
          opts.onFirstToken?.({ ...stats });
        }
        yield piece;
      }
    } catch (e) {
      // Aborted by the caller: end quietly, as the in-process model does.
      if (opts.signal?.aborted) return;
      throw e;
    } finally {
      // Closed early (barge-in, a discarded answer): end the request so the server stops generating.
      stream.controller.abort();
      stats.totalMs = performance.now() - t0;
    }
    if (opts.schema && finish === 'length') throw new StructuredOutputError(`the reply did not complete its schema within ${opts.maxTokens ?? openAiLlmDefaults.maxTokens} tokens`);
  }

  async structured<T>(messages: readonly ChatMessage[], schema: object, opts: Omit<LlmChatOptions, 'schema'> = {}): Promise<T> {
    return parseStructured<T>(this.chat(messages, { ...opts, schema }));
  }

  async prefill(): Promise<void> {}
  async warm(): Promise<void> {}
  async release(): Promise<void> {}
  async close(): Promise<void> {}
}
