/** The engine interfaces the agent depends on; implementations live in vad/, stt/, tts/, llm/. */

export interface VadEvent {
  type: 'speech_start' | 'speech_end';
  /** Milliseconds of audio fed so far when the event was decided. */
  atMs: number;
  /** Speech probability of the window that decided it. */
  probability: number;
  /** speech_end: the silence the VAD heard before deciding (its hang-over), ms: speech ended this long before `atMs`. */
  silenceMs?: number;
}

export interface Vad {
  readonly name: string;
  /** Feeds one frame (any size) at `sampleRate`; returns the events it decided. */
  accept(pcm: Int16Array, sampleRate: number): VadEvent[];
  /** True while in speech. */
  readonly speaking: boolean;
  reset(): void;
  close(): void;
}

export interface SttHypothesis {
  text: string;
  final: boolean;
  /** Audio time of the hypothesis, ms since the utterance started. */
  startMs: number;
  endMs: number;
}

export interface SttStream {
  accept(pcm: Int16Array, sampleRate: number): void;
  /** Latest partial hypothesis ('' if none). */
  partial(): string;
  /** Ends the utterance; resolves the final hypothesis. */
  finish(): Promise<SttHypothesis>;
  close(): void;
}

export interface Stt {
  readonly name: string;
  /** A stream for one utterance; `hints` are words the context expects (services, days, names). */
  stream(hints?: readonly string[]): SttStream;
  /** Gets ready for utterances with these hints (language model, loaded decoders) without waiting for the first one. */
  prepare?(hints?: readonly string[]): Promise<void>;
  close(): void;
}

/** A semantic end-of-turn model's verdict on what the caller has said so far. */
export interface TurnVerdict {
  /** The caller has finished their turn (probability above the model's threshold). */
  complete: boolean;
  probability: number;
}

export interface TurnDetector {
  readonly name: string;
  /** Judges the caller's audio, the newest last (the model reads its last few seconds). */
  decide(pcm: Int16Array, sampleRate: number): Promise<TurnVerdict>;
  close(): void;
}

export interface TtsChunk {
  pcm: Int16Array;
  sampleRate: number;
}

export interface Tts {
  readonly name: string;
  /** Streams audio for `text`; aborting the signal stops synthesis within one chunk. */
  synthesize(text: string, opts?: { signal?: AbortSignal }): AsyncIterable<TtsChunk>;
  close(): void;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
}

/** What one LLM turn cost, for the latency records and benchmarks. */
export interface LlmTurnStats {
  promptTokens: number;
  /** Prompt tokens actually evaluated (the rest were reused from an earlier turn's state). */
  evaluatedTokens: number;
  generatedTokens: number;
  firstTokenMs: number;
  totalMs: number;
}

export interface LlmChatOptions {
  signal?: AbortSignal | undefined;
  maxTokens?: number | undefined;
  /** A JSON schema the reply must follow: generation is grammar-constrained, so it always parses. */
  schema?: object | undefined;
  /** Which conversation this is (a call or an SMS thread): its evaluated prefix is kept for the next turn. */
  conversation?: string | undefined;
  /** Called once the first reply token is in, with what the prompt cost. */
  onFirstToken?: ((s: LlmTurnStats) => void) | undefined;
}

/**
 * The language model the agent talks to: in-process (llm/llama.ts, node-llama-cpp) or an
 * OpenAI-compatible server (llm/openai.ts: llama-server, vLLM, Ollama). The agent depends on this
 * interface only.
 */
export interface Llm {
  readonly name: string;
  /** Streams reply tokens; abort stops generation. */
  chat(messages: readonly ChatMessage[], opts?: LlmChatOptions): AsyncIterable<string>;
  /** A whole reply that follows `schema`, parsed (throws StructuredOutputError when it cannot). */
  structured<T>(messages: readonly ChatMessage[], schema: object, opts?: Omit<LlmChatOptions, 'schema'>): Promise<T>;
  /**
   * Work ahead of a turn: evaluate `messages` now so the turn only pays for what is new (`open`:
   * the last message is a partial transcript still growing; `onlyIfFree`: never queue behind
   * other conversations). A server that caches prefixes itself may do nothing.
   */
  prefill(messages: readonly ChatMessage[], conversation: string, opts?: { open?: boolean; onlyIfFree?: boolean }): Promise<void>;
  /** Evaluates a prefix every conversation starts with (a business's system prompt) ahead of time. */
  warm(messages: readonly ChatMessage[]): Promise<void>;
  /** The conversation is over; what it evaluated of `keep` (its system prompt) may serve the next one. */
  release(conversation: string, keep?: readonly ChatMessage[]): Promise<void>;
  close(): Promise<void>;
}

export class StructuredOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StructuredOutputError';
  }
}

/** The text of a schema-constrained reply, parsed: one reading of it for every `Llm`. */
export async function parseStructured<T>(tokens: AsyncIterable<string>): Promise<T> {
  let text = '';
  for await (const t of tokens) text += t;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new StructuredOutputError(`the reply is not JSON: ${text.slice(0, 200)}`);
  }
}
