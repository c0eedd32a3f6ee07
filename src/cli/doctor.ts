import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { resolve } from 'node:path';
import { ConfigError, loadConfig, type Config } from '../config/index.js';
import { openStore } from '../store/db.js';
import { StoreLockedError } from '../store/lock.js';
import { readCliEndpoint, runOpRemote, type CliEndpointInfo } from '../http/cli-endpoint.js';
import { checkPbx, checkPublicUrl, checkRtpRange, checkSipAddress, checkSmsCredentials, checkTrunkRegistration, type Check } from './doctor-checks.js';
import { silentLogger } from '../util/logger.js';
import { createSpeech } from '../speech/index.js';
import { OpenAiLlm } from '../speech/llm/openai.js';

export type { Check } from './doctor-checks.js';

async function tcpPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = createServer();
    s.once('error', () => done(false));
    s.listen({ host, port }, () => s.close(() => done(true)));
  });
}

async function udpPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    s.once('error', () => done(false));
    s.bind({ address: host, port }, () => s.close(() => done(true)));
  });
}

async function checkDatabase(cfg: Config): Promise<Check> {
  try {
    const store = await openStore({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir, logger: silentLogger });
    try {
      const ok = await store.ping(3_000);
      return ok
        ? { name: 'database', status: 'ok', detail: `${store.dialect} at ${store.location}` }
        : { name: 'database', status: 'fail', detail: `${store.dialect} at ${store.location} does not answer` };
    } finally {
      await store.close();
    }
  } catch (e) {
    if (e instanceof StoreLockedError) {
      // The running server owns it: a `migrate` through its endpoint says whether it answers.
      const ep = readCliEndpoint(cfg.dataDir);
      const answer = ep && ep.pid === e.pid ? await runOpRemote(ep, { op: 'migrate' }, 5_000).catch(() => undefined) : undefined;
      return answer
        ? { name: 'database', status: 'ok', detail: `pglite at ${e.dir}, served by the running frontdesk (process ${e.pid})` }
        : { name: 'database', status: 'fail', detail: e.message };
    }
    return { name: 'database', status: 'fail', detail: (e as Error).message };
  }
}

function checkDataDir(cfg: Config): Check {
  const dir = resolve(cfg.dataDir);
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    return { name: 'data dir', status: 'ok', detail: dir };
  } catch (e) {
    return { name: 'data dir', status: 'fail', detail: `${dir}: ${(e as Error).message}` };
  }
}

async function checkModels(cfg: Config): Promise<Check[]> {
  const dir = resolve(cfg.modelsDir);
  // The offline floor (and the bundled Silero VAD) needs no models folder: say so, then report each slot.
  const folder: Check = existsSync(dir)
    ? { name: 'models', status: 'ok', detail: dir }
    : { name: 'models', status: 'ok', detail: `${dir} does not exist: the offline floor serves; \`npm run models\` fetches the neural set` };
  let speech: ReturnType<typeof createSpeech>;
  try {
    speech = createSpeech({ modelsDir: dir, builtModelsDir: cfg.builtModelsDir, llmModel: cfg.llmModel, llmServer: cfg.llm, sttModel: cfg.sttModel, ttsModel: cfg.ttsModel, turnModel: cfg.turnModel });
  } catch (e) {
    return [{ name: 'models', status: 'fail', detail: (e as Error).message }];
  }
  const v = await speech.verify();
  await speech.close();
  const server: Check[] = [];
  if (cfg.llm?.url) {
    try {
      const models = await OpenAiLlm.models({ baseUrl: cfg.llm.url, apiKey: cfg.llm.apiKey, timeoutMs: 3_000 });
      const want = cfg.llm.model ?? models[0];
      server.push(want && models.includes(want)
        ? { name: 'llm server', status: 'ok', detail: `${cfg.llm.url} serves ${want}` }
        : { name: 'llm server', status: 'fail', detail: `${cfg.llm.url} serves ${models.join(', ') || 'no model'}${cfg.llm.model ? `, not ${cfg.llm.model} (FRONTDESK_LLM_SERVER_MODEL)` : ''}` });
    } catch (e) {
      server.push({ name: 'llm server', status: 'fail', detail: (e as Error).message });
    }
  }
  return [
    folder,
    ...v.problems.map((p): Check => ({ name: 'model file', status: 'fail', detail: p })),
    ...v.unpinned.map((p): Check => ({ name: 'model file', status: 'warn', detail: `${p} is not pinned by models/manifest.json (installed by hand or generated): not verified` })),
    ...speech.report.map((r): Check => ({
      name: r.slot,
      status: r.engine === 'none' || r.engine === 'energy' ? 'warn' : 'ok',
      detail: `${r.engine}: ${r.why}`,
    })),
    ...server,
  ];
}

/** The frontdesk running on this data folder, if one is. */
function runningServer(cfg: Config): CliEndpointInfo | undefined {
  const ep = readCliEndpoint(cfg.dataDir);
  if (!ep) return undefined;
  try {
    process.kill(ep.pid, 0);
    return ep;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? ep : undefined;
  }
}

export async function collectChecks(env: NodeJS.ProcessEnv): Promise<Check[]> {
  let cfg: Config;
  try {
    cfg = loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return [{ name: 'config', status: 'fail', detail: e.problems.join('; ') }];
    throw e;
  }
  const checks: Check[] = [{ name: 'config', status: 'ok', detail: `telephony=${cfg.telephony}` }];
  checks.push(checkDataDir(cfg));
  checks.push(await checkDatabase(cfg));
  const httpFree = await tcpPortFree(cfg.http.host, cfg.http.port);
  checks.push({
    name: 'http port',
    status: httpFree ? 'ok' : 'warn',
    detail: `${cfg.http.host}:${cfg.http.port} ${httpFree ? 'is free' : 'is in use (is frontdesk already running?)'}`,
  });
  if (cfg.telephony === 'sip') {
    const sipFree = (await udpPortFree(cfg.sip.bind, cfg.sip.port)) && (await tcpPortFree(cfg.sip.bind, cfg.sip.port));
    checks.push({
      name: 'sip port',
      status: sipFree ? 'ok' : 'warn',
      detail: `${cfg.sip.bind}:${cfg.sip.port} udp+tcp ${sipFree ? 'is free' : 'is in use'}`,
    });
  }
  if (cfg.telephony === 'sip') {
    checks.push(await checkSipAddress(cfg), await checkRtpRange(cfg));
    const trunk = await checkTrunkRegistration(cfg, runningServer(cfg));
    if (trunk) checks.push(trunk);
  }
  checks.push(...(await checkPbx(cfg)), ...(await checkSmsCredentials(cfg)), await checkPublicUrl(cfg));
  checks.push(...(await checkModels(cfg)));
  return checks;
}

/** Prints one line per check; true when nothing failed. */
export async function runDoctor(env: NodeJS.ProcessEnv, out: (s: string) => void): Promise<boolean> {
  const checks = await collectChecks(env);
  const mark = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;
  for (const c of checks) out(`${mark[c.status]}  ${c.name.padEnd(14)} ${c.detail}\n`);
  return checks.every((c) => c.status !== 'fail');
}
