// Hand-written: npm has GGUF readers (@huggingface/gguf) but no writer; this writes the few types we need.
import { randomFillSync } from 'node:crypto';
import { open } from 'node:fs/promises';
import { readFileSync } from 'node:fs';

/**
 * Writes a format-identical llama-architecture GGUF with random Q8_0 weights and a small
 * SentencePiece-style vocabulary with byte fallback and ChatML control tokens. Real loaders
 * (llama.cpp through node-llama-cpp) load and run it exactly as a downloaded model, at the same
 * compute cost per token for the same shape; only the words it produces are meaningless.
 */

export interface LlamaShape {
  name: string;
  vocab: number;
  embd: number;
  layers: number;
  heads: number;
  headsKv: number;
  ff: number;
  context: number;
  /**
   * Weight format: Q8_0 (default), Q4_0, or Q4_K_M as llama.cpp's quantizer mixes it (Q4_K, with
   * Q6_K for the output/tied embedding and for attn_v and ffn_down in the layers it favours).
   */
  quant?: 'q8_0' | 'q4_0' | 'q4_k_m';
  /** llama.cpp architecture: 'llama' (default) or 'qwen3' (adds the per-head q/k RMSNorm). */
  arch?: 'llama' | 'qwen3';
  /** The Jinja chat template written into the file (default: ChatML). */
  chatTemplate?: string;
  /** Width of one attention head when it is not embd / heads (Qwen3-4B: 2560 wide, 32 heads of 128). */
  headDim?: number;
  /** The output projection is the token embedding (no output.weight), as in Qwen3 up to 4B. */
  tiedEmbeddings?: boolean;
  ropeBase?: number;
}

/**
 * Shapes: "tiny" for fast tests; "0.5b" is Qwen2.5-0.5B's geometry (896 × 24 layers, 14/2 heads,
 * 4864 FFN, its 151,936-token vocabulary, whose output layer is a quarter of the cost of a token)
 * in Q8_0, and "0.5b-q4" the same in 4 bits.
 */
export const SHAPES = {
  tiny: { name: 'frontdesk-random-tiny', vocab: 1024, embd: 64, layers: 2, heads: 4, headsKv: 2, ff: 128, context: 2048 },
  '0.5b': { name: 'frontdesk-random-0.5b', vocab: 151936, embd: 896, layers: 24, heads: 14, headsKv: 2, ff: 4864, context: 4096 },
  '0.5b-q4': { name: 'frontdesk-random-0.5b-q4_0', vocab: 151936, embd: 896, layers: 24, heads: 14, headsKv: 2, ff: 4864, context: 4096, quant: 'q4_0' },
  // Qwen3's geometry in its own llama.cpp architecture (vocabulary, widths, layers, grouped heads of
  // 128, q/k RMSNorm, tied embeddings, rope base 1e6) in Q4_K_M, the file `npm run models` fetches.
  'qwen3-1.7b': { name: 'frontdesk-random-qwen3-1.7b-q4_k_m', arch: 'qwen3', vocab: 151936, embd: 2048, layers: 28, heads: 16, headsKv: 8, headDim: 128, ff: 6144, context: 4096, quant: 'q4_k_m', tiedEmbeddings: true, ropeBase: 1_000_000 },
  'qwen3-4b': { name: 'frontdesk-random-qwen3-4b-q4_k_m', arch: 'qwen3', vocab: 151936, embd: 2560, layers: 36, heads: 32, headsKv: 8, headDim: 128, ff: 9728, context: 4096, quant: 'q4_k_m', tiedEmbeddings: true, ropeBase: 1_000_000 },
  // The same layout at test size (K-quants need rows of 256).
  'tiny-qwen3': { name: 'frontdesk-random-tiny-qwen3-q4_k_m', arch: 'qwen3', vocab: 1024, embd: 256, layers: 2, heads: 4, headsKv: 2, headDim: 128, ff: 512, context: 2048, quant: 'q4_k_m', tiedEmbeddings: true, ropeBase: 1_000_000 },
} as const satisfies Record<string, LlamaShape>;

const enum T { U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9 }
const GGML_F32 = 0;
const GGML_Q4_0 = 2;
const GGML_Q8_0 = 8;
const GGML_Q4_K = 12;
const GGML_Q6_K = 14;
const ALIGN = 32;

