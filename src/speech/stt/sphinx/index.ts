import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { Stt, SttHypothesis, SttStream } from '../../types.js';
import { upsample2x } from '../../audio.js';
import { loadSphinx, type Decoder, type Sphinx } from './ffi.js';
import { readDictionary, subset } from './dictionary.js';
import { arpa } from './lm.js';
import { ADAPT_PACKAGES, normalizeWords, SPHINX_DICT } from './adapt.js';
import { BASE_SENTENCES } from './sentences.js';

/**
 * The offline floor's streaming recognizer: pocketsphinx with the telephone-adapted acoustic model
 * and a language model built from what the business's callers say (its services, days, times,
 * names). Audio is decoded in 100 ms steps on a worker thread as it arrives, so the final
 * hypothesis is ready a few milliseconds after the caller stops.
 */

export interface SphinxOptions {
  /** Acoustic model directory (the adapted one, or Debian's wideband en-us). */
  model: string;
  dictionary?: string;
  /** Where generated language models are written. */
  workDir?: string;
  /** Extra pocketsphinx arguments (tuning: -lw, -beam, -wip). */
  decoderArgs?: readonly string[];
  /**
   * A fixed language model and its dictionary instead of one built from the hints: Debian's
   * general English model, for free-form speech such as voicemail.
   */
  languageModel?: { lm: string; dictionary: string };
  /** Decoders loaded ahead of need (default sphinxDefaults.spare; 0 for a rarely used model). */
  spare?: number;
}

const STEP_SAMPLES = 1600; // 100 ms at 16 kHz

export const sphinxDefaults = {
  /** Decoders kept loaded ahead of need per language model, so an utterance rarely waits for one. */
  spare: 2,
  /** Idle decoders kept per language model; more are freed. */
  maxFree: 8,
} as const satisfies Record<string, number>;

interface Pool {
  free: Decoder[];
  /** Decoders being loaded for this pool's spares. */
  loading: number;
  lm: string;
  dict: string;
}

export class SphinxStt implements Stt {
  readonly name: string;
  private readonly sphinx: Sphinx;
  private readonly pools = new Map<string, Promise<Pool>>();
  private readonly workDir: string;
  private closed = false;

  constructor(private readonly o: SphinxOptions) {
    if (!existsSync(join(o.model, 'mdef')) || !existsSync(join(o.model, 'means'))) {
      throw new Error(`speech model ${o.model} is missing or incomplete; frontdesk builds it on first start (needs: apt-get install ${ADAPT_PACKAGES})`);
    }
    this.sphinx = loadSphinx();
    this.workDir = o.workDir ?? join(tmpdir(), 'frontdesk-sphinx');
    this.name = `pocketsphinx (${o.model.split('/').filter(Boolean).at(-1)})`;
  }

  /** Builds the language model for these phrases and loads its spare decoders ahead of the first utterance. */
  async prepare(hints: readonly string[] = []): Promise<void> {
    this.topUp(await this.pool(hints));
  }

  stream(hints: readonly string[] = []): SttStream {
    return new SphinxStream(this, hints);
  }

  /** @internal */
  async acquire(hints: readonly string[]): Promise<Decoder> {
    const pool = await this.pool(hints);
    // This utterance's own load goes first; the spares queue behind it on the loader thread.
    const d = pool.free.pop() ?? this.sphinx.init(this.args(pool));
    this.topUp(pool);
    return d;
  }

  private args(pool: Pool): string[] {
    return ['-hmm', this.o.model, '-lm', pool.lm, '-dict', pool.dict, '-logfn', '/dev/null', ...(this.o.decoderArgs ?? [])];
  }

  /** Loads decoders (on the loader thread) until the pool has its spares. */
  private topUp(pool: Pool): void {
    while (!this.closed && pool.free.length + pool.loading < (this.o.spare ?? sphinxDefaults.spare)) {
      pool.loading++;
      this.sphinx.init(this.args(pool)).then((d) => {
        pool.loading--;
        if (this.closed || pool.free.length >= sphinxDefaults.maxFree) this.sphinx.free(d);
        else pool.free.push(d);
      }, () => {
        // A load that failed here fails again, visibly, for the utterance that needs it.
        pool.loading--;
      });
    }
  }

  /** @internal */
  release(hints: readonly string[], d: Decoder): void {
    const key = this.key(hints);
    void this.pools.get(key)?.then((p) => {
      if (this.closed || p.free.length >= sphinxDefaults.maxFree) this.sphinx.free(d);
      else p.free.push(d);
    });
  }

  /** @internal */
  get engine(): Sphinx {
    return this.sphinx;
  }

