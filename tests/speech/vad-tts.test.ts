import { describe, expect, it } from 'vitest';
import { SileroVad, ModelMissingError } from '../../src/speech/vad/silero.js';
import { EspeakTts, CachedTts } from '../../src/speech/tts/espeak.js';
import { resample, upsample2x, downsample2x } from '../../src/speech/audio.js';
import { SILERO, sound, silence, concat, frames, rms } from '../helpers/audio.js';

describe('Silero VAD on real recordings', () => {
  it('finds exactly the three spoken prompts between silences, where they are', () => {
    const prompts = ['hello-world', 'please-try-again', 'vm-goodbye'].map(sound);
    const gaps = [silence(600), silence(1000), silence(1000), silence(800)];
    const audio = concat([gaps[0]!, prompts[0]!, gaps[1]!, prompts[1]!, gaps[2]!, prompts[2]!, gaps[3]!]);
    const vad = new SileroVad({ model: SILERO });
    const events: string[] = [];
    for (const f of frames(audio)) for (const e of vad.accept(f, 8000)) events.push(e.type);
    for (const e of vad.flush()) events.push(e.type);
    expect(events).toEqual(['speech_start', 'speech_end', 'speech_start', 'speech_end', 'speech_start', 'speech_end']);
    expect(vad.segments).toHaveLength(3);
    // Each segment overlaps its prompt's true position (recordings carry a little silence of their own).
    let t = 600;
    prompts.forEach((p, i) => {
      const startMs = t;
      const endMs = t + (p.length / 8000) * 1000;
      const seg = vad.segments[i]!;
      expect(seg.startMs).toBeGreaterThanOrEqual(startMs - 100);
      expect(seg.endMs).toBeLessThanOrEqual(endMs + 400);
      expect(seg.endMs - seg.startMs).toBeGreaterThan(300);
      t = endMs + 1000;
    });
  });

  it('stays quiet on silence and line noise', () => {
    const vad = new SileroVad({ model: SILERO });
    const noise = new Int16Array(8000 * 2).map(() => Math.round((Math.random() - 0.5) * 60));
    const events = [...frames(noise)].flatMap((f) => vad.accept(f, 8000));
    expect(events).toEqual([]);
  });

  it('names the missing model file and the command that fetches it', () => {
    expect(() => new SileroVad({ model: '/nonexistent/silero_vad.onnx' })).toThrow(ModelMissingError);
    expect(() => new SileroVad({ model: '/nonexistent/silero_vad.onnx' })).toThrow(/\/nonexistent\/silero_vad\.onnx is missing; run `npm run models`/);
  });
});

