import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';

/**
 * The pinned model files (models/manifest.json) and the checks every model passes before anything
 * loads it: sherpa-onnx calls exit() on a malformed file, which would end every call at once.
 */

const hex = (n: number) => z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`));

const manifestFile = z.object({
  id: z.string().min(1),
  slot: z.enum(['vad', 'stt', 'tts', 'turn', 'llm']),
  path: z.string().min(1),
  url: z.string().url(),
  bytes: z.number().int().positive(),
  sha256: hex(64).optional(),
  md5: hex(32).optional(),
  license: z.string().min(1),
  /** An archive: unpacked under `into`, where it holds one top `folder`; the archive is then deleted. */
  extract: z.object({ format: z.literal('tar.bz2'), into: z.string().min(1), folder: z.string().min(1) }).optional(),
}).refine((f) => f.sha256 || f.md5, 'needs a sha256 or an md5');

export const manifestSchema = z.object({
  sets: z.record(z.string(), z.array(z.string())),
  files: z.array(manifestFile),
}).superRefine((m, ctx) => {
  const ids = new Set(m.files.map((f) => f.id));
  for (const [set, list] of Object.entries(m.sets)) {
    for (const id of list) if (!ids.has(id)) ctx.addIssue({ code: 'custom', message: `set ${set} names ${id}, which no file has` });
  }
});

export type ManifestFile = z.infer<typeof manifestFile>;
export type Manifest = z.infer<typeof manifestSchema>;

export const MANIFEST_PATH = new URL('../../models/manifest.json', import.meta.url);

export function readManifest(file: URL | string = MANIFEST_PATH): Manifest {
  return manifestSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}

/** sha256 and md5 of a file in one pass, streamed (models are gigabytes; the event loop keeps going). */
export async function digests(path: string): Promise<{ sha256: string; md5: string }> {
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    sha.update(chunk as Buffer);
    md5.update(chunk as Buffer);
  }
  return { sha256: sha.digest('hex'), md5: md5.digest('hex') };
}

/** A file that is not what its pin says: which, what was expected, what was found. */
export interface Mismatch {
  path: string;
  what: 'missing' | 'bytes' | 'sha256' | 'md5';
  expected: string;
  actual: string;
}

export function describeMismatch(m: Mismatch): string {
  return m.what === 'missing' ? `${m.path} is missing` : `${m.path} has ${m.what} ${m.actual}, expected ${m.expected}`;
}

/** Checks size, then sha256 and md5 where pinned; undefined when the file is what the pin says. */
export async function checkFile(path: string, pin: { bytes: number; sha256?: string | undefined; md5?: string | undefined }): Promise<Mismatch | undefined> {
  if (!existsSync(path)) return { path, what: 'missing', expected: `${pin.bytes} bytes`, actual: 'nothing' };
  const size = statSync(path).size;
  if (size !== pin.bytes) return { path, what: 'bytes', expected: String(pin.bytes), actual: String(size) };
  const d = await digests(path);
  if (pin.sha256 && d.sha256 !== pin.sha256) return { path, what: 'sha256', expected: pin.sha256, actual: d.sha256 };
  if (pin.md5 && d.md5 !== pin.md5) return { path, what: 'md5', expected: pin.md5, actual: d.md5 };
  return undefined;
}

/** What an unpacked archive held (written by `npm run models` from a verified archive). */
export const RECEIPT = 'frontdesk-verified.json';

export interface Receipt {
  id: string;
  url: string;
  archiveSha256: string | undefined;
  /** Paths relative to the receipt's folder. */
  files: Record<string, { bytes: number; sha256: string }>;
}

/**
 * Verifies model files before they load. A file the manifest pins (by its path under `modelsDir`)
 * is checked against the pin; a file of an unpacked archive against the receipt written when the
 * verified archive was unpacked. Anything else (a hand-installed or generated model) is not pinned:
 * it is reported as such, and only checked to be there and not empty.
 * Verified files are remembered by path, size and mtime, so a second load in one process is free.
 */
export async function verifyModelFiles(paths: readonly string[], modelsDir: string, manifest: Manifest = readManifest()): Promise<{ problems: string[]; unpinned: string[] }> {
  const problems: string[] = [];
  const unpinned: string[] = [];
  for (const p of paths) {
    const path = resolve(p);
    if (!existsSync(path)) {
      problems.push(`${path} is missing; run \`npm run models\``);
      continue;
    }
    const st = statSync(path);
    const key = `${path}:${st.size}:${st.mtimeMs}`;
    if (verified.has(key)) continue;
    const pin = pinFor(path, resolve(modelsDir), manifest);
    if (!pin) {
      if (st.size === 0) problems.push(`${path} is empty; install it again`);
      else unpinned.push(path);
      continue;
    }
    const bad = await checkFile(path, pin.pin);
    if (bad) problems.push(`${describeMismatch(bad)} (${pin.source}); delete it and run \`npm run models\` again`);
    else verified.add(key);
  }
  return { problems, unpinned };
}

const verified = new Set<string>();

function pinFor(path: string, modelsDir: string, manifest: Manifest): { pin: { bytes: number; sha256?: string | undefined; md5?: string | undefined }; source: string } | undefined {
  const rel = relative(modelsDir, path).split(sep).join('/');
  const f = manifest.files.find((x) => !x.extract && x.path === rel);
  if (f) return { pin: f, source: `pinned by models/manifest.json as ${f.id}` };
  // The nearest receipt above the file (archives unpack into a folder, sometimes with sub-folders).
  let dir = dirname(path);
  for (let up = 0; up < 3 && dir !== dirname(dir); up++, dir = dirname(dir)) {
    const r = join(dir, RECEIPT);
    if (!existsSync(r)) continue;
    const receipt = JSON.parse(readFileSync(r, 'utf8')) as Receipt;
    const entry = receipt.files[relative(dir, path).split(sep).join('/')];
    return entry ? { pin: entry, source: `recorded in ${r} when ${receipt.id} was unpacked` } : undefined;
  }
  return undefined;
}
