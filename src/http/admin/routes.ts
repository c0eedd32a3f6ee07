import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createReadStream, existsSync } from 'node:fs';
import send from '@fastify/send';
import { DateTime } from 'luxon';
import type { Business } from '../../business/index.js';
import type { Db } from '../../store/db.js';
import { audit } from '../../store/audit.js';
import { route } from '../../business/routing.js';
import { enqueue } from '../../business/outbox.js';
import { QuoteError } from '../../business/quotes.js';
import { SlotUnavailableError, AppointmentNotFoundError } from '../../business/scheduling/service.js';
import { toE164 } from '../../util/phone.js';
import type { Call } from '../../telephony/call.js';
import { type AdminAuth, LoginError } from './auth.js';
import { loginLimiter, type LoginLimitOptions } from './login-limits.js';
import { LiveFeed } from './live-feed.js';
import { auditPinChange, ownerLineRoutes, OwnerPinInputError, redactContext, redactDiff, withOwnerPin } from './owner-line.js';

/** Where "put through" sends a call: the first owner target of its context. */
export async function ownerTarget(business: Business, callId: string): Promise<{ value: string; ringSeconds: number } | undefined> {
  const rec = await business.calls.get(callId);
  const ctx = rec?.context_id ? await business.contexts.getById(rec.context_id) : undefined;
  return ctx?.document.owner.targets[0];
}

/** The admin REST API under /api: what the console uses and scripts may call with a token. */

export interface LiveCalls {
  list(): { id: string; call: Call }[];
  get(id: string): Call | undefined;
  /** This process's node id: a call record owned by another node is that node's to control. */
  nodeId?: string;
  /** Asks the owning node to act on its call (cluster/control.ts); absent: one node, no peers. */
  remote?(node: string, op: 'hangup' | 'transfer', callId: string, requestedBy: string): Promise<{ status: 'ok' | 'not_live' | 'failed'; result?: unknown; error?: string }>;
  /** The nodes sharing the store (cluster/registry.ts). */
  nodes?(): Promise<unknown[]>;
  dial?(to: string, contextName?: string, purpose?: { purpose: 'reminder' | 'callback'; appointmentId?: string }, requestedBy?: string): Promise<{ id: string }>;
  /** Click-to-call: rings the owner's phone, then the customer, and joins them (agent/call/connect.ts). */
  connect?(to: string, contextName: string | undefined, requestedBy: string): Promise<{ id: string; owner: string }>;
}

export interface AdminDeps {
  db: Db;
  business: Business;
  live: LiveCalls;
  secureCookies: boolean;
  /** The one authenticator; http/guard.ts runs its check on every non-public /api route. */
  auth: AdminAuth;
  loginLimits?: LoginLimitOptions;
}

