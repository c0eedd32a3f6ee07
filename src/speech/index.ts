import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import type { Tts, Vad } from './types.js';
import { SileroVad } from './vad/silero.js';
import { EnergyVad } from './vad/energy.js';
import { CachedTts, EspeakTts } from './tts/espeak.js';

export type * from './types.js';

/** Which engine serves each slot, and why: what `frontdesk doctor` prints and the agent uses. */
export interface SpeechSet {
  tts: Tts | undefined;
  newVad: () => Vad;
  report: { slot: string; engine: string; why: string }[];
}

export const SILERO_PATHS = ['vad/silero-vad-v5.1.2/silero_vad.onnx', 'vad/silero-vad-v6.2/silero_vad.onnx', 'vad/silero_vad.onnx'];

export function findSilero(modelsDir: string): string | undefined {
  return SILERO_PATHS.map((p) => resolve(modelsDir, p)).find((p) => existsSync(p));
}

export function espeakAvailable(): boolean {
  return spawnSync('espeak-ng', ['--version'], { stdio: 'ignore' }).status === 0;
}

export function createSpeech(modelsDir: string): SpeechSet {
  const report: SpeechSet['report'] = [];
  const silero = findSilero(modelsDir);
  report.push(silero
    ? { slot: 'vad', engine: 'silero (sherpa-onnx)', why: silero }
    : { slot: 'vad', engine: 'energy', why: `no Silero model under ${modelsDir}/vad; run \`npm run models\`` });
  const espeak = espeakAvailable();
  report.push(espeak
    ? { slot: 'tts', engine: 'espeak-ng', why: 'offline floor (no neural voice installed)' }
    : { slot: 'tts', engine: 'none', why: 'espeak-ng is not installed (apt-get install espeak-ng)' });
  report.push({ slot: 'stt', engine: 'none', why: 'speech recognition is not in this build yet: callers use the keypad and voicemail' });
  report.push({ slot: 'llm', engine: 'guided-flow', why: 'texts are answered by the guided-flow engine; no LLM in this build yet' });
  return {
    tts: espeak ? new CachedTts(new EspeakTts()) : undefined,
    newVad: () => (silero ? new SileroVad({ model: silero }) : new EnergyVad()),
    report,
  };
}
