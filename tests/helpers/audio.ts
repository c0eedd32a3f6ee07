import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { concatPcm, readWav } from '../../src/speech/audio.js';

/** Real recordings from Debian's asterisk-core-sounds-en-wav (8 kHz). */
export const SOUNDS = '/usr/share/asterisk/sounds/en';

/** Models shared beside the checkout (Silero VAD), or FRONTDESK_MODELS_DIR. */
export const MODELS_DIR = resolve(process.env.FRONTDESK_MODELS_DIR ?? '../shared/models');
export const SILERO = resolve(MODELS_DIR, 'vad/silero-vad-v5.1.2/silero_vad.onnx');
/** Models built on this machine (the telephone-adapted recognizer), shared by every test run. */
export const BUILT_MODELS_DIR = resolve(process.env.FRONTDESK_BUILT_MODELS_DIR ?? 'node_modules/.cache/frontdesk-models');

/** Generated neural speech models (random weights), written by the global setup. */
export const GENERATED_MODELS_DIR = resolve(BUILT_MODELS_DIR, 'generated');

export function sound(name: string): Int16Array {
  const { pcm, sampleRate } = readWav(readFileSync(`${SOUNDS}/${name}.wav`));
  if (sampleRate !== 8000) throw new Error(`${name} is ${sampleRate} Hz`);
  return pcm;
}

export function silence(ms: number, rate = 8000): Int16Array {
  return new Int16Array(Math.round((rate * ms) / 1000));
}

export function concat(parts: Int16Array[]): Int16Array {
  return concatPcm(parts);
}

/** Frames of `ms` milliseconds, as a call delivers them. */
export function* frames(pcm: Int16Array, ms = 20, rate = 8000): Generator<Int16Array> {
  const n = (rate * ms) / 1000;
  for (let i = 0; i + n <= pcm.length; i += n) yield pcm.subarray(i, i + n);
}

export function rms(pcm: Int16Array): number {
  let s = 0;
  for (let i = 0; i < pcm.length; i++) s += pcm[i]! * pcm[i]!;
  return Math.sqrt(s / Math.max(1, pcm.length));
}

/** A sine tone at 8 kHz. */
export function tone(ms: number, hz = 440, amp = 8000): Int16Array {
  return new Int16Array((8000 * ms) / 1000).map((_, i) => Math.round(amp * Math.sin((2 * Math.PI * hz * i) / 8000)));
}

/**
 * Resolves once the call has delivered `quietMs` of quiet audio after the caller's words (a loud
 * frame): what a VAD needs to see to end the turn. Never resolves if audio in stops with the words.
 */
export function pauseAfterWords(call: { on(e: 'audio', l: (f: { pcm: Int16Array; sampleRate: number }) => void): unknown; off(e: 'audio', l: (f: { pcm: Int16Array; sampleRate: number }) => void): unknown }, quietMs = 600): Promise<{ loudFrames: number; quietFrames: number }> {
  return new Promise((resolve) => {
    let loud = 0;
    let quietSamples = 0;
    let quietFrames = 0;
    const onAudio = (f: { pcm: Int16Array; sampleRate: number }) => {
      if (rms(f.pcm) > 500) {
        loud++;
        quietSamples = 0;
        quietFrames = 0;
        return;
      }
      if (!loud) return;
      quietSamples += f.pcm.length;
      quietFrames++;
      if ((quietSamples * 1000) / f.sampleRate >= quietMs) {
        call.off('audio', onAudio);
        resolve({ loudFrames: loud, quietFrames });
      }
    };
    call.on('audio', onAudio);
  });
}