describe('espeak-ng voice', () => {
  it('speaks a sentence as 8 kHz audio, streamed in chunks', async () => {
    const tts = new EspeakTts();
    const chunks: Int16Array[] = [];
    for await (const c of tts.synthesize('Thanks for calling Sparkle and Shine Cleaning.')) {
      expect(c.sampleRate).toBe(8000);
      chunks.push(c.pcm);
    }
    const pcm = concat(chunks);
    expect(chunks.length).toBeGreaterThan(3);
    expect(pcm.length / 8000).toBeGreaterThan(1.5);
    expect(pcm.length / 8000).toBeLessThan(5);
    expect(rms(pcm)).toBeGreaterThan(500);
    // What it says is speech to the VAD too.
    const vad = new SileroVad({ model: SILERO });
    const events = [...frames(concat([pcm, silence(600)]))].flatMap((f) => vad.accept(f, 8000)).map((e) => e.type);
    expect(events[0]).toBe('speech_start');
  });

  it('stops when aborted and replays cached phrases without re-rendering', async () => {
    const tts = new CachedTts(new EspeakTts());
    const ac = new AbortController();
    let n = 0;
    for await (const _ of tts.synthesize('This sentence is long enough to take several chunks of audio to play out.', { signal: ac.signal })) {
      if (++n === 2) ac.abort();
    }
    expect(n).toBe(2);
    await tts.warm(['One moment please.']);
    expect(tts.has('One moment please.')).toBe(true);
    const again: Int16Array[] = [];
    for await (const c of tts.synthesize('One moment please.')) again.push(c.pcm);
    expect(concat(again).length).toBeGreaterThan(4000);
  });

  it('renders a phrase once for callers who ask for it at the same time, and again for one whose render was cut off', async () => {
    let renders = 0;
    class Counted extends EspeakTts {
      override synthesize(text: string, opts?: { signal?: AbortSignal }) {
        renders++;
        return super.synthesize(text, opts);
      }
    }
    const tts = new CachedTts(new Counted());
    const hear = async (text: string, signal?: AbortSignal) => {
      const out: Int16Array[] = [];
      for await (const c of tts.synthesize(text, signal ? { signal } : {})) out.push(c.pcm);
      return concat(out);
    };
    const greeting = 'Thanks for calling Sparkle and Shine, how can I help?';
    const heard = await Promise.all(Array.from({ length: 10 }, () => hear(greeting)));
    expect(renders).toBe(1);
    for (const pcm of heard) expect(pcm).toEqual(heard[0]);
    // Kept: the next caller replays it from memory.
    await hear(greeting);
    expect(renders).toBe(1);
    // The first asker barges in after one chunk: whoever shared its render renders their own.
    const ac = new AbortController();
    const line = 'This sentence is long enough to take several chunks of audio to play out.';
    const cut = (async () => {
      for await (const _ of tts.synthesize(line, { signal: ac.signal })) ac.abort();
    })();
    const other = hear(line);
    await cut;
    expect((await other).length).toBeGreaterThan(8000);
    expect(renders).toBe(3);
  });
});

describe('resampling', () => {
  it('keeps a tone’s level through 8→16→8 kHz and 22.05→8 kHz', () => {
    const tone = new Int16Array(1600).map((_, i) => Math.round(10000 * Math.sin((2 * Math.PI * 440 * i) / 8000)));
    const up = new Int16Array(3200);
    upsample2x(tone, up);
    const down = new Int16Array(1600);
    downsample2x(up, down);
    expect(Math.abs(rms(down) - rms(tone)) / rms(tone)).toBeLessThan(0.05);
    const hi = new Int16Array(22050).map((_, i) => Math.round(10000 * Math.sin((2 * Math.PI * 440 * i) / 22050)));
    const lo = resample(hi, 22050, 8000);
    expect(Math.abs(lo.length - 8000)).toBeLessThanOrEqual(2);
    expect(Math.abs(rms(lo) - rms(hi)) / rms(hi)).toBeLessThan(0.05);
  });

  it('does not fold what is above the new Nyquist back into the call band (16 → 8 kHz)', () => {
    const tone = (hz: number) => new Int16Array(16000).map((_, i) => Math.round(10000 * Math.sin((2 * Math.PI * hz * i) / 16000)));
    const db = (a: Int16Array, b: Int16Array) => 20 * Math.log10(rms(a.subarray(200, -200)) / rms(b));
    // A 5 kHz tone cannot exist at 8 kHz: what comes out is its 3 kHz alias, which a caller hears.
    expect(db(resample(tone(5000), 16000, 8000), tone(5000))).toBeLessThan(-30);
    // Speech frequencies pass.
    expect(Math.abs(db(resample(tone(1000), 16000, 8000), tone(1000)))).toBeLessThan(1);
    // 22.05 kHz voices (Piper medium) too: 6 kHz is above 4 kHz.
    const hi = new Int16Array(22050).map((_, i) => Math.round(10000 * Math.sin((2 * Math.PI * 6000 * i) / 22050)));
    expect(db(resample(hi, 22050, 8000), hi)).toBeLessThan(-30);
  });
});

describe('text for speech', () => {
  it('reads phone numbers digit by digit and symbols as words', async () => {
    const { forSpeech } = await import('../../src/speech/text.js');
    expect(forSpeech('Ann (+15125550177) called Sparkle & Shine')).toBe('Ann, 5 1 2, 5 5 5, 0 1 7 7, called Sparkle and Shine');
    expect(forSpeech('from +442079460958')).toBe('from 4 4 2 0 7 9 4 6 0 9 5 8');
  });
});