const idParam = { type: 'object', properties: { id: { type: 'string', format: 'uuid' } }, required: ['id'] } as const;
const nameParam = { type: 'object', properties: { name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' } }, required: ['name'] } as const;

/** A WAV file with its length and Range requests answered, so the player shows the duration and can seek. */
async function sendWav(req: FastifyRequest, reply: FastifyReply, path: string) {
  const r = await send(req.raw, path, { dotfiles: 'allow', cacheControl: false });
  if (r.type === 'error') return reply.code(r.statusCode).send({ error: 'not_found', message: 'no recording' });
  return reply.code(r.statusCode).headers({ ...r.headers, 'content-type': 'audio/wav' }).send(r.stream);
}

export async function adminRoutes(app: FastifyInstance, d: AdminDeps): Promise<void> {
  const auth = d.auth;
  const limits = await loginLimiter(app, d.db, d.loginLimits);
  const who = (req: FastifyRequest) => req.admin!.username;

  // ---- auth -------------------------------------------------------------------------------------
  app.post<{ Body: { username: string; password: string } }>('/api/auth/login', {
    config: { public: true }, // how one gets a session
    schema: { tags: ['auth'], body: { type: 'object', required: ['username', 'password'], properties: { username: { type: 'string', minLength: 1, maxLength: 64 }, password: { type: 'string', minLength: 1, maxLength: 200 } } } },
  }, async (req, reply) => {
    const gate = await limits.admit(req, req.body.username);
    if (!gate.ok) {
      req.log.warn({ ip: req.ip, username: req.body.username }, 'login refused: too many attempts');
      return reply.code(429).header('retry-after', String(gate.retryAfterS))
        .send({ error: 'rate_limited', message: `too many login attempts from this address; try again in ${gate.retryAfterS} s` });
    }
    try {
      const s = await auth.login(req.body.username, req.body.password, req.ip);
      await limits.succeeded(req, req.body.username);
      auth.setCookie(reply, s.token, d.secureCookies);
      return { username: s.principal.username, role: s.principal.role, csrfToken: s.csrf };
    } catch (e) {
      if (!(e instanceof LoginError)) throw e;
      await limits.failed(req.body.username);
      return reply.code(e.status).send({ error: 'unauthorized', message: e.message });
    }
  });
  app.post('/api/auth/logout', { schema: { tags: ['auth'] } }, async (req, reply) => {
    const c = req.cookies?.fd_session;
    if (c) await auth.logout(c);
    reply.clearCookie('fd_session', { path: '/' });
    return { ok: true };
  });
  app.get('/api/auth/me', { schema: { tags: ['auth'] } }, async (req) => ({ username: req.admin!.username, role: req.admin!.role, csrfToken: req.admin!.csrf ?? null }));
  app.post<{ Body: { name: string } }>('/api/tokens', {
    schema: { tags: ['auth'], body: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 80 } } } },
  }, async (req) => ({ token: await auth.createToken(req.admin!.userId, req.body.name, who(req)) }));

  // ---- contexts ---------------------------------------------------------------------------------
  app.get('/api/contexts', { schema: { tags: ['contexts'] } }, async () =>
    (await d.business.contexts.list()).map((c) => ({ name: c.name, displayName: c.document.displayName, version: c.version, numbers: c.document.numbers, default: c.document.default, timezone: c.document.timezone })));
  app.get<{ Params: { name: string } }>('/api/contexts/:name', { schema: { tags: ['contexts'], params: nameParam } }, async (req) => {
    const c = await d.business.contexts.get(req.params.name);
    return { name: c.name, version: c.version, updatedAt: c.updatedAt, document: redactContext(c.document), ownerPinSet: !!c.document.owner.pinHash };
  });
  app.put<{ Params: { name: string }; Body: Record<string, unknown> & { message?: string } }>('/api/contexts/:name', {
    schema: { tags: ['contexts'], params: nameParam, body: { type: 'object' } },
  }, async (req, reply) => {
    const { message, ownerPin, ...body } = req.body;
    if (body.name !== undefined && body.name !== req.params.name) {
      return reply.code(400).send({ error: 'invalid_context', message: 'the context has errors', fields: [{ path: 'name', message: `must be "${req.params.name}" (the URL's name)` }] });
    }
    const current = await d.business.contexts.find(req.params.name);
    let doc: Record<string, unknown>;
    let pinChanged: 'set' | 'cleared' | undefined;
    try {
      ({ doc, pinChanged } = await withOwnerPin(body, ownerPin, current?.document));
    } catch (e) {
      if (!(e instanceof OwnerPinInputError)) throw e;
      return reply.code(400).send({ error: 'invalid_context', message: 'the context has errors', fields: [{ path: 'owner.pin', message: e.message }] });
    }
    const saved = await d.business.contexts.save({ ...doc, name: req.params.name }, who(req), typeof message === 'string' ? message : undefined);
    if (pinChanged) await auditPinChange(d.db, who(req), saved.id, pinChanged);
    return { name: saved.name, version: saved.version, document: redactContext(saved.document), ownerPinSet: !!saved.document.owner.pinHash };
  });
  app.get<{ Params: { name: string } }>('/api/contexts/:name/history', { schema: { tags: ['contexts'], params: nameParam } }, async (req) =>
    (await d.business.contexts.history(req.params.name)).map((h) => ({ version: h.version, author: h.author, message: h.message, createdAt: h.createdAt, diff: redactDiff(h.diff) })));
  ownerLineRoutes(app, d);
  app.post<{ Params: { name: string }; Body: { version: number } }>('/api/contexts/:name/rollback', {
    schema: { tags: ['contexts'], params: nameParam, body: { type: 'object', required: ['version'], properties: { version: { type: 'integer', minimum: 1 } } } },
  }, async (req) => {
    const c = await d.business.contexts.rollback(req.params.name, req.body.version, who(req));
    return { name: c.name, version: c.version };
  });
  /** "What happens if +1… calls now?" — the routing preview. */
  app.get<{ Params: { name: string }; Querystring: { caller?: string; at?: string } }>('/api/contexts/:name/status', {
    schema: { tags: ['contexts'], params: nameParam, querystring: { type: 'object', properties: { caller: { type: 'string', maxLength: 32 }, at: { type: 'string', maxLength: 40, description: 'ISO time; without an offset it is read in the context\'s time zone' } } } },
  }, async (req, reply) => {
    const c = await d.business.contexts.get(req.params.name);
    const at = req.query.at ? DateTime.fromISO(req.query.at, { zone: c.document.timezone }) : DateTime.fromJSDate(d.business.now());
    if (!at.isValid) return reply.code(400).send({ error: 'bad_request', message: 'at is not a time', fields: [{ path: 'at', message: 'must be an ISO date-time' }] });
    const r = route(c.document, toE164(req.query.caller) ?? req.query.caller, at);
    return { open: r.open, action: r.action, reason: r.reason, greeting: r.greeting, nextChange: r.state.nextChange?.toISO() ?? null, vip: r.vip };
  });

  // ---- calls ------------------------------------------------------------------------------------
  app.get<{ Querystring: { limit?: number; context?: string; caller?: string; outcome?: string; since?: string } }>('/api/calls', {
    schema: {
      tags: ['calls'],
      querystring: {
        type: 'object',
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: 500 },
          context: { type: 'string' },
          caller: { type: 'string', maxLength: 32, description: 'part of the caller number' },
          outcome: { type: 'string', enum: ['booked', 'quote', 'message', 'transferred', 'voicemail', 'missed', 'spam', 'question', 'outbound', 'live'] },
          since: { type: 'string', format: 'date-time' },
        },
      },
    },
  }, async (req) => {
    let q = d.db.selectFrom('calls').leftJoin('contexts', 'contexts.id', 'calls.context_id')
      .select(['calls.id', 'calls.direction', 'calls.from_number', 'calls.to_number', 'calls.state', 'calls.started_at', 'calls.ended_at', 'calls.disposition', 'calls.summary', 'calls.tag', 'calls.customer_id', 'calls.node_id as node', 'contexts.name as context'])
      .orderBy('calls.started_at', 'desc').limit(req.query.limit ?? 50);
    if (req.query.context) q = q.where('contexts.name', '=', req.query.context);
    // "512-555-0142", "(512) 555 0142" and "+1 512…" all find +15125550142: match on the digits.
    const digits = req.query.caller?.replace(/\D/g, '');
    if (digits) q = q.where('calls.from_number', 'like', `%${digits}%`);
    if (req.query.since) q = q.where('calls.started_at', '>=', new Date(req.query.since));
    switch (req.query.outcome) {
      case 'voicemail': q = q.where('calls.disposition', '=', 'voicemail'); break;
      case 'live': q = q.where('calls.state', '!=', 'ended'); break;
      // The rest are the tags written when each call ended (agent/call-summary.ts).
      case undefined: break;
      default: { const tag = req.query.outcome; q = q.where('calls.tag', '=', tag); }
    }
    const rows = await q.execute();
    const live = new Set(d.live.list().map((l) => l.id));
    // Another node's open call is live there (a dead node's calls are ended by the survivors).
    return rows.map((r) => ({ ...r, live: live.has(r.id) || (r.state !== 'ended' && !!r.node && r.node !== d.live.nodeId && !!d.live.remote) }));
  });
  /** How fast the agent answers: end of the caller's speech → first audio out, over recent turns. */
  app.get<{ Querystring: { hours?: number } }>('/api/stats/turn-latency', {
    schema: { tags: ['calls'], querystring: { type: 'object', properties: { hours: { type: 'integer', minimum: 1, maximum: 24 * 90 } } } },
  }, async (req) => {
    const since = new Date(Date.now() - (req.query.hours ?? 24) * 3600_000);
    const rows = await d.db.selectFrom('call_events').select('data').where('kind', '=', 'latency').where('at', '>=', since).limit(20_000).execute();
    const totals = rows.map((r) => { const l = r.data as { totalMs?: number; fromSpeechEndMs?: number } | null; return l?.fromSpeechEndMs ?? l?.totalMs; })
      .filter((v): v is number => typeof v === 'number').sort((a, b) => a - b);
    const pct = (p: number) => (totals.length ? totals[Math.min(totals.length - 1, Math.ceil((p / 100) * totals.length) - 1)]! : null);
    return { turns: totals.length, p50Ms: pct(50), p95Ms: pct(95), since: since.toISOString() };
  });
  app.get<{ Params: { id: string } }>('/api/calls/:id', { schema: { tags: ['calls'], params: idParam } }, async (req, reply) => {
    const call = await d.business.calls.get(req.params.id);
    if (!call) return reply.code(404).send({ error: 'not_found', message: 'no such call' });
    // A call in progress: its media quality so far; an ended one: what was stored when it ended.
    const quality = d.live.get(req.params.id)?.quality?.() ?? call.quality;
    return { ...call, quality: quality ?? null, events: await d.business.calls.events(req.params.id) };
  });
  app.get<{ Params: { id: string } }>('/api/calls/:id/recording', { schema: { tags: ['calls'], params: idParam } }, async (req, reply) => {
    const call = await d.business.calls.get(req.params.id);
    const path = call?.recording_path;
    // Recordings made by a PBX live on the PBX; the ones frontdesk made are WAV files it can serve.
    if (!path || !path.endsWith('.wav') || !existsSync(path)) return reply.code(404).send({ error: 'not_found', message: 'no recording on this server' });
    return sendWav(req, reply, path);
  });
  /** The live node that holds a call this process does not: undefined when nobody does. */
  async function ownerNode(id: string): Promise<string | undefined> {
    if (!d.live.remote) return undefined;
    const rec = await d.business.calls.get(id);
    if (!rec || rec.state === 'ended' || !rec.node_id || rec.node_id === d.live.nodeId) return undefined;
    return rec.node_id;
  }
  /** Asks the owning node; its reply (or its silence) is answered here. */
  async function onOwner(node: string, id: string, op: 'hangup' | 'transfer', req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    try {
      const r = await d.live.remote!(node, op, id, who(req));
      if (r.status === 'not_live') return reply.code(409).send({ error: 'not_live', message: 'that call is not in progress' });
      if (r.status === 'failed') return reply.code(502).send({ error: 'failed', message: r.error ?? `node ${node} could not do it` });
      return r.result ?? { ok: true };
    } catch (e) {
      return reply.code(504).send({ error: 'node_unreachable', message: (e as Error).message });
    }
  }
  app.post<{ Params: { id: string } }>('/api/calls/:id/hangup', { schema: { tags: ['calls'], params: idParam } }, async (req, reply) => {
    const call = d.live.get(req.params.id);
    const node = call ? undefined : await ownerNode(req.params.id);
    if (!call && !node) return reply.code(409).send({ error: 'not_live', message: 'that call is not in progress' });
    await audit(d.db, { actor: who(req), action: 'call.hangup', targetType: 'call', targetId: req.params.id, ...(node ? { details: { node } } : {}) });
    if (node) return onOwner(node, req.params.id, 'hangup', req, reply);
    await call!.hangup('admin_hangup');
    return { ok: true };
  });
  app.post<{ Params: { id: string } }>('/api/calls/:id/transfer', { schema: { tags: ['calls'], params: idParam } }, async (req, reply) => {
    const call = d.live.get(req.params.id);
    const node = call ? undefined : await ownerNode(req.params.id);
    if (!call && !node) return reply.code(409).send({ error: 'not_live', message: 'that call is not in progress' });
    const target = await ownerTarget(d.business, req.params.id);
    if (!target) return reply.code(409).send({ error: 'no_target', message: 'the context has no owner target' });
    await audit(d.db, { actor: who(req), action: 'call.transfer', targetType: 'call', targetId: req.params.id, details: { to: target.value, ...(node ? { node } : {}) } });
    if (node) return onOwner(node, req.params.id, 'transfer', req, reply);
    return call!.transfer({ uri: target.value, mode: 'blind', ringSeconds: target.ringSeconds, requestedBy: who(req) });
  });
  app.get('/api/nodes', { schema: { tags: ['calls'], description: 'The frontdesk nodes sharing this database: state, calls in progress, capacity, heartbeat.' } }, async () => ({
    nodes: d.live.nodes ? await d.live.nodes() : [],
    self: d.live.nodeId ?? null,
  }));
  app.post<{ Body: { to: string; context?: string; purpose?: 'reminder' | 'callback'; appointment?: string } }>('/api/calls/outbound', {
    schema: {
      tags: ['calls'],
      description: 'Without a purpose the call is connected for live control; with one the agent speaks first (a visit reminder, or returning a call) and holds the conversation.',
      body: {
        type: 'object', required: ['to'],
        properties: {
          to: { type: 'string', maxLength: 32 }, context: { type: 'string' },
          purpose: { type: 'string', enum: ['reminder', 'callback'] }, appointment: { type: 'string', format: 'uuid' },
        },
      },
    },
  }, async (req, reply) => {
    if (!d.live.dial) return reply.code(409).send({ error: 'no_telephony', message: 'no telephony backend is running' });
    if (req.body.purpose === 'reminder' && !req.body.appointment) {
      return reply.code(400).send({ error: 'bad_request', message: 'a reminder call needs the appointment', fields: [{ path: 'appointment', message: 'required for a reminder' }] });
    }
    try {
      const r = await d.live.dial(req.body.to, req.body.context, req.body.purpose ? { purpose: req.body.purpose, ...(req.body.appointment ? { appointmentId: req.body.appointment } : {}) } : undefined, who(req));
      await audit(d.db, { actor: who(req), action: 'call.outbound', targetType: 'phone', targetId: req.body.to });
      return r;
    } catch (e) {
      return reply.code(422).send({ error: 'dial_failed', message: (e as Error).message });
    }
  });

  app.post<{ Body: { to: string; context?: string } }>('/api/calls/connect', {
    schema: {
      tags: ['calls'],
      description: 'Click-to-call: rings the owner\'s phone (the first owner target) and, once they answer, the customer, and joins them. Progress arrives as the call\'s state events.',
      body: { type: 'object', required: ['to'], properties: { to: { type: 'string', minLength: 1, maxLength: 32 }, context: { type: 'string' } } },
    },
  }, async (req, reply) => {
    if (!d.live.connect) return reply.code(409).send({ error: 'no_telephony', message: 'Calls cannot be placed: no phone line (telephony backend) is set up.' });
    try {
      const r = await d.live.connect(req.body.to, req.body.context, who(req));
      await audit(d.db, { actor: who(req), action: 'call.connect', targetType: 'phone', targetId: req.body.to, details: { call: r.id } });
      return r;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'no_telephony') return reply.code(409).send({ error: code, message: (e as Error).message });
      if (code === 'no_owner_phone' || code === 'bad_number') {
        return reply.code(code === 'bad_number' ? 400 : 409).send({ error: code, message: (e as Error).message, fields: [{ path: 'to', message: (e as Error).message }] });
      }
      throw e;
    }
  });

  // ---- live -------------------------------------------------------------------------------------
  const feed = new LiveFeed(d.db);
  const streams = new Set<import('node:http').ServerResponse>();
  // Open streams would hold the server open on shutdown: end them first.
  app.addHook('preClose', async () => {
    feed.stop();
    for (const s of streams) s.end();
  });
  /** Server-sent events for the console: calls, transcript lines, texts, voicemails, bookings. */
  app.get('/api/events', { schema: { tags: ['calls'], description: 'text/event-stream of {type: call | call_event | text | voicemail | booking, …}' } }, async (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 3000\n\n');
    streams.add(res);
    // The watcher may be gone by the time the feed answers.
    const send = (chunk: string) => { if (!res.destroyed && !res.writableEnded) res.write(chunk); };
    const off = feed.subscribe((e) => send(`data: ${JSON.stringify(e)}\n\n`), () => send('event: ready\ndata: {}\n\n'));
    // A comment now and then keeps proxies from closing a quiet stream.
    const ping = setInterval(() => send(': ping\n\n'), 25_000);
    res.on('close', () => {
      clearInterval(ping);
      streams.delete(res);
      off();
    });
  });

  // ---- texts ------------------------------------------------------------------------------------
  app.post<{ Body: { to?: string; text: string; context?: string; thread?: string } }>('/api/sms', {
    schema: {
      tags: ['sms'],
      description: 'Texts `to` from the context\'s first number, or replies in `thread` from the number it is on. Refused (409 opted_out) when the customer texted STOP.',
      body: { type: 'object', required: ['text'], properties: { to: { type: 'string', maxLength: 32 }, text: { type: 'string', minLength: 1, maxLength: 1600 }, context: { type: 'string' }, thread: { type: 'string', format: 'uuid' } } },
    },
  }, async (req, reply) => {
    const thread = req.body.thread
      ? await d.db.selectFrom('sms_threads').select(['id', 'context_id', 'business_number', 'customer_number']).where('id', '=', req.body.thread).executeTakeFirst()
      : undefined;
    if (req.body.thread && !thread) return reply.code(404).send({ error: 'not_found', message: 'no such conversation' });
    const to = thread?.customer_number ?? toE164(req.body.to);
    if (!to) return reply.code(400).send({ error: 'bad_request', message: 'that is not a phone number', fields: [{ path: 'to', message: 'Enter a phone number, like (512) 555-0142.' }] });
    const contexts = await d.business.contexts.list();
    const ctx = thread
      ? contexts.find((c) => c.id === thread.context_id) ?? contexts.find((c) => c.document.numbers.includes(thread.business_number))
      : req.body.context ? await d.business.contexts.get(req.body.context) : contexts.find((c) => c.document.default);
    const from = thread?.business_number ?? ctx?.document.numbers[0];
    if (!ctx || !from) return reply.code(409).send({ error: 'no_number', message: 'the context has no number to text from' });
    // The outbox would drop it silently; say so now, before the owner thinks it went.
    const stopped = await d.db.selectFrom('sms_threads').select('opted_out_at').where('business_number', '=', from).where('customer_number', '=', to).executeTakeFirst();
    if (stopped?.opted_out_at) {
      return reply.code(409).send({ error: 'opted_out', message: `${to} texted STOP, so they cannot be texted until they text START.`, fields: [{ path: 'to', message: 'This customer opted out of texts (STOP).' }] });
    }
    const key = `admin_sms:${req.admin!.userId}:${Date.now()}:${to}`;
    await enqueue(d.db, { contextId: ctx.id, channel: 'sms', purpose: 'admin_sms', recipient: to, payload: { text: req.body.text, from }, dedupeKey: key, now: d.business.now() });
    await audit(d.db, { actor: who(req), action: 'sms.send', targetType: 'phone', targetId: to });
    return reply.code(202).send({ queued: true, to, from });
  });
  /** Conversations, newest first, with the customer's name, the last text and how many are unread. */
  app.get('/api/sms/threads', { schema: { tags: ['sms'] } }, async () =>
    d.db.selectFrom('sms_threads').leftJoin('customers', 'customers.id', 'sms_threads.customer_id')
      .select((eb) => [
        'sms_threads.id', 'sms_threads.business_number', 'sms_threads.customer_number', 'sms_threads.customer_id', 'customers.name as customer_name',
        'sms_threads.opted_out_at', 'sms_threads.last_message_at', 'sms_threads.owner_read_at',
        eb.selectFrom('sms_messages').select('body').whereRef('sms_messages.thread_id', '=', 'sms_threads.id').orderBy('created_at', 'desc').limit(1).as('last_body'),
        eb.selectFrom('sms_messages').select((e) => e.fn.countAll<string>().as('n')).whereRef('sms_messages.thread_id', '=', 'sms_threads.id')
          .where('direction', '=', 'inbound')
          .where((e) => e.or([e('sms_threads.owner_read_at', 'is', null), e('sms_messages.created_at', '>', e.ref('sms_threads.owner_read_at'))]))
          .as('unread'),
      ])
      .orderBy('sms_threads.last_message_at', 'desc').limit(200).execute()
      .then((rows) => rows.map((r) => ({ ...r, unread: Number(r.unread ?? 0) }))));
  app.get<{ Params: { id: string } }>('/api/sms/threads/:id', { schema: { tags: ['sms'], params: idParam } }, async (req) =>
    d.db.selectFrom('sms_messages').select(['id', 'direction', 'body', 'status', 'created_at']).where('thread_id', '=', req.params.id).orderBy('created_at').execute());
  app.post<{ Params: { id: string } }>('/api/sms/threads/:id/read', { schema: { tags: ['sms'], params: idParam } }, async (req, reply) => {
    const r = await d.db.updateTable('sms_threads').set({ owner_read_at: d.business.now() }).where('id', '=', req.params.id).returning('id').executeTakeFirst();
    return r ? { ok: true } : reply.code(404).send({ error: 'not_found', message: 'no such conversation' });
  });

  // ---- scheduling, customers, voicemails --------------------------------------------------------
  app.get<{ Querystring: { context: string; service: string; from?: string; to?: string; units?: number } }>('/api/scheduling/available', {
    schema: { tags: ['scheduling'], querystring: { type: 'object', required: ['context', 'service'], properties: { context: { type: 'string' }, service: { type: 'string' }, from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' }, units: { type: 'integer', minimum: 1, maximum: 50 } } } },
  }, async (req, reply) => {
    try {
      const r = await d.business.scheduling.available({
        context: req.query.context, service: req.query.service, units: req.query.units,
        ...(req.query.from ? { from: new Date(req.query.from) } : {}), ...(req.query.to ? { to: new Date(req.query.to) } : {}),
      });
      return { quote: r.quote, slots: r.slots.map((s) => ({ start: s.start.toISO(), end: s.end.toISO(), crews: s.crews })) };
    } catch (e) {
      if (e instanceof QuoteError) return reply.code(400).send({ error: 'bad_request', message: e.message, options: e.options });
      throw e;
    }
  });
  app.post<{ Body: { context: string; service: string; start: string; phone?: string; name?: string; address?: string; units?: number } }>('/api/scheduling/book', {
    schema: { tags: ['scheduling'], body: { type: 'object', required: ['context', 'service', 'start'], properties: { context: { type: 'string' }, service: { type: 'string' }, start: { type: 'string', maxLength: 40, description: 'ISO time; without an offset it is read in the business\'s time zone' }, phone: { type: 'string' }, name: { type: 'string', maxLength: 120 }, address: { type: 'string', maxLength: 300 }, units: { type: 'integer', minimum: 1, maximum: 50 } } } },
  }, async (req, reply) => {
    const tz = (await d.business.contexts.get(req.body.context)).document.timezone;
    const start = DateTime.fromISO(req.body.start, { zone: tz });
    if (!start.isValid) return reply.code(400).send({ error: 'bad_request', message: 'start is not a time', fields: [{ path: 'start', message: 'must be a date and time' }] });
    if (req.body.phone && !toE164(req.body.phone)) return reply.code(400).send({ error: 'bad_request', message: 'phone is not a phone number', fields: [{ path: 'phone', message: 'Enter a phone number, like (512) 555-0142.' }] });
    const c = req.body.phone ? await d.business.customers.findOrCreateByPhone(toE164(req.body.phone)) : undefined;
    if (c && (req.body.name || req.body.address)) await d.business.customers.update(c.customer.id, { name: req.body.name, address: req.body.address });
    try {
      const r = await d.business.scheduling.book({
        context: req.body.context, service: req.body.service, start: start.toJSDate(), customerId: c?.customer.id ?? null,
        address: req.body.address ?? null, units: req.body.units, source: 'admin', actor: who(req),
      });
      return r.appointment;
    } catch (e) {
      if (e instanceof SlotUnavailableError) return reply.code(409).send({ error: e.reason, message: e.message, alternatives: e.alternatives.map((a) => a.start.toISO()) });
      if (e instanceof QuoteError) return reply.code(400).send({ error: 'bad_request', message: e.message, options: e.options });
      throw e;
    }
  });
  app.get<{ Querystring: { context?: string; from?: string; to?: string } }>('/api/scheduling/appointments', {
    schema: { tags: ['scheduling'], querystring: { type: 'object', properties: { context: { type: 'string' }, from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' } } } },
  }, async (req) => {
    const list = await d.business.scheduling.list({
      ...(req.query.context ? { context: req.query.context } : {}),
      from: req.query.from ? new Date(req.query.from) : d.business.now(),
      ...(req.query.to ? { to: new Date(req.query.to) } : {}),
    });
    // The owner's calendar shows who each visit is for.
    const ids = [...new Set(list.map((a) => a.customerId).filter((x): x is string => !!x))];
    const people = ids.length ? await d.db.selectFrom('customers').select(['id', 'name', 'phone']).where('id', 'in', ids).execute() : [];
    return list.map((a) => {
      const c = people.find((p) => p.id === a.customerId);
      return { ...a, customerName: c?.name ?? null, customerPhone: c?.phone ?? null };
    });
  });
  app.post<{ Params: { id: string }; Body: { start: string } }>('/api/scheduling/:id/reschedule', {
    schema: { tags: ['scheduling'], params: idParam, body: { type: 'object', required: ['start'], properties: { start: { type: 'string', maxLength: 40, description: 'ISO time; without an offset it is read in the business\'s time zone' } } } },
  }, async (req, reply) => {
    try {
      const appt = await d.business.scheduling.get(req.params.id);
      const tz = (await d.business.contexts.get(appt.context)).document.timezone;
      const start = DateTime.fromISO(req.body.start, { zone: tz });
      if (!start.isValid) return reply.code(400).send({ error: 'bad_request', message: 'start is not a time', fields: [{ path: 'start', message: 'must be an ISO date-time' }] });
      return await d.business.scheduling.reschedule(req.params.id, start.toJSDate(), who(req));
    } catch (e) {
      if (e instanceof SlotUnavailableError) return reply.code(409).send({ error: e.reason, message: e.message, alternatives: e.alternatives.map((a) => a.start.toISO()) });
      if (e instanceof AppointmentNotFoundError) return reply.code(404).send({ error: 'not_found', message: e.message });
      throw e;
    }
  });
  app.post<{ Params: { id: string } }>('/api/scheduling/:id/cancel', { schema: { tags: ['scheduling'], params: idParam } }, async (req, reply) => {
    try {
      return await d.business.scheduling.cancel(req.params.id, who(req), 'cancelled in the console');
    } catch (e) {
      if (e instanceof AppointmentNotFoundError) return reply.code(404).send({ error: 'not_found', message: e.message });
      throw e;
    }
  });
  app.get<{ Querystring: { search?: string } }>('/api/customers', { schema: { tags: ['customers'], querystring: { type: 'object', properties: { search: { type: 'string', maxLength: 100 } } } } },
    async (req) => d.business.customers.list({ ...(req.query.search ? { search: req.query.search } : {}) }));
  app.get<{ Params: { id: string } }>('/api/customers/:id', { schema: { tags: ['customers'], params: idParam } }, async (req, reply) =>
    (await d.business.customers.history(req.params.id)) ?? reply.code(404).send({ error: 'not_found', message: 'no such customer' }));
  app.get('/api/voicemails', { schema: { tags: ['voicemails'] } }, async () => d.business.messages.list({}));
  /** One customer's calls (with their summaries and tags), texts, voicemails and visits, newest first. */
  app.get<{ Params: { id: string } }>('/api/customers/:id/timeline', { schema: { tags: ['customers'], params: idParam } }, async (req, reply) => {
    const t = await d.business.customers.timeline(req.params.id);
    if (!t) return reply.code(404).send({ error: 'not_found', message: 'no such customer' });
    const live = new Set(d.live.list().map((l) => l.id));
    // Visits by the service's name, as the owner calls it.
    const names = new Map((await d.business.contexts.list()).flatMap((c) => c.document.services.map((s) => [s.id, s.name] as const)));
    return {
      customer: t.customer,
      items: t.items.map((i) => (i.kind === 'call' ? { ...i, live: live.has(i.id) } : i.kind === 'visit' ? { ...i, service: names.get(i.service) ?? i.service } : i)),
    };
  });
  app.get<{ Params: { id: string } }>('/api/voicemails/:id/audio', { schema: { tags: ['voicemails'], params: idParam } }, async (req, reply) => {
    const row = await d.db.selectFrom('owner_messages').select('recording_path').where('id', '=', req.params.id).executeTakeFirst();
    const path = row?.recording_path;
    if (!path || !path.endsWith('.wav') || !existsSync(path)) return reply.code(404).send({ error: 'not_found', message: 'no recording' });
    return sendWav(req, reply, path);
  });
  app.post<{ Params: { id: string }; Body: { read: boolean } }>('/api/voicemails/:id/read', {
    schema: { tags: ['voicemails'], params: idParam, body: { type: 'object', required: ['read'], properties: { read: { type: 'boolean' } } } },
  }, async (req, reply) => (await d.business.messages.markRead(req.params.id, req.body.read, who(req))) ?? reply.code(404).send({ error: 'not_found', message: 'no such message' }));
}
