import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readWav, upsample2x, writeWav } from '../../audio.js';
import { readDictionary } from './dictionary.js';

/**
 * Builds the offline floor's telephone acoustic model on the user's machine, from Debian packages
 * only: pocketsphinx's wideband en-us model, MAP-adapted (sphinxtrain's bw + map_adapt) to 8 kHz
 * telephone speech using the transcribed prompts of asterisk-core-sounds-en. Held-out prompts (every
 * fifth) are never trained on, so they can measure the word-error rate honestly.
 */

const run = promisify(execFile);

export const SPHINX_BASE = '/usr/share/pocketsphinx/model/en-us';
export const SPHINX_DICT = `${SPHINX_BASE}/cmudict-en-us.dict`;
/** Debian's general English trigram model: broad, slower, for free-form speech. */
export const SPHINX_GENERAL_LM = `${SPHINX_BASE}/en-us.lm.bin`;
export const ALLISON = '/usr/share/asterisk/sounds/en_US_f_Allison';
export const TRANSCRIPTS = '/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz';
const SPHINXTRAIN = '/usr/lib/sphinxtrain';
export const ADAPT_PACKAGES = 'pocketsphinx pocketsphinx-en-us sphinxtrain sphinxbase-utils asterisk-core-sounds-en asterisk-core-sounds-en-wav';

export interface Prompt {
  /** Path of the recording under ALLISON, without .wav. */
  name: string;
  words: string[];
}

/** Transcribed prompts whose words the dictionary knows, split into training and held-out sets. */
export async function prompts(): Promise<{ train: Prompt[]; heldOut: Prompt[] }> {
  const dict = await readDictionary(SPHINX_DICT);
  const text = gunzipSync(await readFile(TRANSCRIPTS)).toString('latin1');
  const all: Prompt[] = [];
  for (const line of text.split('\n')) {
    const m = /^([\w/-]+):\s*(.+)$/.exec(line.trim());
    if (!m || m[2]!.includes('[')) continue;
    if (!existsSync(`${ALLISON}/${m[1]}.wav`)) continue;
    const words = normalizeWords(m[2]!);
    if (!words.length || words.some((w) => !dict.has(w))) continue;
    all.push({ name: m[1]!, words });
  }
  return { train: all.filter((_, i) => i % 5 !== 0), heldOut: all.filter((_, i) => i % 5 === 0) };
}

