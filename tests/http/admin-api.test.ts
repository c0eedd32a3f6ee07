import { beforeAll, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createBusiness } from '../../src/business/index.js';
import { demoContext } from '../../src/business/context/demo.js';
import { createAdminUser } from '../../src/http/admin/users.js';
import { buildHttpServer } from '../../src/http/server.js';
import { createMetrics } from '../../src/http/metrics.js';
import { silentLogger } from '../../src/util/logger.js';
import { describeStores } from '../helpers/stores.js';

const ID = '00000000-0000-4000-8000-000000000000';
const ROUTES: [string, string][] = [
  ['POST', '/api/auth/logout'], ['GET', '/api/auth/me'], ['POST', '/api/tokens'],
  ['GET', '/api/contexts'], ['GET', '/api/contexts/sparkle-cleaning'], ['PUT', '/api/contexts/sparkle-cleaning'],
  ['GET', '/api/contexts/sparkle-cleaning/history'], ['POST', '/api/contexts/sparkle-cleaning/rollback'], ['GET', '/api/contexts/sparkle-cleaning/status'],
  ['GET', '/api/calls'], ['GET', `/api/calls/${ID}`], ['POST', `/api/calls/${ID}/hangup`], ['POST', `/api/calls/${ID}/transfer`], ['POST', '/api/calls/outbound'], ['POST', '/api/calls/connect'],
  ['POST', '/api/sms'], ['GET', '/api/sms/threads'], ['GET', `/api/sms/threads/${ID}`],
  ['GET', '/api/scheduling/available?context=x&service=y'], ['POST', '/api/scheduling/book'], ['POST', `/api/scheduling/${ID}/cancel`],
  ['GET', '/api/customers'], ['GET', `/api/customers/${ID}`], ['GET', `/api/customers/${ID}/timeline`], ['GET', '/api/voicemails'], ['POST', `/api/voicemails/${ID}/read`],
];

