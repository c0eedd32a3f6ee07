import type { Vad, VadEvent } from '../types.js';

/**
 * The last-resort VAD when no Silero model is installed: frame energy with hysteresis. Good enough
 * to end a voicemail on silence; the agent proper wants Silero.
 */
export const energyDefaults = { startRms: 600, stopRms: 300, minSpeechMs: 150, minSilenceMs: 400 } as const;

export class EnergyVad implements Vad {
  readonly name = 'energy';
  private inSpeech = false;
  private runMs = 0;
  private fedMs = 0;

  constructor(private readonly o: typeof energyDefaults = energyDefaults) {}

  get speaking(): boolean {
    return this.inSpeech;
  }

  accept(pcm: Int16Array, sampleRate: number): VadEvent[] {
    let s = 0;
    for (let i = 0; i < pcm.length; i++) s += pcm[i]! * pcm[i]!;
    const rms = Math.sqrt(s / Math.max(1, pcm.length));
    const ms = (pcm.length / sampleRate) * 1000;
    this.fedMs += ms;
    const loud = rms >= (this.inSpeech ? this.o.stopRms : this.o.startRms);
    if (loud === this.inSpeech) {
      this.runMs = 0;
      return [];
    }
    this.runMs += ms;
    if (!this.inSpeech && this.runMs >= this.o.minSpeechMs) {
      this.inSpeech = true;
      this.runMs = 0;
      return [{ type: 'speech_start', atMs: this.fedMs, probability: 1 }];
    }
    if (this.inSpeech && this.runMs >= this.o.minSilenceMs) {
      const silenceMs = this.runMs;
      this.inSpeech = false;
      this.runMs = 0;
      return [{ type: 'speech_end', atMs: this.fedMs, probability: 0, silenceMs }];
    }
    return [];
  }

  reset(): void {
    this.inSpeech = false;
    this.runMs = 0;
  }

  close(): void {}
}
