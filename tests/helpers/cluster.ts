import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BUILT_MODELS_DIR } from './audio.js';
import { freePort } from './ports.js';

/**
 * A cluster on loopback addresses (Linux routes all of 127/8 to lo): Kamailio with the shipped
 * kamailio/kamailio.cfg on 127.0.0.1 and `frontdesk start` processes on 127.0.0.2, 127.0.0.3, …
 * sharing one Postgres database. Every process is tracked and killed by `stopAll`.
 */

const ROOT = resolve(import.meta.dirname, '../..');

export interface Proc {
  child: ChildProcess;
  /** Leads its own process group (killed as a whole). */
  group?: boolean;
  logs(): string;
  exited: Promise<number | null>;
  /** Resolves when a line matching `re` is logged (or rejects when the process exits first). */
  waitForLog(re: RegExp): Promise<void>;
}

function track(child: ChildProcess, what: string): Proc {
  let logs = '';
  const waiters: { re: RegExp; resolve: () => void; reject: (e: Error) => void }[] = [];
  const exited = new Promise<number | null>((r) => {
    child.on('exit', (code, signal) => {
      for (const w of waiters.splice(0)) w.reject(new Error(`${what} exited (${code ?? signal}) before logging ${w.re}:\n${logs.slice(-6000)}`));
      r(code);
    });
    // A program that cannot start (not installed: ENOENT) says so, instead of an uncaught error.
    child.on('error', (err) => {
      logs += `\ncannot run ${what}: ${err.message}${(err as NodeJS.ErrnoException).code === 'ENOENT' ? ' (not installed? .ci/run installs it)' : ''}`;
      for (const w of waiters.splice(0)) w.reject(new Error(logs.slice(-6000)));
      r(null);
    });
  });
  const onData = (d: Buffer) => {
    logs += d.toString();
    for (const w of [...waiters]) if (w.re.test(logs)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return {
    child, exited, logs: () => logs,
    waitForLog: (re) => (re.test(logs) ? Promise.resolve() : child.exitCode !== null || child.signalCode !== null
      ? Promise.reject(new Error(`${what} has exited:\n${logs.slice(-6000)}`))
      : new Promise<void>((resolve, reject) => waiters.push({ re, resolve, reject }))),
  };
}

export interface NodeProc extends Proc {
  id: string;
  ip: string;
  sipPort: number;
  httpPort: number;
  url: string;
  env: NodeJS.ProcessEnv;
}

export interface NodeOptions {
  id: string;
  ip: string;
  databaseUrl: string;
  dir: string;
  /** Fixed ports (a node restarted in place); default: free ones. */
  sipPort?: number;
  httpPort?: number;
  rtpBase: number;
  env?: NodeJS.ProcessEnv;
}

/** Spawns `frontdesk start` as one node; resolves once it says it is up. */
export async function startNode(o: NodeOptions): Promise<NodeProc> {
  const sipPort = o.sipPort ?? (await freePort());
  const httpPort = o.httpPort ?? (await freePort());
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: o.databaseUrl,
    FRONTDESK_NODE_ID: o.id,
    // Short, but long enough that a node whose event loop stalls for seconds under 20 calls on a shared,
    // overloaded 2-core machine is not taken for dead.
    FRONTDESK_NODE_HEARTBEAT_MS: '500',
    FRONTDESK_NODE_LAPSE_MS: '8000',
    FRONTDESK_DATA_DIR: join(o.dir, o.id), FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR,
    FRONTDESK_HTTP_HOST: o.ip, FRONTDESK_HTTP_PORT: String(httpPort),
    FRONTDESK_SIP_BIND: o.ip, FRONTDESK_SIP_ADVERTISE: o.ip, FRONTDESK_SIP_PORT: String(sipPort),
    FRONTDESK_RTP_PORT_MIN: String(o.rtpBase), FRONTDESK_RTP_PORT_MAX: String(o.rtpBase + 199),
    FRONTDESK_LOG_LEVEL: 'info',
    ...o.env,
  };
  const child = spawn(process.execPath, [join(ROOT, 'bin/frontdesk.js'), 'start'], { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const p = track(child, `node ${o.id}`);
  // Up, and done loading speech (which keeps the process busy for a moment after it is up).
  await p.waitForLog(/frontdesk is up/);
  await p.waitForLog(/speech recognition (ready|unavailable)/);
  return { ...p, id: o.id, ip: o.ip, sipPort, httpPort, url: `http://${o.ip}:${httpPort}`, env };
}

export interface EdgeProc extends Proc {
  port: number;
}

/** Kamailio with the shipped configuration, dispatching to `nodes`; resolves once it answers OPTIONS. */
export async function startEdge(dir: string, nodes: { ip: string; sipPort: number }[], pingIntervalS = 1): Promise<EdgeProc> {
  const run = join(dir, 'kamailio');
  mkdirSync(run, { recursive: true });
  const list = join(run, 'dispatcher.list');
  writeFileSync(list, nodes.map((n) => `1 sip:${n.ip}:${n.sipPort}\n`).join(''));
  const port = await freePort();
  const child = spawn('kamailio', [
    '-f', join(ROOT, 'kamailio/kamailio.cfg'), '-DD', '-E', '-n', '2', '-m', '32', '-M', '4', '-Y', run, '-w', run,
    '-l', `udp:127.0.0.1:${port}`,
    '-A', `DS_LIST="${list}"`, '-A', `DS_PING_INTERVAL=${pingIntervalS}`,
  // Its own process group: Kamailio forks workers, and all of them go when the group is killed.
  ], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const p = track(child, 'kamailio');
  p.group = true;
  const status = await Promise.race([sipOptions('127.0.0.1', port), p.exited.then((c) => { throw new Error(`kamailio exited (${c}):\n${p.logs()}`); })]);
  if (status !== 200) throw new Error(`kamailio answered OPTIONS with ${status}`);
  return { ...p, port };
}

/**
 * One OPTIONS request; resolves with the final status. Retransmitted as SIP does over UDP
 * (every 250 ms) until answered, so it also waits for a process that is still binding its socket.
 */
export async function sipOptions(host: string, port: number, attempts = 40): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const local = sock.address();
  const branch = `z9hG4bK${Math.random().toString(36).slice(2)}`;
  const msg = [
    `OPTIONS sip:${host}:${port} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${local.port};branch=${branch}`,
    `From: <sip:probe@127.0.0.1>;tag=${branch.slice(7)}`, `To: <sip:${host}:${port}>`, `Call-ID: ${branch}@test`,
    'CSeq: 1 OPTIONS', 'Max-Forwards: 70', 'Content-Length: 0', '', '',
  ].join('\r\n');
  try {
    return await new Promise<number>((resolve, reject) => {
      let n = 0;
      const timer = setInterval(() => {
        if (++n > attempts) {
          clearInterval(timer);
          reject(new Error(`no answer to OPTIONS from ${host}:${port}`));
          return;
        }
        sock.send(msg, port, host);
      }, 250);
      sock.send(msg, port, host);
      sock.on('message', (m) => {
        const status = /^SIP\/2\.0 (\d{3})/.exec(m.toString('latin1'))?.[1];
        if (status && Number(status) >= 200) {
          clearInterval(timer);
          resolve(Number(status));
        }
      });
    });
  } finally {
    sock.close();
  }
}

/** Ends every process still running (SIGKILL; Kamailio with its workers) and waits for them. */
export async function stopAll(procs: (Proc | undefined)[]): Promise<void> {
  await Promise.all(procs.map(async (p) => {
    if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
    if (p.group && p.child.pid) {
      try {
        process.kill(-p.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    } else p.child.kill('SIGKILL');
    await p.exited;
  }));
}
