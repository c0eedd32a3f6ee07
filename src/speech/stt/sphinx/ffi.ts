// Hand-written: no maintained Node binding exists for the pocketsphinx that Debian ships (5prealpha); koffi calls its C API.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import koffi from 'koffi';

/** The few pocketsphinx calls the recognizer needs; decoding runs on koffi's worker threads. */
/** A loaded decoder and the configuration it owns (addresses: koffi 3 passes pointers as BigInt). */
export interface Decoder {
  readonly dec: unknown;
  readonly config: unknown;
  /** The cepstral mean the model starts from, restored before each utterance (undefined: cannot reset). */
  readonly cmnInit?: Float32Array;
  readonly cmn?: unknown;
}

export interface Sphinx {
  /**
   * Loads a decoder on a thread of its own (loader-worker.cjs), one at a time: ps_init reads the
   * whole acoustic model, and neither the media clock nor the decoding of calls already up waits on it.
   */
  init(args: readonly string[]): Promise<Decoder>;
  free(d: Decoder): void;
  /**
   * Starts an utterance from the model's initial cepstral mean: live CMN otherwise carries the last
   * caller's channel into the next utterance, so the same audio decodes differently by who came before.
   * Each utterance is also a new stream, so word times are the utterance's own.
   */
  startUtt(d: Decoder): number;
  endUtt(d: Decoder): number;
  /** Decodes samples off the main thread. */
  processRaw(d: Decoder, pcm: Int16Array, fullUtt: boolean): Promise<number>;
  hyp(d: Decoder): string;
  /** Words of the best hypothesis with their frame spans (100 frames per second). */
  words(d: Decoder): { word: string; startFrame: number; endFrame: number; posterior: number }[];
  /**
   * The best hypothesis's posterior probability in the utterance's word lattice (0..1), after
   * endUtt: near 1 when no other path came close, low when the audio fit many word strings.
   */
  posterior(d: Decoder): number | undefined;
  /** Up to `n` distinct word strings from the lattice, best first (after endUtt). */
  nbest(d: Decoder, n: number): string[];
  /** Adds a language-model search named `name` from an ARPA file (once per decoder). */
  addLmSearch(d: Decoder, name: string, path: string): boolean;
  /** Decodes the next utterance with the named search ('_default': the decoder's own -lm). */
  useSearch(d: Decoder, name: string): boolean;
}

let loaded: Sphinx | undefined;
let failure: Error | undefined;

export function loadSphinx(): Sphinx {
  if (loaded) return loaded;
  if (failure) throw failure;
  try {
    const ps = koffi.load('libpocketsphinx.so.3');
    const sb = koffi.load('libsphinxbase.so.3');
    koffi.opaque('ps_seg_t');
    const ps_start_utt = ps.func('int ps_start_utt(void *)');
    const ps_start_stream = ps.func('int ps_start_stream(void *)');
    const ps_end_utt = ps.func('int ps_end_utt(void *)');
    const ps_process_raw = ps.func('int ps_process_raw(void *, const int16_t *, size_t, int, int)');
    const ps_get_hyp = ps.func('const char *ps_get_hyp(void *, _Out_ int32_t *)');
    const ps_seg_iter = ps.func('ps_seg_t *ps_seg_iter(void *)');
    const ps_seg_next = ps.func('ps_seg_t *ps_seg_next(ps_seg_t *)');
    const ps_seg_word = ps.func('const char *ps_seg_word(ps_seg_t *)');
    const ps_seg_frames = ps.func('void ps_seg_frames(ps_seg_t *, _Out_ int *, _Out_ int *)');
    const ps_seg_prob = ps.func('int32_t ps_seg_prob(ps_seg_t *, _Out_ int32_t *, _Out_ int32_t *, _Out_ int32_t *)');
    const cmn_live_set = sb.func('void cmn_live_set(void *, const float *)');
    // 5prealpha signatures (checked against the shipped library: ps_get_prob and ps_nbest take the decoder only).
    const ps_get_prob = ps.func('int32_t ps_get_prob(void *)');
    const ps_get_logmath = ps.func('void *ps_get_logmath(void *)');
    const logmath_exp = sb.func('double logmath_exp(void *, int32_t)');
    koffi.opaque('ps_nbest_t');
    const ps_nbest = ps.func('ps_nbest_t *ps_nbest(void *)');
    const ps_nbest_next = ps.func('ps_nbest_t *ps_nbest_next(ps_nbest_t *)');
    const ps_nbest_hyp = ps.func('const char *ps_nbest_hyp(ps_nbest_t *, _Out_ int32_t *)');
    const ps_nbest_free = ps.func('void ps_nbest_free(ps_nbest_t *)');
    const ps_set_lm_file = ps.func('int ps_set_lm_file(void *, const char *, const char *)');
    const ps_set_search = ps.func('int ps_set_search(void *, const char *)');
    loaded = {
      init: (args) => loader().init(args),
      free: (d) => loader().free(d),
      startUtt(d) {
        // A new stream per utterance: word times count from its start, not from the decoder's first use.
        ps_start_stream(d.dec);
        if (d.cmn && d.cmnInit) cmn_live_set(d.cmn, d.cmnInit);
        return ps_start_utt(d.dec) as number;
      },
      endUtt: (d) => ps_end_utt(d.dec) as number,
      processRaw: ({ dec }, pcm, fullUtt) =>
        new Promise((resolve, reject) => {
          ps_process_raw.async(dec, pcm, pcm.length, 0, fullUtt ? 1 : 0, (err: Error | null, n: number) => (err ? reject(err) : resolve(n)));
        }),
      hyp({ dec }) {
        const score = [0];
        return (ps_get_hyp(dec, score) as string | null) ?? '';
      },
      words({ dec }) {
        const out: { word: string; startFrame: number; endFrame: number; posterior: number }[] = [];
        const lmath = ps_get_logmath(dec);
        const a = [0];
        const l = [0];
        const b = [0];
        for (let seg = ps_seg_iter(dec); seg; seg = ps_seg_next(seg)) {
          const sf = [0];
          const ef = [0];
          ps_seg_frames(seg, sf, ef);
          // The word's posterior in the lattice (1 where no lattice was built).
          const lp = ps_seg_prob(seg, a, l, b) as number;
          const posterior = lmath ? Math.min(1, Math.max(0, logmath_exp(lmath, lp) as number)) : 1;
          out.push({ word: ps_seg_word(seg) as string, startFrame: sf[0]!, endFrame: ef[0]!, posterior });
        }
        return out;
      },
      posterior({ dec }) {
        const lp = ps_get_prob(dec) as number;
        const lmath = ps_get_logmath(dec);
        if (!lmath) return undefined;
        const p = logmath_exp(lmath, lp) as number;
        return Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : undefined;
      },
      nbest({ dec }, n) {
        const out: string[] = [];
        const score = [0];
        let it = ps_nbest(dec);
        // Distinct strings only: paths differing in fillers or timing read the same.
        for (let tried = 0; it && out.length < n && tried < n * 4; tried++) {
          const h = ((ps_nbest_hyp(it, score) as string | null) ?? '').trim();
          if (h && !out.includes(h)) out.push(h);
          it = ps_nbest_next(it);
        }
        if (it) ps_nbest_free(it);
        return out;
      },
      addLmSearch: ({ dec }, name, path) => (ps_set_lm_file(dec, name, path) as number) >= 0,
      useSearch: ({ dec }, name) => (ps_set_search(dec, name) as number) >= 0,
    };
    return loaded;
  } catch (e) {
    failure = new Error(`pocketsphinx is not installed (apt-get install pocketsphinx pocketsphinx-en-us): ${(e as Error).message}`);
    throw failure;
  }
}

