import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import type { ChatHistoryItem, ChatWrapper, Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { parseStructured, StructuredOutputError, type ChatMessage, type Llm, type LlmChatOptions, type LlmTurnStats } from '../types.js';
import { ModelMissingError } from '../vad/silero.js';

/**
 * A local LLM through node-llama-cpp (llama.cpp), CPU only. One loaded model serves several calls:
 * each conversation gets a sequence of one shared context. A sequence keeps what it has evaluated,
 * so a turn only evaluates what is new since the common prefix (the system prompt and earlier
 * turns are not re-read), and a finished call's sequence goes back to a pool with its system
 * prompt still evaluated for the next call of the same business.
 *
 * We drive sequences directly rather than through LlamaChatSession: its per-token bookkeeping
 * cost more than the model itself on small models. The prompt format is the model's own: the chat
 * wrapper node-llama-cpp resolves from the GGUF (its Jinja template, architecture and name), so
 * Qwen3, Llama 3.x and Gemma 3 files work; Qwen3's thinking is turned off (a spoken turn cannot
 * wait for it).
 */

export const llamaDefaults = {
  /** Conversations served at once by one loaded model. */
  sequences: 4,
  /** Tokens per conversation (system prompt + history + reply). */
  contextPerSequence: 2048,
  /** Reply cap when the caller gives none: a spoken turn is a sentence or two. */
  maxTokens: 60,
  temperature: 0.3,
} as const;

export interface LlamaOptions {
  model: string;
  sequences?: number;
  contextPerSequence?: number;
  threads?: number;
}

export type ChatOptions = LlmChatOptions;
/** What the last turn cost, for the latency records and benchmarks. */
export type TurnStats = LlmTurnStats;
export { StructuredOutputError };

export class LlamaCppLlm implements Llm {
  readonly name: string;
  lastStats: TurnStats | undefined;
  private llama!: Llama;
  private model!: LlamaModel;
  private wrapper!: ChatWrapper;
  private context!: LlamaContext;
  private readonly idle: LlamaContextSequence[] = [];
  private readonly busy = new Map<string, LlamaContextSequence>();
  private waiters: ((s: LlamaContextSequence) => void)[] = [];

  private constructor(private readonly o: LlamaOptions) {
    this.name = `llama.cpp (${o.model.split('/').at(-1)})`;
  }

  static async load(o: LlamaOptions): Promise<LlamaCppLlm> {
    if (!existsSync(o.model)) throw new ModelMissingError(o.model);
    const self = new LlamaCppLlm(o);
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    self.llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    self.model = await self.llama.loadModel({ modelPath: o.model });
    const { resolveChatWrapper } = await import('node-llama-cpp');
    self.wrapper = resolveChatWrapper(self.model, { customWrapperSettings: { qwen: { thoughts: 'discourage' } }, warningLogs: false });
    const n = o.sequences ?? llamaDefaults.sequences;
    self.context = await self.model.createContext({
      sequences: n,
      contextSize: n * (o.contextPerSequence ?? llamaDefaults.contextPerSequence),
      // None given: all cores but one (at least 1, at most 4: more spin-waiting threads starve the
      // calls' recognition and voices); the core left stays free for the calls' media.
      threads: o.threads || Math.min(4, Math.max(1, availableParallelism() - 1)),
    });
    for (let i = 0; i < n; i++) self.idle.push(self.context.getSequence());
    return self;
  }

  /** A sequence for `conversation`: its own if it has one, else the idle one sharing the longest prefix. */
  private async acquire(conversation: string, tokens: Token[]): Promise<LlamaContextSequence> {
    const own = this.busy.get(conversation);
    if (own) return own;
    let seq: LlamaContextSequence;
    if (this.idle.length) {
      let best = 0;
      for (let i = 1; i < this.idle.length; i++) if (common(this.idle[i]!.contextTokens, tokens) > common(this.idle[best]!.contextTokens, tokens)) best = i;
      seq = this.idle.splice(best, 1)[0]!;
    } else {
      seq = await new Promise((r) => this.waiters.push(r));
    }
    this.busy.set(conversation, seq);
    return seq;
  }

  /** The conversation is over: its sequence keeps only what the next one can reuse. */
  async release(conversation: string, keepTokens?: number | readonly ChatMessage[]): Promise<void> {
    const seq = this.busy.get(conversation);
    if (!seq) return;
    this.busy.delete(conversation);
    this.generated.delete(conversation);
    const keep = typeof keepTokens === 'number' ? keepTokens : keepTokens ? this.messageTokens(keepTokens) : 0;
    if (seq.nextTokenIndex > keep) await seq.eraseContextTokenRanges([{ start: keep, end: seq.nextTokenIndex }]);
    const w = this.waiters.shift();
    if (w) w(seq);
    else this.idle.push(seq);
  }

  /**
   * Evaluates a prompt prefix (a business's system prompt) into an idle sequence ahead of time, so
   * the first caller of the day does not pay for it. Warm one prefix per sequence at most.
   */
  async warm(messages: readonly ChatMessage[]): Promise<void> {
    const conversation = `warm-${Math.random()}`;
    await this.prefill(messages, conversation);
    await this.release(conversation, this.messageTokens(messages));
  }

  tokenize(text: string): Token[] {
    return this.model.tokenize(text, true);
  }

  /** Each conversation's replies as generated (text → tokens): re-tokenizing text is not an identity. */
  private readonly generated = new Map<string, Map<string, Token[]>>();

  /** The chat wrapper's name (which template the GGUF resolved to). */
  get template(): string {
    return this.wrapper.wrapperName;
  }

  /** How many tokens `messages` take at the start of a prompt (what a released sequence can keep). */
  messageTokens(messages: readonly ChatMessage[], conversation = ''): number {
    // Where the prompt for `messages` and one with a further turn part ways: no template knowledge needed.
    return common(this.promptTokens(messages, conversation), this.promptTokens([...messages, { role: 'user', content: '.' }], conversation));
  }

  /**
   * The prompt in the model's own chat template, ending where the reply starts. Each piece of the
   * template is tokenized on its own, so a conversation's earlier turns tokenize the same every
   * time, and the model's own replies keep the tokens it produced: the prefix matches. Message
   * text is never read as control tokens (a texter typing "<|im_end|>" stays text).
   */
  private promptTokens(messages: readonly ChatMessage[], conversation: string): Token[] {
    const history: ChatHistoryItem[] = messages.map((m): ChatHistoryItem => (m.role === 'system'
      ? { type: 'system', text: m.content }
      : m.role === 'assistant' ? { type: 'model', response: [m.content] } : { type: 'user', text: m.content }));
    history.push({ type: 'model', response: [] });
    const { contextText } = this.wrapper.generateContextState({ chatHistory: history });
    const mine = this.generated.get(conversation);
    const out: Token[] = [];
    for (const v of contextText.values) {
      if (typeof v === 'string') out.push(...(mine?.get(v) ?? this.model.tokenize(v, false)));
      else out.push(...v.tokenize(this.model.tokenizer));
    }
    return out;
  }

  /** Where the open last message's text stops being certain: the next words may retokenize its last token. */
  private openEnd(messages: readonly ChatMessage[], conversation: string): number {
    const last = messages.at(-1)!;
    const more = [...messages.slice(0, -1), { ...last, content: `${last.content} zq` }];
    return common(this.promptTokens(messages, conversation), this.promptTokens(more, conversation)) - 1;
  }

  /** One evaluation at a time per conversation (a prefill and the turn it prepares). */
  private readonly locks = new Map<string, Promise<void>>();

  private async lock(conversation: string): Promise<() => void> {
    const prev = this.locks.get(conversation) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const chained = prev.then(() => mine);
    this.locks.set(conversation, chained);
    await prev;
    return () => {
      release();
      if (this.locks.get(conversation) === chained) this.locks.delete(conversation);
    };
  }

  /**
   * Evaluates a prompt ahead of its turn (a business's system prompt at start, or a turn's prompt
   * from a partial transcript, `open`): the turn then only evaluates what changed. Prefilling
   * once at the caller's end of speech did not pay (the final transcript came ~70 ms later and
   * the two competed for the cores); prefilling as a streaming recognizer's partials grow, while
   * the caller talks, does.
   */
  async prefill(messages: readonly ChatMessage[], conversation: string, opts: { open?: boolean; onlyIfFree?: boolean } = {}): Promise<void> {
    const unlock = await this.lock(conversation);
    try {
      // Work ahead of a turn never queues for a sequence other calls hold: it would only delay
      // this call's own turn (and its hang-up) behind theirs.
      if (opts.onlyIfFree && !this.busy.has(conversation) && this.idle.length === 0) return;
      const tokens = this.promptTokens(messages, conversation);
      // Up to the reply header, or for an open last message (words still coming) up to before its
      // last token, which the next words may tokenize differently.
      const end = opts.open ? this.openEnd(messages, conversation) : this.messageTokens(messages, conversation);
      const upTo = tokens.slice(0, end);
      const seq = await this.acquire(conversation, upTo);
      const keep = common(seq.contextTokens, upTo);
      if (seq.nextTokenIndex > keep) await seq.eraseContextTokenRanges([{ start: keep, end: seq.nextTokenIndex }]);
      if (keep < upTo.length) await seq.evaluateWithoutGeneratingNewTokens(upTo.slice(keep));
    } finally {
      unlock();
    }
  }

  async *chat(messages: readonly ChatMessage[], opts: ChatOptions = {}): AsyncIterable<string> {
    const t0 = performance.now();
    const conversation = opts.conversation ?? `anon-${Math.random()}`;
    const unlock = await this.lock(conversation);
    const tokens = this.promptTokens(messages, conversation);
    let seq: LlamaContextSequence;
    try {
      seq = await this.acquire(conversation, tokens);
    } catch (e) {
      unlock();
      throw e;
    }
    try {
      // Keep the shared prefix; drop what diverges (an earlier reply cut short, another caller's turn).
      const keep = common(seq.contextTokens, tokens);
      if (seq.nextTokenIndex > keep) await seq.eraseContextTokenRanges([{ start: keep, end: seq.nextTokenIndex }]);
      const fresh = tokens.slice(keep);
      if (!fresh.length) {
        // The whole prompt is cached; re-evaluate its last token to get logits for the first reply token.
        await seq.eraseContextTokenRanges([{ start: keep - 1, end: keep }]);
        fresh.push(tokens[keep - 1]!);
      }
      const stats: TurnStats = { promptTokens: tokens.length, evaluatedTokens: fresh.length, generatedTokens: 0, firstTokenMs: 0, totalMs: 0 };
      this.lastStats = stats;
      const grammar = opts.schema ? await this.llama.createGrammarForJsonSchema(opts.schema as never) : undefined;
      const { LlamaGrammarEvaluationState } = await import('node-llama-cpp');
      const grammarEvaluationState = grammar ? new LlamaGrammarEvaluationState({ model: this.model, grammar }) : undefined;
      const max = opts.maxTokens ?? llamaDefaults.maxTokens;
      const out: Token[] = [];
      let text = '';
      let finished = false;
      for await (const tok of seq.evaluate(fresh, { temperature: llamaDefaults.temperature, ...(grammarEvaluationState ? { grammarEvaluationState } : {}) })) {
        if (opts.signal?.aborted) break;
        stats.generatedTokens++;
        if (stats.generatedTokens === 1) {
          stats.firstTokenMs = performance.now() - t0;
          opts.onFirstToken?.({ ...stats });
        }
        out.push(tok);
        const next = this.model.detokenize(out);
        // Hold back a partial multi-byte character until it completes.
        if (!next.endsWith('\uFFFD') && next.length > text.length) {
          const delta = next.slice(text.length);
          text = next;
          yield delta;
        }
        if (out.length >= max) break;
      }
      finished = !opts.signal?.aborted && out.length < max;
      if (opts.conversation) {
        let mine = this.generated.get(conversation);
        if (!mine) this.generated.set(conversation, (mine = new Map()));
        mine.set(text, out);
      }
      stats.totalMs = performance.now() - t0;
      if (grammar && !finished) {
        throw new StructuredOutputError(opts.signal?.aborted ? 'aborted' : `the reply did not complete its schema within ${max} tokens`);
      }
    } finally {
      unlock();
      // An anonymous request (a turn's reading) leaves its system prompt evaluated for the next one.
      if (!opts.conversation) await this.release(conversation, messages[0]?.role === 'system' ? [messages[0]] : 0);
    }
  }

  /** A whole reply that follows `schema`, parsed. */
  async structured<T>(messages: readonly ChatMessage[], schema: object, opts: Omit<ChatOptions, 'schema'> = {}): Promise<T> {
    return parseStructured<T>(this.chat(messages, { ...opts, schema }));
  }

  async close(): Promise<void> {
    await this.context?.dispose();
    await this.model?.dispose();
  }
}

function common(a: readonly Token[], b: readonly Token[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
