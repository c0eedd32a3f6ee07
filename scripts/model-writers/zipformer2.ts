import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DType, Graph } from './graph.js';

/**
 * A streaming zipformer2 transducer with random weights, format-identical to icefall's export that
 * sherpa-onnx's OnlineRecognizer loads (encoder/decoder/joiner ONNX with the metadata and the 6
 * cached states per layer it checks, plus tokens.txt). Its words are noise; loading, streaming,
 * state batching and the compute per chunk are real. The state geometry is that of
 * sherpa-onnx-streaming-zipformer-en-2023-06-26 (chunk 16, left context 128); the encoder body is
 * a feed-forward stack whose weights run at 50 frames a second, about the published model's cost.
 */

export const ZIPFORMER2 = {
  encoderDims: [192, 256, 384, 512, 384, 256],
  queryHeadDims: [32, 32, 32, 32, 32, 32],
  valueHeadDims: [12, 12, 12, 12, 12, 12],
  numHeads: [4, 4, 4, 8, 4, 4],
  numEncoderLayers: [2, 2, 3, 4, 3, 2],
  cnnModuleKernels: [31, 31, 15, 15, 15, 31],
  leftContextLen: [128, 64, 32, 16, 32, 64],
  /** Feature frames per chunk, and with the right padding the encoder sees. */
  decodeChunkLen: 32,
  T: 45,
  featureDim: 80,
  /** The feed-forward body standing in for the zipformer stacks. */
  bodyDim: 512,
  bodyLayers: 6,
  joinerDim: 512,
  vocabSize: 500,
  contextSize: 2,
  /**
   * Added to the blank logit so random weights emit a token on about one output frame in five,
   * the rate of real speech, instead of on every frame.
   */
  blankBias: 3,
  /**
   * The joiner's logits are multiplied by this: the same tokens win, but with the sure
   * probabilities a trained model gives clear speech, so the agent's confidence rules treat what
   * it hears as heard (random weights would otherwise read as a hopeless guess every turn).
   */
  logitScale: 40,
} as const;

export type Zipformer2Shape = typeof ZIPFORMER2;

export interface TransducerFiles {
  encoder: string;
  decoder: string;
  joiner: string;
  tokens: string;
}

export function transducerFiles(dir: string): TransducerFiles {
  return {
    encoder: join(dir, 'encoder.onnx'),
    decoder: join(dir, 'decoder.onnx'),
    joiner: join(dir, 'joiner.onnx'),
    tokens: join(dir, 'tokens.txt'),
  };
}

function encoder(s: Zipformer2Shape): Graph {
  const g = new Graph('encoder', 11);
  const x = g.input('x', DType.float, ['N', s.T, s.featureDim]);
  const states: string[] = [];
  const stateInputs: { name: string; dims: (number | string)[]; type: DType }[] = [];
  let layer = 0;
  s.encoderDims.forEach((dim, i) => {
    const keyDim = s.queryHeadDims[i]! * s.numHeads[i]!;
    const valueDim = s.valueHeadDims[i]! * s.numHeads[i]!;
    const nonlin = (3 * dim) / 4;
    const left = s.leftContextLen[i]!;
    const half = Math.floor(s.cnnModuleKernels[i]! / 2);
    for (let j = 0; j < s.numEncoderLayers[i]!; j++, layer++) {
      stateInputs.push(
        { name: `cached_key_${layer}`, dims: [left, 'N', keyDim], type: DType.float },
        { name: `cached_nonlin_attn_${layer}`, dims: [1, 'N', left, nonlin], type: DType.float },
        { name: `cached_val1_${layer}`, dims: [left, 'N', valueDim], type: DType.float },
        { name: `cached_val2_${layer}`, dims: [left, 'N', valueDim], type: DType.float },
        { name: `cached_conv1_${layer}`, dims: ['N', dim, half], type: DType.float },
        { name: `cached_conv2_${layer}`, dims: ['N', dim, half], type: DType.float },
      );
    }
  });
  const embedDim = Math.floor((Math.floor((s.featureDim - 1) / 2) - 1) / 2);
  stateInputs.push(
    { name: 'embed_states', dims: ['N', 128, 3, embedDim], type: DType.float },
    { name: 'processed_lens', dims: ['N'], type: DType.int64 },
  );
  for (const st of stateInputs) states.push(g.input(st.name, st.type, st.dims));

  // The chunk without its right padding, two 10 ms frames per 50 Hz step.
  const chunk = g.op('Slice', [x, g.ints([0]), g.ints([s.decodeChunkLen]), g.ints([1])]);
  const steps = s.decodeChunkLen / 2;
  let h = g.op('Reshape', [chunk, g.ints([0, steps, 2 * s.featureDim])]);
  h = g.op('Relu', [g.linear(h, 2 * s.featureDim, s.bodyDim)]);
  for (let l = 0; l < s.bodyLayers; l++) {
    const ff = g.linear(g.op('Relu', [g.linear(h, s.bodyDim, 4 * s.bodyDim)]), 4 * s.bodyDim, s.bodyDim);
    h = g.op('Add', [h, ff]);
  }
  // The output runs at 25 Hz, as zipformer2's does.
  h = g.op('Reshape', [h, g.ints([0, steps / 2, 2 * s.bodyDim])]);
  h = g.linear(h, 2 * s.bodyDim, s.joinerDim);
  g.output(h, 'encoder_out', DType.float, ['N', steps / 2, s.joinerDim]);

  stateInputs.forEach((st, i) => {
    const next = st.name === 'processed_lens' ? g.op('Add', [states[i]!, g.ints([steps])]) : g.op('Identity', [states[i]!]);
    g.output(next, `new_${st.name}`, st.type, st.dims);
  });
  return g;
}

