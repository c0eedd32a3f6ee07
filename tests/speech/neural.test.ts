import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { generatedSpeechDirs, nemoFiles, piperFiles, transducerFiles } from '../../scripts/model-writers/speech.js';
import { transducerTokens, ZIPFORMER2 } from '../../scripts/model-writers/zipformer2.js';
import { nemoTokens } from '../../scripts/model-writers/nemo-fastconformer.js';
import { findTransducer } from '../../src/speech/neural.js';
import { SherpaStt } from '../../src/speech/stt/sherpa/index.js';
import { PiperTts, SYSTEM_ESPEAK_DATA } from '../../src/speech/tts/piper.js';
import { ModelMissingError } from '../../src/speech/vad/silero.js';
import type { SttStream } from '../../src/speech/types.js';
import { GENERATED_MODELS_DIR, concat, frames, rms, silence, sound } from '../helpers/audio.js';

/**
 * The neural STT and TTS path on generated models: a streaming zipformer2 transducer and a Piper
 * voice with random weights, written in the exact ONNX layout sherpa-onnx loads. Their words are
 * noise, so these tests check what does not depend on the weights: loading, streaming partials,
 * per-utterance state, batching several calls, abort, sample rates, and clear errors. The
 * recognizer tests run on both published kinds: icefall's zipformer2 (the default set) and NeMo's
 * cache-aware FastConformer (the telephone set), which sherpa-onnx runs through another decoder.
 */
const dirs = generatedSpeechDirs(GENERATED_MODELS_DIR);
const files = { stt: transducerFiles(dirs.stt), tts: piperFiles(dirs.tts) };
const recognizers = [
  { kind: 'zipformer2', files: files.stt, tokens: transducerTokens(ZIPFORMER2.vocabSize).slice(3), batchExact: true },
  { kind: 'NeMo FastConformer 80 ms, int8', files: nemoFiles(dirs.sttNemo), tokens: nemoTokens().slice(1, -1), batchExact: false },
];

/** Longest common subsequence of two strings' characters over the longer length: 1 is the same text. */
function likeness(x: string, y: string): number {
  const row = new Array<number>(y.length + 1).fill(0);
  for (let i = 1; i <= x.length; i++) {
    let diag = 0;
    for (let j = 1; j <= y.length; j++) {
      const up = row[j]!;
      row[j] = x[i - 1] === y[j - 1] ? diag + 1 : Math.max(row[j]!, row[j - 1]!);
      diag = up;
    }
  }
  return row[y.length]! / Math.max(x.length, y.length, 1);
}

async function decode(stt: SherpaStt, audio: Int16Array, onPartial?: (s: SttStream) => void): Promise<{ text: string; endMs: number }> {
  const s = stt.stream();
  for (const f of frames(audio)) {
    s.accept(f, 8000);
    onPartial?.(s);
    // Give the worker time to decode and answer, as a live call's 20 ms clock does (faster here).
    await new Promise((r) => setTimeout(r, 2));
  }
  return s.finish();
}

