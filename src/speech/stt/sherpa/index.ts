import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Stt, SttHypothesis, SttStream } from '../../types.js';
import { upsample2x } from '../../audio.js';
import { ModelMissingError } from '../../vad/silero.js';

/**
 * The neural streaming recognizer: a sherpa-onnx OnlineRecognizer (a streaming transducer such as
 * zipformer2) on a worker thread. Audio goes over in 100 ms steps; partial hypotheses come back as
 * chunks decode; the final one is ready one chunk after the caller stops.
 */

export interface SherpaSttOptions {
  encoder: string;
  decoder: string;
  joiner: string;
  tokens: string;
  /** Intra-op threads for the encoder. */
  numThreads?: number;
  /** For `frontdesk doctor` and the call record. */
  label?: string;
}

export const sherpaSttDefaults = {
  /** Audio per message to the worker, 16 kHz samples (100 ms). */
  stepSamples: 1600,
  /** Silence appended when an utterance ends so the last chunk's right context exists, samples. */
  tailSamples: 8000,
  numThreads: 1,
} as const;

const RATE = 16000;

interface Pending {
  resolve: (h: SttHypothesis) => void;
  reject: (e: Error) => void;
}

export class SherpaStt implements Stt {
  readonly name: string;
  private readonly streams = new Map<number, SherpaStream>();
  private readonly finals = new Map<number, Pending>();
  private nextId = 1;
  private dead: Error | undefined;
  private closed = false;

  private constructor(private readonly worker: Worker, label: string) {
    this.name = label;
    worker.on('message', (m: { type: string; id: number; text: string; samples: number; message?: string; probs?: number[] }) => {
      if (m.type === 'partial') this.streams.get(m.id)?.setPartial(normalize(m.text));
      else if (m.type === 'final') {
        const p = this.finals.get(m.id);
        this.finals.delete(m.id);
        this.streams.delete(m.id);
        const text = normalize(m.text);
        // The mean token probability: the transducer's own sureness of what it emitted.
        const confidence = text && m.probs?.length ? m.probs.reduce((a, lp) => a + Math.exp(lp), 0) / m.probs.length : undefined;
        p?.resolve({ text, final: true, startMs: 0, endMs: Math.round((m.samples / RATE) * 1000), ...(confidence !== undefined ? { confidence } : {}) });
      }
    });
    const fail = (e: Error) => {
      if (this.closed) return;
      this.dead = new Error(`the sherpa-onnx recognizer stopped: ${e.message}`);
      for (const p of this.finals.values()) p.reject(this.dead);
      this.finals.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`worker exited with code ${code}`)));
  }

  /** Loads the model on its worker; rejects with the missing file or sherpa's own error. */
  static async load(o: SherpaSttOptions): Promise<SherpaStt> {
    for (const f of [o.encoder, o.decoder, o.joiner, o.tokens]) if (!existsSync(f)) throw new ModelMissingError(f);
    const config = {
      featConfig: { sampleRate: RATE, featureDim: 80 },
      modelConfig: {
        transducer: { encoder: o.encoder, decoder: o.decoder, joiner: o.joiner },
        tokens: o.tokens,
        numThreads: o.numThreads ?? sherpaSttDefaults.numThreads,
        provider: 'cpu',
        debug: 0,
      },
      decodingMethod: 'greedy_search',
      enableEndpoint: 0,
    };
    const worker = new Worker(fileURLToPath(new URL('./decoder-worker.cjs', import.meta.url)), { workerData: { config } });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: { type: string; message?: string }) => {
        worker.off('message', onMessage);
        if (m.type === 'ready') resolve();
        else reject(new Error(`sherpa-onnx could not load the recognizer from ${o.encoder}: ${m.message}`));
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
    return new SherpaStt(worker, o.label ?? 'sherpa-onnx (streaming transducer)');
  }

  stream(): SttStream {
    if (this.dead) throw this.dead;
    const id = this.nextId++;
    const s = new SherpaStream(this, id);
    this.streams.set(id, s);
    this.worker.postMessage({ op: 'open', id });
    return s;
  }

  /** @internal */
  send(id: number, samples: Float32Array): void {
    this.worker.postMessage({ op: 'audio', id, samples, sampleRate: RATE }, [samples.buffer as ArrayBuffer]);
  }

  /** @internal */
  finish(id: number): Promise<SttHypothesis> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      this.finals.set(id, { resolve, reject });
      this.worker.postMessage({ op: 'finish', id, tailSamples: sherpaSttDefaults.tailSamples, sampleRate: RATE });
    });
  }

  /** @internal */
  drop(id: number): void {
    this.streams.delete(id);
    if (!this.finals.has(id)) this.worker.postMessage({ op: 'drop', id });
  }

  close(): void {
    this.closed = true;
    void this.worker.terminate();
  }
}

class SherpaStream implements SttStream {
  private text = '';
  private buf = new Float32Array(sherpaSttDefaults.stepSamples);
  private fill = 0;
  private readonly up = new Int16Array(4096);
  private done = false;
  private tail = 0;

  constructor(private readonly stt: SherpaStt, private readonly id: number) {}

  setPartial(text: string): void {
    this.text = text;
  }

  accept(pcm: Int16Array, sampleRate: number): void {
    if (this.done) return;
    let src = pcm;
    if (sampleRate === 8000) {
      const up = pcm.length * 2 <= this.up.length ? this.up : new Int16Array(pcm.length * 2);
      src = up.subarray(0, upsample2x(pcm, up, this.tail));
      this.tail = pcm[pcm.length - 1] ?? 0;
    } else if (sampleRate !== RATE) throw new Error(`sherpa stream takes 8 or 16 kHz audio, not ${sampleRate} Hz`);
    for (let i = 0; i < src.length; i++) {
      this.buf[this.fill++] = src[i]! / 32768;
      if (this.fill === this.buf.length) this.flush();
    }
  }

  private flush(): void {
    if (this.fill === 0) return;
    const out = this.fill === this.buf.length ? this.buf : this.buf.slice(0, this.fill);
    this.stt.send(this.id, out);
    // The full buffer was transferred to the worker; start a new one.
    if (out === this.buf) this.buf = new Float32Array(sherpaSttDefaults.stepSamples);
    this.fill = 0;
  }

  partial(): string {
    return this.text;
  }

  finish(): Promise<SttHypothesis> {
    if (this.done) return Promise.reject(new Error('stream already finished'));
    this.flush();
    this.done = true;
    return this.stt.finish(this.id);
  }

  close(): void {
    if (!this.done) this.stt.drop(this.id);
    this.done = true;
  }
}

/** Transducer vocabularies are upper-case BPE pieces; the agent reads lower-case words. */
function normalize(text: string): string {
  return text.toLowerCase().replace(/\s+/g, ' ').trim();
}
