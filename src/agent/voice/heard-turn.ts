import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeWav } from '../../speech/audio.js';
import type { Hearing } from '../guided/options.js';

/**
 * What the recognizer made of the utterances of the turn being taken (a pause joins several): the
 * turn's confidence is its least sure utterance; its other readings count for a turn of one
 * utterance; the audio of free answers (an address, a name) is kept for the owner.
 */
export class HeardTurn {
  private heard: { confidence?: number | undefined; nbest?: string[] | undefined; audio?: Int16Array | undefined }[] = [];

  add(h: { confidence?: number | undefined; nbest?: string[] | undefined; audio?: Int16Array | undefined }): void {
    this.heard.push(h);
  }

  /** The turn so far; `take`: the turn is being taken, start afresh after it. */
  hearing(take: boolean): Hearing & { pcm?: Int16Array } {
    const h = this.heard;
    if (take) this.heard = [];
    const cs = h.map((x) => x.confidence).filter((c): c is number => c !== undefined);
    const audio = h.map((x) => x.audio).filter((a): a is Int16Array => !!a);
    const pcm = audio.length ? new Int16Array(audio.reduce((n, a) => n + a.length, 0)) : undefined;
    if (pcm) audio.reduce((o, a) => (pcm.set(a, o), o + a.length), 0);
    return {
      ...(cs.length ? { confidence: Math.min(...cs) } : {}),
      ...(h.length === 1 && h[0]!.nbest?.length ? { nbest: h[0]!.nbest } : {}),
      ...(pcm ? { pcm } : {}),
    };
  }

  /** A keyed turn: what was said before the key does not go with it. */
  clear(): void {
    this.heard = [];
  }
}

/** The caller's own words for an address or a name, kept beside the transcript for the owner; the path, or undefined when not saved. */
export async function keepAnswerAudio(dataDir: string, name: string, pcm: Int16Array, sampleRate: number): Promise<string> {
  const dir = join(dataDir, 'recordings');
  const path = join(dir, `${name}.wav`);
  await mkdir(dir, { recursive: true });
  await writeFile(path, writeWav(pcm, sampleRate));
  return path;
}
