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
import { ensureGeneratedSpeech, PIPER_MEDIUM, piperFiles } from '../../scripts/model-writers/speech.js';
import { writeRandomPiper } from '../../scripts/model-writers/piper.js';
import { SherpaStt } from '../../src/speech/stt/sherpa/index.js';
import { SmartTurnDetector } from '../../src/speech/turn/smart-turn.js';
import { WhisperFeatures } from '../../src/speech/turn/whisper-features.js';
import { PiperTts, SYSTEM_ESPEAK_DATA } from '../../src/speech/tts/piper.js';
import { BUILT_MODELS_DIR, SILERO, concat, frames } from '../../tests/helpers/audio.js';
import { percentile, type Metrics, type Suite } from '../lib.js';

/**
 * Each speech engine on its own: load time, real-time factor (compute seconds per second of
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
  description: 'speech engines: Silero VAD, pocketsphinx (domain and general English), flite and espeak-ng voices; the neural set on generated models: sherpa-onnx zipformer2, Piper low and medium, Smart Turn v3',
  models: () => ['silero-vad v5.1.2', 'pocketsphinx en-us (telephone-adapted)', 'flite slt', 'espeak-ng en-us', 'zipformer2 streaming transducer (generated)', 'piper low / medium (generated)', 'smart-turn v3 (generated, float32)'],
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

    // The neural set on generated models (random weights, real compute): sherpa-onnx zipformer2
    // streaming recognizer on its worker, and Piper voices at 16 kHz (low) and 22.05 kHz (medium).
    const gen = await ensureGeneratedSpeech(join(BUILT_MODELS_DIR, 'generated'));
    // Both published recognizer kinds: zipformer2 (default set) and NeMo FastConformer 80 ms int8
    // (telephone set), which sherpa-onnx runs through its NeMo decoder.
    let rss = 0;
    for (const [name, files] of [['zipformer2', gen.stt], ['nemo_fastconformer', gen.sttNemo]] as const) {
      rss = process.memoryUsage().rss;
      t0 = performance.now();
      const sherpa = await SherpaStt.load(files);
      m[`stt_${name}_load_ms`] = performance.now() - t0;
      t0 = performance.now();
      for (const c of clips) {
        const st = sherpa.stream();
        st.accept(c, 8000);
        await st.finish();
      }
      m[`stt_${name}_rtf`] = (performance.now() - t0) / 1000 / seconds;
      m[`stt_${name}_rss_added_mib`] = (process.memoryUsage().rss - rss) / 2 ** 20;
      sherpa.close();
    }
    const medium = join(dir, 'piper-medium');
    await writeRandomPiper(medium, PIPER_MEDIUM);
    for (const [name, files] of [['piper_low', gen.tts], ['piper_medium', piperFiles(medium, PIPER_MEDIUM)]] as const) {
      rss = process.memoryUsage().rss;
      t0 = performance.now();
      const voice = await PiperTts.load({ ...files, dataDir: SYSTEM_ESPEAK_DATA });
      m[`tts_${name}_load_ms`] = performance.now() - t0;
      Object.assign(m, await ttsNumbers(voice, name, replies));
      m[`tts_${name}_rss_added_mib`] = (process.memoryUsage().rss - rss) / 2 ** 20;
    }
    // Smart Turn v3 (generated, Whisper-tiny geometry, float32; the published file is int8): the
    // cost of one end-of-turn decision on the last 8 s of a caller's turn, features included.
    rss = process.memoryUsage().rss;
    t0 = performance.now();
    const turn = await SmartTurnDetector.load(gen.turn);
    m.turn_smart_turn_load_ms = performance.now() - t0;
    const decisions: number[] = [];
    const features: number[] = [];
    const wf = new WhisperFeatures();
    for (const c of clips.slice(0, 10)) {
      t0 = performance.now();
      await turn.decide(c, 8000);
      decisions.push(performance.now() - t0);
      const audio = Float32Array.from(c, (v) => v / 32768);
      t0 = performance.now();
      await wf.compute(audio);
      features.push(performance.now() - t0);
    }
    decisions.sort((a, b) => a - b);
    features.sort((a, b) => a - b);
    m.turn_smart_turn_decision_p50_ms = percentile(decisions, 50);
    m.turn_smart_turn_decision_p95_ms = percentile(decisions, 95);
    m.turn_smart_turn_features_p50_ms = percentile(features, 50);
    m.turn_smart_turn_rss_added_mib = (process.memoryUsage().rss - rss) / 2 ** 20;
    turn.close();
    m.rss_mib = process.memoryUsage().rss / 2 ** 20;
    rmSync(dir, { recursive: true, force: true });
    return m;
  },
};
export default suite;
