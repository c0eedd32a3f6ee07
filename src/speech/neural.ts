import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { SherpaSttOptions } from './stt/sherpa/index.js';
import { SYSTEM_ESPEAK_DATA, type PiperOptions } from './tts/piper.js';

/**
 * Finding the neural models in a folder the way they are published: a sherpa-onnx streaming
 * transducer archive (encoder/decoder/joiner, fp32 and int8, tokens.txt) and a Piper voice
 * (voice.onnx, tokens.txt, often its own espeak-ng-data).
 */

function onnxFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.onnx'));
  } catch {
    return [];
  }
}

/** The transducer in `dir`, preferring int8 weights (faster on CPU); undefined if incomplete. */
export function findTransducer(dir: string): SherpaSttOptions | undefined {
  const files = onnxFiles(dir);
  const pick = (part: string) =>
    files.filter((f) => f.startsWith(part)).sort((a, b) => Number(b.includes('.int8.')) - Number(a.includes('.int8.')))[0];
  const encoder = pick('encoder');
  const decoder = pick('decoder');
  const joiner = pick('joiner');
  const tokens = join(dir, 'tokens.txt');
  if (!encoder || !decoder || !joiner || !existsSync(tokens)) return undefined;
  return { encoder: join(dir, encoder), decoder: join(dir, decoder), joiner: join(dir, joiner), tokens, label: `sherpa-onnx ${basename(dir)}` };
}

/** The Piper voice named by `path` (a .onnx file, or a folder holding one). */
export function findPiper(path: string): Omit<PiperOptions, 'outputRate'> | undefined {
  // A voice as Piper publishes it is used through the copy `npm run models` gave sherpa-onnx's metadata.
  const inDir = onnxFiles(path).sort((a, b) => Number(b.endsWith('.sherpa.onnx')) - Number(a.endsWith('.sherpa.onnx')));
  const model = path.endsWith('.onnx') ? path : inDir.map((f) => join(path, f))[0];
  if (!model || !existsSync(model)) return undefined;
  const dir = dirname(model);
  const tokens = [join(dir, 'tokens.txt'), `${model}.tokens.txt`].find((f) => existsSync(f));
  if (!tokens) return undefined;
  const own = join(dir, 'espeak-ng-data');
  return { model, tokens, dataDir: existsSync(own) ? own : SYSTEM_ESPEAK_DATA, label: `piper ${basename(model, '.onnx')}` };
}

/** Sub-folders of `root`, skipping the generated random-weight models (they are for tests). */
function candidates(root: string): string[] {
  try {
    return readdirSync(root)
      .filter((d) => !d.startsWith('generated-'))
      .map((d) => join(root, d))
      .filter((d) => statSync(d).isDirectory());
  } catch {
    return [];
  }
}

export interface NeuralChoice<T> {
  options: T | undefined;
  /** Set when the user named a model that is not usable. */
  error?: string;
}

export function chooseStt(modelsDir: string, named: string | undefined): NeuralChoice<SherpaSttOptions> {
  if (named) {
    const found = findTransducer(resolve(named));
    return found ? { options: found } : { options: undefined, error: `FRONTDESK_STT_MODEL names ${named}, which does not hold encoder*.onnx, decoder*.onnx, joiner*.onnx and tokens.txt; run \`npm run models\` or unset the variable` };
  }
  for (const d of candidates(join(modelsDir, 'stt'))) {
    const found = findTransducer(d);
    if (found) return { options: found };
  }
  return { options: undefined };
}

export function chooseTts(modelsDir: string, named: string | undefined): NeuralChoice<Omit<PiperOptions, 'outputRate'>> {
  if (named) {
    const found = findPiper(resolve(named));
    return found ? { options: found } : { options: undefined, error: `FRONTDESK_TTS_MODEL names ${named}, which is not a Piper voice with tokens.txt beside it; run \`npm run models\` or unset the variable` };
  }
  for (const d of candidates(join(modelsDir, 'tts'))) {
    const found = findPiper(d);
    if (found) return { options: found };
  }
  return { options: undefined };
}
