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
  /** `text` is everything that was to be said (a streamed reply's whole text once it is known). */
  done: Promise<{ completed: boolean; heardMs: number; heardText: string; text: string }>;
  cancel(): void;
}

export interface SpeakTimes {
  /** First synthesized audio of the reply. */
  firstAudioAt?: number;
  /** The backend pulled the first frame to send. */
  firstPacketAt?: number;
  /** The first frame with the voice in it goes out (after the voice's own leading silence, played in real time). */
  firstVoiceAt?: number;
}

/** A 20 ms frame louder than this (RMS, -40 dBFS) is the voice, not the synthesizer's leading silence. */
const VOICE_RMS = 330;

/** Where the voice starts in `pcm` (samples), in whole 20 ms frames; `pcm.length` if it does not. */
function voiceStart(pcm: Int16Array, rate: number): number {
  const n = rate / 50;
  for (let at = 0; at < pcm.length; at += n) {
    let s = 0;
    const end = Math.min(pcm.length, at + n);
    for (let i = at; i < end; i++) s += pcm[i]! * pcm[i]!;
    if (Math.sqrt(s / (end - at)) > VOICE_RMS) return at;
  }
  return pcm.length;
}

export function sentences(text: string): string[] {
  return text.split(/(?<=[.!?])\s+(?=\S)/).map((s) => s.trim()).filter(Boolean);
}

export const speakerDefaults = {
  /** A streamed reply's first piece goes to the voice at its first clause, or after this many words. */
  firstPieceWords: 5,
  /** Later pieces: at a sentence end, or after this many words. */
  pieceWords: 16,
} as const satisfies Record<string, number>;

/** A streamed reply (LLM tokens) cut into speakable pieces: the first as early as it makes sense. */
export async function* pieces(tokens: AsyncIterable<string>): AsyncGenerator<string> {
  let buf = '';
  let first = true;
  const words = (s: string) => s.trim().split(/\s+/).filter(Boolean).length;
  for await (const t of tokens) {
    buf += t;
    for (;;) {
      const re = first ? /^(.*?[,;:.!?])\s+/s : /^(.*?[.!?])\s+/s;
      const m = re.exec(buf);
      const limit = first ? speakerDefaults.firstPieceWords : speakerDefaults.pieceWords;
      if (m && words(m[1]!) >= 1) {
        yield m[1]!.trim();
        buf = buf.slice(m[0].length);
      } else if (words(buf) > limit) {
        // Long enough without punctuation: speak what is complete, keep the word still arriving.
        const cut = buf.trimEnd().lastIndexOf(' ');
        yield buf.slice(0, cut).trim();
        buf = buf.slice(cut + 1);
      } else break;
      first = false;
    }
  }
  if (buf.trim()) yield buf.trim();
}

async function* each(items: string[]): AsyncGenerator<string> {
  yield* items;
}

export interface PreparedUtterance {
  start(): Utterance;
  cancel(): void;
}

export class Speaker {
  /** Sees every piece of agent audio as it goes to the wire (the call recorder). */
  onAudio: ((pcm: Int16Array) => void) | undefined;

  constructor(private readonly call: Call, private readonly tts: Tts, private readonly now: () => number = Date.now) {}

  /** Says a whole text, or a stream of text as it arrives; the next piece renders while one plays. */
  say(text: string | AsyncIterable<string>, times: SpeakTimes = {}): Utterance {
    return this.prepare(text, times).start();
  }

  /**
   * Starts rendering the first piece now and plays it when `start` is called: a reply begun while
   * the caller's turn is not yet taken (an LLM answer during the endpointing pause) is ready to go
   * out the moment it is. `cancel` drops it unheard.
   */
  prepare(text: string | AsyncIterable<string>, times: SpeakTimes = {}): PreparedUtterance {
    const source = typeof text === 'string' ? each(sentences(forSpeech(text))) : pieces(text);
    const ac = new AbortController();
    const rate = this.call.sampleRate;
    const spans: { text: string; samples: number }[] = [];
    const tts = this.tts;
    const now = this.now;
    const tap = () => this.onAudio;
    const render = async (piece: string): Promise<Int16Array[]> => {
      const out: Int16Array[] = [];
      for await (const c of tts.synthesize(forSpeech(piece), { signal: ac.signal })) {
        times.firstAudioAt ??= now();
        out.push(c.sampleRate === rate ? c.pcm : resample(c.pcm, c.sampleRate, rate));
      }
      return out;
    };
    const pull = async (): Promise<{ i: number; audio: Int16Array[] } | undefined> => {
      if (ac.signal.aborted) return undefined;
      const r = await source.next();
      if (r.done) return undefined;
      const i = spans.push({ text: r.value, samples: 0 }) - 1;
      return { i, audio: await render(r.value) };
    };
    const first = pull();
    first.catch(() => {});
    /** Samples of leading silence handed out before the voice starts (until it does). */
    let lead = 0;
    const audio = (async function* () {
      let next = first;
      for (;;) {
        const cur = await next;
        if (!cur) return;
        next = pull();
        next.catch(() => {});
        for (const c of cur.audio) {
          if (ac.signal.aborted) return;
          times.firstPacketAt ??= now();
          if (times.firstVoiceAt === undefined) {
            const i = voiceStart(c, rate);
            lead += i;
            if (i < c.length) times.firstVoiceAt = times.firstPacketAt + (lead * 1000) / rate;
          }
          spans[cur.i]!.samples += c.length;
          tap()?.(c);
          yield c;
        }
      }
    })();
    const drop = () => {
      ac.abort();
      void source.return(undefined);
    };
    return {
      cancel: drop,
      start: () => {
        let handle: PlaybackHandle | undefined = this.call.play(audio);
        const done = handle.done.then((r) => {
          handle = undefined;
          const full = spans.map((s) => s.text).join(' ');
          return { completed: r.completed, heardMs: r.playedMs, heardText: r.completed ? full : heard(spans, (r.playedMs * rate) / 1000), text: full };
        });
        return {
          done,
          cancel: () => {
            drop();
            handle?.cancel();
          },
        };
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
