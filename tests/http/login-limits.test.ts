import { beforeAll, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createBusiness } from '../../src/business/index.js';
import { demoContext } from '../../src/business/context/demo.js';
import { createAdminUser } from '../../src/http/admin/users.js';
import { unlockAddress, unlockLogins } from '../../src/http/admin/login-limits.js';
import { buildHttpServer } from '../../src/http/server.js';
import { createMetrics } from '../../src/http/metrics.js';
import { silentLogger } from '../../src/util/logger.js';
import { describeStores } from '../helpers/stores.js';

/** A password guesser against the login, and the real admin who must still get in. */

const limits = {
  perAddress: 20, perAddressWindowMs: 60_000, perAccountAddress: 5, perAccountAddressWindowMs: 900_000,
  accountWindowMs: 3_600_000, failureDelayMs: 1, maxDelayMs: 4,
};
const PASSWORD = 'correct horse battery';

describeStores('login limits', ({ store }) => {
  let http: FastifyInstance;
  beforeAll(async () => {
    const biz = createBusiness(store().db, () => new Date('2026-11-23T16:00:00Z'));
    await biz.contexts.save(demoContext, 'system');
    await createAdminUser(store().db, 'maria', PASSWORD);
    http = await buildHttpServer({ store: store(), business: biz, metrics: createMetrics(), logger: silentLogger, version: 't', loginLimits: limits });
  });
  const login = (username: string, password: string, from: string) =>
    http.inject({ method: 'POST', url: '/api/auth/login', remoteAddress: from, payload: { username, password } });

  it('lets 100 parallel guesses at one account try no more than the limit, and the real admin still logs in elsewhere', async () => {
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => login('maria', `guess number ${i}`, '203.0.113.7')));
    const tried = answers.filter((a) => a.statusCode === 401).length;
    expect(tried).toBeGreaterThan(0);
    expect(tried).toBeLessThanOrEqual(limits.perAccountAddress);
    expect(answers.filter((a) => a.statusCode === 429).length).toBe(100 - tried);
    const refused = answers.find((a) => a.statusCode === 429)!;
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // Even the right password from the guesser's address waits …
    expect((await login('maria', PASSWORD, '203.0.113.7')).statusCode).toBe(429);
    // … but the owner at the shop is not locked out.
    expect((await login('maria', PASSWORD, '198.51.100.20')).statusCode).toBe(200);
  });

  it('counts every username from one address together', async () => {
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => login(`user${i}`, 'not the password', '203.0.113.99')));
    const tried = answers.filter((a) => a.statusCode === 401).length;
    expect(tried).toBeGreaterThan(0);
    expect(tried).toBeLessThanOrEqual(limits.perAddress);
  });

  it('clears the limits from the CLI', async () => {
    const from = '192.0.2.44';
    for (let i = 0; i < limits.perAccountAddress; i++) expect((await login('maria', 'wrong password', from)).statusCode).toBe(401);
    expect((await login('maria', PASSWORD, from)).statusCode).toBe(429);
    expect(await unlockLogins(store().db, 'Maria')).toBeGreaterThan(0);
    expect((await login('maria', PASSWORD, from)).statusCode).toBe(200);
    expect((await login('maria', PASSWORD, '203.0.113.99')).statusCode).toBe(429);
    expect(await unlockAddress(store().db, '203.0.113.99')).toBe(1);
    expect((await login('maria', PASSWORD, '203.0.113.99')).statusCode).toBe(200);
  });

  it('answers an unknown username exactly as a known one with a wrong password', async () => {
    const known = await login('maria', 'wrong password', '192.0.2.50');
    const unknown = await login('mario', 'wrong password', '192.0.2.51');
    expect([unknown.statusCode, unknown.json(), Object.keys(unknown.headers).sort()]).toEqual([known.statusCode, known.json(), Object.keys(known.headers).sort()]);
    const rows = await store().db.selectFrom('audit_log').select(['actor', 'action']).where('action', '=', 'admin.login_failed').where('actor', 'in', ['maria', 'mario']).execute();
    expect(new Set(rows.map((r) => r.actor))).toEqual(new Set(['maria', 'mario']));
    // Past the limit, too: the same refusal whether or not the name exists.
    for (let i = 0; i < limits.perAccountAddress; i++) await login('mario', 'wrong password', '192.0.2.52');
    const over = await login('mario', 'wrong password', '192.0.2.52');
    for (let i = 0; i < limits.perAccountAddress; i++) await login('maria', 'wrong password', '192.0.2.53');
    const overKnown = await login('maria', 'wrong password', '192.0.2.53');
    expect([over.statusCode, over.json().error]).toEqual([overKnown.statusCode, overKnown.json().error]);
  });
});
