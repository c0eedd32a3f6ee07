import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Store } from '../store/db.js';
import type { Metrics } from './metrics.js';
import { ContextValidationError } from '../business/context/schema.js';
import { ContextNotFoundError } from '../business/context/service.js';
import type { Business } from '../business/index.js';
import { calendarRoutes } from './calendar.js';
import { smsWebhookRoutes } from './webhooks.js';
import swagger from '@fastify/swagger';
import fastifyStatic from '@fastify/static';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { adminRoutes, type LiveCalls } from './admin/routes.js';
import type { SmsService } from '../sms/service.js';
import cookie from '@fastify/cookie';
import { AdminAuth, adminCheck } from './admin/auth.js';
import { installGuards, type RouteEntry } from './guard.js';
import { upgradeAuthenticator } from './admin/upgrade-auth.js';
import type { LoginLimitOptions } from './admin/login-limits.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route as registered, with whether it skips admin authentication. */
    routeTable: RouteEntry[];
    /** Who opens a WebSocket on this server (the console's test call); undefined for nobody valid. */
    authenticateUpgrade: (req: import('node:http').IncomingMessage) => Promise<import('./admin/auth.js').AdminPrincipal | undefined>;
  }
}

export interface HttpDeps {
  store: Store;
  business?: Business;
  sms?: SmsService | undefined;
  publicUrl?: string;
  /** Calls in progress, for live control from the console. */
  live?: LiveCalls;
  metrics: Metrics;
  /** Reverse proxies whose X-Forwarded-For is believed (FRONTDESK_HTTP_TRUST_PROXY); none by default. */
  trustProxy?: string[];
  /** Login limits (defaults in http/admin/login-limits.ts). */
  loginLimits?: LoginLimitOptions;
  logger: Logger;
  version: string;
  /** The telephony backend's connection (Asterisk's ARI), when it has one: down → /health 503. */
  telephony?: () => { backend: string; up: boolean; detail: string } | undefined;
}

/** JSON error body used everywhere: { error, message, fields? }. */
export interface ErrorBody {
  error: string;
  message: string;
  fields?: { path: string; message: string }[];
}

export async function buildHttpServer(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ mod: 'http' }) as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    // Providers and load balancers keep connections open; don't let them delay shutdown.
    forceCloseConnections: 'idle',
    // req.ip is the client: the socket's address, or X-Forwarded-For from a listed proxy only.
    trustProxy: deps.trustProxy?.length ? deps.trustProxy : false,
  });
  const started = Date.now();
  // Before any route: the guards attach themselves to each route as it is registered.
  await app.register(cookie);
  const auth = new AdminAuth(deps.store.db);
  app.decorate('routeTable', installGuards(app, adminCheck(auth)));
  app.decorate('authenticateUpgrade', upgradeAuthenticator(app, auth, deps.publicUrl));

  app.addHook('onResponse', async (req, reply) => {
    deps.metrics.httpRequests.inc({
      method: req.method,
      route: req.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    });
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof ContextValidationError) {
      return reply.code(400).send({ error: 'invalid_context', message: 'the context has errors', fields: err.errors } satisfies ErrorBody);
    }
    if (err instanceof ContextNotFoundError) {
      return reply.code(404).send({ error: 'not_found', message: err.message } satisfies ErrorBody);
    }
    if (err.validation) {
      return reply.code(400).send({
        error: 'bad_request',
        message: err.message,
        fields: err.validation.map((v) => ({ path: v.instancePath || (v.params as { missingProperty?: string }).missingProperty || '(body)', message: v.message ?? 'invalid' })),
      } satisfies ErrorBody);
    }
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err }, 'request failed');
    return reply.code(status).send({
      error: status >= 500 ? 'internal_error' : (err.code ?? 'error').toLowerCase(),
      message: status >= 500 ? 'internal server error' : err.message,
    } satisfies ErrorBody);
  });

  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url}` } satisfies ErrorBody);
  });

  app.get('/health', async (_req, reply) => {
    const t0 = performance.now();
    const dbOk = await deps.store.ping(2_000);
    const tel = deps.telephony?.();
    // Calls cannot be taken while the PBX connection is down: that is unhealthy, not a detail.
    const ok = dbOk && (tel?.up ?? true);
    const body = {
      status: ok ? 'ok' : 'unhealthy',
      version: deps.version,
      uptime_s: Math.round((Date.now() - started) / 1000),
      checks: {
        database: { ok: dbOk, dialect: deps.store.dialect, latency_ms: Math.round(performance.now() - t0) },
        ...(tel ? { telephony: { ok: tel.up, backend: tel.backend, detail: tel.detail } } : {}),
      },
    };
    return reply.code(ok ? 200 : 503).send(body);
  });

  app.get('/metrics', async (_req, reply) => {
    const tel = deps.telephony?.();
    if (tel) deps.metrics.telephonyUp.set({ backend: tel.backend }, tel.up ? 1 : 0);
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'frontdesk admin API', version: deps.version, description: 'Session cookie + X-CSRF-Token, or Authorization: Bearer <API token>.' },
      components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' }, session: { type: 'apiKey', in: 'cookie', name: 'fd_session' } } },
    },
  });
  app.get('/api/docs/openapi.json', { schema: { hide: true }, config: { public: true } /* the API's shape, no data */ }, async () => app.swagger());
  if (deps.business) {
    await calendarRoutes(app, deps.business);
    await adminRoutes(app, {
      db: deps.store.db, business: deps.business, live: deps.live ?? { list: () => [], get: () => undefined },
      secureCookies: (deps.publicUrl ?? '').startsWith('https:'), auth,
      ...(deps.loginLimits ? { loginLimits: deps.loginLimits } : {}),
    });
  }
  // The admin console, when built (npm start builds it; tests build it once).
  const webDist = fileURLToPath(new URL('../../web/dist/', import.meta.url));
  if (existsSync(webDist)) await app.register(fastifyStatic, { root: webDist, prefix: '/', index: 'index.html' });
  if (deps.sms) await smsWebhookRoutes(app, deps.sms, deps.publicUrl ?? 'http://localhost');

  return app;
}