class Buf {
  parts: Buffer[] = [];
  size = 0;
  push(b: Buffer) {
    this.parts.push(b);
    this.size += b.length;
  }
  u32(v: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  i32(v: number) {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.push(b);
  }
  u64(v: number) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  f32(v: number) {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.push(b);
  }
  str(s: string) {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
}

type Meta = [string, 'u32' | 'f32' | 'str' | 'bool', number | string | boolean] | [string, 'strs', string[]] | [string, 'f32s' | 'i32s', number[]];

function writeMeta(b: Buf, [key, kind, value]: Meta) {
  b.str(key);
  switch (kind) {
    case 'u32': b.u32(T.U32); b.u32(value as number); break;
    case 'f32': b.u32(T.F32); b.f32(value as number); break;
    case 'bool': b.u32(T.BOOL); b.push(Buffer.from([value ? 1 : 0])); break;
    case 'str': b.u32(T.STRING); b.str(value as string); break;
    case 'strs': b.u32(T.ARRAY); b.u32(T.STRING); b.u64((value as string[]).length); for (const s of value as string[]) b.str(s); break;
    case 'f32s': b.u32(T.ARRAY); b.u32(T.F32); b.u64((value as number[]).length); for (const v of value as number[]) b.f32(v); break;
    case 'i32s': b.u32(T.ARRAY); b.u32(T.I32); b.u64((value as number[]).length); for (const v of value as number[]) b.i32(v); break;
  }
}

const WORDS = 'the a to and of i you for is in it that we your can on at be have with this what how much when book cleaning clean deep standard move out price cost hours open close tuesday monday wednesday thursday friday saturday sunday morning afternoon yes no please thanks thank bye goodbye address street message owner time day next week today tomorrow am pm sure great would like need want help call back $ , . ? ! : 0 1 2 3 4 5 6 7 8 9'.split(' ');

/** A SentencePiece-style vocabulary: control tokens, 256 byte tokens, common words, filler pieces. */
export function vocabulary(size: number): { tokens: string[]; scores: number[]; types: number[] } {
  const tokens = ['<unk>', '<s>', '</s>', '<|im_start|>', '<|im_end|>'];
  const types = [2, 3, 3, 3, 3];
  for (let i = 0; i < 256; i++) {
    tokens.push(`<0x${i.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  const seen = new Set(tokens);
  const add = (t: string) => {
    if (tokens.length >= size || seen.has(t)) return;
    seen.add(t);
    tokens.push(t);
    types.push(1);
  };
  for (const r of ['user', 'assistant', 'system']) add(r); // ChatML role names follow a control token, unspaced
  for (const w of WORDS) add(`▁${w}`);
  for (const c of 'abcdefghijklmnopqrstuvwxyz') add(c), add(`▁${c}`);
  // Real models split English into about one token per word: fill the vocabulary with English
  // words (shortest first, from the CMU dictionary when Debian has it) so prompts cost what they would.
  // Words up to 8 letters (longer ones split into pieces, as in a real BPE vocabulary), then made-up
  // syllable pairs: a random model picks tokens about uniformly, and a reply of them should take
  // as long to say as a real one.
  for (const w of englishWords()) if (w.length <= 8) add(`▁${w}`);
  const syllables = ['b', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'br', 'st', 'tr', 'pl'].flatMap((c) => ['a', 'e', 'i', 'o', 'u', 'ai', 'ou'].map((v) => c + v));
  for (let i = 0; tokens.length < size; i++) {
    const a = syllables[i % syllables.length]!;
    const b = syllables[Math.floor(i / syllables.length) % syllables.length]!;
    const c = i >= syllables.length ** 2 ? syllables[Math.floor(i / syllables.length ** 2) % syllables.length]! : '';
    add(`▁${a}${b}${c}`);
  }
  const scores = tokens.map((_, i) => (types[i] === 1 ? -i : 0));
  return { tokens, scores, types };
}

function englishWords(): string[] {
  try {
    const words = readFileSync('/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict', 'utf8')
      .split('\n').map((l) => l.slice(0, l.indexOf(' '))).filter((w) => /^[a-z]+$/.test(w));
    return words.sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
  } catch {
    return [];
  }
}

const CHATML = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

interface Tensor { name: string; dims: number[]; type: number }

/** llama.cpp's Q4_K_M keeps more bits in the first and last eighth of the layers and every third between. */
function moreBits(i: number, n: number): boolean {
  return i < n / 8 || i >= (7 * n) / 8 || (i - Math.floor(n / 8)) % 3 === 2;
}

function tensors(s: LlamaShape): Tensor[] {
  const head = s.headDim ?? s.embd / s.heads;
  const kv = head * s.headsKv;
  const q = head * s.heads;
  const k = s.quant === 'q4_k_m';
  const Q = s.quant === 'q4_0' ? GGML_Q4_0 : k ? GGML_Q4_K : GGML_Q8_0;
  const hi = (i: number) => (k && moreBits(i, s.layers) ? GGML_Q6_K : Q);
  const out: Tensor[] = [{ name: 'token_embd.weight', dims: [s.embd, s.vocab], type: k && s.tiedEmbeddings ? GGML_Q6_K : Q }];
  for (let i = 0; i < s.layers; i++) {
    out.push(
      { name: `blk.${i}.attn_norm.weight`, dims: [s.embd], type: GGML_F32 },
      { name: `blk.${i}.attn_q.weight`, dims: [s.embd, q], type: Q },
      { name: `blk.${i}.attn_k.weight`, dims: [s.embd, kv], type: Q },
      { name: `blk.${i}.attn_v.weight`, dims: [s.embd, kv], type: hi(i) },
      { name: `blk.${i}.attn_output.weight`, dims: [q, s.embd], type: Q },
      ...(s.arch === 'qwen3'
        ? [{ name: `blk.${i}.attn_q_norm.weight`, dims: [head], type: GGML_F32 }, { name: `blk.${i}.attn_k_norm.weight`, dims: [head], type: GGML_F32 }]
        : []),
      { name: `blk.${i}.ffn_norm.weight`, dims: [s.embd], type: GGML_F32 },
      { name: `blk.${i}.ffn_gate.weight`, dims: [s.embd, s.ff], type: Q },
      { name: `blk.${i}.ffn_up.weight`, dims: [s.embd, s.ff], type: Q },
      { name: `blk.${i}.ffn_down.weight`, dims: [s.ff, s.embd], type: hi(i) },
    );
  }
  out.push({ name: 'output_norm.weight', dims: [s.embd], type: GGML_F32 });
  if (!s.tiedEmbeddings) out.push({ name: 'output.weight', dims: [s.embd, s.vocab], type: k ? GGML_Q6_K : Q });
  return out;
}

/** Bytes per block and weights per block of each type. */
const BLOCK: Record<number, [bytes: number, weights: number]> = {
  [GGML_Q4_0]: [18, 32], [GGML_Q8_0]: [34, 32], [GGML_Q4_K]: [144, 256], [GGML_Q6_K]: [210, 256],
};

function byteSize(t: Tensor): number {
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (t.type === GGML_F32) return n * 4;
  const [bytes, per] = BLOCK[t.type]!;
  return (n / per) * bytes;
}

const pad = (n: number) => (ALIGN - (n % ALIGN)) % ALIGN;

/** Writes the model to `path`; returns its size in bytes. Deterministic shape, random weights. */
export async function writeRandomLlama(path: string, s: LlamaShape): Promise<number> {
  const v = vocabulary(s.vocab);
  const a = s.arch ?? 'llama';
  const meta: Meta[] = [
    ['general.architecture', 'str', a],
    ['general.name', 'str', s.name],
    // llama.cpp's file types: 7 Q8_0, 2 Q4_0, 15 Q4_K_M.
    ['general.file_type', 'u32', s.quant === 'q4_0' ? 2 : s.quant === 'q4_k_m' ? 15 : 7],
    ['general.alignment', 'u32', ALIGN],
    [`${a}.context_length`, 'u32', s.context],
    [`${a}.embedding_length`, 'u32', s.embd],
    [`${a}.block_count`, 'u32', s.layers],
    [`${a}.feed_forward_length`, 'u32', s.ff],
    [`${a}.attention.head_count`, 'u32', s.heads],
    [`${a}.attention.head_count_kv`, 'u32', s.headsKv],
    [`${a}.rope.dimension_count`, 'u32', s.headDim ?? s.embd / s.heads],
    [`${a}.rope.freq_base`, 'f32', s.ropeBase ?? 10000],
    ...(s.headDim ? [[`${a}.attention.key_length`, 'u32', s.headDim], [`${a}.attention.value_length`, 'u32', s.headDim]] as Meta[] : []),
    [`${a}.attention.layer_norm_rms_epsilon`, 'f32', 1e-6],
    [`${a}.vocab_size`, 'u32', s.vocab],
    ['tokenizer.ggml.model', 'str', 'llama'],
    ['tokenizer.ggml.tokens', 'strs', v.tokens],
    ['tokenizer.ggml.scores', 'f32s', v.scores],
    ['tokenizer.ggml.token_type', 'i32s', v.types],
    ['tokenizer.ggml.unknown_token_id', 'u32', 0],
    ['tokenizer.ggml.bos_token_id', 'u32', 1],
    ['tokenizer.ggml.eos_token_id', 'u32', 4],
    ['tokenizer.ggml.add_bos_token', 'bool', false],
    ['tokenizer.chat_template', 'str', s.chatTemplate ?? CHATML],
  ];
  const ts = tensors(s);
  const head = new Buf();
  head.push(Buffer.from('GGUF', 'latin1'));
  head.u32(3);
  head.u64(ts.length);
  head.u64(meta.length);
  for (const m of meta) writeMeta(head, m);
  let offset = 0;
  for (const t of ts) {
    head.str(t.name);
    head.u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    head.u32(t.type);
    head.u64(offset);
    offset += byteSize(t);
    offset += pad(offset);
  }
  head.push(Buffer.alloc(pad(head.size)));

  const f = await open(path, 'w');
  try {
    await f.write(Buffer.concat(head.parts));
    let written = head.size;
    for (const t of ts) {
      const data = t.type === GGML_F32 ? ones(t) : t.type === GGML_Q4_0 ? q4(t) : t.type === GGML_Q4_K ? q4k(t) : t.type === GGML_Q6_K ? q6k(t) : q8(t);
      await f.write(data);
      written += data.length;
      const p = pad(data.length);
      if (p) {
        await f.write(Buffer.alloc(p));
        written += p;
      }
    }
    return written;
  } finally {
    await f.close();
  }
}

/** Norm weights of one: the activations keep a sane scale. */
function ones(t: Tensor): Buffer {
  const n = t.dims.reduce((a, b) => a * b, 1);
  return Buffer.from(new Float32Array(n).fill(1).buffer);
}

/**
 * Quantized blocks of 32 weights: an f16 scale, then random quants. The scales keep weights
 * ~N(0, 0.02): Q8_0 (34 bytes) uniform int8 × 0.0003; Q4_0 (18 bytes) uniform -8…7 × 0.0043.
 */
function blocks(t: Tensor, bytes: number, scale: number): Buffer {
  const n = t.dims.reduce((a, b) => a * b, 1) / 32;
  const out = Buffer.alloc(n * bytes);
  randomFillSync(out);
  for (let i = 0; i < n; i++) out.writeUInt16LE(scale, i * bytes);
  return out;
}

const q4 = (t: Tensor) => blocks(t, 18, 0x1c66);
const q8 = (t: Tensor) => blocks(t, 34, 0x0d00);

/**
 * K-quant super-blocks of 256 weights with random quants and scales, their f16 super-scales set
 * so the weights stay ~N(0, 0.02): Q4_K (144 bytes: d, dmin, 12 bytes of 6-bit scales and mins,
 * 128 bytes of nibbles) and Q6_K (210 bytes: 128 low nibbles, 64 high bit pairs, 16 int8 scales, d last).
 */
function superBlocks(t: Tensor, bytes: number, fill: (out: Buffer, at: number) => void): Buffer {
  const n = t.dims.reduce((a, b) => a * b, 1) / 256;
  const out = Buffer.alloc(n * bytes);
  randomFillSync(out);
  for (let i = 0; i < n; i++) fill(out, i * bytes);
  return out;
}

const q4k = (t: Tensor) => superBlocks(t, 144, (b, at) => {
  b.writeUInt16LE(0x053e, at); // d ≈ 8e-5
  b.writeUInt16LE(0x10ea, at + 2); // dmin ≈ 6e-4
});
const q6k = (t: Tensor) => superBlocks(t, 210, (b, at) => b.writeUInt16LE(0x00a8, at + 208)); // d ≈ 1e-5