describe.each(recognizers)('sherpa-onnx streaming recognizer (generated $kind)', (r) => {
  let stt: SherpaStt;
  const words = new Set(r.tokens.map((t) => t.replace('▁', '').toLowerCase()));
  const utterance = concat([sound('vm-intro'), silence(300)]);

  beforeAll(async () => {
    stt = await SherpaStt.load(r.files);
  });

  it('is found in its folder as the archive is published (int8 files preferred)', () => {
    const found = findTransducer(dirname(r.files.encoder));
    expect(found && { encoder: found.encoder, decoder: found.decoder, joiner: found.joiner, tokens: found.tokens }).toEqual(r.files);
  });
  afterAll(() => stt?.close());

  it('streams partial hypotheses while the caller talks, then a final one made of its tokens', async () => {
    // The utterance in three parts: after each, the partial hypothesis grows before the end (the
    // recognizer decodes as audio streams, not at the end); waited for, however busy the machine.
    const s = stt.stream();
    const all = [...frames(utterance)];
    const seen: string[] = [];
    for (let part = 0; part < 3; part++) {
      for (const f of all.slice(Math.floor((part * all.length) / 3), Math.floor(((part + 1) * all.length) / 3))) s.accept(f, 8000);
      if (part === 2) break;
      await vi.waitFor(() => expect(s.partial()).not.toBe(seen.at(-1) ?? ''), { timeout: 20_000, interval: 10 });
      seen.push(s.partial());
    }
    const h = await s.finish();
    expect(h.text.length).toBeGreaterThan(0);
    expect(seen[1]!.length).toBeGreaterThan(seen[0]!.length);
    // The final hypothesis is spelled with the model's own pieces, lower-cased for the agent.
    expect(h.text).toBe(h.text.toLowerCase());
    for (const piece of h.text.split(' ')) expect([...words].some((w) => piece.startsWith(w))).toBe(true);
    // Its end time is the length of the audio the caller sent (whole 20 ms frames), in ms.
    expect(Math.abs(h.endMs - (utterance.length / 8000) * 1000)).toBeLessThanOrEqual(20);
  });

  it('starts every utterance from a clean state, and gives each of several simultaneous calls its own', async () => {
    const solo = await decode(stt, utterance);
    const again = await decode(stt, utterance);
    expect(again.text).toBe(solo.text);
    const other = concat([sound('please-try-again'), silence(300)]);
    const otherSolo = await decode(stt, other);
    expect(otherSolo.text).not.toBe(solo.text);
    // Two calls at once are decoded in one batch; neither hears the other.
    const [a, b] = await Promise.all([decode(stt, utterance), decode(stt, other)]);
    if (r.batchExact) {
      expect(a.text).toBe(solo.text);
      expect(b.text).toBe(otherSolo.text);
    } else {
      // int8 weights: onnxruntime quantizes a batch's activations with one scale, so a partner can
      // flip a close call; each call's words still follow its own audio, not its partner's.
      expect(likeness(a.text, solo.text)).toBeGreaterThan(likeness(a.text, otherSolo.text));
      expect(likeness(b.text, otherSolo.text)).toBeGreaterThan(likeness(b.text, solo.text));
    }
  });

  it('gives an empty final hypothesis for an utterance with no audio', async () => {
    const s = stt.stream();
    expect(s.partial()).toBe('');
    expect((await s.finish()).text).toBe('');
  });

  it('names a missing model file and the command that fetches it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fd-stt-'));
    try {
      const f = transducerFiles(dir);
      await expect(SherpaStt.load(f)).rejects.toThrow(ModelMissingError);
      await expect(SherpaStt.load(f)).rejects.toThrow(`${f.encoder} is missing; run \`npm run models\``);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Piper voice through sherpa-onnx (generated low voice)', () => {
  let tts: PiperTts;
  beforeAll(async () => {
    tts = await PiperTts.load({ ...files.tts, dataDir: SYSTEM_ESPEAK_DATA });
  });

  async function speak(text: string, signal?: AbortSignal, onChunk?: () => void): Promise<Int16Array> {
    const chunks: Int16Array[] = [];
    for await (const c of tts.synthesize(text, { signal })) {
      expect(c.sampleRate).toBe(8000);
      chunks.push(c.pcm);
      onChunk?.();
    }
    return concat(chunks);
  }

  it('turns text into 8 kHz audio whose length follows the words (espeak phonemes → a 16 kHz "low" voice → the call)', async () => {
    expect(tts.sampleRate).toBe(16000);
    const short = await speak('Thanks for calling.');
    const long = await speak('Thanks for calling Sparkle and Shine Cleaning, where every home gets our full attention.');
    expect(short.length / 8000).toBeGreaterThan(0.5);
    expect(long.length).toBeGreaterThan(2.5 * short.length);
    expect(rms(long)).toBeGreaterThan(100);
  });

  it('streams sentence by sentence and stops before the next sentence when the caller barges in', async () => {
    const text = 'First sentence here. Second one follows. A third one too. And a fourth. Then a fifth. Finally a sixth.';
    const before = tts.sentencesRendered;
    const whole = await speak(text);
    expect(tts.sentencesRendered - before).toBe(6);

    const ac = new AbortController();
    const start = tts.sentencesRendered;
    let chunks = 0;
    const cut = await speak(text, ac.signal, () => {
      if (++chunks === 1) ac.abort();
    });
    // Nothing after the abort reached the caller…
    expect(chunks).toBe(1);
    expect(cut.length).toBeLessThan(whole.length / 4);
    // …and the voice stopped working on the reply within one sentence.
    await speak('Okay.');
    expect(tts.sentencesRendered - start).toBeLessThanOrEqual(3);
  });

  it('names a missing voice file', async () => {
    await expect(PiperTts.load({ model: '/nonexistent/voice.onnx', tokens: '/nonexistent/tokens.txt', dataDir: SYSTEM_ESPEAK_DATA })).rejects.toThrow(
      '/nonexistent/voice.onnx is missing',
    );
  });
});
