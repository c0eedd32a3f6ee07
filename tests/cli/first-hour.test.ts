import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILT_MODELS_DIR } from '../helpers/audio.js';
import { freePort } from '../helpers/ports.js';

/**
 * The README as a new user follows it, in a fresh clone: `npm start` (the install is this
 * checkout's node_modules, linked), then in a second terminal create a user while it runs, sign in,
 * and `npm run call`.
 */
describe('the first hour, from a fresh clone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-first-hour-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('starts, takes a user created while it runs, signs them in, and answers the README\'s call', async () => {
    const clone = join(dir, 'frontdesk');
    execFileSync('git', ['clone', '-q', resolve('.'), clone]);
    symlinkSync(resolve('node_modules'), join(clone, 'node_modules'));
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env, DATABASE_URL: '',
      // Ports of its own, so it runs beside other suites; the recognizer adapted once by the test setup.
      FRONTDESK_HTTP_HOST: '127.0.0.1', FRONTDESK_HTTP_PORT: String(port), FRONTDESK_SIP_BIND: '127.0.0.1',
      FRONTDESK_SIP_PORT: String(await freePort()), FRONTDESK_RTP_PORT_MIN: '37400', FRONTDESK_RTP_PORT_MAX: '37499',
      FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR, FRONTDESK_MODELS_DIR: '',
    };
    delete env.FRONTDESK_MODELS_DIR;
    // Its own process group, so stopping it stops npm and the server it runs.
    const server = spawn('npm', ['start'], { cwd: clone, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let logs = '';
    // 'close': npm and the server it started have both let go of the output.
    const exited = new Promise<number | null>((r) => server.on('close', (code) => r(code)));
    const up = new Promise<void>((res, rej) => {
      const onData = (d: Buffer) => {
        logs += d;
        if (logs.includes('speech recognition ready') && logs.includes('frontdesk is up')) res();
      };
      server.stdout!.on('data', onData);
      server.stderr!.on('data', onData);
      void exited.then((code) => rej(new Error(`npm start exited ${code}:\n${logs}`)));
    });
    try {
      await up;
      // The console was built by the first start, before the server came up.
      expect(logs).toMatch(/console: building the admin console \(once\)/);
      // The embedded default VAD is Silero v6.2, with nothing downloaded.
      expect(logs).toMatch(/"slot":"vad","engine":"silero \(sherpa-onnx\)","why":"Silero v6\.2 from @ricky0123\/vad-web/);

      const created = spawnSync('npx', ['frontdesk', 'admin', 'create-user', 'maria'], { cwd: clone, env, input: 'correct horse battery\ncorrect horse battery\n', encoding: 'utf8', timeout: 120_000 });
      expect(created.stdout, created.stderr).toBe('created admin user maria\n');
      const login = await fetch(`http://127.0.0.1:${port}/api/auth/login`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'maria', password: 'correct horse battery' }),
      });
      expect(login.status).toBe(200);
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;

      const call = spawnSync('npm', ['run', '--silent', 'call'], { cwd: clone, env, encoding: 'utf8', timeout: 180_000 });
      expect(call.status, `${call.stdout}\n${call.stderr}\n${logs}`).toBe(0);
      const said = [...call.stdout.matchAll(/^frontdesk: (.+)$/gm)].map((m) => m[1]!);
      expect(said, call.stdout).toHaveLength(2);
      for (const s of said) expect(s).not.toMatch(/^\(not understood\)$/);
      expect(call.stdout).toMatch(/^you: {7}What are your hours\?$/m);

      // Signed in, maria sees the call in the console's list.
      const calls = await fetch(`http://127.0.0.1:${port}/api/calls`, { headers: { cookie } });
      expect(calls.status).toBe(200);
      expect(JSON.stringify(await calls.json())).toMatch(/\+15125550142/);
    } finally {
      if (server.pid) process.kill(-server.pid, 'SIGTERM');
    }
    await exited;
    expect(logs).toMatch(/frontdesk stopped/);
  }, 420_000);
});
