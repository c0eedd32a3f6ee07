import type { AudioSource } from '../telephony/call.js';
import type { Tts } from './types.js';
import { resample } from './audio.js';
import { forSpeech } from './text.js';

/** Text as call audio: made speakable, synthesized, and resampled to the call's rate as it streams. */
export function speech(tts: Tts, text: string, rate: number): AudioSource {
  return (async function* () {
    for await (const c of tts.synthesize(forSpeech(text))) yield c.sampleRate === rate ? c.pcm : resample(c.pcm, c.sampleRate, rate);
  })();
}
