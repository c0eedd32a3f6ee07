import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { z, ZodError } from 'zod';
import type { Store } from '../store/db.js';
import type { Logger } from '../util/logger.js';
import { runOp, type CliOp } from '../cli/ops.js';
import type { DialPolicy } from '../business/dial-policy.js';
import { ContextValidationError } from '../business/context/schema.js';
import { ContextNotFoundError } from '../business/context/service.js';
import { UserError } from './admin/users.js';
import { NodeNotFoundError } from '../cli/ops.js';

/**
 * While `frontdesk start` owns the embedded database, CLI commands run inside it through this
 * loopback endpoint. Its address and a random token sit in the data folder, readable by its owner
 * only: whoever can read that file could read the database files anyway.
 */
export const CLI_ENDPOINT_FILE = 'cli-endpoint.json';

const endpointFile = z.object({ url: z.string().url(), token: z.string().min(32), pid: z.number().int() });
export type CliEndpointInfo = z.infer<typeof endpointFile>;

/** Errors the CLI reports as bad input (exit 2), by name, since they cross a process boundary. */
const inputErrors = [ContextValidationError, ContextNotFoundError, UserError, ZodError, NodeNotFoundError];

export interface CliEndpoint {
  info: CliEndpointInfo;
  close(): Promise<void>;
}

/** What the running server reports to `doctor` (GET /status). */
export interface ServerStatus {
  trunk: { registered: boolean } | null;
}

export async function startCliEndpoint(
  store: Store, dataDir: string, logger: Logger, status: () => ServerStatus = () => ({ trunk: null }), dialPolicy?: DialPolicy,
): Promise<CliEndpoint> {
  const token = randomBytes(32).toString('hex');
  const expected = Buffer.from(`Bearer ${token}`);
  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024 });
  const authorized = (header: string | undefined) => {
    const auth = Buffer.from(header ?? '');
    return auth.length === expected.length && timingSafeEqual(auth, expected);
  };
  app.get('/status', async (req, reply) => (authorized(req.headers.authorization) ? { pid: process.pid, ...status() } : reply.code(401).send({ error: 'bad token' })));
  app.post('/cli', async (req, reply) => {
    if (!authorized(req.headers.authorization)) return reply.code(401).send({ error: 'bad token' });
    try {
      const out = await runOp(store, req.body as CliOp, dialPolicy);
      logger.info({ op: (req.body as CliOp).op }, 'cli command ran through the running server');
      return { out };
    } catch (e) {
      const err = e as Error;
      const input = inputErrors.some((c) => err instanceof c);
      const message = err instanceof ZodError ? `bad request: ${err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` : err.message;
      return reply.code(input ? 400 : 500).send({ error: message });
    }
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const info: CliEndpointInfo = { url: address, token, pid: process.pid };
  const file = endpointPath(dataDir);
  // Written whole under a temporary name, then renamed: a reader never sees half a file.
  const tmp = `${file}.${process.pid}.tmp`;
  // On the Postgres server nothing else creates the data folder.
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(tmp, JSON.stringify(info), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return {
    info,
    async close() {
      rmSync(file, { force: true });
      await app.close();
    },
  };
}

export function endpointPath(dataDir: string): string {
  return join(resolve(dataDir), CLI_ENDPOINT_FILE);
}

/** The running server's endpoint, if its file is there and well-formed. */
export function readCliEndpoint(dataDir: string): CliEndpointInfo | undefined {
  try {
    const r = endpointFile.safeParse(JSON.parse(readFileSync(endpointPath(dataDir), 'utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** Bad input reported by the running server; the CLI exits 2 as it would in-process. */
export class RemoteInputError extends Error {}

/** Runs one CLI operation in the running server; resolves to what the CLI prints. */
export async function runOpRemote(ep: CliEndpointInfo, op: CliOp, timeoutMs = 120_000): Promise<string> {
  const res = await fetch(`${ep.url}/cli`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ep.token}` },
    body: JSON.stringify(op),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await res.json().catch(() => ({}))) as { out?: string; error?: string };
  if (res.ok && typeof body.out === 'string') return body.out;
  const msg = body.error ?? `the running server answered ${res.status}`;
  if (res.status === 400) throw new RemoteInputError(msg);
  throw new Error(`the running server could not do it: ${msg}`);
}
