import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DType, gaussian, Graph } from './graph.js';
import { transducerTokens, type TransducerFiles } from './zipformer2.js';

/**
 * NeMo's cache-aware streaming FastConformer transducer with random weights, format-identical to
 * sherpa-onnx's int8 export of stt_en_fastconformer_hybrid_large_streaming_80ms (the "telephone"
 * set): the encoder takes [N, 80, window] features and the three caches NeMo streams with, the
 * decoder is NeMo's LSTM prediction network (its states make sherpa-onnx pick its NeMo
 * recognizer), the joiner returns [N, T, U, vocab + 1] with the blank last. The metadata is the
 * one sherpa-onnx's export script writes. The encoder body is 17 layers of int8 feed-forward
 * blocks (MatMulInteger, as `quantize_dynamic` leaves them) at the model's 12.5 Hz frame rate,
 * about the published model's multiply-adds, and it reads and shifts the attention cache the way
 * the real one does, so state carries from chunk to chunk. Its words are noise.
 */
export const NEMO_FASTCONFORMER_80MS = {
  featureDim: 80,
  /** Feature frames per encoder call (chunk 16 + pre-encode cache 9), and the shift between calls. */
  windowSize: 25,
  chunkShift: 16,
  subsampling: 8,
  layers: 17,
  dModel: 512,
  ffn: 2048,
  /** Feed-forward blocks per layer standing in for the macaron pair, self-attention and convolution. */
  blocksPerLayer: 3,
  /** cache_last_channel [N, layers, 70, 512]: the attention's left context. */
  attentionContext: 70,
  /** cache_last_time [N, layers, 512, 8]: the depthwise convolution's left context. */
  convContext: 8,
  predHidden: 640,
  predRnnLayers: 1,
  jointHidden: 640,
  /** BPE pieces without the blank (NeMo's vocab_size); the blank is id vocabSize. */
  vocabSize: 1024,
  /**
   * How strongly the joiner turns away from the last two tokens emitted (their embeddings, carried
   * by the decoder output): random weights would otherwise emit one token, or cycle between two,
   * up to sherpa's ten times a frame.
   */
  repeatPenalty: 8,
  /**
   * Frames quieter than this mean log-mel are silence: the encoder marks them in its last output
   * channel and the joiner adds `quietBlank` to the blank there, so silence decodes to nothing.
   */
  quietLogMel: -13,
  quietBlank: 20,
  /** Added to the blank logit so random weights emit a token on some frames, not all. */
  blankBias: 2.1,
} as const;

export type NemoShape = typeof NEMO_FASTCONFORMER_80MS;

/** The file names of sherpa-onnx's published int8 archive. */
export function nemoFiles(dir: string): TransducerFiles {
  return {
    encoder: join(dir, 'encoder.int8.onnx'),
    decoder: join(dir, 'decoder.int8.onnx'),
    joiner: join(dir, 'joiner.int8.onnx'),
    tokens: join(dir, 'tokens.txt'),
  };
}

/** NeMo's tokens.txt: `<unk>` first, BPE pieces, `<blk>` last. */
export function nemoTokens(s: NemoShape = NEMO_FASTCONFORMER_80MS): string[] {
  return ['<unk>', ...transducerTokens(s.vocabSize + 2).slice(3), '<blk>'];
}

