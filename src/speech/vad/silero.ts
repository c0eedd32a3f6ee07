import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { toFloat32, upsample2x } from '../audio.js';
import type { Vad, VadEvent } from '../types.js';

/** Silero VAD through sherpa-onnx-node: 16 kHz windows of 512 samples; 8 kHz input is upsampled. */

const require = createRequire(import.meta.url);

export const sileroDefaults = {
  threshold: 0.5,
  /** Silence that ends a segment, seconds. */
  minSilenceS: 0.3,
  /** Speech shorter than this is ignored (a click, a cough), seconds. */
  minSpeechS: 0.15,
  maxSpeechS: 30,
} as const;

export interface SileroOptions {
  model: string;
  threshold?: number;
  minSilenceS?: number;
  minSpeechS?: number;
}

export class ModelMissingError extends Error {
  constructor(file: string, hint = 'npm run models') {
    super(`model file ${file} is missing; run \`${hint}\` (or set FRONTDESK_MODELS_DIR)`);
    this.name = 'ModelMissingError';
  }
}

interface SherpaVad {
  acceptWaveform(samples: Float32Array): void;
  isDetected(): boolean;
  isEmpty(): boolean;
  front(): { start: number; samples: Float32Array };
  pop(): void;
  reset(): void;
  flush(): void;
}

export interface SpeechSegment {
  startMs: number;
  endMs: number;
}

/** sherpa-onnx's Silero configuration for these options: one place for the in-process VAD and the VAD worker. */
export function sherpaVadConfig(o: SileroOptions) {
  return {
    sileroVad: {
      model: o.model,
      threshold: o.threshold ?? sileroDefaults.threshold,
      minSilenceDuration: o.minSilenceS ?? sileroDefaults.minSilenceS,
      minSpeechDuration: o.minSpeechS ?? sileroDefaults.minSpeechS,
      maxSpeechDuration: sileroDefaults.maxSpeechS,
      windowSize: 512,
    },
    sampleRate: 16000,
    numThreads: 1,
    debug: false,
  };
}

export class SileroVad implements Vad {
  readonly name = 'silero';
  private readonly vad: SherpaVad;
  private fedSamples16k = 0;
  private inSpeech = false;
  private up = new Int16Array(320);
  private f32 = new Float32Array(320);
  /** The silence that ends a segment, ms (sherpa-onnx ends it that long after the last speech). */
  private readonly silenceMs: number;
  /** Finished segments, for callers that want whole utterances (tests, voicemail trimming). */
  readonly segments: SpeechSegment[] = [];

  constructor(o: SileroOptions) {
    if (!existsSync(o.model)) throw new ModelMissingError(o.model);
    const sherpa = require('sherpa-onnx-node') as { Vad: new (cfg: unknown, bufferSeconds: number) => SherpaVad };
    this.vad = new sherpa.Vad(sherpaVadConfig(o), 60);
    this.silenceMs = (o.minSilenceS ?? sileroDefaults.minSilenceS) * 1000;
  }

  get speaking(): boolean {
    return this.inSpeech;
  }

  accept(pcm: Int16Array, sampleRate: number): VadEvent[] {
    let samples16: Int16Array = pcm;
    if (sampleRate === 8000) {
      if (this.up.length !== pcm.length * 2) this.up = new Int16Array(pcm.length * 2);
      upsample2x(pcm, this.up);
      samples16 = this.up;
    } else if (sampleRate !== 16000) {
      throw new Error(`SileroVad takes 8 or 16 kHz, not ${sampleRate}`);
    }
    if (samples16.length) {
      if (this.f32.length !== samples16.length) this.f32 = new Float32Array(samples16.length);
      this.vad.acceptWaveform(toFloat32(samples16, this.f32));
    }
    this.fedSamples16k += samples16.length;
    const atMs = (this.fedSamples16k / 16000) * 1000;
    const events: VadEvent[] = [];
    const detected = this.vad.isDetected();
    if (detected && !this.inSpeech) {
      this.inSpeech = true;
      events.push({ type: 'speech_start', atMs, probability: 1 });
    }
    while (!this.vad.isEmpty()) {
      const seg = this.vad.front();
      this.segments.push({ startMs: (seg.start / 16000) * 1000, endMs: ((seg.start + seg.samples.length) / 16000) * 1000 });
      this.vad.pop();
      if (this.inSpeech) {
        this.inSpeech = false;
        events.push({ type: 'speech_end', atMs, probability: 0, silenceMs: this.silenceMs });
      }
    }
    return events;
  }

  /** End of audio: close any open segment. */
  flush(): VadEvent[] {
    this.vad.flush();
    return this.accept(new Int16Array(0), 16000);
  }

  reset(): void {
    this.vad.reset();
    this.inSpeech = false;
  }

  close(): void {
    this.reset();
  }
}
