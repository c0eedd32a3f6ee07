import { mkdtempSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fetchModels, readManifest } from '../../scripts/models.js';
import { MODELS_DIR } from '../helpers/audio.js';

describe('npm run models', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-models-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('copies the pinned files from a local folder and verifies them', async () => {
    const log: string[] = [];
    const problems = await fetchModels({ dest: join(dir, 'ok'), from: MODELS_DIR, log: (s) => log.push(s) });
    expect(problems).toEqual([]);
    for (const f of readManifest()) expect(existsSync(join(dir, 'ok', f.path))).toBe(true);
    expect(log[0]).toMatch(/^fetched {2}vad\/silero-vad-v5\.1\.2\/silero_vad\.onnx \(MIT\)$/);
    const again: string[] = [];
    await fetchModels({ dest: join(dir, 'ok'), from: MODELS_DIR, log: (s) => again.push(s) });
    expect(again[0]).toMatch(/^ok {7}vad\/silero-vad-v5\.1\.2\/silero_vad\.onnx \(already there\)$/);
  });

  it('refuses a corrupt file, naming it, and installs nothing', async () => {
    const bad = join(dir, 'bad-src');
    const f = readManifest()[0]!;
    mkdirSync(join(bad, f.path, '..'), { recursive: true });
    writeFileSync(join(bad, f.path), Buffer.alloc(f.bytes, 7));
    const problems = await fetchModels({ dest: join(dir, 'bad'), from: bad, log: () => {} });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^vad\/silero-vad-v5\.1\.2\/silero_vad\.onnx: has sha256 [0-9a-f]{64}, expected 2623a295.* \(not installed\)$/);
    expect(existsSync(join(dir, 'bad', f.path))).toBe(false);
  });
});
