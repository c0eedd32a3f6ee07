import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readWav, resample } from '../audio.js';
import type { Tts, TtsChunk } from '../types.js';

/**
 * A voice from a Debian package that renders a whole sentence to a WAV on stdout, fast (tens to
 * hundreds of times real time). "Streaming" is per sentence: the agent splits replies at clause
 * boundaries, so the first clause is on the wire while the rest renders.
 */
let seq = 0;

export abstract class CliTts implements Tts {
  abstract readonly name: string;
  protected abstract readonly binary: string;
  protected abstract readonly installHint: string;
  /** Arguments that make the binary write a WAV of `text` to stdout, or to `file` when set. */
  protected abstract args(text: string, file: string | undefined): string[];
  /** Binaries that cannot write to a pipe (Node's stdio is a socket) write a temporary file instead. */
  protected readonly viaFile: boolean = false;

  constructor(protected readonly outputRate = 8000, private readonly chunkMs = 200) {}

  async *synthesize(text: string, opts: { signal?: AbortSignal } = {}): AsyncIterable<TtsChunk> {
    const clean = text.replace(/\s+/g, ' ').trim();
    if (!clean || opts.signal?.aborted) return;
    const wav = await this.render(clean, opts.signal);
    if (!wav) return;
    const { pcm, sampleRate } = readWav(wav);
    const rate = this.outputRate;
    const out = resample(pcm, sampleRate, rate);
    const step = Math.round((rate * this.chunkMs) / 1000);
    for (let i = 0; i < out.length; i += step) {
      if (opts.signal?.aborted) return;
      yield { pcm: out.subarray(i, Math.min(out.length, i + step)), sampleRate: rate };
    }
  }

  private async render(text: string, signal?: AbortSignal): Promise<Buffer | undefined> {
    if (!this.viaFile) return this.run(text, undefined, signal);
    const file = join(tmpdir(), `frontdesk-tts-${process.pid}-${++seq}.wav`);
    try {
      return (await this.run(text, file, signal)) && (await readFile(file));
    } finally {
      await rm(file, { force: true });
    }
  }

  private run(text: string, file: string | undefined, signal?: AbortSignal): Promise<Buffer | undefined> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.binary, this.args(text, file), { stdio: ['ignore', 'pipe', 'pipe'] });
      const chunks: Buffer[] = [];
      let err = '';
      const onAbort = () => child.kill('SIGKILL');
      signal?.addEventListener('abort', onAbort, { once: true });
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.on('error', (e) => reject(new Error(`${this.binary} could not run (${e.message}); ${this.installHint}`)));
      child.on('close', (code) => {
        signal?.removeEventListener('abort', onAbort);
        if (signal?.aborted) return resolve(undefined);
        if (code !== 0) return reject(new Error(`${this.binary} exited ${code}: ${err.trim()}`));
        resolve(Buffer.concat(chunks));
      });
    });
  }

  close(): void {}
}
