// npm run models [-- --from DIR] [--dest DIR]: fetches the pinned model files (models/manifest.json)
// into FRONTDESK_MODELS_DIR, or copies them from a local folder, verifying size and sha256.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Command } from 'commander';

export interface ManifestFile { id: string; slot: string; path: string; url: string; bytes: number; sha256: string; license: string }

export function readManifest(file = new URL('../models/manifest.json', import.meta.url)): ManifestFile[] {
  return (JSON.parse(readFileSync(file, 'utf8')) as { files: ManifestFile[] }).files;
}

export async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Checks a file against its manifest entry; returns a problem to report, or undefined. */
export async function verify(f: ManifestFile, path: string): Promise<string | undefined> {
  if (!existsSync(path)) return `${path} is missing`;
  const size = statSync(path).size;
  if (size !== f.bytes) return `${path} has ${size} bytes, expected ${f.bytes}`;
  const sum = await sha256(path);
  if (sum !== f.sha256) return `${path} has sha256 ${sum}, expected ${f.sha256}`;
  return undefined;
}

async function download(f: ManifestFile, to: string): Promise<void> {
  const res = await fetch(f.url);
  if (!res.ok || !res.body) throw new Error(`${f.url} answered ${res.status}`);
  const chunks: Buffer[] = [];
  let got = 0;
  let last = 0;
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(Buffer.from(c));
    got += c.length;
    const pct = Math.floor((got / f.bytes) * 100);
    if (pct >= last + 10 || got === f.bytes) {
      process.stderr.write(`  ${f.id}: ${Math.min(pct, 100)}%\n`);
      last = pct;
    }
  }
  writeFileSync(to, Buffer.concat(chunks));
}

export async function fetchModels(opts: { dest: string; from?: string; log?: (s: string) => void }): Promise<string[]> {
  const log = opts.log ?? ((s: string) => process.stdout.write(`${s}\n`));
  const problems: string[] = [];
  for (const f of readManifest()) {
    const target = join(opts.dest, f.path);
    if (!(await verify(f, target))) {
      log(`ok       ${f.path} (already there)`);
      continue;
    }
    mkdirSync(dirname(target), { recursive: true });
    const tmp = `${target}.part`;
    try {
      if (opts.from) await copyFile(join(opts.from, f.path), tmp);
      else await download(f, tmp);
    } catch (e) {
      problems.push(`${f.path}: ${(e as Error).message}`);
      continue;
    }
    const bad = await verify(f, tmp);
    if (bad) {
      problems.push(`${f.path}: ${bad.replace(`${tmp} `, '')} (not installed)`);
      continue;
    }
    renameSync(tmp, target);
    log(`fetched  ${f.path} (${f.license})`);
  }
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const program = new Command('models')
    .description('fetch the pinned model files into FRONTDESK_MODELS_DIR, verifying size and sha256')
    .option('--from <dir>', 'copy from a local folder instead of downloading')
    .option('--dest <dir>', 'where to put them', process.env.FRONTDESK_MODELS_DIR ?? './models')
    .action(async (o: { from?: string; dest: string }) => {
      const problems = await fetchModels(o.from ? { dest: o.dest, from: o.from } : { dest: o.dest });
      for (const p of problems) process.stderr.write(`FAIL     ${p}\n`);
      process.exitCode = problems.length ? 1 : 0;
    });
  await program.parseAsync();
}
