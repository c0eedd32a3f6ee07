import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { BUILT_MODELS_DIR } from '../helpers/audio.js';
import { freePort } from '../helpers/ports.js';
import { runSipp } from '../helpers/sipp.js';

/** README command 1, as a new user runs it: the real process on the embedded defaults. */
describe('frontdesk start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-start-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves /health on PGlite with the demo context seeded, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const env = {
      ...process.env,
      DATABASE_URL: '',
      FRONTDESK_DATA_DIR: join(dir, 'data'), FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR,
      FRONTDESK_HTTP_HOST: '127.0.0.1',
      FRONTDESK_HTTP_PORT: String(port),
      FRONTDESK_SIP_PORT: String(await freePort()),
      FRONTDESK_SIP_BIND: '127.0.0.1',
    };
    const child = spawn(process.execPath, ['bin/frontdesk.js', 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let logs = '';
    child.stdout.on('data', (d) => (logs += d));
    child.stderr.on('data', (d) => (logs += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      // Wait for the process to say it is up (a busy machine makes the first start slow), not a fixed time.
      await vi.waitFor(() => {
        if (child.exitCode !== null) throw new Error(`frontdesk exited early:\n${logs}`);
        expect(logs).toMatch(/frontdesk is up/);
      }, { timeout: 100_000, interval: 100 });
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status, logs).toBe(200);
      expect(await health!.json()).toMatchObject({ status: 'ok', checks: { database: { ok: true, dialect: 'pglite' } } });
      expect(logs).toMatch(/seeded the demo context/);
      // The built-in SIP endpoint is the default telephony: a trunk's OPTIONS ping gets 200.
      const sipp = await runSipp({ scenario: 'options.xml', target: `127.0.0.1:${env.FRONTDESK_SIP_PORT}` });
      expect(sipp.code, sipp.output).toBe(0);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(logs).toMatch(/frontdesk stopped/);

    // The data persisted under FRONTDESK_DATA_DIR: the seeded context is there for the CLI.
    let out = '';
    const code = await runCli(['context', 'list'], { out: (s) => (out += s), err: () => {}, env: { FRONTDESK_DATA_DIR: env.FRONTDESK_DATA_DIR, FRONTDESK_LOG_LEVEL: 'silent' } });
    expect(code).toBe(0);
    expect(out).toMatch(/^sparkle-cleaning\tv1\tdefault/);
  }, 180_000);
});
