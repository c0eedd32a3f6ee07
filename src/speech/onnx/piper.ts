import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DType, Graph } from './graph.js';

/**
 * A Piper (VITS) voice with random weights, format-identical to the Piper exports sherpa-onnx's
 * OfflineTts loads: `input`/`input_lengths`/`scales` in, `output` audio out, the metadata sherpa
 * reads (comment "piper", espeak voice, sample rate) and a tokens.txt of espeak IPA symbols. Its
 * audio is noise; phonemization, loading, per-sentence streaming and the compute are real. The
 * geometry is Piper "medium": 192-wide text encoder, 22.05 kHz, a HiFi-GAN decoder upsampling
 * 8·8·2·2 from 512 channels.
 */

export const PIPER_MEDIUM = {
  sampleRate: 22050,
  hidden: 192,
  textLayers: 6,
  /** Spectrogram frames per input token at length scale 1 (tokens include the pads between phonemes). */
  framesPerToken: 3,
  initialChannels: 512,
  upsampleRates: [8, 8, 2, 2],
  upsampleKernels: [16, 16, 4, 4],
  /** Dilations of the residual convolutions after each upsampling (kernel 3). */
  resDilations: [1, 3, 5],
  voice: 'en-us',
} as const;

export type PiperShape = typeof PIPER_MEDIUM;

/** The symbols of Piper's espeak phoneme map, in its id order: pad, bos, eos, space, punctuation, IPA. */
export const PIPER_SYMBOLS = [
  '_', '^', '$', ' ', '!', "'", '(', ')', ',', '-', '.', ':', ';', '?',
  ...'abcdefghijklmnopqrstuvwxyz'.replace('g', '').split(''),
  ...'æçðøħŋœǀǁǂǃɐɑɒɓɔɕɖɗɘəɚɛɜɞɟɠɡɢɣɤɥɦɧɨɪɫɬɭɮɯɰɱɲɳɴɵɶɸɹɺɻɽɾʀʁʂʃʄʈʉʊʋʌʍʎʏʐʑʒʔʕʘʙʛʜʝʟʡʢʲˈˌːˑ˞βθχᵻⱱ'.split(''),
  ...'0123456789'.split(''),
  '\u0327', '\u0303', '\u032a', '\u032f', '\u0329', 'ʰ', 'ˤ', 'ε', '↓', '#', '"', '↑', '\u033a', '\u033b', 'g',
];

export interface PiperFiles {
  model: string;
  tokens: string;
}

export function piperFiles(dir: string): PiperFiles {
  return { model: join(dir, 'en_US-generated-medium.onnx'), tokens: join(dir, 'tokens.txt') };
}

function conv(g: Graph, x: string, cin: number, cout: number, k: number, dilation = 1): string {
  const pad = (dilation * (k - 1)) / 2;
  return g.op('Conv', [x, g.weight([cout, cin, k], 1 / Math.sqrt(cin * k)), g.weight([cout], 0, 0)], {
    kernel_shape: [k],
    pads: [pad, pad],
    dilations: [dilation],
  });
}

function voice(s: PiperShape): Graph {
  const g = new Graph('piper', 21);
  const input = g.input('input', DType.int64, [1, 'phonemes']);
  g.input('input_lengths', DType.int64, [1]);
  const scales = g.input('scales', DType.float, [3]);

  // Text encoder.
  let h = g.op('Gather', [g.weight([PIPER_SYMBOLS.length, s.hidden], 1), input]);
  for (let l = 0; l < s.textLayers; l++) {
    h = g.op('Add', [h, g.linear(g.op('Relu', [g.linear(h, s.hidden, 4 * s.hidden)]), 4 * s.hidden, s.hidden)]);
  }
  // Durations: every token lasts ceil(framesPerToken × length_scale) frames.
  const lengthScale = g.op('Gather', [scales, g.ints([1])]);
  const frames = g.op('Cast', [g.op('Ceil', [g.op('Mul', [lengthScale, g.floats([s.framesPerToken])])])], { to: DType.int64 });
  const repeats = g.op('Concat', [g.ints([1]), g.ints([1]), frames, g.ints([1])], { axis: 0 });
  h = g.op('Tile', [g.op('Unsqueeze', [h, g.ints([2])]), repeats]);
  h = g.op('Reshape', [h, g.ints([1, -1, s.hidden])]);

  // HiFi-GAN decoder over (1, channels, frames).
  h = g.op('Transpose', [h], { perm: [0, 2, 1] });
  h = conv(g, h, s.hidden, s.initialChannels, 7);
  let ch: number = s.initialChannels;
  s.upsampleRates.forEach((rate, i) => {
    const k = s.upsampleKernels[i]!;
    const out = ch / 2;
    h = g.op('LeakyRelu', [h], { alpha: 0.1 });
    h = g.op('ConvTranspose', [h, g.weight([ch, out, k], 1 / Math.sqrt(ch * k)), g.weight([out], 0, 0)], {
      kernel_shape: [k],
      strides: [rate],
      pads: [(k - rate) / 2, (k - rate) / 2],
    });
    ch = out;
    for (const d of s.resDilations) {
      const r = conv(g, g.op('LeakyRelu', [conv(g, g.op('LeakyRelu', [h], { alpha: 0.1 }), ch, ch, 3, d)], { alpha: 0.1 }), ch, ch, 3, 1);
      h = g.op('Add', [h, r]);
    }
  });
  h = g.op('Tanh', [conv(g, g.op('LeakyRelu', [h], { alpha: 0.01 }), ch, 1, 7)]);
  g.output(h, 'output', DType.float, [1, 1, 'samples']);
  return g;
}

/** Writes the voice and its tokens.txt into `dir`; returns the model's bytes. */
export async function writeRandomPiper(dir: string, s: PiperShape = PIPER_MEDIUM): Promise<number> {
  await mkdir(dir, { recursive: true });
  const f = piperFiles(dir);
  const bytes = voice(s).encode({
    model_type: 'vits',
    comment: 'piper',
    language: 'English',
    voice: s.voice,
    has_espeak: 1,
    n_speakers: 1,
    sample_rate: s.sampleRate,
    model_author: 'frontdesk models:generate (random weights)',
  });
  await writeFile(f.model, bytes);
  await writeFile(f.tokens, PIPER_SYMBOLS.map((t, i) => `${t} ${i}`).join('\n') + '\n');
  return bytes.length;
}