function decoder(s: Zipformer2Shape): Graph {
  const g = new Graph('decoder', 12);
  const y = g.input('y', DType.int64, ['N', s.contextSize]);
  const emb = g.op('Gather', [g.weight([s.vocabSize, s.joinerDim], 1), y]);
  const mean = g.op('ReduceMean', [emb], { axes: [1], keepdims: 0 });
  g.output(g.op('Relu', [g.linear(mean, s.joinerDim, s.joinerDim)]), 'decoder_out', DType.float, ['N', s.joinerDim]);
  return g;
}

function joiner(s: Zipformer2Shape): Graph {
  const g = new Graph('joiner', 13);
  const e = g.input('encoder_out', DType.float, ['N', s.joinerDim]);
  const d = g.input('decoder_out', DType.float, ['N', s.joinerDim]);
  const act = g.op('Tanh', [g.op('Add', [e, d])]);
  const bias = new Float32Array(s.vocabSize);
  bias[0] = s.blankBias;
  const raw = g.op('Add', [g.op('MatMul', [act, g.weight([s.joinerDim, s.vocabSize], 1 / Math.sqrt(s.joinerDim))]), g.tensor(bias, [s.vocabSize])]);
  const logits = g.op('Mul', [raw, g.floats([s.logitScale])]);
  g.output(logits, 'logit', DType.float, ['N', s.vocabSize]);
  return g;
}

/**
 * BPE-style pieces (word-initial ones marked ▁), in ids as sherpa's tokens.txt lists them. They are
 * made-up syllables, not English words: what a random model strings together is noise that no
 * rule of the agent mistakes for a day, a time, a service or a yes, so every turn of the neural
 * benchmark is an open question for the LLM, as the target assumes.
 */
export function transducerTokens(size: number): string[] {
  const onsets = ['b', 'd', 'f', 'g', 'k', 'l', 'm', 'p', 'r', 's', 't', 'v', 'z', 'br', 'dr', 'gl', 'kr', 'pl', 'sk', 'sp', 'st', 'tr', 'zh'];
  const vowels = ['a', 'e', 'i', 'o', 'u', 'ae', 'oi', 'uo'];
  const codas = ['', 'x', 'lb', 'rz', 'sk', 'mp', 'nd', 'rt'];
  const pieces = ['<blk>', '<sos/eos>', '<unk>'];
  for (const c of codas) for (const v of vowels) for (const o of onsets) {
    if (pieces.length >= size) return pieces;
    const syllable = `${o}${v}${c}`.toUpperCase();
    // Alternate word-initial and word-internal pieces, as a BPE vocabulary has both.
    pieces.push(pieces.length % 2 ? `▁${syllable}` : syllable);
  }
  return pieces;
}

/** Writes encoder.onnx, decoder.onnx, joiner.onnx and tokens.txt into `dir`; returns the bytes written. */
export async function writeRandomZipformer2(dir: string, s: Zipformer2Shape = ZIPFORMER2): Promise<number> {
  await mkdir(dir, { recursive: true });
  const f = transducerFiles(dir);
  const enc = encoder(s).encode({
    model_type: 'zipformer2',
    version: '1',
    model_author: 'frontdesk models:generate (random weights)',
    comment: 'streaming zipformer2, format-identical, random weights',
    encoder_dims: s.encoderDims,
    query_head_dims: s.queryHeadDims,
    value_head_dims: s.valueHeadDims,
    num_heads: s.numHeads,
    num_encoder_layers: s.numEncoderLayers,
    cnn_module_kernels: s.cnnModuleKernels,
    left_context_len: s.leftContextLen,
    T: s.T,
    decode_chunk_len: s.decodeChunkLen,
  });
  const dec = decoder(s).encode({ vocab_size: s.vocabSize, context_size: s.contextSize });
  const join_ = joiner(s).encode({ joiner_dim: s.joinerDim });
  await writeFile(f.encoder, enc);
  await writeFile(f.decoder, dec);
  await writeFile(f.joiner, join_);
  await writeFile(f.tokens, transducerTokens(s.vocabSize).map((t, i) => `${t} ${i}`).join('\n') + '\n');
  return enc.length + dec.length + join_.length;
}
