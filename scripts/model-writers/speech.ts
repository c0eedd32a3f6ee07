import { join } from 'node:path';
import { writeOnce } from './write-once.js';
import { PIPER_LOW, PIPER_MEDIUM, PIPER_SYMBOLS, piperFiles, writeRandomPiper, type PiperFiles } from './piper.js';
import { SMART_TURN_V3, writeRandomSmartTurn } from './smart-turn.js';
import { transducerFiles, transducerTokens, writeRandomZipformer2, ZIPFORMER2, type TransducerFiles } from './zipformer2.js';

export { piperFiles, transducerFiles, PIPER_LOW, PIPER_MEDIUM, ZIPFORMER2 };

/** Where the generated (random-weight) neural speech models live under a models folder. */
export function generatedSpeechDirs(modelsDir: string): { stt: string; tts: string; turn: string } {
  return { stt: join(modelsDir, 'stt/generated-zipformer2'), tts: join(modelsDir, 'tts/generated-piper-low'), turn: join(modelsDir, 'turn/generated-smart-turn-v3') };
}

/** The generated Smart Turn model's file under a models folder. */
export function generatedTurnModel(modelsDir: string): string {
  return join(generatedSpeechDirs(modelsDir).turn, 'smart-turn-v3-generated.onnx');
}

/**
 * Writes the format-identical zipformer2 recognizer and Piper voice (random weights) unless the
 * same shapes are already there: tests and benchmarks prove the neural path with them.
 */
export async function ensureGeneratedSpeech(modelsDir: string): Promise<{ stt: TransducerFiles; tts: PiperFiles; turn: string }> {
  const dirs = generatedSpeechDirs(modelsDir);
  const stt = transducerFiles(dirs.stt);
  const tts = piperFiles(dirs.tts);
  // The stamp covers everything written: the geometry and the token lists.
  await writeOnce(stt.encoder, join(dirs.stt, '.shape'), [ZIPFORMER2, transducerTokens(ZIPFORMER2.vocabSize)], () => writeRandomZipformer2(dirs.stt));
  await writeOnce(tts.model, join(dirs.tts, '.shape'), [PIPER_LOW, PIPER_SYMBOLS], () => writeRandomPiper(dirs.tts, PIPER_LOW));
  const turn = generatedTurnModel(modelsDir);
  await writeOnce(turn, join(dirs.turn, '.shape'), [SMART_TURN_V3], () => writeRandomSmartTurn(turn));
  return { stt, tts, turn };
}
