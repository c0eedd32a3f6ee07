import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundledSilero, chooseSilero } from '../../src/speech/vad/model.js';
import { SileroVad } from '../../src/speech/vad/silero.js';
import { createSpeech } from '../../src/speech/index.js';
import { BUILT_MODELS_DIR, MODELS_DIR, concat, frames, silence, sound } from '../helpers/audio.js';

describe('Silero VAD v6.2 with nothing downloaded', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-vadmodel-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const empty = join(dir, 'empty');
  mkdirSync(empty);

  it('is the embedded default on an empty models folder, and hears a caller\'s short answer', () => {
    const speech = createSpeech({ modelsDir: empty, builtModelsDir: BUILT_MODELS_DIR });
    const vad = speech.report.find((r) => r.slot === 'vad')!;
    void speech.close();
    expect(vad.engine).toBe('silero (sherpa-onnx)');
    expect(vad.why).toMatch(/^Silero v6\.2 from @ricky0123\/vad-web \(.*node_modules\/@ricky0123\/vad-web\/dist\/silero_vad_v6\.onnx\)$/);

    const v = new SileroVad({ model: chooseSilero(empty).model! });
    const audio = concat([silence(600), sound('vm-goodbye'), silence(900)]);
    const events = [...frames(audio)].flatMap((f) => v.accept(f, 8000)).concat(v.flush()).map((e) => e.type);
    expect(events).toEqual(['speech_start', 'speech_end']);
  });

  it('uses a v6.2 or a custom model in FRONTDESK_MODELS_DIR, but not the older v5.1.2 over the bundled v6.2', () => {
    const models = join(dir, 'models');
    mkdirSync(join(models, 'vad/silero-vad-v5.1.2'), { recursive: true });
    copyFileSync(join(MODELS_DIR, 'vad/silero-vad-v5.1.2/silero_vad.onnx'), join(models, 'vad/silero-vad-v5.1.2/silero_vad.onnx'));
    expect(chooseSilero(models).model).toBe(bundledSilero());
    // The bundled file missing (or the package not installed): the downloaded v5.1.2 serves.
    expect(chooseSilero(models, null)).toMatchObject({ model: join(models, 'vad/silero-vad-v5.1.2/silero_vad.onnx'), why: expect.stringMatching(/not installed/) });
    mkdirSync(join(models, 'vad/silero-vad-v6.2'), { recursive: true });
    copyFileSync(bundledSilero()!, join(models, 'vad/silero-vad-v6.2/silero_vad.onnx'));
    expect(chooseSilero(models).model).toBe(join(models, 'vad/silero-vad-v6.2/silero_vad.onnx'));
  });

  it('never hands sherpa-onnx a damaged file (it would end the process): it names the file and falls back', () => {
    const bad = join(dir, 'silero_vad_v6.onnx');
    const bytes = readFileSync(bundledSilero()!);
    bytes[1000] = bytes[1000]! ^ 0xff;
    writeFileSync(bad, bytes.subarray(0, 4096));
    expect(chooseSilero(empty, bad)).toEqual({ model: undefined, why: `no usable Silero model: ${bad} is not Silero v6.2 (sha256 differs): reinstall with \`npm ci\`` });

    // A damaged download in the models folder is passed over for the bundled file, and said so.
    const models = join(dir, 'damaged');
    mkdirSync(join(models, 'vad/silero-vad-v6.2'), { recursive: true });
    writeFileSync(join(models, 'vad/silero-vad-v6.2/silero_vad.onnx'), bytes.subarray(0, 4096));
    const c = chooseSilero(models);
    expect(c.model).toBe(bundledSilero());
    expect(c.why).toMatch(/damaged\/vad\/silero-vad-v6\.2\/silero_vad\.onnx is damaged .*delete it/);
  });
});