describeStores('admin API', ({ store }) => {
  let http: FastifyInstance;
  beforeAll(async () => {
    const biz = createBusiness(store().db, () => new Date('2026-11-23T16:00:00Z'));
    await biz.contexts.save(demoContext, 'system');
    await createAdminUser(store().db, 'maria', 'correct horse battery');
    http = await buildHttpServer({ store: store(), business: biz, metrics: createMetrics(), logger: silentLogger, version: 't' });
  });

  const login = async (password = 'correct horse battery') => {
    const res = await http.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'maria', password } });
    const cookie = String(res.headers['set-cookie'] ?? '');
    return { res, cookie: cookie.split(';')[0]!, setCookie: cookie, csrf: res.statusCode === 200 ? (res.json().csrfToken as string) : '' };
  };

  it('answers 401 on every admin route without a session or token', async () => {
    for (const [method, url] of ROUTES) {
      const res = await http.inject({ method: method as 'GET', url, payload: method === 'GET' ? undefined : {} });
      expect([method, url, res.statusCode]).toEqual([method, url, 401]);
    }
    expect((await http.inject({ method: 'GET', url: '/api/calls', headers: { authorization: 'Bearer fdt_notarealtokennotarealtoken' } })).statusCode).toBe(401);
  });

  it('logs in with a secure session cookie and refuses writes with a missing or forged CSRF token', async () => {
    expect((await login('wrong password!!')).res.statusCode).toBe(401);
    const s = await login();
    expect(s.res.statusCode).toBe(200);
    expect(s.setCookie).toMatch(/fd_session=.+; Max-Age=43200; Path=\/; HttpOnly; SameSite=Strict/);
    expect((await http.inject({ method: 'GET', url: '/api/auth/me', headers: { cookie: s.cookie } })).json()).toMatchObject({ username: 'maria', role: 'admin' });

    const doc = { ...demoContext, greeting: 'Hello from the console!' };
    const noCsrf = await http.inject({ method: 'PUT', url: '/api/contexts/sparkle-cleaning', headers: { cookie: s.cookie }, payload: doc });
    expect(noCsrf.statusCode).toBe(403);
    const forged = await http.inject({ method: 'PUT', url: '/api/contexts/sparkle-cleaning', headers: { cookie: s.cookie, 'x-csrf-token': 'forged-token-forged-token-abc' }, payload: doc });
    expect(forged.statusCode).toBe(403);
    const ok = await http.inject({ method: 'PUT', url: '/api/contexts/sparkle-cleaning', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf }, payload: { ...doc, message: 'new greeting' } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ version: 2, document: { greeting: 'Hello from the console!' } });
    const history = (await http.inject({ method: 'GET', url: '/api/contexts/sparkle-cleaning/history', headers: { cookie: s.cookie } })).json();
    expect(history[0]).toMatchObject({ version: 2, author: 'maria', message: 'new greeting' });
  });

  it('rejects an invalid context with field-level errors and saves nothing', async () => {
    const s = await login();
    const before = (await http.inject({ method: 'GET', url: '/api/contexts/sparkle-cleaning', headers: { cookie: s.cookie } })).json().version;
    const bad = { ...demoContext, timezone: 'Atlantis/Capital', hours: { ...demoContext.hours, mon: [{ open: '18:00', close: '08:00' }] } };
    const res = await http.inject({ method: 'PUT', url: '/api/contexts/sparkle-cleaning', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf }, payload: bad });
    expect(res.statusCode).toBe(400);
    const fields = res.json().fields as { path: string; message: string }[];
    expect(fields.map((f) => f.path)).toEqual(expect.arrayContaining(['timezone', 'hours.mon[0].close']));
    const after = (await http.inject({ method: 'GET', url: '/api/contexts/sparkle-cleaning', headers: { cookie: s.cookie } })).json().version;
    expect(after).toBe(before);
  });

  it('previews routing, rolls back, takes API tokens, and queues a text from the console', async () => {
    const s = await login();
    const h = { cookie: s.cookie, 'x-csrf-token': s.csrf };
    const open = await http.inject({ method: 'GET', url: '/api/contexts/sparkle-cleaning/status?caller=%2B14155550000&at=2026-11-23T16:00:00Z', headers: h });
    expect(open.json()).toMatchObject({ open: true, action: 'agent' });
    const closed = await http.inject({ method: 'GET', url: '/api/contexts/sparkle-cleaning/status?at=2026-11-23T03:00:00Z', headers: h });
    expect(closed.json()).toMatchObject({ open: false, action: 'agent_after_hours' });

    const rb = await http.inject({ method: 'POST', url: '/api/contexts/sparkle-cleaning/rollback', headers: h, payload: { version: 1 } });
    expect(rb.json()).toMatchObject({ version: 3 });

    const tok = (await http.inject({ method: 'POST', url: '/api/tokens', headers: h, payload: { name: 'script' } })).json().token as string;
    expect(tok).toMatch(/^fdt_/);
    const viaToken = await http.inject({ method: 'POST', url: '/api/sms', headers: { authorization: `Bearer ${tok}` }, payload: { to: '(512) 555-0142', text: 'Your crew is on the way!' } });
    expect(viaToken.statusCode).toBe(202);
    const row = await store().db.selectFrom('outbox').select(['recipient', 'payload', 'channel']).where('purpose', '=', 'admin_sms').executeTakeFirstOrThrow();
    expect(row).toMatchObject({ recipient: '+15125550142', channel: 'sms', payload: { text: 'Your crew is on the way!', from: '+15125550100' } });
    const auditRow = await store().db.selectFrom('audit_log').select(['actor']).where('action', '=', 'sms.send').executeTakeFirstOrThrow();
    expect(auditRow.actor).toBe('maria');
    const spec = (await http.inject({ method: 'GET', url: '/api/docs/openapi.json' })).json();
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/api/contexts/{name}', '/api/calls', '/api/sms', '/api/scheduling/book', '/api/customers', '/api/voicemails']));
  });

  it('locks an account out after repeated wrong passwords', async () => {
    for (let i = 0; i < 5; i++) expect((await login('nope nope nope')).res.statusCode).toBe(401);
    const locked = await login();
    expect(locked.res.statusCode).toBe(429);
  });
});
