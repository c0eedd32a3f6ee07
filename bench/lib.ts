import { cpus, totalmem } from 'node:os';

/** What one benchmark suite reports: metric name (unit in the name) → number. */
export type Metrics = Record<string, number>;

export interface Suite {
  description: string;
  /** Model files or engines the numbers depend on, for the results file. */
  models?: () => string[];
  run(): Promise<Metrics>;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function machine() {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memory_gib: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
}

export const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** How much quiet ends `pcm` (8 kHz): the caller's words end before their file does. */
export function trailingSilenceMs(pcm: Int16Array, rate = 8000): number {
  const frame = rate / 50;
  let end = pcm.length;
  for (; end >= frame; end -= frame) {
    let sum = 0;
    for (let i = end - frame; i < end; i++) sum += pcm[i]! * pcm[i]!;
    if (Math.sqrt(sum / frame) > 300) break;
  }
  return ((pcm.length - end) / rate) * 1000;
}
