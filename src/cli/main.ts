import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Command, CommanderError } from 'commander';
import { ConfigError, loadConfig, type Config } from '../config/index.js';
import { createLogger, silentLogger, type Logger } from '../util/logger.js';
import { installLastResort, shutdownDefaults, stopWithin } from '../util/last-resort.js';
import { createApp, openMigratedStore } from '../app.js';
import { dialPolicyFromConfig } from '../telephony/index.js';
import { ContextValidationError } from '../business/context/schema.js';
import { ContextNotFoundError } from '../business/context/service.js';
import { UserError } from '../http/admin/users.js';
import { pgliteLockFile } from '../store/db.js';
import { NodeIdInUseError } from '../cluster/registry.js';
import { lockHolder, StoreLockedError } from '../store/lock.js';
import { readCliEndpoint, RemoteInputError, runOpRemote } from '../http/cli-endpoint.js';
import { NodeNotFoundError, runOp, type CliOp } from './ops.js';
import { runDoctor } from './doctor.js';
import { version } from '../version.js';

/** Output sinks, injectable so tests can run the CLI in-process. */
export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
  stdin?: () => Promise<string>;
  /** Asks for a hidden answer on a terminal; absent: standard input's TTY decides. */
  prompt?: (question: string) => Promise<string>;
}

const defaultIo: CliIo = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  env: process.env,
};

