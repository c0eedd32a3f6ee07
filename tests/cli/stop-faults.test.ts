import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { installLastResort, shutdownDefaults, stopWithin } from '../../src/util/last-resort.js';
import { silentLogger } from '../../src/util/logger.js';
import { BUILT_MODELS_DIR } from '../helpers/audio.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { freePort } from '../helpers/ports.js';
import { createServerDatabase } from '../helpers/stores.js';
import { options, SipPeer } from '../helpers/sip-peer.js';

describe('stopping whatever the database does', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-stop-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('frontdesk start exits on SIGTERM while its Postgres server is unreachable', async () => {
    const server = await createServerDatabase();
    const u = new URL(server.url);
    const proxy = new FaultProxy({ host: u.hostname, port: Number(u.port || 5432) });
    await proxy.start();
    const port = await freePort();
    const sipPort = await freePort();
    const env = {
      ...process.env,
      DATABASE_URL: proxy.url(server.url),
      FRONTDESK_DATA_DIR: join(dir, 'data'), FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR,
      FRONTDESK_HTTP_HOST: '127.0.0.1', FRONTDESK_HTTP_PORT: String(port),
      FRONTDESK_SIP_PORT: String(sipPort), FRONTDESK_SIP_BIND: '127.0.0.1',
    };
    const child = spawn(process.execPath, ['bin/frontdesk.js', 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let logs = '';
    child.stdout.on('data', (d) => (logs += d));
    child.stderr.on('data', (d) => (logs += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await vi.waitFor(() => expect(logs).toMatch(/frontdesk is up/), { timeout: 100_000, interval: 100 });
      // The network to the database goes silent; its connections are cut.
      proxy.blackhole();
      proxy.reset();
      const down = await fetch(`http://127.0.0.1:${port}/health`);
      expect(down.status).toBe(503);
      // Calls are still answered at the SIP layer: the process is up.
      const peer = await SipPeer.open();
      peer.target = sipPort;
      const o = options(peer);
      peer.send(o.text);
      expect((await peer.final(o.callId, 'OPTIONS')).status).toBe(200);
      peer.close();
    } finally {
      child.kill('SIGTERM');
    }
    const code = await exited;
    expect(logs).toMatch(/shutting down/);
    expect(code === 0 || code === shutdownDefaults.failureExitCode, logs.slice(-2000)).toBe(true);
    expect(logs).not.toMatch(/"level":60/); // nothing reached the last-resort handler
    await proxy.stop();
    await server.drop();
  }, 150_000);

  it('exits non-zero when a shutdown step hangs past the grace period', async () => {
    vi.useFakeTimers();
    try {
      const exits: number[] = [];
      void stopWithin(silentLogger, () => new Promise(() => {}), (c) => exits.push(c));
      await vi.advanceTimersByTimeAsync(shutdownDefaults.graceMs);
      expect(exits).toEqual([shutdownDefaults.failureExitCode]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('logs and exits non-zero when an error reaches the top of the process', () => {
    const exits: number[] = [];
    const remove = installLastResort(silentLogger, (c) => exits.push(c));
    try {
      (process.emit as (event: string, ...args: unknown[]) => boolean)('uncaughtException', new Error('boom'), 'uncaughtException');
      expect(exits).toEqual([shutdownDefaults.failureExitCode]);
    } finally {
      remove();
    }
  });
});
