import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '../../src/cli/main.js';
import { openStore, pgliteLockFile } from '../../src/store/db.js';
import { StoreLockedError } from '../../src/store/lock.js';
import { endpointPath } from '../../src/http/cli-endpoint.js';
import { contextsToYaml } from '../../src/business/context/yaml.js';
import { parseContext } from '../../src/business/context/schema.js';
import { demoContext } from '../../src/business/context/demo.js';
import { BUILT_MODELS_DIR } from '../helpers/audio.js';
import { freePort } from '../helpers/ports.js';

async function cli(env: NodeJS.ProcessEnv, argv: string[], extra: Partial<CliIo> = {}) {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), env, ...extra });
  return { code, out, err };
}

/** Starts the real process and resolves once it says it is up. */
async function startServer(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; logs: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ['bin/frontdesk.js', 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      logs += d;
      if (logs.includes('frontdesk is up')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`frontdesk exited ${code} before it was up:\n${logs}`)));
  });
  return { child, logs: () => logs, exited };
}

describe('one owner for the embedded database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-lock-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a second open of one PGlite folder, in this process and in another, and takes over a dead owner\'s lock', async () => {
    const data = join(dir, 'data');
    const store = await openStore({ dataDir: data });
    try {
      await expect(openStore({ dataDir: data })).rejects.toThrow(StoreLockedError);
      // Another process: `migrate` (no server endpoint to go through) refuses and says what to do.
      const r = spawnSync(process.execPath, ['bin/frontdesk.js', 'migrate'], {
        env: { ...process.env, DATABASE_URL: '', FRONTDESK_DATA_DIR: data, FRONTDESK_LOG_LEVEL: 'silent' }, encoding: 'utf8',
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`in use by process ${process.pid}.*stop that process`));
    } finally {
      await store.close();
    }
    // A crash leaves the lock behind, naming a process that is gone: the next start takes it over.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(pgliteLockFile(data), `${dead.stdout}\n`);
    const again = await openStore({ dataDir: data });
    expect(readFileSync(pgliteLockFile(data), 'utf8')).toBe(`${process.pid}\n`);
    await again.close();
  }, 120_000);
});

describe('CLI commands while `frontdesk start` runs on PGlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-live-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a user the running server signs in, imports a context, refuses a second server, and keeps it all after a restart', async () => {
    const port = await freePort();
    const data = join(dir, 'data');
    const env: NodeJS.ProcessEnv = {
      ...process.env, DATABASE_URL: '', FRONTDESK_DATA_DIR: data, FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR,
      FRONTDESK_HTTP_HOST: '127.0.0.1', FRONTDESK_HTTP_PORT: String(port),
      FRONTDESK_SIP_PORT: String(await freePort()), FRONTDESK_SIP_BIND: '127.0.0.1', FRONTDESK_LOG_LEVEL: 'info',
    };
    const cliEnv = { DATABASE_URL: '', FRONTDESK_DATA_DIR: data, FRONTDESK_LOG_LEVEL: 'silent' };
    const server = await startServer(env);
    try {
      // The endpoint file is its owner's alone.
      expect(statSync(endpointPath(data)).mode & 0o777).toBe(0o600);

      // A password piped in the way a prompt that asks twice is answered: the first line is the password.
      const created = await cli(cliEnv, ['admin', 'create-user', 'maria'], { stdin: async () => 'correct horse battery\ncorrect horse battery\n' });
      expect(created, server.logs()).toMatchObject({ code: 0, out: 'created admin user maria\n' });
      const login = (password: string) => fetch(`http://127.0.0.1:${port}/api/auth/login`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'maria', password }),
      });
      expect((await login('correct horse battery')).status).toBe(200);
      expect((await login('correct horse battery\ncorrect horse battery')).status).toBe(401);

      // Bad input through the server is still bad input: a clear message, exit 2, nothing created.
      const dup = await cli(cliEnv, ['admin', 'create-user', 'maria', '--password', 'another long one']);
      expect(dup).toMatchObject({ code: 2, err: 'user "maria" already exists\n' });

      const file = join(dir, 'ctx.yaml');
      writeFileSync(file, contextsToYaml([{ ...parseContext(demoContext), name: 'second-shop', default: false, numbers: ['+15125550111'] }]));
      expect(await cli(cliEnv, ['context', 'import', file])).toMatchObject({ code: 0, out: 'second-shop: created (version 1)\n' });
      expect((await cli(cliEnv, ['context', 'list'])).out).toMatch(/^second-shop\tv1\t/m);
      expect(await cli(cliEnv, ['migrate'])).toMatchObject({ code: 0, out: expect.stringMatching(/latest schema \(pglite/) });
      // doctor, too, reaches the database through the server rather than calling it broken.
      expect((await cli({ ...cliEnv, FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR }, ['doctor'])).out).toMatch(/^ok {4}database +pglite at .*, served by the running frontdesk \(process \d+\)$/m);

      // A second server on the same folder stops with the reason, and the first keeps serving.
      const second = spawnSync(process.execPath, ['bin/frontdesk.js', 'start'], { env: { ...env, FRONTDESK_HTTP_PORT: String(await freePort()) }, encoding: 'utf8', timeout: 60_000 });
      expect(second.status).not.toBe(0);
      expect(second.stdout + second.stderr).toMatch(/in use by process \d+/);
      expect((await login('correct horse battery')).status).toBe(200);
    } finally {
      server.child.kill('SIGTERM');
    }
    expect(await server.exited).toBe(0);

    // What went through the server was written once, by its owner: it is all there afterwards.
    const store = await openStore({ dataDir: data });
    const users = await store.db.selectFrom('admin_users').select('username').execute();
    await store.close();
    expect(users.map((u) => u.username)).toEqual(['maria']);
    expect((await cli(cliEnv, ['admin', 'create-user', 'bob', '--password', 'a long enough one'])).code).toBe(0);
  }, 240_000);

  it('asks twice at a prompt and creates nothing when the answers differ', async () => {
    const env = { DATABASE_URL: '', FRONTDESK_DATA_DIR: join(dir, 'prompt'), FRONTDESK_LOG_LEVEL: 'silent' };
    const answers = (...a: string[]) => async () => a.shift() ?? '';
    const differ = await cli(env, ['admin', 'create-user', 'ana'], { prompt: answers('correct horse battery', 'correct horse batterx') });
    expect(differ).toMatchObject({ code: 2, err: expect.stringMatching(/passwords differ; nothing was created/) });
    const same = await cli(env, ['admin', 'create-user', 'ana'], { prompt: answers('correct horse battery', 'correct horse battery') });
    expect(same).toMatchObject({ code: 0, out: 'created admin user ana\n' });
  }, 120_000);
});
