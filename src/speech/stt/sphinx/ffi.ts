// Hand-written: no maintained Node binding exists for the pocketsphinx that Debian ships (5prealpha); koffi calls its C API.
import koffi from 'koffi';

/** The few pocketsphinx calls the recognizer needs; decoding runs on koffi's worker threads. */
/** A loaded decoder and the configuration it owns. */
export interface Decoder {
  readonly dec: unknown;
  readonly config: unknown;
  /** The cepstral mean the model starts from, restored before each utterance (undefined: cannot reset). */
  readonly cmnInit?: Float32Array;
  readonly cmn?: unknown;
}

export interface Sphinx {
  init(args: readonly string[]): Decoder;
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
  words(d: Decoder): { word: string; startFrame: number; endFrame: number }[];
}

let loaded: Sphinx | undefined;
let failure: Error | undefined;

export function loadSphinx(): Sphinx {
  if (loaded) return loaded;
  if (failure) throw failure;
  try {
    const ps = koffi.load('libpocketsphinx.so.3');
    const sb = koffi.load('libsphinxbase.so.3');
    koffi.opaque('ps_decoder_t');
    koffi.opaque('cmd_ln_t');
    koffi.opaque('ps_seg_t');
    const ps_args = ps.func('void *ps_args()');
    const cmd_ln_parse_r = sb.func('cmd_ln_t *cmd_ln_parse_r(cmd_ln_t *, void *, int, const char **, int)');
    const cmd_ln_free_r = sb.func('int cmd_ln_free_r(cmd_ln_t *)');
    const ps_init = ps.func('ps_decoder_t *ps_init(cmd_ln_t *)');
    const ps_free = ps.func('int ps_free(ps_decoder_t *)');
    const ps_start_utt = ps.func('int ps_start_utt(ps_decoder_t *)');
    const ps_start_stream = ps.func('int ps_start_stream(ps_decoder_t *)');
    const ps_end_utt = ps.func('int ps_end_utt(ps_decoder_t *)');
    const ps_process_raw = ps.func('int ps_process_raw(ps_decoder_t *, const int16_t *, size_t, int, int)');
    const ps_get_hyp = ps.func('const char *ps_get_hyp(ps_decoder_t *, _Out_ int32_t *)');
    const ps_seg_iter = ps.func('ps_seg_t *ps_seg_iter(ps_decoder_t *)');
    const ps_seg_next = ps.func('ps_seg_t *ps_seg_next(ps_seg_t *)');
    const ps_seg_word = ps.func('const char *ps_seg_word(ps_seg_t *)');
    const ps_seg_frames = ps.func('void ps_seg_frames(ps_seg_t *, _Out_ int *, _Out_ int *)');
    const ps_get_feat = ps.func('void *ps_get_feat(ps_decoder_t *)');
    const cmn_live_get = sb.func('int cmn_live_get(void *, _Out_ float *)');
    const cmn_live_set = sb.func('void cmn_live_set(void *, const float *)');
    /**
     * sphinxbase exports no getter for a feature extractor's CMN state: read `feat_t.cmn_struct` at its
     * offset in 5prealpha (x86-64/arm64 LP64), after checking the neighbouring fields look right.
     */
    const cmnOf = (dec: unknown): { cmn: unknown; init: Float32Array } | undefined => {
      const feat = ps_get_feat(dec);
      if (!feat) return undefined;
      const head = koffi.decode(feat, koffi.array('int32_t', 24)) as number[];
      const cepsize = head[4]!; // int32 at byte 16
      const refcount = head[0]!;
      const cmnType = head[17]!; // cmn_type_t at byte 68: 0 none, 1 batch, 2 live (batch turns live on the first streamed block)
      if (refcount < 1 || cepsize < 1 || cepsize > 64 || (cmnType !== 1 && cmnType !== 2)) return undefined;
      const cmn = koffi.decode(feat, 88, 'void *') as unknown;
      if (!cmn) return undefined;
      const vec = new Float32Array(cepsize);
      cmn_live_get(cmn, vec);
      return { cmn, init: vec };
    };
    loaded = {
      init(args) {
        const config = cmd_ln_parse_r(null, ps_args(), args.length, [...args], 1);
        if (!config) throw new Error(`pocketsphinx rejected its configuration: ${args.join(' ')}`);
        const dec = ps_init(config);
        if (!dec) {
          cmd_ln_free_r(config);
          throw new Error('pocketsphinx could not load its model (see the acoustic model and dictionary paths)');
        }
        const c = cmnOf(dec);
        return c ? { dec, config, cmn: c.cmn, cmnInit: c.init } : { dec, config };
      },
      free(d) {
        ps_free(d.dec);
        cmd_ln_free_r(d.config);
      },
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
        const out: { word: string; startFrame: number; endFrame: number }[] = [];
        for (let seg = ps_seg_iter(dec); seg; seg = ps_seg_next(seg)) {
          const sf = [0];
          const ef = [0];
          ps_seg_frames(seg, sf, ef);
          out.push({ word: ps_seg_word(seg) as string, startFrame: sf[0]!, endFrame: ef[0]! });
        }
        return out;
      },
    };
    return loaded;
  } catch (e) {
    failure = new Error(`pocketsphinx is not installed (apt-get install pocketsphinx pocketsphinx-en-us): ${(e as Error).message}`);
    throw failure;
  }
}
