// npm run models [-- --set default|better|telephone] [--from DIR] [--dest DIR]: fetches the pinned
// model files (models/manifest.json) into FRONTDESK_MODELS_DIR, or copies them from a local folder:
// resumes interrupted downloads (HTTP Range), verifies size, sha256 and md5, unpacks archives, and
// stops at the first file that is not what its pin says. The progress line is hand-written: one
// redrawn line is not worth a dependency.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { copyFile, mkdtemp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import type { onnx as OnnxNs } from 'onnx-proto';
import { checkFile, describeMismatch, digests, readManifest, RECEIPT, type Manifest, type ManifestFile, type Mismatch, type Receipt } from '../src/speech/models.js';

export { readManifest } from '../src/speech/models.js';

export const modelsDefaults = {
  /** Tries per download before giving up (each resumes where the last stopped). */
  attempts: 4,
  /** Wait before a retry, ms (doubled each time). */
  retryDelayMs: 1_000,
  /** Give up on a connection that sends nothing for this long, ms. */
  stallMs: 30_000,
} as const satisfies Record<string, number>;

export interface FetchOptions {
  dest: string;
  /** Copy from this folder (laid out like `dest`) instead of downloading. */
  from?: string | undefined;
  set?: string | undefined;
  manifest?: Manifest | undefined;
  log?: ((s: string) => void) | undefined;
  /** Where the progress line goes (default stderr). */
  progress?: NodeJS.WritableStream | undefined;
  retryDelayMs?: number | undefined;
}

/** Thrown to stop the command: the message names the file, what was expected and found, and the fix. */
export class ModelFileError extends Error {}

export async function fetchModels(o: FetchOptions): Promise<string[]> {
  const log = o.log ?? ((s: string) => process.stdout.write(`${s}\n`));
  const manifest = o.manifest ?? readManifest();
  const setName = o.set ?? 'default';
  const ids = manifest.sets[setName];
  if (!ids) return [`there is no set "${setName}"; use one of ${Object.keys(manifest.sets).join(', ')}`];
  for (const id of ids) {
    const f = manifest.files.find((x) => x.id === id)!;
    try {
      if (await installed(f, o.dest)) {
        log(`ok       ${f.path} (already there)`);
        continue;
      }
      await install(f, o, log);
    } catch (e) {
      // Stop at the first problem: a later file would only hide it.
      return [`${f.path}: ${(e as Error).message}`];
    }
  }
  // Piper voices as published need sherpa-onnx's metadata and a tokens.txt beside them.
  for (const id of ids) {
    const f = manifest.files.find((x) => x.id === id)!;
    const model = join(o.dest, f.path);
    if (f.slot !== 'tts' || !model.endsWith('.onnx') || !existsSync(`${model}.json`)) continue;
    if (existsSync(sherpaPiperPath(model)) && existsSync(join(dirname(model), 'tokens.txt'))) continue;
    try {
      log(`prepared ${relative(o.dest, preparePiper(model))} (sherpa-onnx metadata, tokens.txt)`);
    } catch (e) {
      return [`${f.path}: ${(e as Error).message}`];
    }
  }
  return [];
}

async function installed(f: ManifestFile, dest: string): Promise<boolean> {
  if (!f.extract) return !(await checkFile(join(dest, f.path), f));
  const receipt = readReceipt(join(dest, f.extract.into, f.extract.folder));
  if (!receipt || receipt.archiveSha256 !== (f.sha256 ?? f.md5)) return false;
  for (const [rel, pin] of Object.entries(receipt.files)) {
    if (await checkFile(join(dest, f.extract.into, f.extract.folder, rel), pin)) return false;
  }
  return true;
}

function readReceipt(dir: string): Receipt | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, RECEIPT), 'utf8')) as Receipt;
  } catch {
    return undefined;
  }
}

async function install(f: ManifestFile, o: FetchOptions, log: (s: string) => void): Promise<void> {
  const target = join(o.dest, f.path);
  mkdirSync(dirname(target), { recursive: true });
  const part = `${target}.part`;
  if (o.from) {
    const src = join(o.from, f.path);
    if (!existsSync(src)) throw new ModelFileError(`${src} is not there; put the file from ${f.url} there, or leave out --from to download it`);
    await copyFile(src, part);
  }
  else await download(f, part, o);
  const bad = await checkFile(part, f);
  if (bad) {
    rmSync(part, { force: true });
    throw new ModelFileError(mismatchAdvice(f, bad, Boolean(o.from)));
  }
  if (f.extract) {
    await unpack(f, part, o.dest);
    rmSync(part, { force: true });
    log(`fetched  ${f.path} → ${f.extract.into}/${f.extract.folder}/ (${f.license})`);
  } else {
    renameSync(part, target);
    log(`fetched  ${f.path} (${f.license})`);
  }
}