export function normalizeWords(text: string): string[] {
  return text.toLowerCase().replace(/-/g, ' ').replace(/[^a-z'. ]/g, ' ').split(/\s+/)
    .map((t) => (t === 'a.m.' || t === 'p.m.' ? t : t.replace(/\./g, '')))
    .filter(Boolean);
}

export function adaptationMissing(): string | undefined {
  const need: [string, string][] = [
    [`${SPHINX_BASE}/en-us/means`, 'pocketsphinx-en-us'],
    [`${SPHINXTRAIN}/bw`, 'sphinxtrain'],
    ['/usr/bin/sphinx_fe', 'sphinxbase-utils'],
    ['/usr/bin/pocketsphinx_mdef_convert', 'pocketsphinx'],
    [TRANSCRIPTS, 'asterisk-core-sounds-en'],
    [ALLISON, 'asterisk-core-sounds-en-wav'],
  ];
  const missing = need.filter(([p]) => !existsSync(p)).map(([, pkg]) => pkg);
  return missing.length ? `apt-get install ${[...new Set(missing)].join(' ')}` : undefined;
}

/** The adapted model's directory if it is complete. */
export function adaptedModel(dir: string): string | undefined {
  return existsSync(join(dir, 'frontdesk.json')) ? dir : undefined;
}

/**
 * Adapts the model into `outDir` (about half a minute on two cores). Idempotent: a complete model
 * is left alone; a half-built one is rebuilt.
 */
/**
 * Each step's share of the adaptation's time (measured shape: Baum-Welch dominates). After each step
 * the log says how far along it is and, from the time taken so far, how long the rest should take:
 * on a busy machine the whole can take minutes, and a silent start looks hung.
 */
const ADAPT_STEPS = { audio: 0.15, features: 0.15, statistics: 0.55, adaptation: 0.05 } as const;

export function adaptationProgress(log: (msg: string) => void, now: () => number = () => performance.now()): (step: keyof typeof ADAPT_STEPS) => void {
  const start = now();
  const names = Object.keys(ADAPT_STEPS) as (keyof typeof ADAPT_STEPS)[];
  let done = 0;
  return (step) => {
    done += ADAPT_STEPS[step];
    const elapsedS = (now() - start) / 1000;
    const leftS = Math.max(1, Math.round((elapsedS / done) * (1 - done)));
    log(`adapting the recognizer: step ${names.indexOf(step) + 1}/${names.length + 1} (${step}) done, ${Math.round(done * 100)}%, about ${leftS} s left`);
  };
}

export async function adaptTelephoneModel(outDir: string, log: (msg: string) => void = () => {}): Promise<string> {
  if (adaptedModel(outDir)) return outDir;
  const missing = adaptationMissing();
  if (missing) throw new Error(`cannot build the telephone speech model: ${missing}`);
  // Per-process work dir: two processes building at once each finish; the first rename wins.
  const work = `${outDir}.work-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(join(work, 'wav'), { recursive: true });
  const base = join(work, 'base');
  await mkdir(base);
  for (const f of await readdir(`${SPHINX_BASE}/en-us`)) await copyFile(`${SPHINX_BASE}/en-us/${f}`, join(base, f));

  const { train } = await prompts();
  log(`adapting pocketsphinx to telephone audio on ${train.length} recorded prompts (once; about 20 s on an idle machine)`);
  const progress = adaptationProgress(log);
  const ids: string[] = [];
  const lines: string[] = [];
  for (const p of train) {
    const id = p.name.replace(/\//g, '__');
    const { pcm, sampleRate } = readWav(await readFile(`${ALLISON}/${p.name}.wav`));
    if (sampleRate !== 8000) continue;
    // The same upsampler the live recognizer uses, so training and calls see the same spectrum.
    const wide = new Int16Array(pcm.length * 2);
    upsample2x(pcm, wide);
    await writeFile(join(work, 'wav', `${id}.wav`), writeWav(wide, 16000));
    ids.push(`wav/${id}`);
    lines.push(`<s> ${p.words.join(' ')} </s> (${id})`);
  }
  await writeFile(join(work, 'adapt.fileids'), ids.join('\n') + '\n');
  await writeFile(join(work, 'adapt.transcription'), lines.join('\n') + '\n');
  progress('audio');

  const opts = { cwd: work, maxBuffer: 64 << 20 };
  await run('sphinx_fe', ['-argfile', 'base/feat.params', '-samprate', '16000', '-c', 'adapt.fileids', '-di', '.', '-do', '.', '-ei', 'wav', '-eo', 'mfc', '-mswav', 'yes'], opts);
  progress('features');
  await run('pocketsphinx_mdef_convert', ['-text', 'base/mdef', 'base/mdef.txt'], opts);
  await writeFile(join(base, 'mixture_weights'), sendumpToMixw(await readFile(join(base, 'sendump'))));
  await run(`${SPHINXTRAIN}/bw`, [
    '-hmmdir', 'base', '-moddeffn', 'base/mdef.txt', '-ts2cbfn', '.ptm.', '-feat', '1s_c_d_dd', '-svspec', '0-12/13-25/26-38',
    '-cmn', 'batch', '-agc', 'none', '-dictfn', SPHINX_DICT, '-ctlfn', 'adapt.fileids', '-lsnfn', 'adapt.transcription', '-accumdir', '.',
  ], opts);
  progress('statistics');
  const model = join(work, 'model');
  await mkdir(model);
  for (const f of ['mdef', 'noisedict', 'README']) await copyFile(join(base, f), join(model, f));
  await run(`${SPHINXTRAIN}/map_adapt`, [
    '-moddeffn', 'base/mdef.txt', '-ts2cbfn', '.ptm.', '-meanfn', 'base/means', '-varfn', 'base/variances',
    '-mixwfn', 'base/mixture_weights', '-tmatfn', 'base/transition_matrices', '-accumdir', '.',
    '-mapmeanfn', 'model/means', '-mapvarfn', 'model/variances', '-mapmixwfn', 'model/mixture_weights', '-maptmatfn', 'model/transition_matrices',
  ], opts);
  progress('adaptation');
  // Live cepstral mean normalisation starts from the telephone channel's mean, not the wideband one.
  const cmninit = await meanCepstrum(join(work, 'wav'));
  const params = (await readFile(join(base, 'feat.params'), 'utf8'))
    .split('\n').filter((l) => l && !/^-(cmn|cmninit)\b/.test(l));
  params.push('-cmn live', `-cmninit ${cmninit.map((v) => v.toFixed(2)).join(',')}`);
  await writeFile(join(model, 'feat.params'), params.join('\n') + '\n');
  await writeFile(join(model, 'frontdesk.json'), JSON.stringify({ base: SPHINX_BASE, prompts: train.length, adaptedAt: new Date().toISOString() }, null, 2));

  try {
    await rename(model, outDir);
  } catch (e) {
    if (!adaptedModel(outDir)) throw e;
  }
  await rm(work, { recursive: true, force: true });
  log(`telephone speech model ready in ${outDir}`);
  return outDir;
}

/**
 * pocketsphinx ships mixture weights quantised ("sendump"); sphinxtrain needs them as floats.
 * Port of sphinxtrain's own sendump.py (Python 2, not runnable on bookworm).
 */
export function sendumpToMixw(buf: Buffer): Buffer {
  let off = 0;
  let big = false;
  const u32 = () => {
    let n = big ? buf.readUInt32BE(off) : buf.readUInt32LE(off);
    if (!big && n > 65536) {
      big = true;
      n = buf.readUInt32BE(off);
    }
    off += 4;
    return n;
  };
  const str = () => {
    const n = u32();
    if (n === 0) return undefined;
    const s = buf.toString('latin1', off, off + n - 1);
    off += n;
    return s;
  };
  str();
  const hdr: Record<string, number> = {};
  for (let h = str(); h !== undefined; h = str()) {
    const [k, v] = h.split(/\s+/);
    if (k && v && /^\d+$/.test(v)) hdr[k] = Number(v);
  }
  let densities = hdr.model_count ?? 0;
  let senones = hdr.mixture_count ?? 0;
  const shift = hdr.mixw_shift ?? 10;
  const feats = hdr.feature_count ?? 0;
  if (!hdr.cluster_count) {
    densities = u32();
    senones = u32();
  }
  if (!feats || !senones || !densities) throw new Error('sendump: unexpected header');
  // The binary data must start on a 4-byte boundary: pad before "endhdr".
  const lead = 's3\nversion 1.0\n';
  const pad = (4 - ((lead.length + 'endhdr\n'.length) & 3)) & 3;
  const header = Buffer.from(lead + ' '.repeat(pad) + 'endhdr\n', 'latin1');
  const dims = Buffer.alloc(4 + 16);
  dims.writeInt32LE(0x11223344, 0);
  dims.writeUInt32LE(senones, 4);
  dims.writeUInt32LE(feats, 8);
  dims.writeUInt32LE(densities, 12);
  dims.writeUInt32LE(senones * feats * densities, 16);
  const out = new Float32Array(senones * feats * densities);
  // sendump is stored feature-major, density-major, senone-minor; mixw is senone, feature, density.
  for (let f = 0; f < feats; f++) {
    for (let d = 0; d < densities; d++) {
      for (let s = 0; s < senones; s++) out[(s * feats + f) * densities + d] = Math.pow(1.0001, -(buf[off + s]! << shift));
      off += senones;
    }
  }
  return Buffer.concat([header, dims, Buffer.from(out.buffer)]);
}

/** Mean of the 13 cepstra over every adaptation feature file (sphinx .mfc: count, then floats). */
async function meanCepstrum(dir: string): Promise<number[]> {
  const sum = new Float64Array(13);
  let frames = 0;
  for (const f of await readdir(dir)) {
    if (!f.endsWith('.mfc')) continue;
    const b = await readFile(join(dir, f));
    const le = b.readInt32LE(0) === (b.length - 4) / 4;
    for (let o = 4; o + 52 <= b.length; o += 52, frames++) {
      for (let c = 0; c < 13; c++) sum[c]! += le ? b.readFloatLE(o + c * 4) : b.readFloatBE(o + c * 4);
    }
  }
  return [...sum].map((v) => v / Math.max(1, frames));
}
