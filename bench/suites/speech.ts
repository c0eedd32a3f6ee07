import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SphinxStt } from '../../src/speech/stt/sphinx/index.js';
import { SPHINX_DICT, SPHINX_GENERAL_LM, ALLISON, prompts } from '../../src/speech/stt/sphinx/adapt.js';
import { telephoneModelDir } from '../../src/speech/index.js';
import { FliteTts } from '../../src/speech/tts/flite.js';
import { EspeakTts } from '../../src/speech/tts/espeak.js';
import { SileroVad } from '../../src/speech/vad/silero.js';
import { readWav } from '../../src/speech/audio.js';
import { contextPhrases } from '../../src/agent/voice/phrases.js';
import { contextSchema } from '../../src/business/context/schema.js';
import { demoContext } from '../../src/business/context/demo.js';
import type { Tts } from '../../src/speech/types.js';
import { BUILT_MODELS_DIR, SILERO, concat, frames } from '../../tests/helpers/audio.js';
import { percentile, type Metrics, type Suite } from '../lib.js';

/**
 * Each offline-floor engine on its own: load time, real-time factor (compute seconds per second of
 * audio; below 1 is faster than real time), the voices' time to first audio, and memory.
 */

async function ttsNumbers(tts: Tts, name: string, lines: string[]): Promise<Metrics> {
  const firsts: number[] = [];
  let compute = 0;
  let audio = 0;
  for (const line of lines) {
    const t0 = performance.now();
    let first = 0;
    for await (const c of tts.synthesize(line)) {
      first ||= performance.now() - t0;
      audio += c.pcm.length / c.sampleRate;
    }
    compute += (performance.now() - t0) / 1000;
    firsts.push(first);
  }
  firsts.sort((a, b) => a - b);
  return { [`tts_${name}_first_audio_p50_ms`]: percentile(firsts, 50), [`tts_${name}_rtf`]: compute / audio };
}

const suite: Suite = {
  description: 'offline-floor engines: Silero VAD, pocketsphinx (domain and general English), flite and espeak-ng voices',
  models: () => ['silero-vad v5.1.2', 'pocketsphinx en-us (telephone-adapted)', 'flite slt', 'espeak-ng en-us'],
  async run(): Promise<Metrics> {
    const dir = mkdtempSync(join(tmpdir(), 'fd-bench-speech-'));
    const { heldOut } = await prompts();
    const clips = heldOut.slice(0, 20).map((p) => readWav(readFileSync(`${ALLISON}/${p.name}.wav`)).pcm);
    const seconds = clips.reduce((n, c) => n + c.length / 8000, 0);
    const m: Metrics = {};

    // VAD
    let t0 = performance.now();
    const vad = new SileroVad({ model: SILERO });
    m.vad_load_ms = performance.now() - t0;
    t0 = performance.now();
    for (const c of clips) for (const f of frames(c)) vad.accept(f, 8000);
    m.vad_rtf = (performance.now() - t0) / 1000 / seconds;
    vad.close();

    // STT with the context's language model, as on a call; and general English, as for voicemail.
    const hints = contextPhrases(contextSchema.parse(demoContext));
    const lines = ['I would like a standard cleaning next tuesday at ten in the morning.', 'How much is a deep cleaning for three bedrooms?', 'Can I leave a message for Maria?'];
    const flite = new FliteTts();
    const spoken: Int16Array[] = [];
    for (const l of lines) for await (const c of flite.synthesize(l)) spoken.push(c.pcm);
    const callAudio = concat(spoken);
    for (const [name, stt, audio, h] of [
      ['domain', () => new SphinxStt({ model: telephoneModelDir(BUILT_MODELS_DIR), workDir: dir }), [callAudio], hints],
      ['general', () => new SphinxStt({ model: telephoneModelDir(BUILT_MODELS_DIR), languageModel: { lm: SPHINX_GENERAL_LM, dictionary: SPHINX_DICT } }), clips, []],
    ] as const) {
      t0 = performance.now();
      const engine = stt();
      await engine.prepare(h);
      m[`stt_${name}_load_ms`] = performance.now() - t0;
      let secs = 0;
      for (const c of audio) secs += c.length / 8000;
      t0 = performance.now();
      for (const c of audio) {
        const s = engine.stream(h);
        for (const f of frames(c)) s.accept(f, 8000);
        await s.finish();
      }
      m[`stt_${name}_rtf`] = (performance.now() - t0) / 1000 / secs;
      engine.close();
    }

    // Voices
    const replies = ['Great. What is the address for the cleaning?', 'A deep cleaning for three bedrooms is $250, about 4 hours. Would you like to book it?', 'Thanks for calling. Goodbye.'];
    Object.assign(m, await ttsNumbers(flite, 'flite', replies));
    Object.assign(m, await ttsNumbers(new EspeakTts(), 'espeak', replies));
    m.rss_mib = process.memoryUsage().rss / 2 ** 20;
    rmSync(dir, { recursive: true, force: true });
    return m;
  },
};
export default suite;
