import type { FastifyInstance } from 'fastify';
import type { Config } from './config/index.js';
import type { Logger } from './util/logger.js';
import { openStore, type Store } from './store/db.js';
import { migrateToLatest } from './store/migrate.js';
import { ContextService } from './business/context/service.js';
import { demoContext } from './business/context/demo.js';
import { buildHttpServer } from './http/server.js';
import { createMetrics, type Metrics } from './http/metrics.js';
import { version } from './version.js';

/** The running process: store, HTTP and (as they land) telephony, SMS and agent workers. */
export interface App {
  config: Config;
  store: Store;
  http: FastifyInstance;
  metrics: Metrics;
  contexts: ContextService;
  /** Address the HTTP server listens on, once started. */
  url: string | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function openMigratedStore(config: Config, logger: Logger): Promise<Store> {
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, logger });
  try {
    const done = await migrateToLatest(store.db);
    for (const m of done) logger.info({ migration: m.migrationName }, 'migration applied');
  } catch (e) {
    await store.close();
    throw e;
  }
  return store;
}

/** Seeds the demo cleaning business when the store has no context yet. */
export async function seedDemoIfEmpty(contexts: ContextService, logger: Logger): Promise<boolean> {
  if ((await contexts.list()).length > 0) return false;
  await contexts.save(demoContext, 'system', 'demo context seeded on first start');
  logger.info({ context: demoContext.name }, 'seeded the demo context');
  return true;
}

export async function createApp(config: Config, logger: Logger): Promise<App> {
  const store = await openMigratedStore(config, logger);
  logger.info({ dialect: store.dialect, location: store.location }, 'store ready');
  const contexts = new ContextService(store.db);
  if (config.seedDemo) await seedDemoIfEmpty(contexts, logger);
  const metrics = createMetrics();
  const http = await buildHttpServer({ store, metrics, logger, version });

  const app: App = {
    config,
    store,
    http,
    metrics,
    contexts,
    url: undefined,
    async start() {
      app.url = await http.listen({ host: config.http.host, port: config.http.port });
      logger.info({ url: app.url, version }, 'frontdesk is up');
    },
    async stop() {
      await http.close();
      await store.close();
      logger.info('frontdesk stopped');
    },
  };
  return app;
}
