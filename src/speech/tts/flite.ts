import { CliTts } from './cli.js';

/**
 * Flite (Debian package) with its "slt" voice: statistical parametric synthesis, clearly more
 * natural than espeak-ng on the phone and about 60× faster than real time. The floor's default voice.
 */

export const fliteDefaults = { voice: 'slt', outputRate: 8000 } as const;

export class FliteTts extends CliTts {
  readonly name: string;
  protected readonly binary: string;
  protected readonly installHint = 'install the Debian package flite';

  constructor(private readonly o: { voice?: string; outputRate?: number; binary?: string } = {}) {
    super(o.outputRate ?? fliteDefaults.outputRate);
    this.binary = o.binary ?? 'flite';
    this.name = `flite (${o.voice ?? fliteDefaults.voice})`;
  }

  protected override readonly viaFile = true;

  protected args(text: string, file: string | undefined): string[] {
    return ['-voice', this.o.voice ?? fliteDefaults.voice, '-o', file ?? '/dev/stdout', '-t', text];
  }
}
