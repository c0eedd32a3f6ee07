import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { Stt, SttHypothesis, SttStream, SttStreamOptions } from '../../types.js';
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
  /** See sphinxDefaults.questionWeight. */
  questionWeight?: number;
}

const STEP_SAMPLES = 1600; // 100 ms at 16 kHz

const FUNCTION_WORDS = new Set('a an the in on at to of for and or is it i uh um'.split(' '));

export const sphinxDefaults = {
  /** Decoders kept loaded ahead of need per language model, so an utterance rarely waits for one. */
  spare: 2,
  /** Other readings kept per utterance (the lattice's n-best, distinct strings). */
  nbest: 4,
  /** Longest utterance whose n-best is searched, ms (the search grows with the lattice). */
  nbestMaxMs: 10_000,
  /**
   * How many times a question's own phrases count in its language model against the general
   * sentences: enough that a phone-line "yes" is heard as "yes", not "just", after "Shall I book
   * it?", while a caller who answers something else ("I need to cancel") is still heard (measured).
   */
  questionWeight: 12,
  /** Idle decoders kept per language model; more are freed. */
  maxFree: 8,
} as const satisfies Record<string, number>;

interface Pool {
  free: Decoder[];
  /** Decoders being loaded for this pool's spares. */
  loading: number;
  lm: string;
  dict: string;
  /** The words the dictionary has (a question's phrases are kept to them). */
  vocab: Set<string>;
  /** Question searches' language models, by search name. */
  questions: Map<string, Promise<string>>;
}

/** The searches each decoder has been given (a decoder is reused across utterances and questions). */
const searches = new WeakMap<Decoder, Set<string>>();

export class SphinxStt implements Stt {
  readonly name: string;
  private readonly sphinx: Sphinx;
  private readonly pools = new Map<string, Promise<Pool>>();
  private readonly workDir: string;
  private closed = false;
  /** Told when a question's model could not be used (the utterance falls back to the general one). */
  onWarning: ((e: Error) => void) | undefined;

  constructor(private readonly o: SphinxOptions) {
    if (!existsSync(join(o.model, 'mdef')) || !existsSync(join(o.model, 'means'))) {
      throw new Error(`speech model ${o.model} is missing or incomplete; frontdesk builds it on first start (needs: apt-get install ${ADAPT_PACKAGES})`);
    }
    this.sphinx = loadSphinx();
    this.workDir = o.workDir ?? join(tmpdir(), 'frontdesk-sphinx');
    this.name = `pocketsphinx (${o.model.split('/').filter(Boolean).at(-1)})`;
  }

  /** Builds the language model for these phrases and loads its spare decoders ahead of the first utterance. */
  async prepare(hints: readonly string[] = [], opts: SttStreamOptions = {}): Promise<void> {
    const pool = await this.pool(hints);
    this.topUp(pool);
    if (opts.question) await this.questionLm(pool, hints, opts.question);
  }

  stream(hints: readonly string[] = [], opts: SttStreamOptions = {}): SttStream {
    return new SphinxStream(this, hints, opts);
  }

  /**
   * @internal Points the decoder at the question's search (its language model: the general one
   * with the question's phrases weighted up), adding the search the first time this decoder meets it.
   */
  async useQuestion(hints: readonly string[], d: Decoder, q: SttStreamOptions['question']): Promise<void> {
    const e = this.sphinx;
    if (!q || this.o.languageModel) {
      e.useSearch(d, '_default');
      return;
    }
    const pool = await this.pool(hints);
    const { name, lm } = await this.questionLm(pool, hints, q);
    let has = searches.get(d);
    if (!has) searches.set(d, (has = new Set()));
    if (!has.has(name)) {
      if (!e.addLmSearch(d, name, lm)) throw new Error(`pocketsphinx could not load the language model for ${q.name}`);
      has.add(name);
    }
    if (!e.useSearch(d, name)) throw new Error(`pocketsphinx has no search ${name}`);
  }

  private async questionLm(pool: Pool, hints: readonly string[], q: NonNullable<SttStreamOptions['question']>): Promise<{ name: string; lm: string }> {
    const name = `q_${createHash('sha256').update(q.name).update('\0').update(q.phrases.join('\n')).digest('hex').slice(0, 12)}`;
    let p = pool.questions.get(name);
    if (!p) {
      p = (async () => {
        const path = join(pool.lm.replace(/lm\.arpa$/, ''), `${name}.arpa`);
        if (!existsSync(path)) {
          const general = [...BASE_SENTENCES, ...hints].map(normalizeWords);
          const asked = q.phrases.map(normalizeWords);
          const weight = this.o.questionWeight ?? sphinxDefaults.questionWeight;
          const sentences = [...general, ...Array.from({ length: weight }, () => asked).flat()]
            .map((ws) => ws.filter((w) => pool.vocab.has(w))).filter((ws) => ws.length);
          await writeFile(path, arpa(sentences));
        }
        return path;
      })();
      pool.questions.set(name, p);
      p.catch(() => pool.questions.delete(name));
    }
    return { name, lm: await p };
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
    if (this.o.languageModel) return { free: [], loading: 0, lm: this.o.languageModel.lm, dict: this.o.languageModel.dictionary, vocab: new Set(), questions: new Map() };
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
    // The words of the pool's dictionary (its first column; alternates are written "word(2)").
    const vocab = new Set((await readFile(dictPath, 'utf8')).split('\n').map((l) => l.split(/\s/)[0]!.replace(/\(\d+\)$/, '')).filter(Boolean));
    return { free: [], loading: 0, lm, dict: dictPath, vocab, questions: new Map() };
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

  constructor(private readonly stt: SphinxStt, private readonly hints: readonly string[], opts: SttStreamOptions) {
    this.decoder = stt.acquire(hints).then(async (d) => {
      try {
        await stt.useQuestion(hints, d, opts.question);
      } catch (e) {
        // The general model still hears the answer; a question's model is a refinement.
        stt.engine.useSearch(d, '_default');
        stt.onWarning?.(e as Error);
      }
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
    // The lattice's word posteriors (ps_get_prob computes them): their mean over the words that
    // carry meaning is the utterance's confidence. Short function words ("a", "the", "in") compete
    // with each other even in speech heard right, and the path's own posterior shrinks with length.
    if (text) e.posterior(d);
    const words = e.words(d).filter((w) => !w.word.startsWith('<') && !w.word.startsWith('['));
    const content = words.filter((w) => !FUNCTION_WORDS.has(w.word.replace(/\(\d+\)$/, '')));
    const scored = content.length ? content : words;
    const confidence = text && scored.length ? scored.reduce((a, w) => a + w.posterior, 0) / scored.length : undefined;
    // The n-best search grows with the lattice (a second on 30 s of audio): only for turn-sized utterances.
    const nbest = text && this.samples <= sphinxDefaults.nbestMaxMs * 16
      ? e.nbest(d, sphinxDefaults.nbest + 1).filter((h) => h !== text).slice(0, sphinxDefaults.nbest) : [];
    this.close();
    return {
      text,
      final: true,
      startMs: (words[0]?.startFrame ?? 0) * 10,
      endMs: (words.at(-1)?.endFrame ?? this.samples / 160) * 10,
      ...(confidence !== undefined ? { confidence } : {}),
      ...(nbest.length ? { nbest } : {}),
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
