import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { FsTelephony, type FsCall } from '../../src/telephony/freeswitch/index.js';
import { ForkServer } from '../../src/telephony/freeswitch/fork-server.js';
import { DrachtioLibSeam } from '../../src/telephony/freeswitch/drachtio.js';
import { runSipp } from '../helpers/sipp.js';
import { rms } from '../helpers/audio.js';

/**
 * Opt-in: real drachtio-server + FreeSWITCH with mod_audio_fork (freeswitch/ configuration).
 * Runs when DRACHTIO_HOST (host:port), DRACHTIO_SECRET, FREESWITCH_ESL (host:port),
 * FREESWITCH_ESL_SECRET and DRACHTIO_SIP (host:port for SIPp) are set; FORK_HOST is how
 * FreeSWITCH reaches this machine (default 127.0.0.1).
 */
const env = process.env;
const live = !!(env.DRACHTIO_HOST && env.DRACHTIO_SECRET && env.FREESWITCH_ESL && env.FREESWITCH_ESL_SECRET && env.DRACHTIO_SIP);

describe.runIf(live)('live drachtio + FreeSWITCH', () => {
  it('takes a SIPp call: fork audio both ways, DTMF, caller hang-up', async () => {
    const forks = new ForkServer();
    const http = createServer();
    http.on('upgrade', (req, sock, head) => forks.handleUpgrade(req, sock, head));
    await new Promise<void>((r) => http.listen(0, '0.0.0.0', r));
    const port = (http.address() as { port: number }).port;
    const [dh, dp] = env.DRACHTIO_HOST!.split(':');
    const [eh, ep] = env.FREESWITCH_ESL!.split(':');
    const fs = new FsTelephony({
      seam: new DrachtioLibSeam({ drachtio: { host: dh!, port: Number(dp), secret: env.DRACHTIO_SECRET! }, freeswitch: { address: eh!, port: Number(ep), secret: env.FREESWITCH_ESL_SECRET! } }),
      forks, forkUrl: `ws://${env.FORK_HOST ?? '127.0.0.1'}:${port}/audio-fork`, trunkUri: 'sip:{number}@127.0.0.1', extensionUri: 'sip:{ext}@127.0.0.1',
    });
    const got = new Promise<FsCall>((r) => fs.on('call', (c) => r(c as FsCall)));
    await fs.start();
    try {
      const sipp = runSipp({ scenario: 'uac-media.xml', target: env.DRACHTIO_SIP!, timeoutS: 30 });
      const call = await got;
      let frames = 0;
      let energy = 0;
      const digits: string[] = [];
      call.on('audio', (f) => { frames++; energy += rms(f.pcm); });
      call.on('dtmf', (d) => digits.push(d));
      const ended = new Promise<string>((r) => call.on('ended', r));
      await call.answer();
      await call.play(new Int16Array(8000).map((_, i) => Math.round(6000 * Math.sin((2 * Math.PI * 440 * i) / 8000)))).done;
      expect(await ended).toBe('remote_hangup');
      expect((await sipp).code).toBe(0);
      expect(frames).toBeGreaterThan(50);
      expect(energy / frames).toBeGreaterThan(100);
      expect(digits).toContain('1');
    } finally {
      await fs.stop();
      await new Promise((r) => http.close(r));
    }
  }, 60_000);
});
