/** The engine interfaces the agent depends on; implementations live in vad/, stt/, tts/, llm/. */

export interface VadEvent {
  type: 'speech_start' | 'speech_end';
  /** Milliseconds of audio fed so far when the event was decided. */
  atMs: number;
  /** Speech probability of the window that decided it. */
  probability: number;
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

export interface Llm {
  readonly name: string;
  /** Streams reply tokens; abort stops generation. */
  chat(messages: readonly ChatMessage[], opts?: { signal?: AbortSignal; maxTokens?: number }): AsyncIterable<string>;
  close(): Promise<void>;
}
