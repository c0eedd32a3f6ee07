import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AdminAuth, AdminPrincipal } from './auth.js';

/**
 * Who is opening a WebSocket (the console's test call): the same session cookie or API token as
 * every /api route. A browser always sends Origin on a WebSocket and a cookie rides along from any
 * page, so a cookie session must come from our own origin (no cross-site WebSocket hijacking).
 */
export function upgradeAuthenticator(app: FastifyInstance, auth: AdminAuth, publicUrl?: string): (req: IncomingMessage) => Promise<AdminPrincipal | undefined> {
  const ours = publicUrl ? new URL(publicUrl).origin : undefined;
  return async (req) => {
    const cookies = req.headers.cookie ? app.parseCookie(req.headers.cookie) : {};
    const p = await auth.authenticate({ headers: req.headers, cookies } as unknown as FastifyRequest);
    if (!p) return undefined;
    if (p.via === 'session') {
      const origin = req.headers.origin;
      const host = req.headers.host;
      const same = !!origin && (origin === ours || (!!host && (origin === `http://${host}` || origin === `https://${host}`)));
      if (!same) return undefined;
    }
    return p;
  };
}
