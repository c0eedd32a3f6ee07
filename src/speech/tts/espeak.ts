import { CliTts } from './cli.js';

/** espeak-ng (Debian package): formant synthesis, robotic but tiny and always available. */

export const espeakDefaults = { voice: 'en-us', wordsPerMinute: 165, pitch: 45, outputRate: 8000 } as const;

export class EspeakTts extends CliTts {
  readonly name = 'espeak-ng';
  protected readonly binary: string;
  protected readonly installHint = 'install the Debian package espeak-ng';

  constructor(private readonly o: { voice?: string; wordsPerMinute?: number; outputRate?: number; binary?: string } = {}) {
    super(o.outputRate ?? espeakDefaults.outputRate);
    this.binary = o.binary ?? 'espeak-ng';
  }

  protected args(text: string): string[] {
    return ['--stdout', '-v', this.o.voice ?? espeakDefaults.voice, '-s', String(this.o.wordsPerMinute ?? espeakDefaults.wordsPerMinute), '-p', String(espeakDefaults.pitch), '--', text];
  }
}

export { CachedTts } from './cache.js';
