import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

export const SCENARIOS = fileURLToPath(new URL('../sip/scenarios/', import.meta.url));

export interface SippRun {
  code: number | null;
  output: string;
}

type SippArgs = { scenario: string; target?: string; service?: string; calls?: number; rate?: number; extra?: string[]; localPort?: number; timeoutS?: number; signal?: AbortSignal };

/** Runs SIPp (Debian's sip-tester) with one of our scenarios; resolves when it exits. */
export async function runSipp(args: SippArgs): Promise<SippRun> {
  return (await spawnSipp(args)).done;
}

async function spawnSipp(args: SippArgs): Promise<{ done: Promise<SippRun>; exited: () => boolean }> {
  const port = args.localPort ?? (await freePort());
  const mediaPort = await freePort();
  const argv = [
    ...(args.target ? [args.target] : []),
    '-sf', join(SCENARIOS, args.scenario),
    '-s', args.service ?? '+15125550100',
    '-i', '127.0.0.1', '-mi', '127.0.0.1', '-p', String(port), '-mp', String(mediaPort),
    '-m', String(args.calls ?? 1), '-l', String(args.calls ?? 1), '-r', String(args.rate ?? 10),
    '-nostdin', '-timeout', `${args.timeoutS ?? 20}s`, '-timeout_error',
    ...(args.extra ?? []),
  ];
  // SIPp writes its logs into its working folder: a fresh one per run, removed after it.
  const cwd = mkdtempSync(join(tmpdir(), 'sipp-'));
  const child = spawn('sipp', argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'], ...(args.signal ? { signal: args.signal } : {}) });
  child.on('error', () => {}); // an abort is reported through the exit below
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  let exited = false;
  const done = new Promise<number | null>((r) => child.on('exit', (c) => r(c))).then((code) => {
    exited = true;
    rmSync(cwd, { recursive: true, force: true });
    return { code, output: output.slice(-4000) };
  });
  return { done, exited: () => exited };
}

/** Whether something listens on 127.0.0.1:`port` (UDP, or TCP in LISTEN), as the kernel's tables say. */
async function bound(port: number): Promise<boolean> {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const [udp, tcp] = await Promise.all(['/proc/net/udp', '/proc/net/tcp'].map((f) => readFile(f, 'utf8').catch(() => '')));
  return udp!.split('\n').some((l) => l.trim().split(/\s+/)[1] === local)
    || tcp!.split('\n').some((l) => { const c = l.trim().split(/\s+/); return c[1] === local && c[3] === '0A'; });
}

/** Starts a SIPp UAS in the background; `done` resolves when it exits. */
export async function startSippUas(scenario: string, extra: string[] = [], timeoutS = 20): Promise<{ port: number; done: Promise<SippRun> }> {
  const port = await freePort();
  const sipp = await spawnSipp({ scenario, localPort: port, extra, timeoutS });
  // Ready once its socket is bound (the kernel's socket table says so), however slow the machine.
  while (!(await bound(port))) {
    if (sipp.exited()) throw new Error(`SIPp exited before it listened: ${(await sipp.done).output}`);
    await new Promise((r) => setImmediate(r));
  }
  return { port, done: sipp.done };
}
