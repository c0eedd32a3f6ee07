import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { upsample2x } from '../audio.js';
import type { Vad, VadEvent } from '../types.js';
import { EnergyVad } from './energy.js';
import { ModelMissingError, sherpaVadConfig, sileroDefaults, type SileroOptions } from './silero.js';
import { existsSync } from 'node:fs';

/**
 * Every call's Silero VAD on one worker thread (vad-worker.cjs), through one ONNX session: a call
 * there is only its own state, so a burst of new calls is served at once, and each window of every
 * call is decided in one batched run. The main thread only copies each frame into a batch that goes
 * over once per turn of the event loop, and reads back the events decided so far: a call sees its
 * speech start and end a few milliseconds later than in-thread, which the listener's pre-roll
 * covers. If the worker dies, each call carries on with the energy VAD.
 */

const NONE: VadEvent[] = [];

export class SileroHost {
  private readonly worker: Worker;
  private readonly vads = new Map<number, HostedVad>();
  private nextId = 1;
  private hdr = new Int32Array(96);
  private pcm = new Int16Array(16 * 640);
  private frames = 0;
  private samples = 0;
  private scheduled = false;
  private dead: Error | undefined;
  private loaded: Promise<boolean>;
  /** @internal The silence that ends a segment, ms: each speech end is decided that long after the speech. */
  readonly silenceMs: number;

  constructor(o: SileroOptions) {
    if (!existsSync(o.model)) throw new ModelMissingError(o.model);
    const config = sherpaVadConfig(o);
    this.silenceMs = (o.minSilenceS ?? sileroDefaults.minSilenceS) * 1000;
    this.worker = new Worker(fileURLToPath(new URL('./vad-worker.cjs', import.meta.url)), { workerData: { config } });
    let loaded!: (ok: boolean) => void;
    this.loaded = new Promise((r) => (loaded = r));
    this.worker.on('message', (m: { type: string; ev?: number[]; n?: number; message?: string }) => {
      if (m.type === 'events') {
        const ev = m.ev!;
        for (let i = 0; i + 3 <= ev.length; i += 3) this.vads.get(ev[i]!)?.decided(ev[i + 1] === 1, ev[i + 2]!);
      } else if (m.type === 'ready') loaded(true);
      else if (m.type === 'fatal') this.fail(new Error(m.message));
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => {
      this.exited = true;
      this.fail(new Error(`the VAD worker exited with code ${code}`));
    });
    // After the listeners: adding one re-refs the worker, which would keep the process alive.
    this.worker.unref();
    // A failure before loading settles it too, so nobody waits on a dead worker.
    this.failLoad = () => loaded(false);
  }

  private failLoad: () => void;

  /** Resolves once the model is loaded (false if the worker died first). Frames sent before are kept. */
  ready(): Promise<boolean> {
    return this.loaded;
  }

  /** The reason the worker stopped, if it did (calls fall back to the energy VAD). */
  get error(): Error | undefined {
    return this.dead;
  }

  create(): Vad {
    if (this.dead) return new EnergyVad();
    const v = new HostedVad(this, this.nextId++);
    this.vads.set(v.id, v);
    return v;
  }

  /** @internal One frame of a call's audio at 16 kHz (8 kHz is doubled here, into the batch). */
  push(id: number, pcm: Int16Array, sampleRate: number): void {
    const n = sampleRate === 8000 ? pcm.length * 2 : pcm.length;
    if ((this.frames + 1) * 3 > this.hdr.length) this.hdr = grow(this.hdr, (this.frames + 1) * 6);
    if (this.samples + n > this.pcm.length) this.pcm = grow(this.pcm, (this.samples + n) * 2);
    const h = this.frames * 3;
    this.hdr[h] = id;
    this.hdr[h + 1] = this.samples;
    this.hdr[h + 2] = n;
    if (sampleRate === 8000) upsample2x(pcm, this.pcm.subarray(this.samples, this.samples + n));
    else this.pcm.set(pcm, this.samples);
    this.frames++;
    this.samples += n;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Sends the batch: one message per turn of the event loop whatever the number of calls. */
  private readonly flush = (): void => {
    this.scheduled = false;
    if (!this.frames || this.dead) {
      this.frames = this.samples = 0;
      return;
    }
    const hdr = this.hdr.slice(0, this.frames * 3);
    const pcm = this.pcm.slice(0, this.samples);
    this.frames = this.samples = 0;
    this.worker.postMessage({ type: 'frames', hdr, pcm }, [hdr.buffer, pcm.buffer]);
  };

  /** @internal */
  send(type: 'release' | 'reset', id: number): void {
    if (type === 'release') this.vads.delete(id);
    if (!this.dead) this.worker.postMessage({ type, id });
  }

  private fail(e: Error): void {
    if (this.dead) return;
    this.dead = e;
    this.failLoad();
    for (const v of this.vads.values()) v.fallBack();
  }

  /** Stops the worker once it is between runs (a terminate() inside a native call can abort the process). */
  async close(): Promise<void> {
    if (this.closing) return this.closing;
    const exited = this.exited ? Promise.resolve() : new Promise<void>((r) => this.worker.once('exit', () => r()));
    this.vads.clear();
    // Held until it has exited: an unref'd worker's exit cannot keep a shutting-down process waiting.
    if (!this.exited) this.worker.ref();
    if (!this.dead) this.worker.postMessage({ type: 'close' });
    this.dead ??= new Error('closed');
    this.closing = exited;
    return exited;
  }

  private closing: Promise<void> | undefined;
  private exited = false;
}

function grow<T extends Int16Array | Int32Array>(a: T, size: number): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  return b;
}

class HostedVad implements Vad {
  readonly name = 'silero';
  private pending: VadEvent[] = [];
  private inSpeech = false;
  private energy: EnergyVad | undefined;
  private closed = false;

  constructor(private readonly host: SileroHost, readonly id: number) {}

  get speaking(): boolean {
    return this.energy ? this.energy.speaking : this.inSpeech;
  }

  accept(pcm: Int16Array, sampleRate: number): VadEvent[] {
    if (this.energy) {
      const ev = this.energy.accept(pcm, sampleRate);
      if (!this.pending.length) return ev;
      const all = [...this.pending, ...ev];
      this.pending = [];
      return all;
    }
    if (sampleRate !== 8000 && sampleRate !== 16000) throw new Error(`SileroVad takes 8 or 16 kHz, not ${sampleRate}`);
    if (this.closed) return NONE;
    this.host.push(this.id, pcm, sampleRate);
    if (!this.pending.length) return NONE;
    const ev = this.pending;
    this.pending = [];
    return ev;
  }

  /** @internal The worker decided a start or an end at this point of the audio. */
  decided(start: boolean, atMs: number): void {
    if (start === this.inSpeech) return;
    this.inSpeech = start;
    this.pending.push(start ? { type: 'speech_start', atMs, probability: 1 } : { type: 'speech_end', atMs, probability: 0, silenceMs: this.host.silenceMs });
  }

  /** @internal The worker is gone: this call goes on with the energy VAD. */
  fallBack(): void {
    this.energy = new EnergyVad();
    // An utterance in progress ends, so the listener does not wait for an end that cannot come.
    if (this.inSpeech) this.pending.push({ type: 'speech_end', atMs: 0, probability: 0 });
    this.inSpeech = false;
  }

  reset(): void {
    this.pending = [];
    this.inSpeech = false;
    this.energy?.reset();
    this.host.send('reset', this.id);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    this.host.send('release', this.id);
  }
}
