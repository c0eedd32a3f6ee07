import { spawn } from 'node:child_process';
import { readWav, resample } from '../audio.js';
import type { Tts, TtsChunk } from '../types.js';

/**
 * The offline-floor voice: espeak-ng (Debian package), run per sentence. It writes a whole WAV to
 * stdout quickly (hundreds of times real time), so "streaming" here is per sentence: the agent
 * splits replies at clause boundaries and the first clause is on the wire while the rest renders.
 */

export const espeakDefaults = { voice: 'en-us', wordsPerMinute: 165, pitch: 45, outputRate: 8000, chunkMs: 200 } as const;

export class EspeakTts implements Tts {
  readonly name = 'espeak-ng';

  constructor(private readonly o: { voice?: string; wordsPerMinute?: number; outputRate?: number; binary?: string } = {}) {}

  async *synthesize(text: string, opts: { signal?: AbortSignal } = {}): AsyncIterable<TtsChunk> {
    const clean = text.replace(/\s+/g, ' ').trim();
    if (!clean || opts.signal?.aborted) return;
    const wav = await this.render(clean, opts.signal);
    if (!wav) return;
    const { pcm, sampleRate } = readWav(wav);
    const rate = this.o.outputRate ?? espeakDefaults.outputRate;
    const out = resample(pcm, sampleRate, rate);
    const step = Math.round((rate * espeakDefaults.chunkMs) / 1000);
    for (let i = 0; i < out.length; i += step) {
      if (opts.signal?.aborted) return;
      yield { pcm: out.subarray(i, Math.min(out.length, i + step)), sampleRate: rate };
    }
  }

  private render(text: string, signal?: AbortSignal): Promise<Buffer | undefined> {
    return new Promise((resolve, reject) => {
      const args = ['--stdout', '-v', this.o.voice ?? espeakDefaults.voice, '-s', String(this.o.wordsPerMinute ?? espeakDefaults.wordsPerMinute), '-p', String(espeakDefaults.pitch), '--', text];
      const child = spawn(this.o.binary ?? 'espeak-ng', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const chunks: Buffer[] = [];
      let err = '';
      const onAbort = () => child.kill('SIGKILL');
      signal?.addEventListener('abort', onAbort, { once: true });
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.on('error', (e) => reject(new Error(`espeak-ng could not run (${e.message}); install the Debian package espeak-ng`)));
      child.on('close', (code) => {
        signal?.removeEventListener('abort', onAbort);
        if (signal?.aborted) return resolve(undefined);
        if (code !== 0) return reject(new Error(`espeak-ng exited ${code}: ${err.trim()}`));
        resolve(Buffer.concat(chunks));
      });
    });
  }

  close(): void {}
}

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