function encoder(s: NemoShape): Graph {
  const g = new Graph('encoder', 21);
  const frames = s.chunkShift / s.subsampling;
  const audio = g.input('audio_signal', DType.float, ['audio_signal_dynamic_axes_1', s.featureDim, 'audio_signal_dynamic_axes_2']);
  const length = g.input('length', DType.int64, ['length_dynamic_axes_1']);
  const channel = g.input('cache_last_channel', DType.float, ['cache_last_channel_dynamic_axes_1', s.layers, s.attentionContext, s.dModel]);
  const time = g.input('cache_last_time', DType.float, ['cache_last_time_dynamic_axes_1', s.layers, s.dModel, s.convContext]);
  const channelLen = g.input('cache_last_channel_len', DType.int64, ['cache_last_channel_len_dynamic_axes_1']);

  // Subsampling: the window's last chunkShift frames, eight 10 ms frames per 80 ms output frame.
  const feats = g.op('Transpose', [audio], { perm: [0, 2, 1] });
  const chunk = g.op('Slice', [feats, g.ints([s.windowSize - s.chunkShift]), g.ints([s.windowSize]), g.ints([1])]);
  let h = g.op('Reshape', [chunk, g.ints([0, frames, s.subsampling * s.featureDim])]);
  // How loud each output frame is (its mean log-mel), turned into 1 for speech and 0 for silence.
  const loudness = g.op('ReduceMean', [h], { axes: [2], keepdims: 1 });
  const voiced = g.op('Sigmoid', [g.op('Sub', [loudness, g.floats([s.quietLogMel])])]);
  h = g.op('Relu', [g.linearQ(h, s.subsampling * s.featureDim, s.dModel)]);

  const perLayer: string[] = [];
  for (let l = 0; l < s.layers; l++) {
    // Attention's left context: the layer's cached frames, pooled, added to this chunk's frames.
    const cached = g.op('Gather', [channel, g.ints([l])], { axis: 1 });
    const context = g.op('ReduceMean', [g.op('Squeeze', [cached, g.ints([1])])], { axes: [1], keepdims: 1 });
    h = g.op('Add', [h, g.op('Mul', [context, g.floats([0.5])])]);
    for (let b = 0; b < s.blocksPerLayer; b++) {
      const ff = g.linearQ(g.op('Tanh', [g.linearQ(h, s.dModel, s.ffn)]), s.ffn, s.dModel);
      h = g.op('Add', [h, g.op('Mul', [ff, g.floats([0.25])])]);
    }
    h = g.op('LayerNormalization', [h, g.weight([s.dModel], 0, 1), g.weight([s.dModel], 0, 0)], { axis: -1, epsilon: 1e-5 });
    perLayer.push(g.op('Unsqueeze', [h, g.ints([1])]));
  }

  // The last channel carries the voicing mark to the joiner.
  const marked = g.op('Concat', [g.op('Slice', [h, g.ints([0]), g.ints([s.dModel - 1]), g.ints([2])]), voiced], { axis: 2 });
  g.output(g.op('Transpose', [marked], { perm: [0, 2, 1] }), 'outputs', DType.float, ['outputs_dynamic_axes_1', s.dModel, 'outputs_dynamic_axes_2']);
  g.output(g.op('Div', [length, g.ints([s.subsampling])]), 'encoded_lengths', DType.int64, ['encoded_lengths_dynamic_axes_1']);
  // The attention cache shifts: its oldest frames out, this chunk's frames of every layer in.
  const kept = g.op('Slice', [channel, g.ints([frames]), g.ints([s.attentionContext]), g.ints([2])]);
  const next = g.op('Concat', [kept, g.op('Concat', perLayer, { axis: 1 })], { axis: 2 });
  g.output(next, 'cache_last_channel_next', DType.float, ['cache_last_channel_next_dynamic_axes_1', s.layers, s.attentionContext, s.dModel]);
  g.output(g.op('Identity', [time]), 'cache_last_time_next', DType.float, ['cache_last_time_next_dynamic_axes_1', s.layers, s.dModel, s.convContext]);
  const grown = g.op('Min', [g.op('Add', [channelLen, g.ints([frames])]), g.ints([s.attentionContext])]);
  g.output(grown, 'cache_last_channel_next_len', DType.int64, ['cache_last_channel_next_len_dynamic_axes_1']);
  return g;
}

/** The prediction network's token embedding, shared with the joiner's repeat penalty. */
function embedding(s: NemoShape): Float32Array {
  const rand = gaussian(24);
  return Float32Array.from({ length: (s.vocabSize + 1) * s.predHidden }, rand);
}

function decoder(s: NemoShape, table: Float32Array): Graph {
  const g = new Graph('decoder', 22);
  const targets = g.input('targets', DType.int32, ['targets_dynamic_axes_1', 'targets_dynamic_axes_2']);
  const targetLength = g.input('target_length', DType.int32, ['target_length_dynamic_axes_1']);
  const h0 = g.input('states.1', DType.float, [s.predRnnLayers, 'states.1_dim_1', s.predHidden]);
  const c0 = g.input('onnx::LSTM_3', DType.float, [s.predRnnLayers, 'onnx::LSTM_3_dim_1', s.predHidden]);
  // The blank id doubles as the start symbol, so the embedding has vocabSize + 1 rows.
  const emb = g.op('Gather', [g.tensor(table, [s.vocabSize + 1, s.predHidden]), targets]);
  const x = g.op('Transpose', [emb], { perm: [1, 0, 2] });
  const H = s.predHidden;
  const [y, hN, cN] = g.opN('LSTM', [x, g.weight([1, 4 * H, H], 1 / Math.sqrt(H)), g.weight([1, 4 * H, H], 1 / Math.sqrt(H)), g.weight([1, 8 * H], 0, 0), '', h0, c0], 3, { hidden_size: H });
  // The embeddings of the last two tokens ride along with the LSTM's output (see repeatPenalty):
  // the first state carries the previous token's embedding from call to call.
  const out = g.op('Transpose', [g.op('Add', [g.op('Add', [g.op('Squeeze', [y!, g.ints([1])]), x]), h0])], { perm: [1, 2, 0] });
  g.output(out, 'outputs', DType.float, ['outputs_dynamic_axes_1', s.predHidden, 'outputs_dynamic_axes_2']);
  g.output(g.op('Identity', [targetLength]), 'prednet_lengths', DType.int32, ['prednet_lengths_dynamic_axes_1']);
  void hN;
  g.output(g.op('Identity', [x]), 'states', DType.float, [s.predRnnLayers, 'states_dynamic_axes_1', s.predHidden]);
  g.output(cN!, '162', DType.float, [s.predRnnLayers, '162_dynamic_axes_1', s.predHidden]);
  return g;
}

