import { writePrivateFile } from '../../util/private-files.js';
import type { Call, AudioFrame } from '../../telephony/call.js';
import type { Vad } from '../../speech/types.js';
import { writeWav } from '../../speech/audio.js';

/**
 * Records what the caller says after the tone: stops on the first long silence after speech,
 * at the length limit, on '#' or on hang-up. Frames are copied into one growing buffer (the
 * call's frame buffer is reused for the next packet).
 */

export const recorderDefaults = { maxMs: 120_000, trailingSilenceMs: 2_500, noSpeechTimeoutMs: 10_000 } as const;

export interface Recording {
  path: string;
  durationMs: number;
  heardSpeech: boolean;
  endedBy: 'silence' | 'limit' | 'key' | 'hangup' | 'no_speech';
  /** The recorded audio at `sampleRate`, for transcription. */
  pcm: Int16Array;
  sampleRate: number;
}

export async function recordMessage(call: Call, vad: Vad, path: string, o: Partial<typeof recorderDefaults> = {}): Promise<Recording> {
  const opts = { ...recorderDefaults, ...o };
  const rate = call.sampleRate;
  let buf = new Int16Array(rate * 10);
  let len = 0;
  let heardSpeech = false;
  let silentSince = 0;
  const result = await new Promise<Recording['endedBy']>((resolve) => {
    const onAudio = (f: AudioFrame) => {
      if (len + f.pcm.length > buf.length) {
        const bigger = new Int16Array(buf.length * 2);
        bigger.set(buf.subarray(0, len));
        buf = bigger;
      }
      buf.set(f.pcm, len);
      len += f.pcm.length;
      const ms = (len / rate) * 1000;
      for (const e of vad.accept(f.pcm, f.sampleRate)) {
        if (e.type === 'speech_start') heardSpeech = true;
        if (e.type === 'speech_end') silentSince = ms;
      }
      if (vad.speaking) silentSince = 0;
      else if (heardSpeech && silentSince === 0) silentSince = ms;
      if (ms >= opts.maxMs) done('limit');
      else if (heardSpeech && silentSince && ms - silentSince >= opts.trailingSilenceMs) done('silence');
      else if (!heardSpeech && ms >= opts.noSpeechTimeoutMs) done('no_speech');
    };
    const onDtmf = (d: string) => d === '#' && done('key');
    const onEnd = () => done('hangup');
    function done(r: Recording['endedBy']) {
      call.off('audio', onAudio);
      call.off('dtmf', onDtmf);
      call.off('ended', onEnd);
      resolve(r);
    }
    call.on('audio', onAudio);
    call.on('dtmf', onDtmf);
    call.on('ended', onEnd);
    if (call.state === 'ended') done('hangup');
  });
  const pcm = buf.subarray(0, len);
  await writePrivateFile(path, writeWav(pcm, rate));
  return { path, durationMs: Math.round((len / rate) * 1000), heardSpeech, endedBy: result, pcm, sampleRate: rate };
}

/** The beep before the message: 440 Hz, 400 ms, with soft edges. */
export function tone(rate = 8000, ms = 400, hz = 440): Int16Array {
  const n = Math.round((rate * ms) / 1000);
  const ramp = Math.round(rate * 0.01);
  return new Int16Array(n).map((_, i) => {
    const env = Math.min(1, i / ramp, (n - i) / ramp);
    return Math.round(8000 * env * Math.sin((2 * Math.PI * hz * i) / rate));
  });
}
