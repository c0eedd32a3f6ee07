import { runSipp } from '../../tests/helpers/sipp.js';
import { freePort } from '../../tests/helpers/ports.js';
import { SipEndpoint } from '../../src/telephony/sip/endpoint.js';
import type { SipCall } from '../../src/telephony/sip/call.js';
import { parseCidrList } from '../../src/util/cidr.js';
import { round, type Metrics, type Suite } from '../lib.js';

/**
 * SIPp places N simultaneous calls (10 s each) and echoes our RTP back (-rtp_echo); we answer each
 * and stream audio. Reported per N: outbound pacing error p99, CPU per call, echoed packets, failures.
 * BENCH_SIP_CALLS="50,200,400" chooses the steps.
 */
const steps = (process.env.BENCH_SIP_CALLS ?? '50,200,400').split(',').map(Number);
const TARGET_P99_MS = 5;

function p99(hist: Uint32Array): number {
  const total = hist.reduce((a, b) => a + b, 0);
  let acc = 0;
  for (let i = 0; i < hist.length; i++) {
    acc += hist[i]!;
    if (acc >= total * 0.99) return i;
  }
  return hist.length;
}

async function step(n: number): Promise<Metrics> {
  const ep = new SipEndpoint({
    bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]), rtpPortMin: 40000, rtpPortMax: 40000 + 4 * n + 100,
    mediaTimeoutMs: 0,
  });
  await ep.start();
  const calls: SipCall[] = [];
  const tone = new Int16Array(8000 * 12).map((_, i) => Math.round(4000 * Math.sin((2 * Math.PI * 440 * i) / 8000)));
  ep.on('call', (c) => {
    const call = c as SipCall;
    calls.push(call);
    void call.answer().then(() => call.play(tone));
  });
  const setupRate = Math.min(50, n);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let steadyCpu: NodeJS.CpuUsage | undefined;
  let steadyT = 0;
  // Measure CPU over the window when all calls are up (after ramp-up, before the first BYEs).
  const rampMs = (n / setupRate) * 1000 + 500;
  const mark = setTimeout(() => {
    steadyCpu = process.cpuUsage();
    steadyT = performance.now();
  }, rampMs);
  let steadyEnd: { cpu: NodeJS.CpuUsage; t: number } | undefined;
  const markEnd = setTimeout(() => (steadyEnd = { cpu: process.cpuUsage(), t: performance.now() }), 10_000);
  const run = await runSipp({
    scenario: 'uac-load.xml', target: `127.0.0.1:${ep.port}`, calls: n, rate: setupRate, timeoutS: 60,
    extra: ['-rtp_echo', '-max_socket', String(n + 50), '-d', '10000'],
  });
  clearTimeout(mark);
  clearTimeout(markEnd);
  const wall = performance.now() - t0;
  const cpuTotal = process.cpuUsage(cpu0);
  const hist = new Uint32Array(50);
  let echoed = 0;
  let sent = 0;
  for (const c of calls) {
    c.rtp.stats.pacingErrorHistogram.forEach((v, i) => (hist[i]! += v));
    echoed += c.rtp.stats.packetsIn;
    sent += c.rtp.stats.packetsOut;
  }
  await ep.stop();
  const steady = steadyCpu && steadyEnd
    ? ((steadyEnd.cpu.user - steadyCpu.user + steadyEnd.cpu.system - steadyCpu.system) / 1000) / (steadyEnd.t - steadyT)
    : (cpuTotal.user + cpuTotal.system) / 1000 / wall;
  const failed = Number(/Failed call\s*\|\s*\d+\s*\|\s*(\d+)/.exec(run.output)?.[1] ?? (run.code === 0 ? 0 : n));
  return {
    [`calls_${n}_answered`]: calls.length,
    [`calls_${n}_failed`]: failed,
    [`calls_${n}_pacing_p99_ms`]: p99(hist),
    [`calls_${n}_cpu_per_call_pct`]: round((steady * 100) / Math.max(1, calls.length), 3),
    [`calls_${n}_echoed_ratio`]: round(echoed / Math.max(1, sent), 3),
    [`calls_${n}_setup_per_s`]: setupRate,
  };
}

const suite: Suite = {
  description: 'built-in SIP endpoint under SIPp load: simultaneous calls with RTP both ways',
  async run() {
    const out: Metrics = {};
    let best = 0;
    for (const n of steps) {
      const m = await step(n);
      Object.assign(out, m);
      if (m[`calls_${n}_failed`] === 0 && m[`calls_${n}_answered`] === n && m[`calls_${n}_pacing_p99_ms`]! <= TARGET_P99_MS) best = n;
    }
    out.max_calls_within_pacing_target = best;
    // Call setup rate: short calls at a high attempt rate; the rate holds if none fails.
    for (const rate of [100, 200]) {
      const ep = new SipEndpoint({ bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]), rtpPortMin: 45000, rtpPortMax: 46999, mediaTimeoutMs: 0 });
      ep.on('call', (c) => void c.answer());
      await ep.start();
      const t0 = performance.now();
      const run = await runSipp({ scenario: 'uac-load.xml', target: `127.0.0.1:${ep.port}`, calls: rate * 3, rate, timeoutS: 60, extra: ['-rtp_echo', '-d', '500', '-l', String(rate * 2)] });
      const secs = (performance.now() - t0) / 1000;
      await ep.stop();
      const failed = Number(/Failed call\s*\|\s*\d+\s*\|\s*(\d+)/.exec(run.output)?.[1] ?? (run.code === 0 ? 0 : rate * 3));
      out[`setup_${rate}cps_failed`] = failed;
      out[`setup_${rate}cps_wall_s`] = round(secs, 2);
      if (failed === 0) out.setup_per_s_without_failures = rate;
    }
    return out;
  },
};
export default suite;
