// Hand-written: no maintained Node binding exists for the pocketsphinx that Debian ships (5prealpha); koffi calls its C API.
import koffi from 'koffi';

/** The few pocketsphinx calls the recognizer needs; decoding runs on koffi's worker threads. */
/** A loaded decoder and the configuration it owns. */
export interface Decoder {
  readonly dec: unknown;
  readonly config: unknown;
}

export interface Sphinx {
  init(args: readonly string[]): Decoder;
  free(d: Decoder): void;
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
    const ps_end_utt = ps.func('int ps_end_utt(ps_decoder_t *)');
    const ps_process_raw = ps.func('int ps_process_raw(ps_decoder_t *, const int16_t *, size_t, int, int)');
    const ps_get_hyp = ps.func('const char *ps_get_hyp(ps_decoder_t *, _Out_ int32_t *)');
    const ps_seg_iter = ps.func('ps_seg_t *ps_seg_iter(ps_decoder_t *)');
    const ps_seg_next = ps.func('ps_seg_t *ps_seg_next(ps_seg_t *)');
    const ps_seg_word = ps.func('const char *ps_seg_word(ps_seg_t *)');
    const ps_seg_frames = ps.func('void ps_seg_frames(ps_seg_t *, _Out_ int *, _Out_ int *)');
    loaded = {
      init(args) {
        const config = cmd_ln_parse_r(null, ps_args(), args.length, [...args], 1);
        if (!config) throw new Error(`pocketsphinx rejected its configuration: ${args.join(' ')}`);
        const dec = ps_init(config);
        if (!dec) {
          cmd_ln_free_r(config);
          throw new Error('pocketsphinx could not load its model (see the acoustic model and dictionary paths)');
        }
        return { dec, config };
      },
      free(d) {
        ps_free(d.dec);
        cmd_ln_free_r(d.config);
      },
      startUtt: (d) => ps_start_utt(d.dec) as number,
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