function mismatchAdvice(f: ManifestFile, m: Mismatch, copied: boolean): string {
  const found = describeMismatch({ ...m, path: '' }).trim();
  const fix = copied
    ? `the copy in --from is not the published file: fetch it again from ${f.url}`
    : `the download was deleted; run \`npm run models\` again. If it fails the same way, the file at ${f.url} is not the one pinned in models/manifest.json: do not use it, and check the publisher before changing the pin`;
  return `${found} (not installed); ${fix}`;
}

/** Downloads into `part`, resuming what an earlier try left there (HTTP Range). */
async function download(f: ManifestFile, part: string, o: FetchOptions): Promise<void> {
  const attempts = modelsDefaults.attempts;
  let delay = o.retryDelayMs ?? modelsDefaults.retryDelayMs;
  for (let attempt = 1; ; attempt++) {
    let have = existsSync(part) ? statSync(part).size : 0;
    if (have > f.bytes) {
      rmSync(part);
      have = 0;
    }
    if (have === f.bytes) return;
    const stall = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const kick = () => {
      clearTimeout(timer);
      timer = setTimeout(() => stall.abort(new Error(`no data for ${modelsDefaults.stallMs / 1000} s`)), modelsDefaults.stallMs);
    };
    try {
      kick();
      const res = await fetch(f.url, { headers: have ? { range: `bytes=${have}-` } : {}, signal: stall.signal, redirect: 'follow' });
      let from = 0;
      if (res.status === 206) {
        const m = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
        from = m ? Number(m[1]) : -1;
        if (from !== have) throw new Error(`the server resumed at byte ${from}, not ${have}`);
      } else if (!res.ok || !res.body) {
        throw new Error(`${f.url} answered ${res.status} ${res.statusText}`);
      }
      // A 200 to a Range request: the server sends the whole file again; start over.
      const progress = new Progress(f.id, f.bytes, from, o.progress ?? process.stderr);
      const count = new Transform({
        transform(chunk: Buffer, _enc, done) {
          kick();
          progress.add(chunk.length);
          done(null, chunk);
        },
      });
      try {
        await pipeline(Readable.fromWeb(res.body as never), count, createWriteStream(part, { flags: from ? 'a' : 'w' }));
      } finally {
        progress.end();
      }
      const now = statSync(part).size;
      if (now < f.bytes) throw new Error(`the connection closed after ${now} of ${f.bytes} bytes`);
      return;
    } catch (e) {
      const kept = existsSync(part) ? statSync(part).size : 0;
      const why = stall.signal.aborted ? (stall.signal.reason as Error).message : (e as Error).message;
      if (attempt >= attempts) {
        throw new ModelFileError(`${why} (${attempts} tries); ${kept} of ${f.bytes} bytes are kept in ${part}: run \`npm run models\` again to resume`);
      }
      (o.log ?? (() => {}))(`retry    ${f.path}: ${why}; resuming at byte ${kept}`);
      await sleep(delay);
      delay *= 2;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** One progress line, redrawn on a terminal; a line per tenth elsewhere (logs, CI). */
class Progress {
  private last = 0;
  private shownTenth: number;
  private readonly t0 = performance.now();
  private readonly start: number;
  constructor(private readonly id: string, private readonly total: number, private got: number, private readonly out: NodeJS.WritableStream & { isTTY?: boolean }) {
    this.start = got;
    this.shownTenth = Math.floor((got / total) * 10);
  }

  add(n: number): void {
    this.got += n;
    const now = performance.now();
    if (this.out.isTTY) {
      if (now - this.last < 100 && this.got < this.total) return;
      this.last = now;
      const frac = this.got / this.total;
      const bar = '#'.repeat(Math.round(frac * 30)).padEnd(30, '.');
      const rate = (this.got - this.start) / Math.max(0.001, (now - this.t0) / 1000);
      this.out.write(`\r  ${this.id} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}%  ${mb(this.got)}/${mb(this.total)} MB  ${mb(rate)} MB/s `);
    } else {
      const tenth = Math.floor((this.got / this.total) * 10);
      if (tenth > this.shownTenth) {
        this.shownTenth = tenth;
        this.out.write(`  ${this.id}: ${tenth * 10}% of ${mb(this.total)} MB\n`);
      }
    }
  }

  end(): void {
    if (this.out.isTTY) this.out.write('\n');
  }
}

const mb = (n: number) => (n / 1e6).toFixed(1);

/**
 * Unpacks a verified archive with the system's tar (GNU tar refuses absolute and `..` paths) into a
 * staging folder, records every file's size and sha256 in a receipt (checked before a model
 * loads), and moves the one top folder into place.
 */
async function unpack(f: ManifestFile, archive: string, dest: string): Promise<void> {
  const x = f.extract!;
  const into = join(dest, x.into);
  mkdirSync(into, { recursive: true });
  const staging = await mkdtemp(join(into, '.unpack-'));
  try {
    await run('tar', ['-xjf', archive, '-C', staging, '--no-same-owner', '--no-same-permissions']);
    const top = readdirSync(staging);
    if (top.length !== 1 || top[0] !== x.folder) {
      throw new ModelFileError(`the archive holds ${top.join(', ') || 'nothing'} at its top, expected one folder ${x.folder}; check the pin in models/manifest.json`);
    }
    const root = join(staging, x.folder);
    const files: Receipt['files'] = {};
    for (const file of walk(root)) {
      const rel = relative(root, file).split(sep).join('/');
      files[rel] = { bytes: statSync(file).size, sha256: (await digests(file)).sha256 };
    }
    const receipt: Receipt = { id: f.id, url: f.url, archiveSha256: f.sha256 ?? f.md5, files };
    writeFileSync(join(root, RECEIPT), `${JSON.stringify(receipt, null, 1)}\n`);
    rmSync(join(into, x.folder), { recursive: true, force: true });
    renameSync(root, join(into, x.folder));
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

function* walk(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile()) yield p;
  }
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((done, fail) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', (e) => fail(new ModelFileError(`${cmd} could not run (${e.message}); apt-get install tar bzip2`)));
    p.on('close', (code) => (code === 0 ? done() : fail(new ModelFileError(`${cmd} ${args[0]} failed (${code}): ${err.trim().slice(0, 300)}; apt-get install bzip2 if it is missing`))));
  });
}

/**
 * A voice as Piper publishes it (voice.onnx + voice.onnx.json) made loadable by sherpa-onnx, which
 * reads the voice's settings from the model's metadata and its symbols from tokens.txt (what
 * sherpa-onnx's own add-meta-data script does for its vits-piper archives). The metadata is
 * appended as protobuf fields (repeated fields concatenate), so the weights are not re-encoded.
 * The derived files go in a receipt beside them, like an unpacked archive's.
 */
export function preparePiper(model: string): string {
  const cfg = JSON.parse(readFileSync(`${model}.json`, 'utf8')) as {
    audio?: { sample_rate?: number };
    espeak?: { voice?: string };
    language?: { name_english?: string };
    num_speakers?: number;
    phoneme_id_map?: Record<string, number[]>;
  };
  const map = cfg.phoneme_id_map;
  if (!map || !cfg.audio?.sample_rate) throw new ModelFileError(`${model}.json has no phoneme_id_map or audio.sample_rate: it is not a Piper voice config`);
  const dir = dirname(model);
  const tokens = Object.entries(map).map(([sym, ids]) => `${sym} ${ids[0]}`).join('\n') + '\n';
  const require = createRequire(import.meta.url);
  const { onnx } = require('onnx-proto') as { onnx: typeof OnnxNs };
  const meta = {
    model_type: 'vits', comment: 'piper', language: cfg.language?.name_english ?? 'English', voice: cfg.espeak?.voice ?? 'en-us',
    has_espeak: 1, n_speakers: cfg.num_speakers ?? 1, sample_rate: cfg.audio.sample_rate,
  };
  const extra = onnx.ModelProto.encode({ metadataProps: Object.entries(meta).map(([key, v]) => ({ key, value: String(v) })) }).finish();
  const out = sherpaPiperPath(model);
  writeFileSync(out, Buffer.concat([readFileSync(model), extra]));
  writeFileSync(join(dir, 'tokens.txt'), tokens);
  const files: Receipt['files'] = {};
  for (const p of [out, join(dir, 'tokens.txt')]) {
    const bytes = readFileSync(p);
    files[basename(p)] = { bytes: bytes.length, sha256: createHashHex(bytes) };
  }
  writeFileSync(join(dir, RECEIPT), `${JSON.stringify({ id: `piper ${basename(model)}`, url: model, archiveSha256: undefined, files } satisfies Receipt, null, 1)}\n`);
  return out;
}

export function sherpaPiperPath(model: string): string {
  return join(dirname(model), `${basename(model, '.onnx')}.sherpa.onnx`);
}

function createHashHex(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const program = new Command('models')
    .description('fetch the pinned model files into FRONTDESK_MODELS_DIR, verifying size, sha256 and md5')
    .option('--set <name>', 'which set: default (2–4 cores), better (Qwen3-4B, 8+ cores), telephone (NeMo recognizer)', 'default')
    .option('--from <dir>', 'copy from a local folder instead of downloading')
    .option('--dest <dir>', 'where to put them', process.env.FRONTDESK_MODELS_DIR ?? './models')
    .action(async (o: { from?: string; dest: string; set: string }) => {
      const problems = await fetchModels(o);
      for (const p of problems) process.stderr.write(`FAIL     ${p}\n`);
      process.exitCode = problems.length ? 1 : 0;
    });
  await program.parseAsync();
}
