import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { createBusiness } from '../../src/business/index.js';
import { openStore, type StoreOptions } from '../../src/store/db.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { silentLogger } from '../../src/util/logger.js';
import { freePort } from '../helpers/ports.js';
import { createServerDatabase } from '../helpers/stores.js';

/**
 * A process that dies mid-call leaves its calls `ringing`/`answered` in the database. The next
 * start must close them as `interrupted`: no ghost call on the dashboard, no live "Hang up".
 */
describe('restart after a crash', () => {
  const dirs: string[] = [];
  const drops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    for (const drop of drops) await drop();
  });

  for (const dialect of ['pglite', 'postgres'] as const) {
    it(`closes calls a previous process left open as interrupted [${dialect}]`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'fd-restart-'));
      dirs.push(dir);
      const env: Record<string, string> = {
        FRONTDESK_DATA_DIR: dir, FRONTDESK_TELEPHONY: 'none', FRONTDESK_HTTP_HOST: '127.0.0.1', FRONTDESK_HTTP_PORT: String(await freePort()),
      };
      const opts: StoreOptions = { dataDir: dir };
      if (dialect === 'postgres') {
        const server = await createServerDatabase();
        drops.push(server.drop);
        env.DATABASE_URL = server.url;
        opts.databaseUrl = server.url;
      }

      // The previous process: one call ringing, one in conversation, one finished — then it dies.
      const before = await openStore(opts);
      await migrateToLatest(before.db);
      const calls = createBusiness(before.db).calls;
      const base = { direction: 'inbound' as const, backend: 'sip', from: '+15125550177', to: '+15125550100' };
      const ringing = await calls.start(base);
      const answered = await calls.start(base);
      await calls.answered(answered);
      const done = await calls.start(base);
      await calls.answered(done);
      await calls.ended(done, 'completed');
      await before.close();

      const app = await createApp(loadConfig(env), silentLogger);
      try {
        const rows = await app.store.db.selectFrom('calls').select(['id', 'state', 'disposition', 'ended_at']).execute();
        const byId = new Map(rows.map((r) => [r.id, r]));
        expect(byId.get(ringing)).toMatchObject({ state: 'ended', disposition: 'interrupted' });
        expect(byId.get(answered)).toMatchObject({ state: 'ended', disposition: 'interrupted' });
        expect(byId.get(ringing)!.ended_at).not.toBeNull();
        expect(byId.get(done)).toMatchObject({ state: 'ended', disposition: 'completed' });
      } finally {
        await app.stop();
      }
    }, 60_000);
  }
});
