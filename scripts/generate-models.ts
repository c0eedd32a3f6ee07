// npm run models:generate -- [tiny|0.5b|0.5b-q4] [--dest DIR]: writes a format-identical GGUF with random
// weights (llama layout, Q8_0, ChatML tokens) for tests and benchmarks on machines that cannot
// download real weights. Its words are noise; its loading path and compute cost are real.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { SHAPES, writeRandomLlama } from '../src/speech/llm/gguf.js';

export function generatedModelPath(dir: string, shape: keyof typeof SHAPES): string {
  return join(dir, 'llm', `${SHAPES[shape].name}.gguf`);
}

/** The generated GGUF of `shape` under `dir`, written unless one of the same shape is there. */
export async function ensureGeneratedLlm(dir: string, shape: keyof typeof SHAPES): Promise<string> {
  const path = generatedModelPath(dir, shape);
  const stamp = `${path}.shape`;
  const want = JSON.stringify(SHAPES[shape]);
  if (existsSync(path) && existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return path;
  mkdirSync(join(dir, 'llm'), { recursive: true });
  await writeRandomLlama(path, SHAPES[shape]);
  writeFileSync(stamp, want);
  return path;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  await new Command('models:generate')
    .argument('[shape]', `one of ${Object.keys(SHAPES).join(', ')}`, 'tiny')
    .option('--dest <dir>', 'models folder', process.env.FRONTDESK_MODELS_DIR ?? './models')
    .action(async (shape: string, o: { dest: string }) => {
      if (!(shape in SHAPES)) throw new Error(`unknown shape ${shape}; use ${Object.keys(SHAPES).join(' or ')}`);
      const path = generatedModelPath(o.dest, shape as keyof typeof SHAPES);
      mkdirSync(join(o.dest, 'llm'), { recursive: true });
      const bytes = await writeRandomLlama(path, SHAPES[shape as keyof typeof SHAPES]);
      process.stdout.write(`wrote ${path} (${(bytes / 2 ** 20).toFixed(1)} MiB, random weights: for tests and benchmarks only)\n`);
    })
    .parseAsync();
}
