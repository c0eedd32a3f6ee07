import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

/**
 * Which Silero VAD file to use. Silero v6.2 ships inside the npm package @ricky0123/vad-web, so the
 * embedded default needs no download. On phone audio v6.2 found later turns a median 5 ms late and
 * missed no short answer; v5.1.2 was 465 ms late and missed some, so v6.2 beats a downloaded v5.1.2.
 */
export const SILERO_V62_SHA256 = '1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3';
export const SILERO_V512_SHA256 = '2623a2953f6ff3d2c1e61740c6cdb7168133479b267dfef114a4a3cc5bdd788f';

/** Under FRONTDESK_MODELS_DIR, in order: a model put there on purpose wins over the bundled one. */
export const SILERO_PATHS = ['vad/silero-vad-v6.2/silero_vad.onnx', 'vad/silero_vad.onnx'] as const;
/** What `npm run models` fetches (models/manifest.json): used only when the bundled v6.2 is unusable. */
export const SILERO_FALLBACK_PATHS = ['vad/silero-vad-v5.1.2/silero_vad.onnx'] as const;
/** Known files by path: checked before sherpa-onnx loads them, since it exits the process on a malformed model. */
const KNOWN_SHA256: Record<string, string> = {
  'vad/silero-vad-v6.2/silero_vad.onnx': SILERO_V62_SHA256,
  'vad/silero-vad-v5.1.2/silero_vad.onnx': SILERO_V512_SHA256,
};

export interface SileroChoice {
  /** The file to load, or undefined when none is usable. */
  model: string | undefined;
  /** For `doctor` and the start-up log: where it came from, or why there is none. */
  why: string;
}

/** The bundled v6.2 file, or undefined when the package is not installed. */
export function bundledSilero(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('@ricky0123/vad-web/package.json');
    const file = join(dirname(pkg), 'dist', 'silero_vad_v6.onnx');
    return existsSync(file) ? file : undefined;
  } catch {
    return undefined;
  }
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * Picks the Silero model: the models folder's own, the bundled v6.2 (hash-checked), then a download.
 * `bundled`: the packaged file, null when the package is missing.
 */
export function chooseSilero(modelsDir: string, bundled: string | null = bundledSilero() ?? null): SileroChoice {
  const problems: string[] = [];
  const inModels = (rel: string): string | undefined => {
    const file = resolve(modelsDir, rel);
    if (!existsSync(file)) return undefined;
    const want = KNOWN_SHA256[rel];
    if (want && sha256(file) !== want) {
      problems.push(`${file} is damaged (sha256 differs from the published file); delete it and run \`npm run models\``);
      return undefined;
    }
    return file;
  };
  for (const rel of SILERO_PATHS) {
    const f = inModels(rel);
    if (f) return { model: f, why: f };
  }
  if (bundled) {
    if (sha256(bundled) === SILERO_V62_SHA256) {
      return { model: bundled, why: `Silero v6.2 from @ricky0123/vad-web (${bundled})${problems.length ? `; ${problems.join('; ')}` : ''}` };
    }
    problems.push(`${bundled} is not Silero v6.2 (sha256 differs): reinstall with \`npm ci\``);
  } else {
    problems.push('@ricky0123/vad-web is not installed (npm ci)');
  }
  for (const rel of SILERO_FALLBACK_PATHS) {
    const f = inModels(rel);
    if (f) return { model: f, why: `${f} (${problems.join('; ')})` };
  }
  return { model: undefined, why: `no usable Silero model: ${problems.join('; ')}` };
}
