import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { Llm, Stt, TurnDetector, Tts, Vad } from './types.js';
import { EnergyVad } from './vad/energy.js';
import { SileroHost } from './vad/host.js';
import { chooseSilero } from './vad/model.js';
import { EspeakTts } from './tts/espeak.js';
import { FliteTts } from './tts/flite.js';
import { CachedTts } from './tts/cache.js';
import { SphinxStt } from './stt/sphinx/index.js';
import { adaptTelephoneModel, adaptationMissing, adaptedModel, SPHINX_BASE, SPHINX_DICT, SPHINX_GENERAL_LM } from './stt/sphinx/adapt.js';
import { loadSphinx, stopSphinxLoader } from './stt/sphinx/ffi.js';
import { LlamaCppLlm } from './llm/llama.js';
import { OpenAiLlm } from './llm/openai.js';
import { SherpaStt } from './stt/sherpa/index.js';
import { PiperTts } from './tts/piper.js';
import { chooseStt, chooseTts } from './neural.js';
import { readManifest, verifyModelFiles } from './models.js';

export type * from './types.js';

/** Which engine serves each slot, and why: what `frontdesk doctor` prints and the agent uses. */
export interface SpeechSet {
  tts: Tts | undefined;
  /** Set once `prepare()` has resolved (the recognizer may need its model built first). */
  stt: Stt | undefined;
  newVad: () => Vad;
  /** The LLM (in-process or an OpenAI-compatible server) when one is configured or installed; set by `prepare()`. */
  llm: Llm | undefined;
  /** The semantic end-of-turn model (Smart Turn) when one is installed; set by `prepare()`. */
  turn: TurnDetector | undefined;
  /** Free-form speech to text (voicemail), with general English; set by `prepare()`. */
  transcribe: ((pcm: Int16Array, sampleRate: number) => Promise<string>) | undefined;
  report: { slot: string; engine: string; why: string }[];
  /**
   * Checks the ONNX files sherpa-onnx would load against their pins (models/manifest.json, or the
   * receipt of the archive they came in): sherpa-onnx exits the process on a malformed file.
   */
  verify(): Promise<{ problems: string[]; unpinned: string[] }>;
  /** Builds what is missing and can be built here (the telephone-adapted recognizer), then loads STT. */
  prepare(log?: (msg: string) => void): Promise<void>;
  /** Stops the engines; resolves when their threads have exited. */
  close(): Promise<void>;
}

export interface SpeechOptions {
  modelsDir: string;
  /** A GGUF chat model (FRONTDESK_LLM_MODEL); default: the pinned one under modelsDir/llm. */
  llmModel?: string | undefined;
  /** CPU threads for the in-process LLM (FRONTDESK_LLM_THREADS). */
  llmThreads?: number | undefined;
  /** An OpenAI-compatible server (FRONTDESK_LLM_URL, _API_KEY, _SERVER_MODEL) instead. */
  llmServer?: { url?: string | undefined; apiKey?: string | undefined; model?: string | undefined } | undefined;
  /** Where models built on this machine live (FRONTDESK_BUILT_MODELS_DIR). */
  builtModelsDir: string;
  /** A sherpa-onnx streaming transducer folder (FRONTDESK_STT_MODEL); default: found under modelsDir/stt. */
  sttModel?: string | undefined;
  /** A Piper voice (FRONTDESK_TTS_MODEL); default: found under modelsDir/tts. */
  ttsModel?: string | undefined;
  /** A Smart Turn v3 model (FRONTDESK_TURN_MODEL); default: the pinned one under modelsDir/turn. */
  turnModel?: string | undefined;
}

export { chooseSilero, SILERO_PATHS } from './vad/model.js';

function runs(bin: string, arg: string): boolean {
  return spawnSync(bin, [arg], { stdio: 'ignore' }).status === 0;
}

export function espeakAvailable(): boolean {
  return runs('espeak-ng', '--version');
}

export function fliteAvailable(): boolean {
  // `flite --version` exits 1; listing the voices exits 0.
  return runs('flite', '-lv');
}

export function telephoneModelDir(builtModelsDir: string): string {
  return resolve(builtModelsDir, 'stt/pocketsphinx-en-us-telephone');
}

