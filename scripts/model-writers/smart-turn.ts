import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DType, Graph } from './graph.js';

/**
 * Smart Turn v3 with random weights, format-identical to pipecat-ai's smart-turn-v3.x ONNX export
 * as its inference code runs it: `input_features` [batch, 80, 800] (Whisper log-mel of the last 8 s
 * at 16 kHz) in, one end-of-turn probability per batch row out (sigmoid applied inside). The body
 * is Whisper-tiny's encoder (two convolutions, 4 pre-norm transformer layers of width 384 with 6
 * heads, GELU MLP of 1536) with attention pooling and a small classifier head, about 8 M
 * parameters: its verdicts are noise, its loading and compute per decision are real. The
 * published file is int8-quantized; this one is float32, so it costs somewhat more per decision.
 */
export const SMART_TURN_V3 = {
  name: 'smart-turn-v3-generated',
  mels: 80,
  frames: 800,
  width: 384,
  heads: 6,
  layers: 4,
  ffn: 1536,
  poolHidden: 256,
  classifier: [256, 64],
} as const;

export type SmartTurnShape = typeof SMART_TURN_V3;

/** GELU as Whisper uses it (erf form): opset 17 has no Gelu op. */
function gelu(g: Graph, x: string): string {
  const scaled = g.op('Mul', [x, g.floats([Math.SQRT1_2])]);
  const erf = g.op('Add', [g.op('Erf', [scaled]), g.floats([1])]);
  return g.op('Mul', [g.op('Mul', [x, erf]), g.floats([0.5])]);
}

function layerNorm(g: Graph, x: string, width: number): string {
  return g.op('LayerNormalization', [x, g.weight([width], 0, 1), g.weight([width], 0, 0)], { axis: -1, epsilon: 1e-5 });
}

function conv1d(g: Graph, x: string, cin: number, cout: number, stride: number): string {
  return g.op('Conv', [x, g.weight([cout, cin, 3], 1 / Math.sqrt(cin * 3)), g.weight([cout], 0, 0)], { kernel_shape: [3], pads: [1, 1], strides: [stride] });
}

/** Multi-head self-attention over [batch, time, width]. */
function attention(g: Graph, x: string, s: SmartTurnShape): string {
  const headDim = s.width / s.heads;
  const split = (t: string) => g.op('Transpose', [g.op('Reshape', [t, g.ints([0, -1, s.heads, headDim])])], { perm: [0, 2, 1, 3] });
  const q = split(g.op('Mul', [g.linear(x, s.width, s.width), g.floats([1 / Math.sqrt(headDim)])]));
  const k = split(g.op('MatMul', [x, g.weight([s.width, s.width], 1 / Math.sqrt(s.width))]));
  const v = split(g.linear(x, s.width, s.width));
  const scores = g.op('Softmax', [g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })])], { axis: -1 });
  const mixed = g.op('Transpose', [g.op('MatMul', [scores, v])], { perm: [0, 2, 1, 3] });
  return g.linear(g.op('Reshape', [mixed, g.ints([0, -1, s.width])]), s.width, s.width);
}

export function smartTurnGraph(s: SmartTurnShape = SMART_TURN_V3, seed = 7): Graph {
  const g = new Graph(s.name, seed);
  const input = g.input('input_features', DType.float, ['batch_size', s.mels, s.frames]);
  // Whisper's stem: [batch, 80, 800] → [batch, 384, 400] → [batch, 400, 384] + positions.
  let x = gelu(g, conv1d(g, gelu(g, conv1d(g, input, s.mels, s.width, 1)), s.width, s.width, 2));
  x = g.op('Add', [g.op('Transpose', [x], { perm: [0, 2, 1] }), g.weight([s.frames / 2, s.width], 0.02)]);
  for (let l = 0; l < s.layers; l++) {
    x = g.op('Add', [x, attention(g, layerNorm(g, x, s.width), s)]);
    const h = gelu(g, g.linear(layerNorm(g, x, s.width), s.width, s.ffn));
    x = g.op('Add', [x, g.linear(h, s.ffn, s.width)]);
  }
  x = layerNorm(g, x, s.width);
  // Attention pooling over time, then the classifier: one probability per row.
  const weights = g.op('Softmax', [g.linear(g.op('Tanh', [g.linear(x, s.width, s.poolHidden)]), s.poolHidden, 1)], { axis: 1 });
  const pooled = g.op('ReduceSum', [g.op('Mul', [x, weights]), g.ints([1])], { keepdims: 0 });
  let c = gelu(g, layerNorm(g, g.linear(pooled, s.width, s.classifier[0]), s.classifier[0]));
  c = gelu(g, g.linear(c, s.classifier[0], s.classifier[1]));
  const logit = g.linear(c, s.classifier[1], 1);
  g.output(g.op('Sigmoid', [logit]), 'logits', DType.float, ['batch_size', 1]);
  return g;
}

/** Writes the generated model to `file`; returns its size in bytes. */
export async function writeRandomSmartTurn(file: string, s: SmartTurnShape = SMART_TURN_V3): Promise<number> {
  const bytes = smartTurnGraph(s).encode({ model_type: 'smart-turn-v3', generated: 'random weights, format-identical' });
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, bytes);
  return bytes.length;
}
