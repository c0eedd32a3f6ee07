import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { FakeTelnyx } from '../../tests/fakes/telnyx.js';
import { FaultProxy } from '../../tests/helpers/fault-proxy.js';
import { freePort } from '../../tests/helpers/ports.js';
import { runSipp } from '../../tests/helpers/sipp.js';
import { invite, inDialog, SipPeer } from '../../tests/helpers/sip-peer.js';
import { createServerDatabase } from '../../tests/helpers/stores.js';
import { round, type Metrics, type Suite } from '../lib.js';

/**
 * `npm run bench soak [-- --minutes N]` (default 10): frontdesk start as a supervised child process
 * on the Postgres server (TEST_DATABASE_URL) behind a fault proxy, with SIPp callers, a listening
 * caller that times our RTP, texts through a fake Telnyx, and injected database faults (resets,
 * short silent outages). Prints process restarts (must be 0), calls that ended abnormally, calls
 * left live afterwards, RSS growth per hour and RTP gaps over 60 ms.
 */

const soakDefaults = {
  minutes: 10,
  /** A SIPp call (speech, DTMF, BYE) starts this often, ms. */
  callEveryMs: 4_000,
  /** A text arrives this often, ms. */
  textEveryMs: 2_000,
  /** A database fault is injected this often, ms. */
  faultEveryMs: 30_000,
  /** A silent outage lasts this long, ms. */
  outageMs: 3_000,
  /** A gap between two of our RTP packets longer than this counts, ms. */
  rtpGapMs: 60,
  /** How long the listening caller stays on each of its calls, ms. */
  listenerCallMs: 20_000,
} as const satisfies Record<string, number>;

function minutesArg(): number {
  const i = process.argv.findIndex((a) => a === '--minutes' || a.startsWith('--minutes='));
  if (i < 0) return soakDefaults.minutes;
  const v = process.argv[i]!.includes('=') ? process.argv[i]!.split('=')[1] : process.argv[i + 1];
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? n : soakDefaults.minutes;
}

