import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { contextsToYaml } from '../../src/business/context/yaml.js';
import { parseContext } from '../../src/business/context/schema.js';
import { demoContext } from '../../src/business/context/demo.js';
import { hashPin } from '../../src/business/owner/pin.js';
import { createServerDatabase } from '../helpers/stores.js';
import { BUILT_MODELS_DIR, GENERATED_MODELS_DIR, MODELS_DIR, SILERO } from '../helpers/audio.js';
import { generatedSpeechDirs } from '../../scripts/model-writers/speech.js';

async function cli(env: NodeJS.ProcessEnv, ...argv: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), env });
  return { code, out, err };
}

for (const dialect of ['pglite', 'postgres'] as const) {
  describe(`frontdesk CLI [${dialect}]`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'fd-cli-'));
    const env: NodeJS.ProcessEnv = { FRONTDESK_DATA_DIR: join(dir, 'data'), FRONTDESK_LOG_LEVEL: 'silent' };
    let drop = async () => {};
    beforeAll(async () => {
      if (dialect === 'postgres') {
        const d = await createServerDatabase();
        env.DATABASE_URL = d.url;
        drop = d.drop;
      }
    });
    afterAll(async () => {
      await drop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('migrates, then round-trips the demo context through export and import exactly', async () => {
      expect((await cli(env, 'migrate')).code).toBe(0);
      const file = join(dir, 'demo.yaml');
      const yaml = contextsToYaml([parseContext(demoContext)]);
      writeFileSync(file, yaml);

      const imported = await cli(env, 'context', 'import', file, '-m', 'first import');
      expect(imported).toMatchObject({ code: 0, out: 'sparkle-cleaning: created (version 1)\n' });

      const exported = await cli(env, 'context', 'export', 'sparkle-cleaning');
      expect(exported.code).toBe(0);
      expect(exported.out).toBe(yaml);

      writeFileSync(file, exported.out);
      const again = await cli(env, 'context', 'import', file);
      expect(again.out).toBe('sparkle-cleaning: unchanged (version 1)\n');

      const all = await cli(env, 'context', 'export', '--all');
      expect(all.out).toBe(yaml);
      expect((await cli(env, 'context', 'list')).out).toMatch(/^sparkle-cleaning\tv1\tdefault\t\+15125550100\tSparkle & Shine Cleaning\n$/);
      // Six commands, each opening the embedded database afresh: slow on a busy machine.
    }, 120_000);

    it("keeps the owner PIN's hash out of an export unless asked, and an import without it keeps the PIN", async () => {
      const file = join(dir, 'pin.yaml');
      const pinHash = await hashPin('4826');
      const doc = parseContext(demoContext);
      writeFileSync(file, contextsToYaml([{ ...doc, owner: { ...doc.owner, pinHash } }]));
      expect((await cli(env, 'context', 'import', file)).code).toBe(0);

      const shared = await cli(env, 'context', 'export', 'sparkle-cleaning');
      expect(shared.code).toBe(0);
      expect(shared.out).not.toMatch(/pinHash|argon2/);
      const backup = await cli(env, 'context', 'export', 'sparkle-cleaning', '--with-secrets');
      expect(backup.out).toContain(pinHash);

      // Someone edits the shared file and imports it: the greeting changes, the PIN stays.
      writeFileSync(file, shared.out.replace(/greeting: .*/, 'greeting: Hello from the import'));
      expect((await cli(env, 'context', 'import', file)).out).toMatch(/sparkle-cleaning: updated/);
      const after = await cli(env, 'context', 'export', 'sparkle-cleaning', '--with-secrets');
      expect(after.out).toContain('Hello from the import');
      expect(after.out).toContain(pinHash);
    }, 120_000);

    it('rejects an invalid context file with messages that point at each field, saving nothing', async () => {
      const file = join(dir, 'bad.yaml');
      const doc = { ...parseContext(demoContext), timezone: 'Mars/Phobos', greeting: 'Changed' } as Record<string, unknown>;
      doc.services = [{ ...(doc.services as object[])[0], price: { base: -5 } }];
      doc.colour = 'blue';
      writeFileSync(file, contextsToYaml([doc as never]));
      const r = await cli(env, 'context', 'import', file);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/timezone: must be an IANA time zone/);
      expect(r.err).toMatch(/services\[0\]\.price\.base: /);
      expect(r.err).toMatch(/\(document\): Unrecognized key: "colour"/);
      const exported = await cli(env, 'context', 'export', 'sparkle-cleaning');
      expect(exported.out).not.toMatch(/Changed/);

      writeFileSync(file, 'name: x\ngreeting: ["unclosed"\n');
      const syntax = await cli(env, 'context', 'import', file);
      expect(syntax.code).toBe(2);
      expect(syntax.err).toMatch(/line \d+, column \d+: /);
    });

    it('creates admin users with a hashed password and refuses weak or duplicate ones', async () => {
      const ok = await cli(env, 'admin', 'create-user', 'maria', '--password', 'correct horse battery');
      expect(ok).toMatchObject({ code: 0, out: 'created admin user maria\n' });
      const { openStore } = await import('../../src/store/db.js');
      const store = await openStore({ databaseUrl: env.DATABASE_URL, dataDir: env.FRONTDESK_DATA_DIR });
      const row = await store.db.selectFrom('admin_users').select('password_hash').where('username', '=', 'maria').executeTakeFirstOrThrow();
      await store.close();
      expect(row.password_hash).toMatch(/^\$argon2id\$/);
      expect(row.password_hash).not.toContain('correct horse');
      expect((await cli(env, 'admin', 'create-user', 'maria', '--password', 'another long one')).err).toMatch(/already exists/);
      expect((await cli(env, 'admin', 'create-user', 'bob', '--password', 'short')).err).toMatch(/at least 10 characters/);
    });

    it('clears login limits for a username from every address, or for one address', async () => {
      const { openStore } = await import('../../src/store/db.js');
      const open = () => openStore({ databaseUrl: env.DATABASE_URL, dataDir: env.FRONTDESK_DATA_DIR });
      let store = await open();
      const at = new Date('2030-01-01T00:00:00Z');
      await store.db.insertInto('login_limits').values(['login:user:maria|203.0.113.7', 'login:user:maria', 'login:ip:203.0.113.7', 'login:user:mariana|203.0.113.7']
        .map((key) => ({ key, hits: 40, window_start: at }))).execute();
      await store.close();
      expect(await cli(env, 'admin', 'unlock', 'Maria')).toMatchObject({ code: 0, out: 'cleared 2 login limits\n' });
      expect(await cli(env, 'admin', 'unlock', '--address', '203.0.113.7')).toMatchObject({ code: 0, out: 'cleared 1 login limit\n' });
      expect((await cli(env, 'admin', 'unlock')).code).toBe(2);
      store = await open();
      const left = await store.db.selectFrom('login_limits').select('key').execute();
      const audited = await store.db.selectFrom('audit_log').select(['actor', 'action']).where('action', '=', 'admin.unlock').execute();
      await store.close();
      expect(left.map((r) => r.key)).toEqual(['login:user:mariana|203.0.113.7']);
      expect(audited).toEqual([{ actor: 'cli', action: 'admin.unlock' }, { actor: 'cli', action: 'admin.unlock' }]);
    });

    it('stops with a clear message on a bad setting', async () => {
      const r = await cli({ ...env, FRONTDESK_HTTP_PORT: '99999' }, 'migrate');
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/FRONTDESK_HTTP_PORT: /);
    });
  });
}

