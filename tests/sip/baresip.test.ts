import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipEndpoint } from '../../src/telephony/sip/endpoint.js';
import type { SipCall } from '../../src/telephony/sip/call.js';
import { parseCidrList } from '../../src/util/cidr.js';
import { freePort } from '../helpers/ports.js';

/** Goertzel power of `hz` in a frame, relative to the frame's energy. */
function toneRatio(pcm: Int16Array, hz: number, rate = 8000): number {
  const k = 2 * Math.cos((2 * Math.PI * hz) / rate);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (let i = 0; i < pcm.length; i++) {
    const s0 = pcm[i]! + k * s1 - s2;
    s2 = s1;
    s1 = s0;
    energy += pcm[i]! * pcm[i]!;
  }
  const power = s1 * s1 + s2 * s2 - k * s1 * s2;
  return energy ? power / (energy * pcm.length) : 0;
}

/** Debian's baresip as a desk phone: it dials us, sends a 440 Hz tone (ausine) and hangs up when it quits. */
async function baresipCall(target: string, seconds: number): Promise<{ code: number | null; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'baresip-'));
  const sipPort = await freePort();
  const rtpBase = 46000 + Math.floor(Math.random() * 400) * 2;
  writeFileSync(join(dir, 'config'), [
    'module_path /usr/lib/baresip/modules',
    `sip_listen 127.0.0.1:${sipPort}`,
    'module g711.so', 'module ausine.so', 'module aufile.so',
    'module_app account.so', 'module_app menu.so',
    'audio_source ausine,440', 'ausrc_srate 48000', 'ausrc_channels 2', 'auplay_srate 48000',
    `audio_player aufile,${join(dir, 'heard.wav')}`,
    'audio_alert aufile,/dev/null',
    `rtp_ports ${rtpBase}-${rtpBase + 20}`,
    '',
  ].join('\n'));
  writeFileSync(join(dir, 'accounts'), '<sip:deskphone@127.0.0.1>;regint=0;audio_codecs=PCMU\n');
  const child = spawn('baresip', ['-f', dir, '-e', `/dial sip:+15125550100@${target}`, '-t', String(seconds)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  rmSync(dir, { recursive: true, force: true });
  return { code, output: output.slice(-3000) };
}

describe('a baresip desk phone calls the built-in endpoint', () => {
  let ep: SipEndpoint;
  beforeAll(async () => {
    ep = new SipEndpoint({ bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]), rtpPortMin: 47000, rtpPortMax: 47099, rtcpIntervalMs: 500 });
    await ep.start();
  });
  afterAll(async () => ep.stop());

  it('is answered, its audio is heard, ours goes out to it, RTCP both ways, and its hang-up ends the call', async () => {
    const callP = new Promise<SipCall>((r) => ep.once('call', (c) => r(c as SipCall)));
    // Long enough for baresip's RTCP (a report every ~5 s) to reach us.
    const phone = baresipCall(`127.0.0.1:${ep.port}`, 8);
    const call = await callP;
    let toneFrames = 0;
    call.on('audio', (f) => {
      if (toneRatio(f.pcm, 440) > 0.3) toneFrames++;
    });
    const ended = new Promise<string>((r) => call.on('ended', r));
    await call.answer();
    const beep = new Int16Array(8000).map((_, i) => Math.round(4000 * Math.sin((2 * Math.PI * 660 * i) / 8000)));
    expect((await call.play(beep).done).completed).toBe(true);
    expect(await ended).toBe('remote_hangup');
    const run = await phone;
    expect(toneFrames, run.output).toBeGreaterThan(25);
    expect(call.rtp.stats.packetsOut).toBeGreaterThan(50);
    expect(call.rtp.stats.foreign).toBe(0);
    // The phone's reports were read: how it heard us (no loss on loopback) and the round trip.
    const q = call.quality();
    expect(q.rtcpIn, run.output).toBeGreaterThan(0);
    expect(q.rtcpOut).toBeGreaterThan(0);
    expect(q.remote?.lost).toBe(0);
    expect(q.rttMs).toBeGreaterThanOrEqual(0);
    expect(q.lost).toBe(0);
  }, 30_000);
});
