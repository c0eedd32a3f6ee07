import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

export const SCENARIOS = fileURLToPath(new URL('../sip/scenarios/', import.meta.url));

export interface SippRun {
  code: number | null;
  output: string;
}

/** Runs SIPp (Debian's sip-tester) with one of our scenarios; resolves when it exits. */
export async function runSipp(args: { scenario: string; target?: string; service?: string; calls?: number; rate?: number; extra?: string[]; localPort?: number; timeoutS?: number; signal?: AbortSignal }): Promise<SippRun> {
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
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  rmSync(cwd, { recursive: true, force: true });
  return { code, output: output.slice(-4000) };
}

/** Starts a SIPp UAS in the background; `done` resolves when it exits. */
export async function startSippUas(scenario: string, extra: string[] = [], timeoutS = 20): Promise<{ port: number; done: Promise<SippRun> }> {
  const port = await freePort();
  const done = runSipp({ scenario, localPort: port, extra, timeoutS });
  // Give SIPp a moment to bind its socket.
  await new Promise((r) => setTimeout(r, 300));
  return { port, done };
}
