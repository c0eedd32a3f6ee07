import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PIPER_LOW, PIPER_MEDIUM, PIPER_SYMBOLS, piperFiles, writeRandomPiper, type PiperFiles } from './piper.js';
import { transducerFiles, transducerTokens, writeRandomZipformer2, ZIPFORMER2, type TransducerFiles } from './zipformer2.js';

export { piperFiles, transducerFiles, PIPER_LOW, PIPER_MEDIUM, ZIPFORMER2 };

/** Where the generated (random-weight) neural speech models live under a models folder. */
export function generatedSpeechDirs(modelsDir: string): { stt: string; tts: string } {
  return { stt: join(modelsDir, 'stt/generated-zipformer2'), tts: join(modelsDir, 'tts/generated-piper-low') };
}

async function once(dir: string, shape: unknown, write: () => Promise<unknown>, file: string): Promise<void> {
  const stamp = join(dir, '.shape');
  const want = createHash('sha256').update(JSON.stringify(shape)).digest('hex');
  if (existsSync(file) && existsSync(stamp) && (await readFile(stamp, 'utf8')) === want) return;
  await write();
  await writeFile(stamp, want);
}

/**
 * Writes the format-identical zipformer2 recognizer and Piper voice (random weights) unless the
 * same shapes are already there: tests and benchmarks prove the neural path with them.
 */
export async function ensureGeneratedSpeech(modelsDir: string): Promise<{ stt: TransducerFiles; tts: PiperFiles }> {
  const dirs = generatedSpeechDirs(modelsDir);
  const stt = transducerFiles(dirs.stt);
  const tts = piperFiles(dirs.tts);
  // The stamp covers everything written: the geometry and the token lists.
  await once(dirs.stt, [ZIPFORMER2, transducerTokens(ZIPFORMER2.vocabSize)], () => writeRandomZipformer2(dirs.stt), stt.encoder);
  await once(dirs.tts, [PIPER_LOW, PIPER_SYMBOLS], () => writeRandomPiper(dirs.tts, PIPER_LOW), tts.model);
  return { stt, tts };
}
