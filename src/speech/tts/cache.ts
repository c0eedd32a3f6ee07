import type { Tts, TtsChunk } from '../types.js';

/**
 * Fixed phrases (greeting, fillers, prompts) rendered once and replayed from memory. Callers asking
 * for a phrase that is being rendered share that render: fifty calls arriving at once hear one
 * synthesis of the greeting, not fifty (each a process to fork while the media clock waits).
 */
export class CachedTts implements Tts {
  readonly name: string;
  private readonly cache = new Map<string, TtsChunk[]>();
  private readonly rendering = new Map<string, Promise<TtsChunk[] | undefined>>();

  constructor(private readonly inner: Tts, private readonly maxEntries = 200) {
    this.name = `${inner.name}+cache`;
  }

  has(text: string): boolean {
    return this.cache.has(text);
  }

  async warm(texts: readonly string[]): Promise<void> {
    for (const t of texts) {
      if (this.cache.has(t)) continue;
      const chunks: TtsChunk[] = [];
      for await (const c of this.inner.synthesize(t)) chunks.push(c);
      this.put(t, chunks);
    }
  }

  private put(text: string, chunks: TtsChunk[]): void {
    if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(text, chunks);
  }

  async *synthesize(text: string, opts: { signal?: AbortSignal } = {}): AsyncIterable<TtsChunk> {
    const hit = this.cache.get(text);
    if (hit) {
      for (const c of hit) {
        if (opts.signal?.aborted) return;
        yield c;
      }
      return;
    }
    const shared = this.rendering.get(text);
    if (shared) {
      const chunks = await shared;
      // The render it waited on was cut off (its caller barged in): this caller renders its own.
      if (!chunks) {
        yield* this.inner.synthesize(text, opts);
        return;
      }
      for (const c of chunks) {
        if (opts.signal?.aborted) return;
        yield c;
      }
      return;
    }
    let done!: (c: TtsChunk[] | undefined) => void;
    this.rendering.set(text, new Promise((r) => (done = r)));
    const chunks: TtsChunk[] = [];
    let complete = false;
    try {
      for await (const c of this.inner.synthesize(text, opts)) {
        chunks.push(c);
        yield c;
      }
      complete = !opts.signal?.aborted;
    } finally {
      this.rendering.delete(text);
      // Only a whole render is shared (and kept, so the next caller replays it from memory).
      if (complete && chunks.length) this.put(text, chunks);
      done(complete && chunks.length ? chunks : undefined);
    }
  }

  close(): void {
    this.inner.close();
  }
}
