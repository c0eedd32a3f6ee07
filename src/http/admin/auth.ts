import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Db } from '../../store/db.js';
import { audit } from '../../store/audit.js';
import { hashPassword, verifyPassword } from './users.js';

/**
 * Admin authentication: password login → an opaque session cookie (httpOnly, SameSite=Strict,
 * Secure over https) with a CSRF token that cookie-authenticated writes must echo in
 * X-CSRF-Token; API tokens (Bearer, hashed at rest) for scripts. Login limits: login-limits.ts.
 */

export const authDefaults = {
  sessionHours: 12,
  cookie: 'fd_session',
} as const;

export interface AdminPrincipal {
  userId: string;
  username: string;
  role: 'admin' | 'viewer';
  via: 'session' | 'token';
  csrf?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    admin?: AdminPrincipal;
  }
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const sameString = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

export class LoginError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

// A hash to compare against when the user does not exist, so timing does not reveal usernames.
let dummyHash: Promise<string> | undefined;

export class AdminAuth {
  constructor(private readonly db: Db, private readonly opts = authDefaults) {}

  /**
   * Checks a password. Known and unknown usernames take the same path (an argon2 verify, one audit
   * row) and get the same answer; the limits and the delay are login-limits.ts's.
   */
  async login(username: string, password: string, from?: string): Promise<{ token: string; csrf: string; principal: AdminPrincipal }> {
    const user = await this.db.selectFrom('admin_users').selectAll().where('username', '=', username).executeTakeFirst();
    dummyHash ??= hashPassword('not the password');
    const ok = await verifyPassword(user ? user.password_hash : await dummyHash, password) && !!user;
    if (!ok || !user) {
      await audit(this.db, { actor: username, action: 'admin.login_failed', targetType: 'admin_user', targetId: username, details: { from } });
      throw new LoginError('wrong username or password', 401);
    }
    const token = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    await this.db.insertInto('admin_sessions').values({
      id: sha256(token), user_id: user.id, csrf_token: csrf,
      expires_at: new Date(Date.now() + this.opts.sessionHours * 3_600_000), last_seen_at: new Date(),
    }).execute();
    await this.db.updateTable('admin_users').set({ last_login_at: new Date() }).where('id', '=', user.id).execute();
    await audit(this.db, { actor: username, action: 'admin.login', targetType: 'admin_user', targetId: username, details: { from } });
    return { token, csrf, principal: { userId: user.id, username: user.username, role: user.role, via: 'session', csrf } };
  }

  async logout(token: string): Promise<void> {
    await this.db.deleteFrom('admin_sessions').where('id', '=', sha256(token)).execute();
  }

  async createToken(userId: string, name: string, actor: string): Promise<string> {
    const token = `fdt_${randomBytes(30).toString('base64url')}`;
    await this.db.insertInto('api_tokens').values({ user_id: userId, name, token_hash: sha256(token) }).execute();
    await audit(this.db, { actor, action: 'api_token.create', targetType: 'api_token', targetId: name });
    return token;
  }

  /** Who is calling, from a session cookie or a Bearer token; undefined when nobody valid. */
  async authenticate(req: FastifyRequest): Promise<AdminPrincipal | undefined> {
    const bearer = /^Bearer (fdt_[A-Za-z0-9_-]{20,})$/.exec(req.headers.authorization ?? '')?.[1];
    if (bearer) {
      const row = await this.db.selectFrom('api_tokens').innerJoin('admin_users', 'admin_users.id', 'api_tokens.user_id')
        .select(['admin_users.id', 'admin_users.username', 'admin_users.role', 'api_tokens.id as token_id'])
        .where('api_tokens.token_hash', '=', sha256(bearer)).where('api_tokens.revoked_at', 'is', null).executeTakeFirst();
      if (!row) return undefined;
      void this.db.updateTable('api_tokens').set({ last_used_at: new Date() }).where('id', '=', row.token_id).execute().catch(() => {});
      return { userId: row.id, username: row.username, role: row.role, via: 'token' };
    }
    const cookie = req.cookies?.[this.opts.cookie];
    if (!cookie) return undefined;
    const row = await this.db.selectFrom('admin_sessions').innerJoin('admin_users', 'admin_users.id', 'admin_sessions.user_id')
      .select(['admin_users.id', 'admin_users.username', 'admin_users.role', 'admin_sessions.csrf_token', 'admin_sessions.expires_at'])
      .where('admin_sessions.id', '=', sha256(cookie)).executeTakeFirst();
    if (!row || row.expires_at.getTime() < Date.now()) return undefined;
    return { userId: row.id, username: row.username, role: row.role, via: 'session', csrf: row.csrf_token };
  }

  /** Cookie-authenticated writes must carry the session's CSRF token. */
  csrfOk(req: FastifyRequest, p: AdminPrincipal): boolean {
    if (p.via === 'token' || ['GET', 'HEAD', 'OPTIONS'].includes(req.method)) return true;
    const sent = req.headers['x-csrf-token'];
    return typeof sent === 'string' && !!p.csrf && sameString(sent, p.csrf);
  }

  setCookie(reply: FastifyReply, token: string, secure: boolean): void {
    reply.setCookie(this.opts.cookie, token, {
      httpOnly: true, sameSite: 'strict', secure, path: '/', maxAge: this.opts.sessionHours * 3600,
    });
  }
}

/**
 * The check every non-public /api route carries (attached per route by http/guard.ts): who is
 * calling, the CSRF token for cookie writes, and viewers only reading.
 */
export function adminCheck(auth: AdminAuth): onRequestHookHandler {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const p = await auth.authenticate(req);
    if (!p) return reply.code(401).send({ error: 'unauthorized', message: 'log in or send an API token' });
    if (!auth.csrfOk(req, p)) return reply.code(403).send({ error: 'forbidden', message: 'missing or wrong X-CSRF-Token' });
    if (p.role === 'viewer' && req.method !== 'GET' && req.method !== 'HEAD') return reply.code(403).send({ error: 'forbidden', message: 'viewers cannot change anything' });
    req.admin = p;
  };
}
