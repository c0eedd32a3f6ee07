import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { onnx as OnnxNs } from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchModels } from '../../scripts/models.js';
import { readManifest, verifyModelFiles, type Manifest, type ManifestFile } from '../../src/speech/models.js';
import { MODELS_DIR } from '../helpers/audio.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

describe('the pinned manifest', () => {
  it('pins one model per slot in every set, each with a size and a checksum', () => {
    const m = readManifest();
    for (const [set, ids] of Object.entries(m.sets)) {
      const slots = ids.map((id) => m.files.find((f) => f.id === id)!.slot).filter((s) => s !== 'tts');
      expect([...slots].sort(), set).toEqual(['llm', 'stt', 'turn', 'vad']);
    }
    const qwen = m.files.find((f) => f.id === 'llm-qwen3-1.7b-q4km')!;
    expect(qwen.url).toMatch(/\/resolve\/[0-9a-f]{40}\//);
    expect(m.sets.better).toContain('llm-qwen3-4b-q4km');
  });
});

describe('npm run models', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-models-'));
  const served = new Map<string, Buffer>();
  /** Requests the server saw: path and Range header. */
  const requests: { path: string; range: string | undefined }[] = [];
  /** Paths whose next response is cut off after this many bytes. */
  const cut = new Map<string, number>();
  let server: Server;
  let base = '';

  beforeAll(async () => {
    server = createServer((req, res) => {
      const path = req.url ?? '';
      requests.push({ path, range: req.headers.range });
      const body = served.get(path);
      if (!body) return void res.writeHead(404).end();
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const start = m ? Number(m[1]) : 0;
      if (start >= body.length) return void res.writeHead(416).end();
      res.writeHead(m ? 206 : 200, {
        'content-length': body.length - start,
        ...(m ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
      });
      const stop = cut.get(path);
      if (stop !== undefined) {
        cut.delete(path);
        // A flaky network: part of the body, then the connection drops.
        res.write(body.subarray(start, start + stop), () => res.destroy());
        return;
      }
      res.end(body.subarray(start));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function serve(name: string, body: Buffer, o: Partial<ManifestFile> = {}): ManifestFile {
    served.set(`/${name}`, body);
    return { id: name, slot: 'vad', path: `vad/${name}`, url: `${base}/${name}`, bytes: body.length, sha256: sha256(body), license: 'test', ...o };
  }

  function manifest(files: ManifestFile[]): Manifest {
    return { sets: { default: files.map((f) => f.id) }, files };
  }

  const quiet = { log: () => {}, retryDelayMs: 1, progress: new Writable({ write: (_c, _e, done) => done() }) };

  it('copies the pinned files from a local folder and verifies them', async () => {
    const silero = readManifest().files.find((f) => f.id === 'silero-vad')!;
    const log: string[] = [];
    const problems = await fetchModels({ dest: join(dir, 'ok'), from: MODELS_DIR, manifest: manifest([silero]), log: (s) => log.push(s) });
    expect(problems).toEqual([]);
    expect(log[0]).toMatch(/^fetched {2}vad\/silero-vad-v5\.1\.2\/silero_vad\.onnx \(MIT\)$/);
    const again: string[] = [];
    await fetchModels({ dest: join(dir, 'ok'), from: MODELS_DIR, manifest: manifest([silero]), log: (s) => again.push(s) });
    expect(again[0]).toMatch(/^ok {7}vad\/silero-vad-v5\.1\.2\/silero_vad\.onnx \(already there\)$/);
  });

  it('resumes a download the network cut off, with a progress line, and installs the verified file', async () => {
    const body = randomBytes(400_000);
    const f = serve('flaky.onnx', body, { md5: md5(body) });
    cut.set('/flaky.onnx', 150_000);
    const lines: string[] = [];
    const log: string[] = [];
    const progress = new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString()), done()) });
    const problems = await fetchModels({ dest: join(dir, 'flaky'), manifest: manifest([f]), log: (s) => log.push(s), progress, retryDelayMs: 1 });
    expect(problems).toEqual([]);
    expect(readFileSync(join(dir, 'flaky', f.path)).equals(body)).toBe(true);
    const mine = requests.filter((r) => r.path === '/flaky.onnx');
    expect(mine[0]!.range).toBeUndefined();
    // How much of the cut-off body reached the disk before the drop is the network's race; the retry
    // asks for exactly what is missing (from byte 0 if nothing arrived).
    const kept = /resuming at byte (\d+)/.exec(log.find((l) => /^retry {4}vad\/flaky\.onnx: /.test(l)) ?? '')?.[1];
    expect(kept).toBeDefined();
    expect(mine[1]!.range ?? 'bytes=0-').toBe(`bytes=${kept}-`);
    expect(lines.join('')).toMatch(/flaky\.onnx: 100% of 0\.4 MB/);
    expect(existsSync(join(dir, 'flaky', `${f.path}.part`))).toBe(false);
  });

  it('resumes from the part an earlier run left, asking only for the missing bytes', async () => {
    const body = randomBytes(300_000);
    const f = serve('half.onnx', body);
    mkdirSync(join(dir, 'half', 'vad'), { recursive: true });
    writeFileSync(join(dir, 'half', `${f.path}.part`), body.subarray(0, 120_000));
    const problems = await fetchModels({ dest: join(dir, 'half'), manifest: manifest([f]), ...quiet });
    expect(problems).toEqual([]);
    expect(readFileSync(join(dir, 'half', f.path)).equals(body)).toBe(true);
    expect(requests.filter((r) => r.path === '/half.onnx').map((r) => r.range)).toEqual(['bytes=120000-']);
  });

  it('refuses a corrupted download, naming the file, the expected and actual sha256 and the fix, and stops there', async () => {
    const good = randomBytes(50_000);
    const bad = Buffer.from(good);
    bad[1234] = bad[1234]! ^ 0xff;
    const f = { ...serve('corrupt.onnx', bad), sha256: sha256(good) };
    const later = serve('later.onnx', randomBytes(1000));
    const problems = await fetchModels({ dest: join(dir, 'corrupt'), manifest: manifest([f, later]), ...quiet });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toBe(`vad/corrupt.onnx: has sha256 ${sha256(bad)}, expected ${sha256(good)} (not installed); the download was deleted; run \`npm run models\` again. If it fails the same way, the file at ${base}/corrupt.onnx is not the one pinned in models/manifest.json: do not use it, and check the publisher before changing the pin`);
    expect(readdirSync(join(dir, 'corrupt', 'vad'))).toEqual([]);
    expect(requests.some((r) => r.path === '/later.onnx')).toBe(false);
  });

  it('checks the publisher md5 too', async () => {
    const body = randomBytes(2000);
    const f = serve('md5.json', body, { sha256: undefined, md5: '0'.repeat(32) });
    const problems = await fetchModels({ dest: join(dir, 'md5'), manifest: manifest([f]), ...quiet });
    expect(problems[0]).toMatch(new RegExp(`^vad/md5\\.json: has md5 ${md5(body)}, expected 0{32} \\(not installed\\)`));
  });

  it('keeps what it got when the server keeps failing, and says how to resume', async () => {
    const body = randomBytes(100_000);
    const f = serve('short.onnx', body);
    served.set('/short.onnx', body.subarray(0, 60_000));
    // The server claims the whole length but never sends the rest.
    const f2 = { ...f, bytes: body.length };
    const problems = await fetchModels({ dest: join(dir, 'short'), manifest: manifest([f2]), ...quiet });
    expect(problems[0]).toMatch(/^vad\/short\.onnx: .*\(4 tries\); 60000 of 100000 bytes are kept in .*short\.onnx\.part: run `npm run models` again to resume$/);
    served.set('/short.onnx', body);
    expect(await fetchModels({ dest: join(dir, 'short'), manifest: manifest([f2]), ...quiet })).toEqual([]);
    expect(requests.filter((r) => r.path === '/short.onnx').at(-1)!.range).toBe('bytes=60000-');
  });

  it('unpacks a verified tar.bz2 and verifies its files before a model loads', async () => {
    const src = join(dir, 'archive-src', 'generated-transducer');
    mkdirSync(src, { recursive: true });
    for (const part of ['encoder.int8.onnx', 'decoder.int8.onnx', 'joiner.int8.onnx']) writeFileSync(join(src, part), randomBytes(20_000));
    writeFileSync(join(src, 'tokens.txt'), '<blk> 0\n▁THE 1\n');
    execFileSync('tar', ['-cjf', join(dir, 'generated.tar.bz2'), '-C', join(dir, 'archive-src'), 'generated-transducer']);
    const f = serve('generated.tar.bz2', readFileSync(join(dir, 'generated.tar.bz2')), {
      slot: 'stt', path: 'stt/generated.tar.bz2', extract: { format: 'tar.bz2', into: 'stt', folder: 'generated-transducer' },
    });
    const dest = join(dir, 'unpacked');
    const log: string[] = [];
    expect(await fetchModels({ dest, manifest: manifest([f]), ...quiet, log: (s) => log.push(s) })).toEqual([]);
    expect(log).toEqual(['fetched  stt/generated.tar.bz2 → stt/generated-transducer/ (test)']);
    const installed = join(dest, 'stt', 'generated-transducer');
    expect(readdirSync(join(dest, 'stt')).sort()).toEqual(['generated-transducer']);
    const encoder = join(installed, 'encoder.int8.onnx');
    expect(readFileSync(encoder).equals(readFileSync(join(src, 'encoder.int8.onnx')))).toBe(true);
    expect(await verifyModelFiles([encoder, join(installed, 'tokens.txt')], dest, manifest([f]))).toEqual({ problems: [], unpinned: [] });
    // A file damaged after install (a full disk, a bad copy) is caught before sherpa-onnx sees it.
    const damaged = readFileSync(encoder);
    damaged[100] = damaged[100]! ^ 1;
    writeFileSync(encoder, damaged);
    const v = await verifyModelFiles([encoder], dest, manifest([f]));
    expect(v.problems).toHaveLength(1);
    expect(v.problems[0]).toMatch(/encoder\.int8\.onnx has sha256 [0-9a-f]{64}, expected [0-9a-f]{64} \(recorded in .*frontdesk-verified\.json when generated\.tar\.bz2 was unpacked\); delete it and run `npm run models` again$/);
    // And `npm run models` installs it again.
    expect(await fetchModels({ dest, manifest: manifest([f]), ...quiet })).toEqual([]);
    expect((await verifyModelFiles([encoder], dest, manifest([f]))).problems).toEqual([]);
  });

  it('makes a Piper voice as published loadable by sherpa-onnx: metadata from its JSON, tokens.txt', async () => {
    const require = createRequire(import.meta.url);
    const { onnx } = require('onnx-proto') as { onnx: typeof OnnxNs };
    const model = Buffer.from(onnx.ModelProto.encode({ irVersion: 8, producerName: 'piper', graph: { name: 'vits' } }).finish());
    const json = Buffer.from(JSON.stringify({ audio: { sample_rate: 22050 }, espeak: { voice: 'en-us' }, language: { name_english: 'English' }, num_speakers: 1, phoneme_id_map: { _: [0], '^': [1], $: [2], ' ': [3], a: [14] } }));
    const fm = serve('voice.onnx', model, { slot: 'tts', path: 'tts/voice/voice.onnx' });
    const fj = serve('voice.onnx.json', json, { slot: 'tts', path: 'tts/voice/voice.onnx.json' });
    const dest = join(dir, 'piper');
    const log: string[] = [];
    expect(await fetchModels({ dest, manifest: manifest([fm, fj]), ...quiet, log: (s) => log.push(s) })).toEqual([]);
    expect(log.at(-1)).toBe('prepared tts/voice/voice.sherpa.onnx (sherpa-onnx metadata, tokens.txt)');
    const prepared = onnx.ModelProto.decode(readFileSync(join(dest, 'tts/voice/voice.sherpa.onnx')));
    expect(prepared.producerName).toBe('piper');
    expect(Object.fromEntries(prepared.metadataProps.map((p) => [p.key, p.value]))).toMatchObject({ model_type: 'vits', comment: 'piper', voice: 'en-us', sample_rate: '22050', n_speakers: '1' });
    expect(readFileSync(join(dest, 'tts/voice/tokens.txt'), 'utf8')).toBe('_ 0\n^ 1\n$ 2\n  3\na 14\n');
    expect((await verifyModelFiles([join(dest, 'tts/voice/voice.sherpa.onnx'), join(dest, 'tts/voice/voice.onnx')], dest, manifest([fm, fj]))).problems).toEqual([]);
  });
});