function sphinxLoads(): string | undefined {
  try {
    loadSphinx();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

export function createSpeech(o: SpeechOptions): SpeechSet {
  const report: SpeechSet['report'] = [];
  const { model: silero, why: sileroWhy } = chooseSilero(o.modelsDir);
  report.push({ slot: 'vad', engine: silero ? 'silero (sherpa-onnx)' : 'energy', why: sileroWhy });

  const neuralStt = chooseStt(o.modelsDir, o.sttModel);
  const neuralTts = chooseTts(o.modelsDir, o.ttsModel);
  for (const e of [neuralStt.error, neuralTts.error]) if (e) throw new Error(e);

  const flite = fliteAvailable();
  const espeak = !flite && espeakAvailable();
  const tts = flite ? new FliteTts() : espeak ? new EspeakTts() : undefined;
  if (neuralTts.options) report.push({ slot: 'tts', engine: neuralTts.options.label!, why: `${neuralTts.options.model} (neural; ${tts?.name ?? 'no'} floor voice until it loads)` });
  else report.push(flite
    ? { slot: 'tts', engine: tts!.name, why: 'offline floor (no neural voice under models/tts)' }
    : espeak
      ? { slot: 'tts', engine: 'espeak-ng', why: 'offline floor; flite sounds better (apt-get install flite)' }
      : { slot: 'tts', engine: 'none', why: 'no voice installed (apt-get install flite)' });

  const sphinxError = sphinxLoads();
  const adaptedDir = telephoneModelDir(o.builtModelsDir);
  const adapted = adaptedModel(adaptedDir);
  const canAdapt = !adapted && !sphinxError && !adaptationMissing();
  if (neuralStt.options) report.push({ slot: 'stt', engine: neuralStt.options.label!, why: `${neuralStt.options.encoder} (neural streaming transducer)` });
  else report.push(sphinxError || !existsSync(join(SPHINX_BASE, 'en-us'))
    ? { slot: 'stt', engine: 'none', why: `${sphinxError ?? 'no acoustic model (apt-get install pocketsphinx-en-us)'}; callers use the keypad and voicemail` }
    : adapted
      ? { slot: 'stt', engine: 'pocketsphinx (telephone-adapted)', why: adapted }
      : canAdapt
        ? { slot: 'stt', engine: 'pocketsphinx (telephone-adapted)', why: `built on first start into ${adaptedDir} (about 20 s)` }
        : { slot: 'stt', engine: 'pocketsphinx (wideband, unadapted)', why: `poor on phone audio; to adapt it: ${adaptationMissing()}` });
  if (o.llmModel && !existsSync(o.llmModel)) {
    throw new Error(`FRONTDESK_LLM_MODEL names ${o.llmModel}, which does not exist: put a chat GGUF there (see models/README.md) or unset the variable`);
  }
  const server = o.llmServer?.url;
  const gguf = server ? undefined : (o.llmModel ?? findPinnedLlm(o.modelsDir));
  report.push(server
    ? { slot: 'llm', engine: 'OpenAI-compatible server + guided-flow', why: `${server}${o.llmServer?.model ? ` (${o.llmServer.model})` : ''} understands callers and answers open questions; the guided flow's validated tools act` }
    : gguf
      ? { slot: 'llm', engine: 'llama.cpp in-process + guided-flow', why: `${gguf} understands callers and answers open questions; the guided flow's validated tools act` }
      : { slot: 'llm', engine: 'guided-flow', why: 'no LLM (FRONTDESK_LLM_URL, FRONTDESK_LLM_MODEL or `npm run models`): the guided-flow engine answers calls and texts' });

  if (o.turnModel && !existsSync(o.turnModel)) {
    throw new Error(`FRONTDESK_TURN_MODEL names ${o.turnModel}, which does not exist: run \`npm run models\` or unset the variable`);
  }
  const turnModel = o.turnModel ?? readManifest().files.filter((f) => f.slot === 'turn').map((f) => resolve(o.modelsDir, f.path)).find((p) => existsSync(p));
  report.push(turnModel
    ? { slot: 'turn', engine: 'smart-turn v3 (onnxruntime)', why: `${turnModel}: a pause is the end of the turn when the model says so` }
    : { slot: 'turn', engine: 'endpointing delays', why: 'no end-of-turn model (`npm run models` fetches Smart Turn v3.2)' });

  let generalStt: SphinxStt | undefined;
  // Every call's Silero VAD runs on one worker thread; started once the model file passed its check.
  let vadHost: SileroHost | undefined;
  const host = () => (vadHost ??= new SileroHost({ model: silero! }));
  let neuralVoice = false;
  let sileroOk = Boolean(silero);
  const sttFiles = neuralStt.options ? [neuralStt.options.encoder, neuralStt.options.decoder, neuralStt.options.joiner, neuralStt.options.tokens] : [];
  const ttsFiles = neuralTts.options ? [neuralTts.options.model, neuralTts.options.tokens] : [];
  const set: SpeechSet = {
    tts: tts ? new CachedTts(tts) : undefined,
    stt: undefined,
    llm: undefined,
    turn: undefined,
    transcribe: undefined,
    newVad: () => (silero && sileroOk ? host().create() : new EnergyVad()),
    report,
    // What this set loads, and every pinned file present in the folder: one kept as a fallback
    // (Silero v5.1.2 behind the bundled v6.2) must not be found damaged only when it is needed.
    verify: () => {
      const pinned = readManifest().files.filter((f) => !f.extract).map((f) => resolve(o.modelsDir, f.path)).filter((p) => existsSync(p));
      return verifyModelFiles([...new Set([...(silero ? [silero] : []), ...sttFiles, ...ttsFiles, ...(turnModel ? [turnModel] : []), ...pinned])], o.modelsDir);
    },
    async prepare(log = () => {}) {
      // A file that fails its check is not loaded: that engine's floor serves instead.
      const checked = async (files: string[], what: string) => {
        const v = await verifyModelFiles(files, o.modelsDir);
        for (const p of v.problems) log(`${what} not loaded: ${p}`);
        return v.problems.length === 0;
      };
      if (silero && sileroOk) sileroOk = await checked([silero], 'Silero VAD');
      // The VAD worker starts making its first detectors now, on its own thread.
      if (silero && sileroOk) host();
      if (server && !set.llm) {
        // A server that is down must not take speech recognition with it: the guided flow answers.
        set.llm = await OpenAiLlm.connect({ baseUrl: server, apiKey: o.llmServer?.apiKey, model: o.llmServer?.model }).catch((e: Error) => {
          log(`LLM unavailable, the guided flow answers: ${e.message}`);
          return undefined;
        });
        if (set.llm) log(`LLM: ${set.llm.name}`);
      } else if (gguf && !set.llm) {
        set.llm = await LlamaCppLlm.load({ model: gguf, ...(o.llmThreads ? { threads: o.llmThreads } : {}) });
        log(`LLM loaded: ${gguf}`);
      }
      if (turnModel && !set.turn && (await checked([turnModel], 'end-of-turn model'))) {
        // A model onnxruntime cannot run leaves the endpointing delays in charge, not a dead call path.
        // Loaded only when there is a model: onnxruntime's 45 MB library stays out of every other process.
        const { SmartTurnDetector } = await import('./turn/smart-turn.js');
        set.turn = await SmartTurnDetector.load(turnModel).catch((e: Error) => {
          log(`end-of-turn model not loaded: ${e.message}`);
          return undefined;
        });
        if (set.turn) log(`end-of-turn model loaded: ${turnModel}`);
      }
      if (neuralTts.options && !neuralVoice && (await checked(ttsFiles, 'neural voice'))) {
        neuralVoice = true;
        set.tts = new CachedTts(await PiperTts.load(neuralTts.options));
        log(`voice loaded: ${neuralTts.options.model}`);
      }
      if (neuralStt.options && !set.stt && (await checked(sttFiles, 'neural speech recognition'))) {
        const neural = await SherpaStt.load(neuralStt.options);
        set.stt = neural;
        set.transcribe = transcriber(neural);
        log(`speech recognition loaded: ${neuralStt.options.encoder}`);
        return;
      }
      if (set.stt || sphinxError || !existsSync(join(SPHINX_BASE, 'en-us'))) return;
      let model = adapted ?? join(SPHINX_BASE, 'en-us');
      if (canAdapt) model = await adaptTelephoneModel(adaptedDir, log);
      set.stt = new SphinxStt({ model, workDir: resolve(o.builtModelsDir, 'stt/lm') });
      const general = new SphinxStt({ model, languageModel: { lm: SPHINX_GENERAL_LM, dictionary: SPHINX_DICT }, spare: 0 });
      generalStt = general;
      set.transcribe = transcriber(general);
    },
    async close() {
      void set.llm?.close();
      set.turn?.close();
      generalStt?.close();
      set.stt?.close();
      set.tts?.close();
      // Threads exit between their native calls: the loader after the decoder it is loading.
      await Promise.all([vadHost?.close(), stopSphinxLoader()]);
    },
  };
  return set;
}

/** The pinned GGUF `npm run models` installed, the larger first (whoever fetched it wanted it). */
export function findPinnedLlm(modelsDir: string): string | undefined {
  const llms = readManifest().files.filter((f) => f.slot === 'llm').sort((a, b) => b.bytes - a.bytes);
  return llms.map((f) => resolve(modelsDir, f.path)).find((p) => existsSync(p));
}

/** Whole recordings (voicemail) through a streaming recognizer, one second at a time. */
function transcriber(stt: Stt): (pcm: Int16Array, sampleRate: number) => Promise<string> {
  return async (pcm, rate) => {
    const s = stt.stream();
    for (let i = 0; i < pcm.length; i += rate) s.accept(pcm.subarray(i, i + rate), rate);
    return (await s.finish()).text;
  };
}
