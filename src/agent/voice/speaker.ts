import type { Call, PlaybackHandle } from '../../telephony/call.js';
import type { Tts } from '../../speech/types.js';
import { resample } from '../../speech/audio.js';
import { forSpeech } from '../../speech/text.js';

/**
 * The mouth of a call: a reply is cut at sentence boundaries, the first sentence goes on the wire as
 * soon as it is synthesized while the next one renders, and a barge-in cancels both the queued audio
 * (within one frame, by the backend) and the synthesis. It knows what the caller actually heard.
 */

export interface Utterance {
  done: Promise<{ completed: boolean; heardMs: number; heardText: string }>;
  cancel(): void;
}

export interface SpeakTimes {
  /** First synthesized audio of the reply. */
  firstAudioAt?: number;
  /** The backend pulled the first frame to send. */
  firstPacketAt?: number;
}

export function sentences(text: string): string[] {
  return text.split(/(?<=[.!?])\s+(?=\S)/).map((s) => s.trim()).filter(Boolean);
}

export class Speaker {
  constructor(private readonly call: Call, private readonly tts: Tts, private readonly now: () => number = Date.now) {}

  say(text: string, times: SpeakTimes = {}): Utterance {
    const parts = sentences(forSpeech(text));
    const ac = new AbortController();
    const rate = this.call.sampleRate;
    const spans: { text: string; samples: number }[] = parts.map((t) => ({ text: t, samples: 0 }));
    const tts = this.tts;
    const now = this.now;
    // Render sentence i+1 while sentence i plays.
    const render = (i: number): Promise<Int16Array[]> | undefined => {
      if (i >= parts.length) return undefined;
      return (async () => {
        const out: Int16Array[] = [];
        for await (const c of tts.synthesize(parts[i]!, { signal: ac.signal })) {
          times.firstAudioAt ??= now();
          out.push(c.sampleRate === rate ? c.pcm : resample(c.pcm, c.sampleRate, rate));
        }
        return out;
      })();
    };
    const source = (async function* () {
      let next = render(0);
      for (let i = 0; next; i++) {
        const chunks = await next;
        next = render(i + 1);
        next?.catch(() => {});
        for (const c of chunks) {
          if (ac.signal.aborted) return;
          times.firstPacketAt ??= now();
          spans[i]!.samples += c.length;
          yield c;
        }
      }
    })();
    let handle: PlaybackHandle | undefined = this.call.play(source);
    const done = handle.done.then((r) => {
      handle = undefined;
      return { completed: r.completed, heardMs: r.playedMs, heardText: r.completed ? parts.join(' ') : heard(spans, (r.playedMs * rate) / 1000) };
    });
    return {
      done,
      cancel: () => {
        ac.abort();
        handle?.cancel();
      },
    };
  }
}

/** The words the caller heard before playback stopped `played` samples in. */
function heard(spans: { text: string; samples: number }[], played: number): string {
  const out: string[] = [];
  let at = 0;
  for (const s of spans) {
    if (!s.samples) break;
    if (at + s.samples <= played) out.push(s.text);
    else {
      const words = s.text.split(' ');
      const n = Math.floor((words.length * (played - at)) / s.samples);
      if (n > 0) out.push(`${words.slice(0, n).join(' ')}…`);
      break;
    }
    at += s.samples;
  }
  return out.join(' ');
}
