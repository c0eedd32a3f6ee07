import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { FsTelephony } from '../../src/telephony/freeswitch/index.js';
import { ForkServer } from '../../src/telephony/freeswitch/fork-server.js';
import { DrachtioLibSeam } from '../../src/telephony/freeswitch/drachtio.js';
import { shutdownDefaults } from '../../src/util/last-resort.js';
import { FakeDrachtioServer, FakeEslServer } from '../fakes/pbx-sockets.js';
import { BUILT_MODELS_DIR } from '../helpers/audio.js';
import { freePort } from '../helpers/ports.js';

/**
 * The link to drachtio-server and FreeSWITCH through the real drachtio-srf and drachtio-fsmrf
 * (not the seam fake): servers on their wire formats that refuse, drop and come back. What an
 * admin notices: the process stays up, /health says whether calls can be taken, it comes back by
 * itself, it holds one connection to each, and it stops when told.
 */

const SECRET = 'cymru';
const PASSWORD = 'ClueCon-test';

describe('drachtio and FreeSWITCH links (drachtio-srf + drachtio-fsmrf against wire-format servers)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(opts: { drachtioUp?: boolean; eslUp?: boolean } = {}) {
    const drachtio = new FakeDrachtioServer(SECRET);
    const esl = new FakeEslServer(PASSWORD);
    // Ports first, so that a server that is down refuses on the port the client knows.
    drachtio.port = await freePort();
    esl.port = await freePort();
    if (opts.drachtioUp !== false) await drachtio.start();
    if (opts.eslUp !== false) await esl.start();
    const seam = new DrachtioLibSeam({
      drachtio: { host: '127.0.0.1', port: drachtio.port, secret: SECRET },
      freeswitch: { address: '127.0.0.1', port: esl.port, secret: PASSWORD },
    });
    const fs = new FsTelephony({ seam, forks: new ForkServer(), forkUrl: 'ws://127.0.0.1:1/audio-fork', trunkUri: 'sip:{number}@t', extensionUri: 'sip:{ext}@p', reconnectMs: 50, reconnectMaxMs: 400 });
    cleanups.push(async () => {
      await fs.stop();
      await drachtio.stop();
      await esl.stop();
    });
    return { drachtio, esl, fs };
  }

  it('starts while FreeSWITCH refuses, says so, and connects once it answers: one connection to each', async () => {
    const { drachtio, esl, fs } = await setup({ eslUp: false });
    await fs.start();
    expect(fs.status()).toMatchObject({ up: false, detail: expect.stringMatching(/FreeSWITCH event socket.*ECONNREFUSED/) });
    // Each failed attempt let go of its drachtio connection.
    await vi.waitFor(() => expect(drachtio.accepted).toBeGreaterThanOrEqual(3));
    expect(drachtio.open).toBeLessThanOrEqual(1);
    await esl.start();
    await vi.waitFor(() => expect(fs.status().up).toBe(true));
    expect(drachtio.open).toBe(1);
    expect(esl.open).toBe(1);
  });

  it('says which secret is wrong and keeps trying', async () => {
    const { drachtio, fs } = await setup();
    (drachtio as { secret: string }).secret = 'other';
    await fs.start();
    await vi.waitFor(() => expect(fs.status().detail).toMatch(/refused the secret \(FRONTDESK_DRACHTIO_SECRET\)/));
    (drachtio as { secret: string }).secret = SECRET;
    await vi.waitFor(() => expect(fs.status().up).toBe(true));
  });

  it('waits for the drachtio_mrf profile instead of ending the process', async () => {
    const { esl, fs } = await setup();
    esl.profileUp = false;
    await fs.start();
    await vi.waitFor(() => expect(fs.status().detail).toMatch(/no running SIP profile drachtio_mrf/));
    esl.profileUp = true;
    await vi.waitFor(() => expect(fs.status().up).toBe(true));
    expect(esl.open).toBe(1);
  });

  it('survives drachtio going away while idle, and reconnects when it is back', async () => {
    const { drachtio, esl, fs } = await setup();
    await fs.start();
    expect(fs.status().up).toBe(true);
    await drachtio.stop();
    await vi.waitFor(() => expect(fs.status()).toMatchObject({ up: false, detail: expect.stringMatching(/drachtio/) }));
    // Down for a while: attempts come and go, none holds on to FreeSWITCH.
    const tries = drachtio.accepted;
    await drachtio.start();
    await vi.waitFor(() => expect(drachtio.accepted).toBeGreaterThan(tries));
    await vi.waitFor(() => expect(fs.status().up).toBe(true));
    expect(drachtio.open).toBe(1);
    await vi.waitFor(() => expect(esl.open).toBe(1));
  });

  it('survives a FreeSWITCH restart without piling up connections', async () => {
    const { drachtio, esl, fs } = await setup();
    await fs.start();
    for (let i = 0; i < 3; i++) {
      await esl.stop();
      await vi.waitFor(() => expect(fs.status().up).toBe(false));
      const tries = drachtio.accepted;
      // While FreeSWITCH is down, attempts come and go; none keeps a drachtio connection.
      await vi.waitFor(() => expect(drachtio.accepted - tries).toBeGreaterThanOrEqual(2));
      await esl.start();
      await vi.waitFor(() => expect(fs.status().up).toBe(true));
    }
    await vi.waitFor(() => expect([drachtio.open, esl.open]).toEqual([1, 1]));
  });

  it('stops while reconnecting, letting go of every connection', async () => {
    const { drachtio, fs } = await setup({ eslUp: false });
    await fs.start();
    await vi.waitFor(() => expect(drachtio.accepted).toBeGreaterThanOrEqual(2));
    await fs.stop();
    await vi.waitFor(() => expect(drachtio.open).toBe(0));
    expect(fs.status().up).toBe(false);
  });

  it('stops while an attempt hangs on a FreeSWITCH that never answers, closing it at once', async () => {
    const { esl, fs } = await setup();
    esl.silent = true;
    const started = fs.start();
    // The attempt would give up on its own after its 5 s step timeout; stop does not wait for that.
    await vi.waitFor(() => expect(esl.open).toBe(1));
    await fs.stop();
    await started;
    await vi.waitFor(() => expect(esl.open).toBe(0));
    // That nothing is retried afterwards (no timer left behind) is what the SIGTERM test below
    // shows: the process exits by itself.
  });
});

