import type { Tts, TtsChunk } from '../types.js';

/** Fixed phrases (greeting, fillers, prompts) rendered once and replayed from memory. */
export class CachedTts implements Tts {
  readonly name: string;
  private readonly cache = new Map<string, TtsChunk[]>();

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
    yield* this.inner.synthesize(text, opts);
  }

  close(): void {
    this.inner.close();
  }
}