function joiner(s: NemoShape, table: Float32Array): Graph {
  const g = new Graph('joiner', 23);
  const e = g.input('encoder_outputs', DType.float, ['encoder_outputs_dynamic_axes_1', s.dModel, 'encoder_outputs_dynamic_axes_2']);
  const d = g.input('decoder_outputs', DType.float, ['decoder_outputs_dynamic_axes_1', s.predHidden, 'decoder_outputs_dynamic_axes_2']);
  const enc = g.op('Unsqueeze', [g.linearQ(g.op('Transpose', [e], { perm: [0, 2, 1] }), s.dModel, s.jointHidden), g.ints([2])]);
  const dec = g.op('Unsqueeze', [g.linearQ(g.op('Transpose', [d], { perm: [0, 2, 1] }), s.predHidden, s.jointHidden), g.ints([1])]);
  // The prediction network only nudges the joint, so what is emitted follows the audio.
  const act = g.op('Tanh', [g.op('Add', [enc, g.op('Mul', [dec, g.floats([0.3])])])]);
  const bias = new Float32Array(s.vocabSize + 1);
  bias[s.vocabSize] = s.blankBias;
  let logits = g.op('Add', [g.linearQ(act, s.jointHidden, s.vocabSize + 1), g.tensor(bias, [s.vocabSize + 1])]);
  // Similarity of every token to the one just emitted, [N, 1, U, vocab + 1], subtracted.
  const transposed = new Float32Array(table.length);
  const rows = s.vocabSize + 1;
  for (let r = 0; r < rows; r++) for (let c = 0; c < s.predHidden; c++) transposed[c * rows + r] = table[r * s.predHidden + c]!;
  const similar = g.op('MatMul', [g.op('Transpose', [d], { perm: [0, 2, 1] }), g.tensor(transposed, [s.predHidden, rows])]);
  const penalty = g.op('Mul', [g.op('Unsqueeze', [similar, g.ints([1])]), g.floats([s.repeatPenalty / s.predHidden])]);
  logits = g.op('Sub', [logits, penalty]);
  // Silence (the encoder's voicing mark near 0) makes the blank win: [N, T, 1, 1] × one-hot blank.
  const voicing = g.op('Unsqueeze', [g.op('Transpose', [g.op('Slice', [e, g.ints([s.dModel - 1]), g.ints([s.dModel]), g.ints([1])])], { perm: [0, 2, 1] }), g.ints([2])]);
  const blankOnly = new Float32Array(rows);
  blankOnly[s.vocabSize] = s.quietBlank;
  const quiet = g.op('Mul', [g.op('Sub', [g.floats([1]), voicing]), g.tensor(blankOnly, [rows])]);
  logits = g.op('Add', [logits, quiet]);
  g.output(logits, 'outputs', DType.float, ['outputs_dynamic_axes_1', 'outputs_dynamic_axes_2', 'outputs_dynamic_axes_3', s.vocabSize + 1]);
  return g;
}

/** Writes the three int8-named ONNX files and tokens.txt into `dir`; returns the bytes written. */
export async function writeRandomNemoFastConformer(dir: string, s: NemoShape = NEMO_FASTCONFORMER_80MS): Promise<number> {
  await mkdir(dir, { recursive: true });
  const f = nemoFiles(dir);
  const enc = encoder(s).encode({
    vocab_size: s.vocabSize,
    window_size: s.windowSize,
    chunk_shift: s.chunkShift,
    normalize_type: '',
    cache_last_channel_dim1: s.layers,
    cache_last_channel_dim2: s.attentionContext,
    cache_last_channel_dim3: s.dModel,
    cache_last_time_dim1: s.layers,
    cache_last_time_dim2: s.dModel,
    cache_last_time_dim3: s.convContext,
    pred_rnn_layers: s.predRnnLayers,
    pred_hidden: s.predHidden,
    subsampling_factor: s.subsampling,
    model_type: 'EncDecHybridRNNTCTCBPEModel',
    version: '1',
    model_author: 'frontdesk models:generate (random weights)',
    comment: 'NeMo streaming FastConformer transducer, format-identical, random weights',
  });
  const table = embedding(s);
  const dec = decoder(s, table).encode({});
  const join_ = joiner(s, table).encode({});
  await writeFile(f.encoder, enc);
  await writeFile(f.decoder, dec);
  await writeFile(f.joiner, join_);
  await writeFile(f.tokens, nemoTokens(s).map((t, i) => `${t} ${i}`).join('\n') + '\n');
  return enc.length + dec.length + join_.length;
}
