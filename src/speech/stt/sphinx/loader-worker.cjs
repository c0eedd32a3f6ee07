// Plain JS on purpose: a worker thread starts without the tsx loader. It loads and frees pocketsphinx
// decoders on its own thread, one at a time: ps_init reads the whole acoustic model (hundreds of ms),
// which on the main thread froze the media clock during a burst of calls, and on koffi's shared async
// pool queued every call's decoding behind it. Pointers are plain addresses (koffi 3: BigInt), valid
// in every thread of the process, so the main thread uses the decoder this thread made.
'use strict';
const { parentPort } = require('node:worker_threads');

let f;
try {
  const koffi = require('koffi');
  const ps = koffi.load('libpocketsphinx.so.3');
  const sb = koffi.load('libsphinxbase.so.3');
  f = {
    koffi,
    ps_args: ps.func('void *ps_args()'),
    cmd_ln_parse_r: sb.func('void *cmd_ln_parse_r(void *, void *, int, const char **, int)'),
    cmd_ln_free_r: sb.func('int cmd_ln_free_r(void *)'),
    ps_init: ps.func('void *ps_init(void *)'),
    ps_free: ps.func('int ps_free(void *)'),
    ps_get_feat: ps.func('void *ps_get_feat(void *)'),
    cmn_live_get: sb.func('int cmn_live_get(void *, _Out_ float *)'),
  };
} catch (e) {
  parentPort.postMessage({ type: 'fatal', message: String((e && e.message) || e) });
  process.exit(0);
}

/**
 * sphinxbase exports no getter for a feature extractor's CMN state: read `feat_t.cmn_struct` at its
 * offset in 5prealpha (x86-64/arm64 LP64), after checking the neighbouring fields look right.
 */
function cmnOf(dec) {
  const feat = f.ps_get_feat(dec);
  if (!feat) return undefined;
  const head = f.koffi.decode(feat, f.koffi.array('int32_t', 24));
  const cepsize = head[4]; // int32 at byte 16
  const refcount = head[0];
  const cmnType = head[17]; // cmn_type_t at byte 68: 0 none, 1 batch, 2 live (batch turns live on the first streamed block)
  if (refcount < 1 || cepsize < 1 || cepsize > 64 || (cmnType !== 1 && cmnType !== 2)) return undefined;
  const cmn = f.koffi.decode(feat, 88, 'void *');
  if (!cmn) return undefined;
  const init = new Float32Array(cepsize);
  f.cmn_live_get(cmn, init);
  return { cmn, init };
}

parentPort.on('message', (m) => {
  // Exits between loads, never inside one.
  if (m.type === 'exit') process.exit(0);
  if (m.type === 'free') {
    f.ps_free(m.dec);
    f.cmd_ln_free_r(m.config);
    return;
  }
  if (m.type !== 'init') return;
  const config = f.cmd_ln_parse_r(null, f.ps_args(), m.args.length, m.args, 1);
  if (!config) {
    parentPort.postMessage({ type: 'init', id: m.id, error: `pocketsphinx rejected its configuration: ${m.args.join(' ')}` });
    return;
  }
  const dec = f.ps_init(config);
  if (!dec) {
    f.cmd_ln_free_r(config);
    parentPort.postMessage({ type: 'init', id: m.id, error: 'pocketsphinx could not load its model (see the acoustic model and dictionary paths)' });
    return;
  }
  const c = cmnOf(dec);
  parentPort.postMessage({ type: 'init', id: m.id, dec, config, cmn: c && c.cmn, cmnInit: c && c.init });
});
