import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../tests/helpers/ports.js';
import { runSipp } from '../../tests/helpers/sipp.js';
import { invite, inDialog, SipPeer } from '../../tests/helpers/sip-peer.js';
import { round, type Metrics, type Suite } from '../lib.js';
import { concat, frames, silence, sound } from '../../tests/helpers/audio.js';
import { SileroHost } from '../../src/speech/vad/host.js';
import { bundledSilero } from '../../src/speech/vad/model.js';

/**
 * `npm run bench burst`: a caller is on the line with `frontdesk start` (embedded database, the
 * offline speech floor) when 50 more INVITEs arrive within a second (SIPp -r 50 -m 50). The caller
 * already up times our RTP to it: the media clock's worst gap while the burst is set up, and how
 * many gaps exceed 60 ms. Every burst call must be answered and run to its BYE.
 */

const burstDefaults = {
  calls: 50,
  /** A gap between two of our RTP packets longer than this counts, ms. */
  rtpGapMs: 60,
} as const satisfies Record<string, number>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The VAD worker alone: 50 calls start at once, each speaking from its first frame at the 20 ms
 * pace of a call. How long until each call's detector has heard the speech start (ms from the
 * burst): a call without its detector yet hears nothing.
 */
async function vadBurst(calls: number): Promise<Metrics> {
  // The worker is unref'd (the app's server keeps the process up): this keeps it up meanwhile.
  const alive = setInterval(() => {}, 1_000);
  const host = new SileroHost({ model: bundledSilero()! });
  await host.ready();
  const speech = [...frames(concat([sound('vm-intro'), silence(300)]))];
  const vads = Array.from({ length: calls }, () => host.create());
  const heard = new Array<number>(calls).fill(NaN);
  const t0 = performance.now();
  for (let i = 0; i < speech.length && heard.some(Number.isNaN); i++) {
    const due = t0 + i * 20;
    await sleep(Math.max(0, due - performance.now()));
    vads.forEach((v, k) => {
      if (v.accept(speech[i]!, 8000).some((e) => e.type === 'speech_start') && Number.isNaN(heard[k]!)) heard[k] = performance.now() - t0;
    });
  }
  for (const v of vads) v.close();
  await host.close();
  clearInterval(alive);
  const ms = heard.map((h) => (Number.isNaN(h) ? Infinity : h)).sort((a, b) => a - b);
  return { vad_first_call_heard_ms: round(ms[0]!, 0), vad_last_call_heard_ms: round(ms.at(-1)!, 0), vad_calls_never_heard: ms.filter((m) => m === Infinity).length };
}

const suite: Suite = {
  description: 'burst: 50 INVITEs at once while a call is up; the media clock\'s worst gap meanwhile',
  async run(): Promise<Metrics> {
    const vad = await vadBurst(burstDefaults.calls);
    const dir = mkdtempSync(join(tmpdir(), 'fd-burst-'));
    const httpPort = await freePort();
    const sipPort = await freePort();
    const base = `http://127.0.0.1:${httpPort}`;
    const child = spawn(process.execPath, ['bin/frontdesk.js', 'start'], {
      env: {
        ...process.env, DATABASE_URL: '',
        FRONTDESK_DATA_DIR: join(dir, 'data'), FRONTDESK_HTTP_HOST: '127.0.0.1', FRONTDESK_HTTP_PORT: String(httpPort), FRONTDESK_PUBLIC_URL: base,
        FRONTDESK_SIP_BIND: '127.0.0.1', FRONTDESK_SIP_PORT: String(sipPort), FRONTDESK_RTP_PORT_MIN: '44000', FRONTDESK_RTP_PORT_MAX: '44299',
        FRONTDESK_MAX_CALLS: String(burstDefaults.calls + 10), FRONTDESK_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    let exited = false;
    child.once('exit', () => (exited = true));
    try {
      while (!(await fetch(`${base}/health`).then((r) => r.ok, () => false))) {
        if (exited) throw new Error('frontdesk start exited before it was up');
        await sleep(500);
      }
      // Speech is ready when a call is answered with the agent; give its first start (model build) time.
      const peer = await SipPeer.open();
      peer.target = sipPort;
      const inv = invite({ peer });
      peer.send(inv.text);
      const res = await peer.final(inv.callId);
      if (res.status !== 200) throw new Error(`the listening call got ${res.status}`);
      peer.send(inDialog({ peer, method: 'ACK', callId: inv.callId, fromTag: inv.fromTag, toHeader: res.header('to')!, cseq: 1 }));
      const port = Number(/^m=audio (\d+)/m.exec(res.text)?.[1]);
      const pkt = Buffer.alloc(172, 0xff);
      pkt[0] = 0x80;
      let seq = 0;
      const talk = setInterval(() => {
        pkt.writeUInt16BE(seq++ & 0xffff, 2);
        peer.rtp.send(pkt, port, '127.0.0.1');
      }, 20);
      // Gaps in the same call before the burst (the machine's own noise) and during it.
      const quiet = { maxGap: 0, over: 0 };
      const burst = { maxGap: 0, over: 0, packets: 0 };
      let phase: typeof quiet | undefined;
      let last = 0;
      peer.rtp.on('message', () => {
        const now = performance.now();
        if (phase && last) {
          const gap = now - last;
          phase.maxGap = Math.max(phase.maxGap, gap);
          if (gap > burstDefaults.rtpGapMs) phase.over++;
          if (phase === burst) burst.packets++;
        }
        last = now;
      });
      // The call's own start-up is not the burst's doing: a second to settle, then 5 s of baseline.
      await sleep(1_000);
      phase = quiet;
      await sleep(5_000);
      phase = burst;
      const t0 = performance.now();
      const sipp = await runSipp({ scenario: 'uac-media.xml', target: `127.0.0.1:${sipPort}`, calls: burstDefaults.calls, rate: burstDefaults.calls, timeoutS: 120 });
      const burstS = (performance.now() - t0) / 1000;
      phase = undefined;
      clearInterval(talk);
      peer.send(inDialog({ peer, method: 'BYE', callId: inv.callId, fromTag: inv.fromTag, toHeader: res.header('to')!, cseq: 2 }));
      peer.close();
      const failed = Number(/Failed call\s*\|[^|]*\|\s*(\d+)/.exec(sipp.output)?.[1] ?? (sipp.code === 0 ? 0 : burstDefaults.calls));
      return {
        burst_calls: burstDefaults.calls,
        burst_calls_failed: failed,
        burst_seconds_to_last_bye: round(burstS, 1),
        listener_packets_during_burst: burst.packets,
        rtp_max_gap_ms: round(burst.maxGap, 1),
        rtp_gaps_over_60ms: burst.over,
        rtp_max_gap_ms_before_burst: round(quiet.maxGap, 1),
        rtp_gaps_over_60ms_before_burst: quiet.over,
        ...vad,
      };
    } finally {
      child.kill('SIGTERM');
      if (!exited) await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default suite;
