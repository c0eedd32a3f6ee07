import { adaptTelephoneModel, adaptationMissing } from '../../src/speech/stt/sphinx/adapt.js';
import { telephoneModelDir } from '../../src/speech/index.js';
import { ensureGeneratedSpeech } from '../../scripts/model-writers/speech.js';
import { BUILT_MODELS_DIR, GENERATED_MODELS_DIR } from './audio.js';

/**
 * Builds the telephone-adapted recognizer (~20 s) and writes the generated neural speech models
 * (~1 s) once per run, before any worker needs them.
 */
export default async function setup(): Promise<void> {
  const missing = adaptationMissing();
  if (missing) throw new Error(`the speech tests need the offline floor's packages: ${missing}`);
  await adaptTelephoneModel(telephoneModelDir(BUILT_MODELS_DIR));
  await ensureGeneratedSpeech(GENERATED_MODELS_DIR);
}
