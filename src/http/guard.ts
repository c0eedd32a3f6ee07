import type { FastifyInstance, FastifyRequest, RouteOptions, onRequestHookHandler } from 'fastify';
import type { ErrorBody } from './server.js';

/**
 * Two guards every route gets by construction, installed before any route is registered:
 *
 * - Authentication as a route-level hook. Every route whose path starts with /api gets the admin
 *   check attached to the route itself when it is registered (onRoute), so it runs on whatever the
 *   router matched, however the URL was spelled (`/%61pi/…`, absolute form, dot segments). A route
 *   opts out only by saying `config: { public: true }`.
 * - Text that Postgres cannot store or that is not what the sender meant (NUL, invalid UTF-8, lone
 *   surrogates) in the URL, query, params or a JSON body is a 400 before any handler sees it.
 */

declare module 'fastify' {
  interface FastifyContextConfig {
    /** No admin authentication on this /api route (login, API docs). Say why where it is set. */
    public?: boolean;
  }
}

export interface RouteEntry {
  method: string;
  url: string;
  public: boolean;
}

/** Installs both guards; returns the route table as fastify registered it (for tests and docs). */
export function installGuards(app: FastifyInstance, authenticate: onRequestHookHandler): RouteEntry[] {
  const table: RouteEntry[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const isPublic = route.config?.public === true || !isAdminPath(route.url);
    for (const m of [route.method].flat()) table.push({ method: m, url: route.url, public: isPublic });
    if (isPublic) return;
    // Ours first: nothing the route adds may run before the caller is known.
    const own = route.onRequest ? [route.onRequest].flat() : [];
    route.onRequest = [authenticate, ...own];
  });

  app.addHook('onRequest', async (req, reply) => {
    const bad = badUrl(req.url);
    if (bad) return reply.code(400).send({ error: 'bad_request', message: bad } satisfies ErrorBody);
  });
  app.addHook('preValidation', async (req, reply) => {
    const where = badText(req.params, 'path') ?? badText(req.query, 'query') ?? (Buffer.isBuffer(req.body) ? undefined : badText(req.body, 'body'));
    if (where) return reply.code(400).send({ error: 'bad_request', message: `${where} contains a NUL byte or text that is not valid UTF-8` } satisfies ErrorBody);
  });
  // JSON bodies: refuse invalid UTF-8 instead of letting the decoder turn it into U+FFFD; the
  // parsing itself stays fastify's (prototype-poisoning checks included).
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req: FastifyRequest, body: Buffer, done) => {
    if (!isUtf8(body)) return done(httpError(400, 'FST_ERR_CTP_INVALID_UTF8', 'the body is not valid UTF-8'), undefined);
    json(req, body.toString('utf8'), done);
  });
  return table;
}

/** /api and below, as the router would match it (it is case-sensitive and matches exact segments). */
function isAdminPath(url: string): boolean {
  return url === '/api' || url.startsWith('/api/');
}

export const isUtf8 = (b: Buffer) => {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
};

function httpError(statusCode: number, code: string, message: string): Error {
  return Object.assign(new Error(message), { statusCode, code });
}

/** The raw request target: every %-escape must decode to well-formed UTF-8 without NUL. */
export function badUrl(url: string): string | undefined {
  if (url.includes('\0')) return 'the URL contains a NUL byte';
  // Only the escapes matter; '+' and the rest are the router's and the query parser's business.
  const escapes = url.match(/(?:%[0-9a-fA-F]{2})+/g);
  if (/%(?![0-9a-fA-F]{2})/.test(url)) return 'the URL has a malformed %-escape';
  for (const e of escapes ?? []) {
    let s: string;
    try {
      s = decodeURIComponent(e);
    } catch {
      return 'the URL is not valid UTF-8';
    }
    if (s.includes('\0')) return 'the URL contains a NUL byte';
  }
  return undefined;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The first place in a parsed value holding NUL or a lone surrogate, or undefined. */
export function badText(v: unknown, where: string, depth = 0): string | undefined {
  if (typeof v === 'string') return v.includes('\0') || LONE_SURROGATE.test(v) ? where : undefined;
  if (v === null || typeof v !== 'object' || depth > 32) return undefined;
  for (const [k, x] of Object.entries(v)) {
    const r = badText(k, where, depth + 1) ?? badText(x, `${where}.${k}`, depth + 1);
    if (r) return r;
  }
  return undefined;
}
