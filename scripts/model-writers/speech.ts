import { join } from 'node:path';
import { writeOnce } from './write-once.js';
import { PIPER_LOW, PIPER_MEDIUM, PIPER_SYMBOLS, piperFiles, writeRandomPiper, type PiperFiles } from './piper.js';
import { NEMO_FASTCONFORMER_80MS, nemoFiles, nemoTokens, writeRandomNemoFastConformer } from './nemo-fastconformer.js';
import { SMART_TURN_V3, writeRandomSmartTurn } from './smart-turn.js';
import { transducerFiles, transducerTokens, writeRandomZipformer2, ZIPFORMER2, type TransducerFiles } from './zipformer2.js';

export { nemoFiles, piperFiles, transducerFiles, NEMO_FASTCONFORMER_80MS, PIPER_LOW, PIPER_MEDIUM, ZIPFORMER2 };

/** Where the generated (random-weight) neural speech models live under a models folder. */
export function generatedSpeechDirs(modelsDir: string): { stt: string; sttNemo: string; tts: string; turn: string } {
  return {
    stt: join(modelsDir, 'stt/generated-zipformer2'),
    sttNemo: join(modelsDir, 'stt/generated-nemo-fastconformer-80ms'),
    tts: join(modelsDir, 'tts/generated-piper-low'),
    turn: join(modelsDir, 'turn/generated-smart-turn-v3'),
  };
}

/** The generated Smart Turn model's file under a models folder. */
export function generatedTurnModel(modelsDir: string): string {
  return join(generatedSpeechDirs(modelsDir).turn, 'smart-turn-v3-generated.onnx');
}

/**
 * Writes the format-identical recognizers (zipformer2, NeMo FastConformer), Piper voice and Smart
 * Turn model (random weights) unless the same shapes are already there: tests and benchmarks
 * prove the neural path with them.
 */
export async function ensureGeneratedSpeech(modelsDir: string): Promise<{ stt: TransducerFiles; sttNemo: TransducerFiles; tts: PiperFiles; turn: string }> {
  const dirs = generatedSpeechDirs(modelsDir);
  const stt = transducerFiles(dirs.stt);
  const sttNemo = nemoFiles(dirs.sttNemo);
  const tts = piperFiles(dirs.tts);
  // The stamp covers everything written: the geometry and the token lists.
  await writeOnce(stt.encoder, join(dirs.stt, '.shape'), [ZIPFORMER2, transducerTokens(ZIPFORMER2.vocabSize)], () => writeRandomZipformer2(dirs.stt));
  await writeOnce(sttNemo.encoder, join(dirs.sttNemo, '.shape'), [NEMO_FASTCONFORMER_80MS, nemoTokens()], () => writeRandomNemoFastConformer(dirs.sttNemo));
  await writeOnce(tts.model, join(dirs.tts, '.shape'), [PIPER_LOW, PIPER_SYMBOLS], () => writeRandomPiper(dirs.tts, PIPER_LOW));
  const turn = generatedTurnModel(modelsDir);
  await writeOnce(turn, join(dirs.turn, '.shape'), [SMART_TURN_V3], () => writeRandomSmartTurn(turn));
  return { stt, sttNemo, tts, turn };
}
