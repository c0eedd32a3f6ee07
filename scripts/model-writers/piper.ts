import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DType, Graph } from './graph.js';

/**
 * A Piper (VITS) voice with random weights, format-identical to the Piper exports sherpa-onnx's
 * OfflineTts loads: `input`/`input_lengths`/`scales` in, `output` audio out, the metadata sherpa
 * reads (comment "piper", espeak voice, sample rate) and a tokens.txt of espeak IPA symbols. Its
 * audio is noise; phonemization, loading, per-sentence streaming and the compute are real. The
 * geometry is Piper's default training config: a 192-wide text encoder, a 4-layer flow and a HiFi-GAN decoder
 * (resblock type 2) upsampling 8·8·4 from 256 channels, one frame per 256 samples. "medium"
 * voices run it at 22.05 kHz, "low" ones at 16 kHz: the telephone keeps 8 kHz, so a low voice
 * loses nothing on a call and costs a quarter less.
 */

export interface PiperShape {
  readonly name: string;
  readonly sampleRate: number;
  readonly hidden: number;
  readonly textLayers: number;
  /** Spectrogram frames per input token at length scale 1 (tokens include the pads between phonemes). */
  readonly framesPerToken: number;
  /** Coupling layers of the flow, and gated WaveNet layers in each. */
  readonly flowLayers: number;
  readonly flowWaveNetLayers: number;
  readonly initialChannels: number;
  readonly upsampleRates: readonly number[];
  readonly upsampleKernels: readonly number[];
  /** Residual blocks after each upsampling, averaged: kernel and the dilation of each of its convolutions. */
  readonly resBlocks: readonly { readonly kernel: number; readonly dilations: readonly number[] }[];
  readonly voice: string;
}

export const PIPER_MEDIUM = {
  name: 'en_US-generated-medium',
  sampleRate: 22050,
  hidden: 192,
  textLayers: 6,
  framesPerToken: 3,
  flowLayers: 4,
  flowWaveNetLayers: 4,
  initialChannels: 256,
  upsampleRates: [8, 8, 4],
  upsampleKernels: [16, 16, 8],
  resBlocks: [
    { kernel: 3, dilations: [1, 2] },
    { kernel: 5, dilations: [2, 6] },
    { kernel: 7, dilations: [3, 12] },
  ],
  voice: 'en-us',
} as const satisfies PiperShape;

/** The same voice at 16 kHz: fewer frames per second for the same speech. */
export const PIPER_LOW = { ...PIPER_MEDIUM, name: 'en_US-generated-low', sampleRate: 16000, framesPerToken: (3 * 16000) / 22050 } as const satisfies PiperShape;

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

export function piperFiles(dir: string, s: PiperShape = PIPER_LOW): PiperFiles {
  return { model: join(dir, `${s.name}.onnx`), tokens: join(dir, 'tokens.txt') };
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
  // Durations: every token lasts framesPerToken × length_scale frames on average (tiled to the
  // next whole number, then the utterance is cut to its total).
  const lengthScale = g.op('Gather', [scales, g.ints([1])]);
  const perToken = g.op('Mul', [lengthScale, g.floats([s.framesPerToken])]);
  const frames = g.op('Cast', [g.op('Ceil', [perToken])], { to: DType.int64 });
  const repeats = g.op('Concat', [g.ints([1]), g.ints([1]), frames, g.ints([1])], { axis: 0 });
  h = g.op('Tile', [g.op('Unsqueeze', [h, g.ints([2])]), repeats]);
  h = g.op('Reshape', [h, g.ints([1, -1, s.hidden])]);
  const tokens = g.op('Cast', [g.op('Gather', [g.op('Shape', [input]), g.ints([1])])], { to: DType.float });
  const total = g.op('Cast', [g.op('Ceil', [g.op('Mul', [tokens, perToken])])], { to: DType.int64 });
  h = g.op('Slice', [h, g.ints([0]), total, g.ints([1])]);

  h = g.op('Transpose', [h], { perm: [0, 2, 1] });
  // The flow: coupling layers of gated WaveNet convolutions at the frame rate.
  for (let f = 0; f < s.flowLayers * s.flowWaveNetLayers; f++) {
    const both = conv(g, h, s.hidden, 2 * s.hidden, 5);
    const gate = g.op('Mul', [
      g.op('Tanh', [g.op('Slice', [both, g.ints([0]), g.ints([s.hidden]), g.ints([1])])]),
      g.op('Sigmoid', [g.op('Slice', [both, g.ints([s.hidden]), g.ints([2 * s.hidden]), g.ints([1])])]),
    ]);
    h = g.op('Add', [h, conv(g, gate, s.hidden, s.hidden, 1)]);
  }
  // HiFi-GAN decoder over (1, channels, frames).
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
    const blocks = s.resBlocks.map((b) => {
      let x = h;
      for (const d of b.dilations) x = g.op('Add', [x, conv(g, g.op('LeakyRelu', [x], { alpha: 0.1 }), ch, ch, b.kernel, d)]);
      return x;
    });
    h = g.op('Mul', [blocks.reduce((a, b) => g.op('Add', [a, b])), g.floats([1 / blocks.length])]);
  });
  h = g.op('Tanh', [conv(g, g.op('LeakyRelu', [h], { alpha: 0.01 }), ch, 1, 7)]);
  g.output(h, 'output', DType.float, [1, 1, 'samples']);
  return g;
}

/** Writes the voice and its tokens.txt into `dir`; returns the model's bytes. */
export async function writeRandomPiper(dir: string, s: PiperShape = PIPER_LOW): Promise<number> {
  await mkdir(dir, { recursive: true });
  const f = piperFiles(dir, s);
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
