import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { runSipp } from '../../tests/helpers/sipp.js';
import { createServerDatabase } from '../../tests/helpers/stores.js';
import { startEdge, startNode, stopAll, type EdgeProc, type NodeProc } from '../../tests/helpers/cluster.js';
import { percentile, round, type Metrics, type Suite } from '../lib.js';

/**
 * Kamailio (kamailio/kamailio.cfg) in front of 1 and then 2 frontdesk nodes on loopback addresses,
 * one Postgres server (TEST_DATABASE_URL). Reported: call set-ups per second through the dispatcher
 * (each call answered by the agent, then hung up at once), and failover after a SIGKILL: the
 * slowest new call's set-up (a call sent to the dead node waits FR_TIMER, then goes to the
 * survivor) and how long until the survivor has ended the dead node's calls (the heartbeat lapse).
 * BENCH_CLUSTER_CALLS (default 60) calls per step, at BENCH_CLUSTER_RATE (default 10) per second.
 */
const calls = Number(process.env.BENCH_CLUSTER_CALLS ?? 60);
const rate = Number(process.env.BENCH_CLUSTER_RATE ?? 10);

async function setups(edge: EdgeProc): Promise<{ cps: number; failed: number }> {
  const t0 = performance.now();
  const run = await runSipp({ scenario: 'uac-edge.xml', target: `127.0.0.1:${edge.port}`, calls, rate, extra: ['-d', '0'], timeoutS: 120 });
  const s = (performance.now() - t0) / 1000;
  const failed = Number(/Failed call\s+\|\s+\d+\s+\|\s+(\d+)/.exec(run.output)?.[1] ?? (run.code === 0 ? 0 : calls));
  return { cps: (calls - failed) / s, failed };
}

const suite: Suite = {
  description: 'cluster: call set-ups per second through Kamailio to 1 and 2 nodes; failover after SIGKILL',
  async run(): Promise<Metrics> {
    const dir = mkdtempSync(join(tmpdir(), 'fd-bench-cluster-'));
    const database = await createServerDatabase();
    const procs: (NodeProc | EdgeProc)[] = [];
    const m: Metrics = {};
    try {
      const [a, b] = await Promise.all([
        startNode({ id: 'bench-a', ip: '127.0.0.2', databaseUrl: database.url, dir, rtpBase: 25000, env: { FRONTDESK_MAX_CALLS: '200' } }),
        startNode({ id: 'bench-b', ip: '127.0.0.3', databaseUrl: database.url, dir, rtpBase: 25400, env: { FRONTDESK_MAX_CALLS: '200' } }),
      ]);
      procs.push(a, b);
      const one = await startEdge(join(dir, 'one'), [a]);
      procs.push(one);
      const r1 = await setups(one);
      m['setups_per_s_1_node'] = r1.cps;
      m['failed_calls_1_node'] = r1.failed;
      await stopAll([one]);

      const two = await startEdge(join(dir, 'two'), [a, b]);
      procs.push(two);
      const r2 = await setups(two);
      m['setups_per_s_2_nodes'] = r2.cps;
      m['failed_calls_2_nodes'] = r2.failed;

      // Failover: node b dies; new calls one after another, each timed from INVITE to hang-up.
      const killedAt = performance.now();
      b.child.kill('SIGKILL');
      const times: number[] = [];
      let failed = 0;
      for (let i = 0; i < 10; i++) {
        const t0 = performance.now();
        const run = await runSipp({ scenario: 'uac-edge.xml', target: `127.0.0.1:${two.port}`, calls: 1, extra: ['-d', '0'], timeoutS: 30 });
        if (run.code !== 0) failed++;
        times.push(performance.now() - t0);
      }
      times.sort((x, y) => x - y);
      m['failover_call_setup_worst_ms'] = round(times[times.length - 1]!, 0);
      m['failover_call_setup_p50_ms'] = round(percentile(times, 50), 0);
      m['failover_failed_calls'] = failed;
      // Until the survivor has taken the dead node out of the store (its calls ended as interrupted).
      const c = new pg.Client({ connectionString: database.url });
      await c.connect();
      try {
        for (;;) {
          const { rows } = await c.query<{ state: string }>("select state from nodes where id = 'bench-b'");
          if (rows[0]?.state === 'gone') break;
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        await c.end();
      }
      m['failover_reaped_after_ms'] = round(performance.now() - killedAt, 0);
      m['heartbeat_lapse_ms'] = Number(a.env.FRONTDESK_NODE_LAPSE_MS);
      return m;
    } finally {
      await stopAll(procs);
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default suite;
