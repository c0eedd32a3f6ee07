// npm run models:generate -- [tiny|0.5b|0.5b-q4|speech] [--dest DIR]: writes format-identical models
// with random weights for tests and benchmarks on machines that cannot download real ones: a GGUF
// (llama layout, Q8_0 or Q4_0, ChatML tokens), or the sherpa-onnx zipformer2 recognizer and Piper
// voice. Their words are noise; their loading path and compute cost are real.
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ensureGeneratedSpeech } from './model-writers/speech.js';
import { writeOnce } from './model-writers/write-once.js';
import { Command } from 'commander';
import { SHAPES, vocabulary, writeRandomLlama } from './model-writers/gguf.js';

export function generatedModelPath(dir: string, shape: keyof typeof SHAPES): string {
  return join(dir, 'llm', `${SHAPES[shape].name}.gguf`);
}

/** The generated GGUF of `shape` under `dir`, written unless one of the same shape is there. */
export async function ensureGeneratedLlm(dir: string, shape: keyof typeof SHAPES): Promise<string> {
  const path = generatedModelPath(dir, shape);
  const { vocab } = SHAPES[shape];
  await writeOnce(path, `${path}.shape`, [SHAPES[shape], vocabulary(vocab).tokens], async () => {
    mkdirSync(join(dir, 'llm'), { recursive: true });
    await writeRandomLlama(path, SHAPES[shape]);
  });
  return path;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  await new Command('models:generate')
    .argument('[shape]', `an LLM shape (${Object.keys(SHAPES).join(', ')}), or "speech" for the zipformer2 recognizer and Piper voice`, 'tiny')
    .option('--dest <dir>', 'models folder', process.env.FRONTDESK_MODELS_DIR ?? './models')
    .action(async (shape: string, o: { dest: string }) => {
      if (shape === 'speech') {
        const f = await ensureGeneratedSpeech(o.dest);
        process.stdout.write(`wrote ${dirname(f.stt.encoder)} and ${f.tts.model} (random weights: for tests and benchmarks only; used only when FRONTDESK_STT_MODEL / FRONTDESK_TTS_MODEL name them)\n`);
        return;
      }
      if (!(shape in SHAPES)) throw new Error(`unknown shape ${shape}; use ${Object.keys(SHAPES).join(', ')} or speech`);
      const path = generatedModelPath(o.dest, shape as keyof typeof SHAPES);
      mkdirSync(join(o.dest, 'llm'), { recursive: true });
      const bytes = await writeRandomLlama(path, SHAPES[shape as keyof typeof SHAPES]);
      process.stdout.write(`wrote ${path} (${(bytes / 2 ** 20).toFixed(1)} MiB, random weights: for tests and benchmarks only)\n`);
    })
    .parseAsync();
}
