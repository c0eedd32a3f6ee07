// A small builder for ONNX graphs over onnx-proto's generated schema: no npm package builds ONNX
// graphs in JS, and format-identical generated models (random weights) are all this project needs.
import { createRequire } from 'node:module';
import type { onnx as OnnxNs } from 'onnx-proto';

const require = createRequire(import.meta.url);
const { onnx } = require('onnx-proto') as { onnx: typeof OnnxNs };

export const DType = { float: 1, uint8: 2, int32: 6, int64: 7 } as const;
export type DType = (typeof DType)[keyof typeof DType];

/** A dimension: a size, or a name for a dynamic one (batch, time). */
export type Dim = number | string;
type Attr = number | number[] | string | { floats: number[] };

/** Deterministic normal(0, 1) numbers (xorshift + Box–Muller): the same seed writes the same model. */
export function gaussian(seed: number): () => number {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
}

export class Graph {
  private readonly nodes: OnnxNs.INodeProto[] = [];
  private readonly initializers: OnnxNs.ITensorProto[] = [];
  private readonly inputs: OnnxNs.IValueInfoProto[] = [];
  private readonly outputs: OnnxNs.IValueInfoProto[] = [];
  private n = 0;
  private readonly rand: () => number;
  /** Bytes of weights so far. */
  weightBytes = 0;

  constructor(readonly name: string, seed = 1) {
    this.rand = gaussian(seed);
  }

  input(name: string, type: DType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Marks `value` as the graph output `name` (through an Identity when the names differ). */
  output(value: string, name: string, type: DType, dims: Dim[]): void {
    if (value !== name) this.nodes.push({ opType: 'Identity', input: [value], output: [name], name: `out_${name}` });
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** A float weight drawn from normal(0, std), or filled with `fill`. */
  weight(dims: number[], std: number, fill?: number): string {
    const count = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(count);
    if (fill !== undefined) data.fill(fill);
    else for (let i = 0; i < count; i++) data[i] = this.rand() * std;
    return this.tensor(data, dims);
  }

  tensor(data: Float32Array, dims: number[]): string {
    const name = `w${this.n++}`;
    this.initializers.push({ name, dims, dataType: DType.float, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    this.weightBytes += data.byteLength;
    return name;
  }

  /**
   * A uint8 weight as onnxruntime's `quantize_dynamic` stores one (QUInt8, zero point 128, one
   * scale per tensor): random bytes around the zero point, read back as normal(0, std)-like values.
   */
  weightQ(dims: number[], std: number): { data: string; scale: string; zeroPoint: string } {
    const count = dims.reduce((a, b) => a * b, 1);
    const data = new Uint8Array(count);
    // Uniform in [96, 160): centred on the zero point, standard deviation ≈ 18.5 steps. A plain
    // xorshift (seeded from this graph's stream) because a model holds ~10^8 of these bytes.
    let r = (Math.floor(Math.abs(this.rand()) * 0x7fffffff) | 1) >>> 0;
    for (let i = 0; i < count; i++) {
      r ^= r << 13; r >>>= 0;
      r ^= r >>> 17;
      r ^= r << 5; r >>>= 0;
      data[i] = 96 + (r & 63);
    }
    const name = `q${this.n++}`;
    this.initializers.push({ name, dims, dataType: DType.uint8, rawData: data });
    this.weightBytes += count;
    const zp = `q${this.n++}`;
    this.initializers.push({ name: zp, dims: [], dataType: DType.uint8, rawData: Uint8Array.of(128) });
    const scale = `q${this.n++}`;
    this.initializers.push({ name: scale, dims: [], dataType: DType.float, floatData: [std / 18.5] });
    return { data: name, scale, zeroPoint: zp };
  }

  /**
   * x · W + b with W stored as uint8, computed the way `quantize_dynamic` rewrites a MatMul:
   * DynamicQuantizeLinear on the activation, MatMulInteger, then the two scales.
   */
  linearQ(x: string, inDim: number, outDim: number, bias = 0): string {
    const w = this.weightQ([inDim, outDim], 1 / Math.sqrt(inDim));
    const [xq, xScale, xZero] = this.opN('DynamicQuantizeLinear', [x], 3);
    const acc = this.op('MatMulInteger', [xq!, w.data, xZero!, w.zeroPoint]);
    const y = this.op('Mul', [this.op('Cast', [acc], { to: DType.float }), this.op('Mul', [xScale!, w.scale])]);
    return this.op('Add', [y, this.weight([outDim], 0, bias)]);
  }

  ints(values: number[]): string {
    const name = `c${this.n++}`;
    this.initializers.push({ name, dims: [values.length], dataType: DType.int64, int64Data: values });
    return name;
  }

  floats(values: number[]): string {
    return this.tensor(Float32Array.from(values), [values.length]);
  }

  op(type: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    const out = `t${this.n++}`;
    this.nodes.push({ opType: type, input: inputs, output: [out], name: `${type}_${out}`, attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)) });
    return out;
  }

  /** An op with several outputs; returns their names in order. */
  opN(type: string, inputs: string[], outputs: number, attrs: Record<string, Attr> = {}): string[] {
    const outs = Array.from({ length: outputs }, () => `t${this.n++}`);
    this.nodes.push({ opType: type, input: inputs, output: outs, name: `${type}_${outs[0]}`, attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)) });
    return outs;
  }

  /** x · W + b with a fresh random W (fan-in scaled) and zero b. */
  linear(x: string, inDim: number, outDim: number, bias = 0): string {
    const y = this.op('MatMul', [x, this.weight([inDim, outDim], 1 / Math.sqrt(inDim))]);
    return this.op('Add', [y, this.weight([outDim], 0, bias)]);
  }

  encode(metadata: Record<string, string | number | readonly number[]>, opset = 17): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'frontdesk models:generate',
      opsetImport: [{ domain: '', version: opset }],
      graph: { name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
      metadataProps: Object.entries(metadata).map(([key, v]) => ({ key, value: Array.isArray(v) ? v.join(',') : String(v) })),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, type: DType, dims: Dim[]): OnnxNs.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: type, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function attr(name: string, v: Attr): OnnxNs.IAttributeProto {
  if (typeof v === 'string') return { name, type: 3, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: 7, ints: v };
  if (typeof v === 'object') return { name, type: 6, floats: v.floats };
  return Number.isInteger(v) ? { name, type: 2, i: v } : { name, type: 1, f: v };
}
