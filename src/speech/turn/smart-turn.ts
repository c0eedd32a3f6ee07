import * as ort from 'onnxruntime-node';
import { resample } from '../audio.js';
import type { TurnDetector, TurnVerdict } from '../types.js';
import { WhisperFeatures, whisperFeatureDefaults } from './whisper-features.js';

/**
 * pipecat-ai's Smart Turn v3 (ONNX, BSD-2): the last 8 s of the caller's audio at 16 kHz as
 * Whisper log-mel features → the probability that they have finished their turn. Runs on
 * onnxruntime-node's own threads (one per decision, so calls' media keep the cores); the features
 * are computed on the event loop in slices. One session serves every call; decisions queue.
 */
export const smartTurnDefaults = {
  /** Probability at or above which the turn is complete (pipecat's threshold). */
  completeAtOrAbove: 0.5,
  /** Threads onnxruntime may use for one decision. */
  intraOpThreads: 1,
} as const satisfies Record<string, number>;

export class SmartTurnDetector implements TurnDetector {
  readonly name: string;
  private readonly features = new WhisperFeatures();
  private readonly input = new Float32Array(whisperFeatureDefaults.mels * this.features.frames);
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(private readonly session: ort.InferenceSession, private readonly inputName: string, private readonly outputName: string, model: string) {
    this.name = `smart-turn (${model})`;
  }

  static async load(model: string, threads: number = smartTurnDefaults.intraOpThreads): Promise<SmartTurnDetector> {
    const session = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' });
    const inputName = session.inputNames[0];
    const outputName = session.outputNames[0];
    if (inputName !== 'input_features' || !outputName) {
      await session.release();
      throw new Error(`${model} is not a Smart Turn v3 model (inputs ${session.inputNames.join(', ')})`);
    }
    return new SmartTurnDetector(session, inputName, outputName, model);
  }

  decide(pcm: Int16Array, sampleRate: number): Promise<TurnVerdict> {
    // One decision at a time: they share the feature buffers, and a queue keeps the cores for media.
    const run = this.queue.then(() => this.run(pcm, sampleRate));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(pcm: Int16Array, sampleRate: number): Promise<TurnVerdict> {
    if (this.closed) throw new Error('the end-of-turn model is closed');
    const window = pcm.subarray(Math.max(0, pcm.length - Math.ceil(sampleRate * whisperFeatureDefaults.windowS)));
    const at16k = sampleRate === whisperFeatureDefaults.sampleRate ? window : resample(window, sampleRate, whisperFeatureDefaults.sampleRate);
    const audio = new Float32Array(at16k.length);
    for (let i = 0; i < at16k.length; i++) audio[i] = at16k[i]! / 32768;
    await this.features.compute(audio, this.input);
    const out = await this.session.run({ [this.inputName]: new ort.Tensor('float32', this.input, [1, whisperFeatureDefaults.mels, this.features.frames]) });
    const probability = Number((out[this.outputName]!.data as Float32Array)[0]);
    if (!Number.isFinite(probability)) throw new Error('the end-of-turn model returned no probability');
    return { complete: probability >= smartTurnDefaults.completeAtOrAbove, probability };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.queue.then(() => this.session.release()).catch(() => undefined);
  }
}