interface Loader {
  init(args: readonly string[]): Promise<Decoder>;
  free(d: Decoder): void;
  stop(): Promise<void>;
}

/** Ends the loader thread after the load in progress and queued frees (a later load starts a new one). */
export function stopSphinxLoader(): Promise<void> {
  return theLoader?.stop() ?? Promise.resolve();
}

let theLoader: Loader | undefined;

/**
 * The loader thread, started on first use and unref'd (it never keeps the process alive). If it
 * dies, the loads it owed fail with the reason and the next load starts a new one.
 */
function loader(): Loader {
  if (theLoader) return theLoader;
  const worker = new Worker(fileURLToPath(new URL('./loader-worker.cjs', import.meta.url)));
  const pending = new Map<number, { resolve: (d: Decoder) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let dead: Error | undefined;
  const fail = (e: Error) => {
    dead ??= new Error(`the pocketsphinx loader thread stopped: ${e.message}`);
    if (theLoader === self) theLoader = undefined;
    for (const p of pending.values()) p.reject(dead);
    pending.clear();
  };
  worker.on('message', (m: { type: string; id: number; error?: string; message?: string; dec: unknown; config: unknown; cmn?: unknown; cmnInit?: Float32Array }) => {
    if (m.type === 'fatal') return fail(new Error(m.message ?? 'failed to load'));
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.error) p.reject(new Error(m.error));
    else p.resolve(m.cmn && m.cmnInit ? { dec: m.dec, config: m.config, cmn: m.cmn, cmnInit: m.cmnInit } : { dec: m.dec, config: m.config });
  });
  worker.on('error', fail);
  let gone = false;
  worker.on('exit', (code) => {
    gone = true;
    fail(new Error(`exit code ${code}`));
  });
  // After the listeners: adding one re-refs the worker, which would keep the process alive.
  worker.unref();
  const self: Loader = {
    init(args) {
      if (dead) return Promise.reject(dead);
      const id = nextId++;
      return new Promise<Decoder>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ type: 'init', id, args: [...args] });
      });
    },
    free(d) {
      if (!dead) worker.postMessage({ type: 'free', dec: d.dec, config: d.config });
    },
    stop() {
      if (theLoader === self) theLoader = undefined;
      const exited = gone ? Promise.resolve() : new Promise<void>((r) => worker.once('exit', () => r()));
      // Held until it has exited: an unref'd worker's exit cannot keep a shutting-down process waiting.
      if (!gone) worker.ref();
      if (!dead) worker.postMessage({ type: 'exit' });
      return exited;
    },
  };
  theLoader = self;
  return self;
}