class CliExit extends Error {
  constructor(public readonly code: number) {
    super(`exit ${code}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The first line without its line ending; the rest of the input is ignored. */
export function firstLine(text: string): string {
  const i = text.search(/\r?\n/);
  return i < 0 ? text : text.slice(0, i);
}

async function promptHidden(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // Hide what is typed: readline echoes through _writeToOutput.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
    if (s.includes(question)) process.stderr.write(s);
  };
  try {
    return await rl.question(question);
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}

export function buildCli(io: CliIo = defaultIo): Command {
  const loadCfg = (): Config => loadConfig(io.env);

  /**
   * Runs a database operation: in this process, or, while a running server owns the embedded
   * database, inside that server (two processes must never open one PGlite folder).
   */
  async function run(op: CliOp, logger?: Logger): Promise<void> {
    const cfg = loadCfg();
    if (!cfg.databaseUrl) {
      const pid = lockHolder(pgliteLockFile(cfg.dataDir));
      if (pid !== undefined) {
        const ep = readCliEndpoint(cfg.dataDir);
        if (!ep || ep.pid !== pid) throw new StoreLockedError(resolve(cfg.dataDir), pid);
        io.out(await runOpRemote(ep, op));
        return;
      }
    }
    const store = await openMigratedStore(cfg, logger ?? (cfg.logLevel === 'silent' ? silentLogger : createLogger('warn')));
    try {
      io.out(await runOp(store, op, dialPolicyFromConfig(cfg)));
    } finally {
      await store.close();
    }
  }

  const program = new Command('frontdesk')
    .description('Self-hosted AI receptionist for phone calls and text messages')
    .version(version)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  program
    .command('start')
    .description('run frontdesk: migrate the database, then serve HTTP (and telephony, SMS, agent)')
    .action(async () => {
      const cfg = loadCfg();
      const logger = createLogger(cfg.logLevel);
      installLastResort(logger);
      const app = await createApp(cfg, logger);
      await app.start();
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: string, drain: boolean) => {
          if (stopping) {
            // A second signal: the operator means it.
            logger.warn({ signal }, 'second signal; exiting now');
            process.exit(shutdownDefaults.failureExitCode);
          }
          stopping = true;
          logger.info({ signal }, drain ? 'draining, then shutting down' : 'shutting down');
          // SIGTERM (systemd, Docker, Kubernetes, frontdesk drain) lets the calls in progress finish first; SIGINT does not.
          const drained = drain ? app.drain(cfg.node.drainTimeoutS * 1000) : Promise.resolve();
          drained
            .then(() => stopWithin(logger, () => app.stop()))
            .then(resolve, (err: unknown) => {
              logger.error({ err }, 'shutdown failed');
              resolve();
            });
        };
        app.onDrainRequested = () => stop('drain', true);
        process.on('SIGINT', () => stop('SIGINT', false));
        process.on('SIGTERM', () => stop('SIGTERM', true));
      });
    });

  program
    .command('drain')
    .description('make a node refuse new calls (its OPTIONS and INVITEs get 503), finish its calls, then exit')
    .argument('[node]', 'the node id (FRONTDESK_NODE_ID); default: this machine\'s')
    .action(async (nodeId: string | undefined) => {
      await run({ op: 'node.drain', node: nodeId ?? loadCfg().node.id });
    });

  program
    .command('nodes')
    .description('list the nodes sharing this database: state, calls in progress, capacity, heartbeat')
    .action(async () => {
      await run({ op: 'node.list', lapseMs: loadCfg().node.lapseMs });
    });

  program
    .command('migrate')
    .description('apply database migrations and exit (a running server has already applied them)')
    .action(async () => {
      const cfg = loadCfg();
      await run({ op: 'migrate' }, createLogger(cfg.logLevel));
    });

  const context = program.command('context').description('business contexts (dialplan contexts)');
  context
    .command('list')
    .description('list contexts with their numbers and version')
    .action(async () => run({ op: 'context.list' }));
  context
    .command('export')
    .description('print contexts as YAML')
    .argument('[name]', 'context to export')
    .option('--all', 'export every context')
    .option('--with-secrets', "include the owner PIN's hash (for a backup; importing a file without it keeps the PIN already set)")
    .action(async (name: string | undefined, opts: { all?: boolean; withSecrets?: boolean }) => {
      if (!name && !opts.all) {
        io.err('context export: give a context NAME or --all\n');
        throw new CliExit(2);
      }
      await run({ op: 'context.export', all: !!opts.all, withSecrets: !!opts.withSecrets, ...(name ? { name } : {}) });
    });
  context
    .command('import')
    .description('create or update contexts from a YAML file (each change becomes a new version)')
    .argument('<file>', 'YAML file, - for standard input')
    .option('-m, --message <text>', 'change note kept in the version history')
    .option('--author <name>', 'who made the change', 'cli')
    .action(async (file: string, opts: { message?: string; author: string }) => {
      let text: string;
      if (file === '-') text = await (io.stdin ?? readStdin)();
      else {
        if (!existsSync(file)) {
          io.err(`context import: ${file} does not exist\n`);
          throw new CliExit(2);
        }
        text = readFileSync(file, 'utf8');
      }
      await run({ op: 'context.import', yaml: text, source: file, author: opts.author, ...(opts.message ? { message: opts.message } : {}) });
    });

  const admin = program.command('admin').description('admin console users');
  admin
    .command('create-user')
    .description('create an admin console user')
    .argument('<username>')
    .option('--password <password>', 'password (else FRONTDESK_ADMIN_PASSWORD, the first line of standard input, or a prompt)')
    .option('--role <role>', 'admin or viewer', 'admin')
    .action(async (username: string, opts: { password?: string; role: string }) => {
      if (opts.role !== 'admin' && opts.role !== 'viewer') {
        io.err('admin create-user: --role must be admin or viewer\n');
        throw new CliExit(2);
      }
      let password = opts.password ?? io.env.FRONTDESK_ADMIN_PASSWORD;
      if (!password) {
        const prompt = io.prompt ?? (process.stdin.isTTY ? promptHidden : undefined);
        if (prompt) {
          // Typed blind, so asked twice: a typo would otherwise lock the owner out.
          password = await prompt('Password: ');
          if ((await prompt('Password again: ')) !== password) {
            io.err('admin create-user: the passwords differ; nothing was created\n');
            throw new CliExit(2);
          }
        } else {
          // From a pipe: the first line (`printf 'pw\npw\n' |` answers a prompt that asks twice).
          password = firstLine(await (io.stdin ?? readStdin)());
        }
      }
      await run({ op: 'admin.create-user', username, password, role: opts.role });
    });

  admin
    .command('unlock')
    .description('clear the login limits for a username (from every address), or for one address')
    .argument('[username]')
    .option('--address <ip>', 'clear the per-address limit of this IP instead')
    .action(async (username: string | undefined, opts: { address?: string }) => {
      if (!username && !opts.address) {
        io.err('admin unlock: give a username or --address <ip>\n');
        throw new CliExit(2);
      }
      await run({ op: 'admin.unlock', ...(username ? { username } : {}), ...(opts.address ? { address: opts.address } : {}) });
    });

  program
    .command('doctor')
    .description('check the configuration, database, ports and models, and say which engine serves each slot')
    .action(async () => {
      const ok = await runDoctor(io.env, io.out);
      if (!ok) throw new CliExit(1);
    });

  return program;
}

/** Runs the CLI; returns the exit code instead of exiting, so tests can call it. */
export async function runCli(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const program = buildCli(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CliExit) return e.code;
    if (e instanceof CommanderError) return e.exitCode;
    if (
      e instanceof ConfigError || e instanceof ContextValidationError || e instanceof UserError || e instanceof RemoteInputError ||
      e instanceof ContextNotFoundError || e instanceof StoreLockedError || e instanceof NodeNotFoundError || e instanceof NodeIdInUseError
    ) {
      io.err(`${e.message}\n`);
      return 2;
    }
    io.err(`error: ${(e as Error).message}\n`);
    return 1;
  }
}
