import { z } from 'zod';
import type { Store } from '../store/db.js';
import type { DialPolicy } from '../business/dial-policy.js';
import { ContextService } from '../business/context/service.js';
import { contextsFromYaml, contextsToYaml } from '../business/context/yaml.js';
import { createAdminUser } from '../http/admin/users.js';
import { unlockAddress, unlockLogins } from '../http/admin/login-limits.js';
import { audit } from '../store/audit.js';

/**
 * The CLI's database operations, one schema for both ways of running them: in this process over its
 * own store, or inside a running server that owns the embedded database (src/http/cli-endpoint.ts).
 */
export const cliOp = z.discriminatedUnion('op', [
  z.object({ op: z.literal('migrate') }),
  z.object({ op: z.literal('context.list') }),
  z.object({ op: z.literal('context.export'), name: z.string().min(1).optional(), all: z.boolean().default(false) }),
  z.object({ op: z.literal('context.import'), yaml: z.string(), source: z.string(), author: z.string().min(1), message: z.string().optional() }),
  z.object({ op: z.literal('admin.create-user'), username: z.string(), password: z.string(), role: z.enum(['admin', 'viewer']) }),
  z.object({ op: z.literal('admin.unlock'), username: z.string().min(1).optional(), address: z.string().min(1).optional() }),
]);
export type CliOp = z.input<typeof cliOp>;

/** Runs one operation over `store`, already migrated; returns what the CLI prints. */
export async function runOp(store: Store, input: CliOp, dialPolicy?: DialPolicy): Promise<string> {
  const op = cliOp.parse(input);
  // Owner targets in an imported context are checked against the same dial policy as the console's.
  const svc = new ContextService(store.db, dialPolicy);
  switch (op.op) {
    case 'migrate':
      return `database is at the latest schema (${store.dialect}: ${store.location})\n`;
    case 'context.list': {
      let out = '';
      for (const c of await svc.list()) {
        const d = c.document;
        out += `${c.name}\tv${c.version}\t${d.default ? 'default\t' : ''}${d.numbers.join(',') || '-'}\t${d.displayName}\n`;
      }
      return out;
    }
    case 'context.export': {
      const list = op.all ? await svc.list() : [await svc.get(op.name ?? '')];
      return contextsToYaml(list.map((c) => c.document));
    }
    case 'context.import': {
      // Parsed whole before anything is saved: a bad document saves nothing.
      const docs = contextsFromYaml(op.yaml);
      let out = '';
      for (const d of docs) {
        const before = await svc.find(d.name);
        const saved = await svc.save(d, op.author, op.message ?? `imported from ${op.source}`);
        const what = !before ? 'created' : before.version === saved.version ? 'unchanged' : 'updated';
        out += `${saved.name}: ${what} (version ${saved.version})\n`;
      }
      return out;
    }
    case 'admin.create-user': {
      const u = await createAdminUser(store.db, op.username, op.password, { role: op.role });
      return `created ${op.role} user ${u.username}\n`;
    }
    case 'admin.unlock': {
      const n = (op.username ? await unlockLogins(store.db, op.username) : 0) + (op.address ? await unlockAddress(store.db, op.address) : 0);
      await audit(store.db, { actor: 'cli', action: 'admin.unlock', targetType: 'admin_user', targetId: op.username ?? op.address ?? '', details: { cleared: n } });
      return `cleared ${n} login limit${n === 1 ? '' : 's'}\n`;
    }
  }
}
