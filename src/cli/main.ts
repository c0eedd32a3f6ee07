import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { Command, CommanderError } from 'commander';
import { ConfigError, loadConfig, type Config } from '../config/index.js';
import { createLogger, silentLogger, type Logger } from '../util/logger.js';
import { createApp, openMigratedStore } from '../app.js';
import { ContextService } from '../business/context/service.js';
import { dialPolicyFromConfig } from '../telephony/index.js';
import { ContextValidationError } from '../business/context/schema.js';
import { contextsFromYaml, contextsToYaml } from '../business/context/yaml.js';
import { audit } from '../store/audit.js';
import { createAdminUser, UserError } from '../http/admin/users.js';
import { unlockAddress, unlockLogins } from '../http/admin/login-limits.js';
import { runDoctor } from './doctor.js';
import { version } from '../version.js';

/** Output sinks, injectable so tests can run the CLI in-process. */
export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
  stdin?: () => Promise<string>;
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

async function promptHidden(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // Hide what is typed: readline echoes through _writeToOutput.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
    if (s.includes(question)) process.stderr.write(s);
  };
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}

export function buildCli(io: CliIo = defaultIo): Command {
  const loadCfg = (): Config => loadConfig(io.env);
  const quietLogger = (cfg: Config): Logger => (cfg.logLevel === 'silent' ? silentLogger : createLogger('warn'));

  async function withStore<T>(fn: (svc: ContextService, cfg: Config, db: Awaited<ReturnType<typeof openMigratedStore>>) => Promise<T>): Promise<T> {
    const cfg = loadCfg();
    const store = await openMigratedStore(cfg, quietLogger(cfg));
    try {
      return await fn(new ContextService(store.db, dialPolicyFromConfig(cfg)), cfg, store);
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
      const app = await createApp(cfg, logger);
      await app.start();
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) return;
          stopping = true;
          logger.info({ signal }, 'shutting down');
          app.stop().then(resolve, (err: unknown) => {
            logger.error({ err }, 'shutdown failed');
            resolve();
          });
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    });

  program
    .command('migrate')
    .description('apply database migrations and exit')
    .action(async () => {
      const cfg = loadCfg();
      const store = await openMigratedStore(cfg, createLogger(cfg.logLevel));
      io.out(`database is at the latest schema (${store.dialect}: ${store.location})\n`);
      await store.close();
    });

  const context = program.command('context').description('business contexts (dialplan contexts)');
  context
    .command('list')
    .description('list contexts with their numbers and version')
    .action(async () => {
      await withStore(async (svc) => {
        for (const c of await svc.list()) {
          const d = c.document;
          io.out(`${c.name}\tv${c.version}\t${d.default ? 'default\t' : ''}${d.numbers.join(',') || '-'}\t${d.displayName}\n`);
        }
      });
    });
  context
    .command('export')
    .description('print contexts as YAML')
    .argument('[name]', 'context to export')
    .option('--all', 'export every context')
    .action(async (name: string | undefined, opts: { all?: boolean }) => {
      if (!name && !opts.all) {
        io.err('context export: give a context NAME or --all\n');
        throw new CliExit(2);
      }
      await withStore(async (svc) => {
        const list = opts.all ? await svc.list() : [await svc.get(name!)];
        io.out(contextsToYaml(list.map((c) => c.document)));
      });
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
      const docs = contextsFromYaml(text);
      await withStore(async (svc) => {
        for (const d of docs) {
          const before = await svc.find(d.name);
          const saved = await svc.save(d, opts.author, opts.message ?? `imported from ${file}`);
          const what = !before ? 'created' : before.version === saved.version ? 'unchanged' : 'updated';
          io.out(`${saved.name}: ${what} (version ${saved.version})\n`);
        }
      });
    });

  const admin = program.command('admin').description('admin console users');
  admin
    .command('create-user')
    .description('create an admin console user')
    .argument('<username>')
    .option('--password <password>', 'password (else FRONTDESK_ADMIN_PASSWORD, standard input, or a prompt)')
    .option('--role <role>', 'admin or viewer', 'admin')
    .action(async (username: string, opts: { password?: string; role: string }) => {
      if (opts.role !== 'admin' && opts.role !== 'viewer') {
        io.err('admin create-user: --role must be admin or viewer\n');
        throw new CliExit(2);
      }
      let password = opts.password ?? io.env.FRONTDESK_ADMIN_PASSWORD;
      if (!password) {
        password = process.stdin.isTTY ? await promptHidden('Password: ') : (await (io.stdin ?? readStdin)()).trim();
      }
      await withStore(async (_svc, _cfg, store) => {
        const u = await createAdminUser(store.db, username, password!, { role: opts.role as 'admin' | 'viewer' });
        io.out(`created ${opts.role} user ${u.username}\n`);
      });
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
      await withStore(async (_svc, _cfg, store) => {
        const n = (username ? await unlockLogins(store.db, username) : 0) + (opts.address ? await unlockAddress(store.db, opts.address) : 0);
        await audit(store.db, { actor: 'cli', action: 'admin.unlock', targetType: 'admin_user', targetId: username ?? opts.address ?? '', details: { cleared: n } });
        io.out(`cleared ${n} login limit${n === 1 ? '' : 's'}\n`);
      });
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
    if (e instanceof ConfigError || e instanceof ContextValidationError || e instanceof UserError) {
      io.err(`${e.message}\n`);
      return 2;
    }
    io.err(`error: ${(e as Error).message}\n`);
    return 1;
  }
}
