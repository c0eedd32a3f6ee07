import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { resample } from '../audio.js';
import type { Tts, TtsChunk } from '../types.js';
import { ModelMissingError } from '../vad/silero.js';

/**
 * The neural voice: a Piper (VITS) model through sherpa-onnx's OfflineTts. Synthesis runs on
 * sherpa's own thread (generateAsync), one sentence at a time; each sentence is handed over as it
 * is ready, and aborting stops the voice before its next sentence. Calls take turns on the model
 * (one synthesis at a time): on two cores, parallel synthesis only slows both.
 */

const require = createRequire(import.meta.url);

export interface PiperOptions {
  model: string;
  tokens: string;
  /** espeak-ng's data folder (the voice's own, or Debian's espeak-ng-data package). */
  dataDir: string;
  numThreads?: number;
  /** 1 is the voice's own pace. */
  speed?: number;
  /** Sample rate handed to the agent (the call's rate). */
  outputRate?: number;
  label?: string;
}

export const piperDefaults = {
  /** Threads per synthesis: a reply's first clause is rendered while the LLM waits for the caller to hear it. */
  numThreads: Math.min(2, availableParallelism()),
  speed: 1,
  outputRate: 8000,
  /** Audio per chunk handed to the call, ms. */
  chunkMs: 200,
} as const;

/** The system's espeak-ng data (Debian's espeak-ng-data package, any architecture), used when the voice does not ship its own. */
export const SYSTEM_ESPEAK_DATA =
  ['/usr/lib/x86_64-linux-gnu/espeak-ng-data', '/usr/lib/aarch64-linux-gnu/espeak-ng-data', '/usr/share/espeak-ng-data', '/usr/lib/espeak-ng-data'].find((d) => existsSync(d)) ??
  '/usr/lib/x86_64-linux-gnu/espeak-ng-data';

interface SherpaTts {
  sampleRate: number;
  generateAsync(o: {
    text: string;
    sid: number;
    speed: number;
    onProgress?: (info: { samples: Float32Array; progress: number }) => number;
  }): Promise<{ samples: Float32Array; sampleRate: number }>;
}

export class PiperTts implements Tts {
  readonly name: string;
  private queue: Promise<unknown> = Promise.resolve();
  /** Sentences rendered so far (what an aborted reply did not cost is visible here). */
  sentencesRendered = 0;

  private constructor(private readonly tts: SherpaTts, private readonly o: PiperOptions) {
    this.name = o.label ?? 'piper (sherpa-onnx)';
  }

  static async load(o: PiperOptions): Promise<PiperTts> {
    for (const f of [o.model, o.tokens]) if (!existsSync(f)) throw new ModelMissingError(f);
    if (!existsSync(o.dataDir)) throw new Error(`espeak-ng data folder ${o.dataDir} is missing (apt-get install espeak-ng-data, or the voice's espeak-ng-data)`);
    const sherpa = require('sherpa-onnx-node') as { OfflineTts: { createAsync(c: unknown): Promise<SherpaTts> } };
    const tts = await sherpa.OfflineTts.createAsync({
      model: { vits: { model: o.model, tokens: o.tokens, dataDir: o.dataDir }, numThreads: o.numThreads ?? piperDefaults.numThreads, provider: 'cpu', debug: 0 },
      // One sentence per step: the first one is on the wire while the next renders.
      maxNumSentences: 1,
    });
    return new PiperTts(tts, o);
  }

  get sampleRate(): number {
    return this.tts.sampleRate;
  }

  async *synthesize(text: string, opts: { signal?: AbortSignal } = {}): AsyncIterable<TtsChunk> {
    const clean = text.replace(/\s+/g, ' ').trim();
    const signal = opts.signal;
    if (!clean || signal?.aborted) return;
    const rate = this.o.outputRate ?? piperDefaults.outputRate;
    const step = Math.round((rate * piperDefaults.chunkMs) / 1000);
    const ready: Int16Array[] = [];
    let done = false;
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const kick = () => {
      wake?.();
      wake = undefined;
    };
    const run = this.queue.then(() => {
      if (signal?.aborted) return;
      return this.tts.generateAsync({
        text: clean,
        sid: 0,
        speed: this.o.speed ?? piperDefaults.speed,
        onProgress: (info) => {
          this.sentencesRendered++;
          if (signal?.aborted) return 0;
          ready.push(resample(toInt16(info.samples), this.tts.sampleRate, rate));
          kick();
          return 1;
        },
      });
    });
    this.queue = run.catch(() => undefined);
    run.then(
      () => { done = true; kick(); },
      (e: Error) => { failure = new Error(`piper could not speak: ${e.message}`); done = true; kick(); },
    );
    const onAbort = () => kick();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        if (signal?.aborted) return;
        const pcm = ready.shift();
        if (pcm) {
          for (let i = 0; i < pcm.length; i += step) {
            if (signal?.aborted) return;
            yield { pcm: pcm.subarray(i, Math.min(pcm.length, i + step)), sampleRate: rate };
          }
          continue;
        }
        if (done) break;
        await new Promise<void>((r) => (wake = r));
      }
      if (failure) throw failure;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  close(): void {
    // sherpa frees the voice with its handle when it is collected.
  }
}

function toInt16(f: Float32Array): Int16Array {
  const out = new Int16Array(f.length);
  for (let i = 0; i < f.length; i++) {
    const v = f[i]! * 32767;
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return out;
}