  private key(hints: readonly string[]): string {
    if (this.o.languageModel) return 'fixed';
    // The base sentences are part of the model: a new release's sentences make a new file.
    return createHash('sha256').update(BASE_SENTENCES.join('\n')).update('\0').update(hints.join('\n')).digest('hex').slice(0, 16);
  }

  private pool(hints: readonly string[]): Promise<Pool> {
    const key = this.key(hints);
    let p = this.pools.get(key);
    if (!p) {
      p = this.buildLm(key, hints);
      this.pools.set(key, p);
      p.catch(() => this.pools.delete(key));
    }
    return p;
  }

  private async buildLm(key: string, hints: readonly string[]): Promise<Pool> {
    if (this.o.languageModel) return { free: [], loading: 0, lm: this.o.languageModel.lm, dict: this.o.languageModel.dictionary };
    const dir = join(this.workDir, key);
    const lm = join(dir, 'lm.arpa');
    const dictPath = join(dir, 'words.dict');
    if (!existsSync(lm) || !existsSync(dictPath)) {
      const dict = await readDictionary(this.o.dictionary ?? SPHINX_DICT);
      const sentences = [...BASE_SENTENCES, ...hints].map(normalizeWords).map((ws) => ws.filter((w) => dict.has(w))).filter((ws) => ws.length);
      const vocab = new Set(sentences.flat());
      await mkdir(dir, { recursive: true });
      await writeFile(dictPath, subset(dict, vocab));
      await writeFile(lm, arpa(sentences));
    }
    return { free: [], loading: 0, lm, dict: dictPath };
  }

  close(): void {
    this.closed = true;
    for (const p of this.pools.values()) void p.then((pool) => pool.free.splice(0).forEach((d) => this.sphinx.free(d)), () => {});
  }
}

class SphinxStream implements SttStream {
  private decoder: Promise<Decoder>;
  private chain: Promise<unknown>;
  private pending = new Int16Array(STEP_SAMPLES * 2);
  private fill = 0;
  private tail = 0;
  private wide = new Int16Array(0);
  private hyp = '';
  private samples = 0;
  private done = false;

  constructor(private readonly stt: SphinxStt, private readonly hints: readonly string[]) {
    this.decoder = stt.acquire(hints).then((d) => {
      stt.engine.startUtt(d);
      return d;
    });
    this.chain = this.decoder;
    this.chain.catch(() => {});
  }

  accept(pcm: Int16Array, sampleRate: number): void {
    if (this.done) return;
    let wide: Int16Array;
    if (sampleRate === 16000) wide = pcm;
    else if (sampleRate === 8000) {
      if (this.wide.length < pcm.length * 2) this.wide = new Int16Array(pcm.length * 2);
      const n = upsample2x(pcm, this.wide, this.tail);
      this.tail = pcm[pcm.length - 1] ?? 0;
      wide = this.wide.subarray(0, n);
    } else throw new Error(`pocketsphinx stream: ${sampleRate} Hz is not supported (8000 or 16000)`);
    if (this.fill + wide.length > this.pending.length) {
      const grown = new Int16Array((this.fill + wide.length) * 2);
      grown.set(this.pending.subarray(0, this.fill));
      this.pending = grown;
    }
    this.pending.set(wide, this.fill);
    this.fill += wide.length;
    if (this.fill >= STEP_SAMPLES) this.flush();
  }

  private flush(): void {
    if (!this.fill) return;
    const chunk = this.pending.slice(0, this.fill);
    this.fill = 0;
    this.samples += chunk.length;
    this.chain = this.chain.then(async () => {
      const d = await this.decoder;
      await this.stt.engine.processRaw(d, chunk, false);
      this.hyp = this.stt.engine.hyp(d);
    });
  }

  partial(): string {
    return this.hyp;
  }

  async finish(): Promise<SttHypothesis> {
    this.flush();
    this.done = true;
    await this.chain;
    const d = await this.decoder;
    const e = this.stt.engine;
    e.endUtt(d);
    this.ended = true;
    const text = e.hyp(d);
    const words = e.words(d).filter((w) => !w.word.startsWith('<') && !w.word.startsWith('['));
    this.close();
    return {
      text,
      final: true,
      startMs: (words[0]?.startFrame ?? 0) * 10,
      endMs: (words.at(-1)?.endFrame ?? this.samples / 160) * 10,
    };
  }

  private released = false;
  private ended = false;

  close(): void {
    this.done = true;
    if (this.released) return;
    this.released = true;
    void this.chain.then(
      () => this.decoder.then((d) => {
        if (!this.ended) this.stt.engine.endUtt(d);
        this.stt.release(this.hints, d);
      }),
      () => {},
    );
  }
}
