import { adaptTelephoneModel, adaptationMissing } from '../../src/speech/stt/sphinx/adapt.js';
import { telephoneModelDir } from '../../src/speech/index.js';
import { BUILT_MODELS_DIR } from './audio.js';

/** Builds the telephone-adapted recognizer once per run, before any worker needs it (~20 s). */
export default async function setup(): Promise<void> {
  const missing = adaptationMissing();
  if (missing) throw new Error(`the speech tests need the offline floor's packages: ${missing}`);
  await adaptTelephoneModel(telephoneModelDir(BUILT_MODELS_DIR));
}
