import { describe, expect, it } from 'vitest';
import { AriTelephony } from '../../src/telephony/asterisk/ari.js';
import type { AriCall } from '../../src/telephony/asterisk/call.js';
import { runSipp } from '../helpers/sipp.js';
import { rms } from '../helpers/audio.js';

/**
 * Opt-in: a real Asterisk (asterisk/ configuration). Runs when ASTERISK_ARI_URL, ASTERISK_ARI_USER,
 * ASTERISK_ARI_PASSWORD and ASTERISK_SIP (host:port of its PJSIP transport) are set.
 */
const env = process.env;
const live = !!(env.ASTERISK_ARI_URL && env.ASTERISK_ARI_USER && env.ASTERISK_ARI_PASSWORD && env.ASTERISK_SIP);

describe.runIf(live)('live Asterisk', () => {
  it('takes a SIPp call through Stasis: media both ways, DTMF, caller hang-up', async () => {
    const ari = new AriTelephony({
      url: env.ASTERISK_ARI_URL!, user: env.ASTERISK_ARI_USER!, password: env.ASTERISK_ARI_PASSWORD!, app: env.ASTERISK_ARI_APP ?? 'frontdesk',
      mediaAddress: env.FRONTDESK_ASTERISK_MEDIA_ADDRESS ?? '127.0.0.1', rtpPortMin: 39000, rtpPortMax: 39099,
      trunkEndpoint: 'PJSIP/{number}@trunk', extensionEndpoint: 'PJSIP/{ext}', mediaTimeoutMs: 0,
    });
    const got = new Promise<AriCall>((r) => ari.on('call', (c) => r(c as AriCall)));
    await ari.start();
    try {
      const sipp = runSipp({ scenario: 'uac-media.xml', target: env.ASTERISK_SIP!, service: '+15125550100', timeoutS: 30 });
      const call = await got;
      let energy = 0;
      let frames = 0;
      const digits: string[] = [];
      call.on('audio', (f) => { frames++; energy += rms(f.pcm); });
      call.on('dtmf', (d) => digits.push(d));
      const ended = new Promise<string>((r) => call.on('ended', r));
      await call.answer();
      await call.play(new Int16Array(8000).map((_, i) => Math.round(6000 * Math.sin((2 * Math.PI * 440 * i) / 8000)))).done;
      expect(await ended).toBe('remote_hangup');
      const run = await sipp;
      expect(run.code, run.output).toBe(0);
      expect(frames).toBeGreaterThan(50);
      expect(energy / frames).toBeGreaterThan(100);
      expect(digits).toContain('1');
    } finally {
      await ari.stop();
    }
  }, 60_000);
});