function rssKb(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const suite: Suite = {
  description: 'soak: mixed calls, texts and database faults against a supervised frontdesk process',
  async run(): Promise<Metrics> {
    const minutes = minutesArg();
    const dir = mkdtempSync(join(tmpdir(), 'fd-soak-'));
    const server = await createServerDatabase();
    const u = new URL(server.url);
    const proxy = new FaultProxy({ host: u.hostname, port: Number(u.port || 5432) });
    await proxy.start();
    const telnyx = new FakeTelnyx();
    await telnyx.start();
    const httpPort = await freePort();
    const sipPort = await freePort();
    const base = `http://127.0.0.1:${httpPort}`;
    const env = {
      ...process.env,
      DATABASE_URL: proxy.url(server.url),
      FRONTDESK_DATA_DIR: join(dir, 'data'), FRONTDESK_HTTP_HOST: '127.0.0.1', FRONTDESK_HTTP_PORT: String(httpPort), FRONTDESK_PUBLIC_URL: base,
      FRONTDESK_SIP_BIND: '127.0.0.1', FRONTDESK_SIP_PORT: String(sipPort), FRONTDESK_RTP_PORT_MIN: '42000', FRONTDESK_RTP_PORT_MAX: '42999',
      FRONTDESK_TELNYX_API_KEY: telnyx.apiKey, FRONTDESK_TELNYX_PUBLIC_KEY: telnyx.publicKey, FRONTDESK_TELNYX_API_URL: telnyx.url,
      FRONTDESK_LOG_LEVEL: 'warn',
    };

    // The supervisor: restart the process whenever it exits, and count it.
    let child: ChildProcess | undefined;
    let restarts = 0;
    let stopping = false;
    let fatalLogs = 0;
    const launch = () => {
      child = spawn(process.execPath, ['bin/frontdesk.js', 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (d: Buffer) => (fatalLogs += (d.toString().match(/"level":60/g) ?? []).length));
      child.stderr!.resume();
      child.on('exit', () => {
        if (stopping) return;
        restarts++;
        launch();
      });
    };
    launch();
    const up = async () => {
      for (;;) {
        const ok = await fetch(`${base}/health`).then((r) => r.ok, () => false);
        if (ok) return;
        await sleep(500);
      }
    };
    await up();

    const deadline = performance.now() + minutes * 60_000;
    const rss: { t: number; kb: number }[] = [];
    let sippRuns = 0;
    let sippFailed = 0;
    let textsSent = 0;
    let faults = 0;
    let gapsOver = 0;
    let maxGapMs = 0;
    let listenerCalls = 0;
    const pending: Promise<unknown>[] = [];

    // A caller that listens: our RTP (silence included) must arrive every 20 ms while others set up.
    const listener = (async () => {
      const peer = await SipPeer.open();
      peer.target = sipPort;
      while (performance.now() < deadline) {
        const inv = invite({ peer });
        const from = peer.messages.length;
        peer.send(inv.text);
        const res = await Promise.race([peer.final(inv.callId), sleep(10_000).then(() => undefined)]);
        if (!res || res.status !== 200) {
          await sleep(1_000);
          continue;
        }
        listenerCalls++;
        peer.send(inDialog({ peer, method: 'ACK', callId: inv.callId, fromTag: inv.fromTag, toHeader: res.header('to')!, cseq: 1 }));
        let last = 0;
        const onRtp = () => {
          const now = performance.now();
          if (last) {
            const gap = now - last;
            maxGapMs = Math.max(maxGapMs, gap);
            if (gap > soakDefaults.rtpGapMs) gapsOver++;
          }
          last = now;
        };
        peer.rtp.on('message', onRtp);
        // Keep the call's media alive from our side too (silence, PCMU).
        const pkt = Buffer.alloc(172, 0xff);
        pkt[0] = 0x80;
        const port = Number(/^m=audio (\d+)/m.exec(res.text)?.[1]);
        let seq = 0;
        const talk = setInterval(() => {
          pkt.writeUInt16BE(seq++ & 0xffff, 2);
          peer.rtp.send(pkt, port, '127.0.0.1');
        }, 20);
        await sleep(Math.min(soakDefaults.listenerCallMs, Math.max(0, deadline - performance.now())));
        clearInterval(talk);
        peer.rtp.off('message', onRtp);
        peer.send(inDialog({ peer, method: 'BYE', callId: inv.callId, fromTag: inv.fromTag, toHeader: res.header('to')!, cseq: 2 }));
        await Promise.race([peer.wait((m) => m.callId === inv.callId && / BYE$/.test(m.header('cseq') ?? ''), from), sleep(5_000)]);
      }
      peer.close();
    })();

    let nextCall = 0;
    let nextText = 0;
    let nextFault = performance.now() + soakDefaults.faultEveryMs;
    let nextRss = 0;
    while (performance.now() < deadline) {
      const now = performance.now();
      if (now >= nextCall) {
        nextCall = now + soakDefaults.callEveryMs;
        sippRuns++;
        pending.push(runSipp({ scenario: 'uac-media.xml', target: `127.0.0.1:${sipPort}`, timeoutS: 60 }).then((r) => {
          if (r.code !== 0) sippFailed++;
        }));
      }
      if (now >= nextText) {
        nextText = now + soakDefaults.textEveryMs;
        const n = textsSent++;
        const w = telnyx.inbound(`+1512556${String(n % 10_000).padStart(4, '0')}`, '+15125550100', n % 2 ? 'What are your hours?' : 'How much is a standard cleaning?');
        // The provider retries until it gets a 200.
        pending.push((async () => {
          for (let i = 0; i < 60; i++) {
            const ok = await fetch(`${base}/webhooks/sms/telnyx`, { method: 'POST', body: w.body, headers: w.headers }).then((r) => r.status === 200, () => false);
            if (ok) return;
            await sleep(1_000);
          }
        })());
      }
      if (now >= nextFault) {
        nextFault = now + soakDefaults.faultEveryMs;
        faults++;
        if (faults % 2) proxy.reset();
        else {
          proxy.blackhole();
          setTimeout(() => proxy.heal(), soakDefaults.outageMs);
        }
      }
      if (now >= nextRss) {
        nextRss = now + 10_000;
        const kb = rssKb(child?.pid);
        if (kb) rss.push({ t: now, kb });
      }
      await sleep(100);
    }
    proxy.heal();
    await listener;
    await Promise.all(pending);
    // Let the last calls end and their records land, then count what is still live.
    await sleep(15_000);
    const direct = new pg.Client({ connectionString: server.url });
    await direct.connect();
    const live = Number((await direct.query(`select count(*)::int as n from calls where state <> 'ended'`)).rows[0].n);
    const abnormal = Number((await direct.query(`select count(*)::int as n from calls where disposition in ('failed', 'error', 'interrupted') or disposition like 'abandoned (failed%'`)).rows[0].n);
    const totalCalls = Number((await direct.query('select count(*)::int as n from calls')).rows[0].n);
    const inboundTexts = Number((await direct.query(`select count(*)::int as n from sms_messages where direction = 'inbound'`).catch(() => ({ rows: [{ n: -1 }] }))).rows[0].n);
    await direct.end();

    stopping = true;
    child?.kill('SIGTERM');
    await new Promise((r) => child?.once('exit', r));
    await telnyx.stop();
    await proxy.stop();
    await server.drop();
    rmSync(dir, { recursive: true, force: true });

    const first = rss[0];
    const last = rss.at(-1);
    const hours = first && last && last.t > first.t ? (last.t - first.t) / 3_600_000 : 0;
    return {
      minutes,
      process_restarts: restarts,
      fatal_logs: fatalLogs,
      calls_total: totalCalls,
      calls_ended_abnormally: abnormal,
      sipp_calls: sippRuns,
      sipp_calls_failed: sippFailed,
      calls_left_live: live,
      texts_sent: textsSent,
      texts_stored: inboundTexts,
      texts_answered: telnyx.sent.length,
      db_faults_injected: faults,
      rss_start_mib: first ? round(first.kb / 1024, 1) : NaN,
      rss_end_mib: last ? round(last.kb / 1024, 1) : NaN,
      rss_growth_mib_per_hour: hours > 0 ? round((last!.kb - first!.kb) / 1024 / hours, 1) : NaN,
      listener_calls: listenerCalls,
      rtp_gaps_over_60ms: gapsOver,
      rtp_max_gap_ms: round(maxGapMs, 1),
    };
  },
};
export default suite;
