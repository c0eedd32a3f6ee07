import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createBusiness } from '../../src/business/index.js';
import { demoContext } from '../../src/business/context/demo.js';
import { buildHttpServer } from '../../src/http/server.js';
import { createMetrics } from '../../src/http/metrics.js';
import { silentLogger } from '../../src/util/logger.js';
import { describeStores } from '../helpers/stores.js';

/**
 * An anonymous attacker against every admin route fastify registered, however the URL is spelled.
 * Nothing may answer with data: 401 on a route the router matched, 404 (or 400 for a malformed
 * target) where none matched.
 */

const ID = '00000000-0000-4000-8000-000000000000';
const fill = (url: string) => url.replace(/:id\b/g, ID).replace(/:name\b/g, 'sparkle-cleaning').replace(/\*/g, 'x');

/** The same target, spelled as a carrier's proxy, a scanner or a careless nginx config would. */
function spellings(path: string): string[] {
  const rest = path.slice('/api'.length);
  const segs = path.split('/');
  const last = segs.pop()!;
  return [
    path,
    `/%61pi${rest}`,
    `/%61%70%69${rest}`,
    `/api${rest.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`)}`,
    `//api${rest}`,
    `/api/${rest}`,
    `${segs.join('/')}//${last}`,
    `/./api${rest}`,
    `/api/.${rest}`,
    `/api/x/..${rest}`,
    `/api/%2e%2e/api${rest}`,
    `/x/../api${rest}`,
    `${path}/`,
    `${path}?`,
    `${path}?a=1#x`,
    `${path};x=1`,
    `/API${rest}`,
    `${path}%20`,
  ];
}

function raw(port: number, requestLine: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let data = '';
    s.setEncoding('latin1');
    s.on('data', (c) => (data += c));
    s.on('error', reject);
    s.on('end', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0), text: data }));
    s.write(`${requestLine}\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
}

describeStores('admin authentication on the matched route', ({ store }) => {
  let http: FastifyInstance;
  let port = 0;
  beforeAll(async () => {
    const biz = createBusiness(store().db, () => new Date('2026-11-23T16:00:00Z'));
    await biz.contexts.save(demoContext, 'system');
    http = await buildHttpServer({ store: store(), business: biz, metrics: createMetrics(), logger: silentLogger, version: 't' });
    await http.listen({ port: 0, host: '127.0.0.1' });
    port = (http.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await http?.close();
  });

  const adminRoutes = () => http.routeTable.filter((r) => !r.public);
  const hasBody = (m: string) => m !== 'GET' && m !== 'HEAD';

  it('registers every /api route with the check, except the two that say they are public', () => {
    const api = http.routeTable.filter((r) => r.url.startsWith('/api'));
    expect(api.length).toBeGreaterThan(25);
    expect(api.filter((r) => r.public).map((r) => `${r.method} ${r.url}`).sort()).toEqual(['GET /api/docs/openapi.json', 'HEAD /api/docs/openapi.json', 'POST /api/auth/login']);
  });

  it('answers 401 or 404 to every admin route in every spelling, never data', async () => {
    const seen: string[] = [];
    for (const r of adminRoutes()) {
      for (const url of spellings(fill(r.url))) {
        const res = await http.inject({ method: r.method as 'GET', url, ...(hasBody(r.method) ? { payload: {} } : {}) });
        if (url === fill(r.url)) expect([r.method, url, res.statusCode]).toEqual([r.method, url, 401]);
        else expect([r.method, url, [400, 401, 403, 404].includes(res.statusCode)]).toEqual([r.method, url, true]);
        seen.push(`${res.statusCode}`);
      }
    }
    // The spellings that reach a route through the router's own decoding must be among them.
    expect(seen.filter((s) => s === '401').length).toBeGreaterThan(adminRoutes().length * 2);
  });

  it('answers 401 to absolute-form request lines and odd spellings over a real socket', async () => {
    for (const r of adminRoutes()) {
      const path = fill(r.url);
      for (const target of [`http://x${path}`, `http://x/%61pi${path.slice(4)}`, `https://evil.example:443${path}`, path]) {
        const res = await raw(port, `${r.method} ${target} HTTP/1.1`, hasBody(r.method) ? '{}' : '');
        expect([r.method, target, [400, 401, 404].includes(res.status)]).toEqual([r.method, target, true]);
        if (target === path || target === `http://x${path}`) expect([r.method, target, res.status]).toEqual([r.method, target, 401]);
      }
    }
  });

  it('answers 400, never 500, to NUL bytes and invalid UTF-8 in the URL, query and body', async () => {
    const login = async (payload: string | Buffer, url = '/api/auth/login') =>
      http.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });
    const cases: [string, Promise<{ statusCode: number }>][] = [
      ['NUL in a JSON string', login('{"username":"maria\\u0000","password":"x"}')],
      ['lone surrogate in a JSON string', login('{"username":"\\ud800","password":"x"}')],
      ['invalid UTF-8 bytes in the body', login(Buffer.from([0x7b, 0x22, 0x75, 0x73, 0x65, 0x72, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]))],
      ['NUL in the query', http.inject({ method: 'GET', url: '/api/docs/openapi.json?x=%00' })],
      ['invalid UTF-8 in the query', http.inject({ method: 'GET', url: '/api/docs/openapi.json?x=%ff%fe' })],
      ['malformed escape in the query', http.inject({ method: 'GET', url: '/health?x=%zz' })],
      ['NUL in a path parameter', http.inject({ method: 'GET', url: '/calendar/%00.ics' })],
      ['invalid UTF-8 in the path', http.inject({ method: 'GET', url: '/calendar/%c3%28.ics' })],
      ['NUL in a JSON key', login('{"user\\u0000name":"maria","password":"x"}')],
    ];
    for (const [what, p] of cases) expect([what, (await p).statusCode]).toEqual([what, 400]);
    // Over a socket as well: the raw bytes, not what inject would re-encode.
    expect((await raw(port, 'GET /health?x=%00 HTTP/1.1', '')).status).toBe(400);
    expect((await raw(port, 'GET /api/auth/me?q=%ed%a0%80 HTTP/1.1', '')).status).toBe(400);
  });
});