describe('frontdesk doctor', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-doctor-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = {
    FRONTDESK_DATA_DIR: join(dir, 'data'), FRONTDESK_LOG_LEVEL: 'silent', FRONTDESK_MODELS_DIR: MODELS_DIR,
    FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR,
  };

  it('says which engine serves each speech slot', async () => {
    const r = await cli(env, 'doctor');
    expect(r.out).toMatch(/vad\s+silero/);
    expect(r.out).toMatch(/tts\s+flite/);
    expect(r.out).toMatch(/stt\s+pocketsphinx \(telephone-adapted\)/);
    expect(r.out).toMatch(/llm\s+guided-flow/);
  });

  it('prefers the neural voice and recognizer when their models are installed, and names them', async () => {
    const models = join(dir, 'models');
    const gen = generatedSpeechDirs(GENERATED_MODELS_DIR);
    // Laid out as `npm run models` installs them: one folder per model under stt/ and tts/.
    mkdirSync(join(models, 'stt'), { recursive: true });
    mkdirSync(join(models, 'tts'), { recursive: true });
    symlinkSync(gen.stt, join(models, 'stt/sherpa-onnx-streaming-zipformer-test'));
    symlinkSync(gen.tts, join(models, 'tts/vits-piper-en_US-test'));
    const r = await cli({ ...env, FRONTDESK_MODELS_DIR: models }, 'doctor');
    expect(r.out).toMatch(/stt\s+sherpa-onnx sherpa-onnx-streaming-zipformer-test/);
    expect(r.out).toMatch(/tts\s+piper en_US-generated-low/);
    // Named explicitly, the generated (random-weight) set is used too; unnamed it never is.
    const named = await cli({ ...env, FRONTDESK_STT_MODEL: gen.stt, FRONTDESK_TTS_MODEL: gen.tts }, 'doctor');
    expect(named.out).toMatch(/stt\s+sherpa-onnx generated-zipformer2/);
    const plain = await cli({ ...env, FRONTDESK_MODELS_DIR: GENERATED_MODELS_DIR }, 'doctor');
    expect(plain.out).toMatch(/stt\s+pocketsphinx/);
  });

  it('fails on a named recognizer folder that holds no model, naming the variable and the fix', async () => {
    const r = await cli({ ...env, FRONTDESK_STT_MODEL: dir }, 'doctor');
    expect(r.code).not.toBe(0);
    expect(r.out + r.err).toMatch(/FRONTDESK_STT_MODEL names .*, which does not hold encoder\*\.onnx.*npm run models/);
  });

  it('fails on a pinned model file that is not what its pin says, before anything loads it', async () => {
    const models = join(dir, 'damaged');
    mkdirSync(join(models, 'vad/silero-vad-v5.1.2'), { recursive: true });
    const bytes = readFileSync(SILERO);
    bytes[5000] = bytes[5000]! ^ 0xff;
    writeFileSync(join(models, 'vad/silero-vad-v5.1.2/silero_vad.onnx'), bytes);
    const r = await cli({ ...env, FRONTDESK_MODELS_DIR: models }, 'doctor');
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/FAIL\s+model file .*silero_vad\.onnx has sha256 [0-9a-f]{64}, expected 2623a295[0-9a-f]{56} \(pinned by models\/manifest\.json as silero-vad\); delete it and run `npm run models` again/);
  });

  it('says when the LLM is an OpenAI-compatible server, and fails when it does not answer', async () => {
    const r = await cli({ ...env, FRONTDESK_LLM_URL: 'http://127.0.0.1:9/v1' }, 'doctor');
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/ok\s+llm\s+OpenAI-compatible server \+ guided-flow: http:\/\/127\.0\.0\.1:9\/v1 understands callers/);
    expect(r.out).toMatch(/FAIL\s+llm server\s+FRONTDESK_LLM_URL http:\/\/127\.0\.0\.1:9\/v1 does not answer GET \/models .*start the server or fix the URL/);
  });

  it('fails on a configured LLM file that is not there, naming the variable and the fix', async () => {
    const r = await cli({ ...env, FRONTDESK_LLM_MODEL: join(dir, 'missing.gguf') }, 'doctor');
    expect(r.code).not.toBe(0);
    expect(r.out + r.err).toMatch(/FRONTDESK_LLM_MODEL names .*missing\.gguf, which does not exist/);
  });
});