describe('frontdesk start with FRONTDESK_TELEPHONY=freeswitch', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-fslink-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('/health follows the PBX link, drachtio restarts do not end the process, SIGTERM while reconnecting exits in time', async () => {
    const drachtio = new FakeDrachtioServer(SECRET);
    const esl = new FakeEslServer(PASSWORD);
    drachtio.port = await freePort();
    esl.port = await freePort();
    await drachtio.start();
    const port = await freePort();
    const env = {
      ...process.env,
      FRONTDESK_DATA_DIR: join(dir, 'data'), FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR,
      FRONTDESK_HTTP_HOST: '127.0.0.1', FRONTDESK_HTTP_PORT: String(port),
      FRONTDESK_TELEPHONY: 'freeswitch',
      FRONTDESK_DRACHTIO_URL: `127.0.0.1:${drachtio.port}`, FRONTDESK_DRACHTIO_SECRET: SECRET,
      FRONTDESK_FREESWITCH_ESL: `127.0.0.1:${esl.port}`, FRONTDESK_FREESWITCH_ESL_SECRET: PASSWORD,
      FRONTDESK_FORK_URL: `ws://127.0.0.1:${port}/audio-fork`,
    };
    delete (env as Record<string, string | undefined>).DATABASE_URL;
    const child = spawn(process.execPath, ['bin/frontdesk.js', 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let logs = '';
    child.stdout.on('data', (d) => (logs += d));
    child.stderr.on('data', (d) => (logs += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const health = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      return { status: res.status, body: (await res.json()) as { checks?: { telephony?: { ok: boolean; detail: string } } } };
    };
    const metric = async () => /frontdesk_telephony_up\{backend="freeswitch"\} (\d)/.exec(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())?.[1];
    try {
      await vi.waitFor(() => expect(logs).toMatch(/frontdesk is up/), { timeout: 100_000, interval: 100 });
      // FreeSWITCH is not there: frontdesk is up, and says calls cannot be taken.
      const down = await health();
      expect(down.status).toBe(503);
      expect(down.body.checks?.telephony).toMatchObject({ ok: false, detail: expect.stringMatching(/event socket/) });
      expect(await metric()).toBe('0');
      await esl.start();
      await vi.waitFor(async () => expect((await health()).status).toBe(200), { timeout: 30_000, interval: 100 });
      expect(await metric()).toBe('1');
      // drachtio restarts (down for a moment while idle): the process stays, the link comes back.
      await drachtio.stop();
      await vi.waitFor(async () => expect((await health()).status).toBe(503), { timeout: 30_000, interval: 100 });
      await drachtio.start();
      await vi.waitFor(async () => expect((await health()).status).toBe(200), { timeout: 30_000, interval: 100 });
      expect([drachtio.open, esl.open]).toEqual([1, 1]);
      // Both gone; SIGTERM while it keeps trying.
      await drachtio.stop();
      await esl.stop();
      await vi.waitFor(async () => expect((await health()).status).toBe(503), { timeout: 30_000, interval: 100 });
    } finally {
      child.kill('SIGTERM');
    }
    const code = await exited;
    // 0: it finished shutting down before the 9 s grace timer would have exited it with 1.
    expect(code, logs.slice(-3000)).toBe(0);
    expect(shutdownDefaults.graceMs).toBeLessThan(10_000);
    expect(logs).not.toMatch(/"level":60/);
    await drachtio.stop();
    await esl.stop();
  }, 180_000);
});
