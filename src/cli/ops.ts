import { z } from 'zod';
import type { Store } from '../store/db.js';
import type { DialPolicy } from '../business/dial-policy.js';
import { ContextService } from '../business/context/service.js';
import { contextsFromYaml, contextsToYaml } from '../business/context/yaml.js';
import { createAdminUser } from '../http/admin/users.js';
import { redactContext } from '../http/admin/owner-line.js';
import { unlockAddress, unlockLogins } from '../http/admin/login-limits.js';
import { audit } from '../store/audit.js';
import { listNodes, requestDrain } from '../cluster/registry.js';

/** A node named on the command line that the store does not know. */
export class NodeNotFoundError extends Error {}

/**
 * The CLI's database operations, one schema for both ways of running them: in this process over its
 * own store, or inside a running server that owns the embedded database (src/http/cli-endpoint.ts).
 */
export const cliOp = z.discriminatedUnion('op', [
  z.object({ op: z.literal('migrate') }),
  z.object({ op: z.literal('context.list') }),
  z.object({ op: z.literal('context.export'), name: z.string().min(1).optional(), all: z.boolean().default(false), withSecrets: z.boolean().default(false) }),
  z.object({ op: z.literal('context.import'), yaml: z.string(), source: z.string(), author: z.string().min(1), message: z.string().optional() }),
  z.object({ op: z.literal('admin.create-user'), username: z.string(), password: z.string(), role: z.enum(['admin', 'viewer']) }),
  z.object({ op: z.literal('admin.unlock'), username: z.string().min(1).optional(), address: z.string().min(1).optional() }),
  z.object({ op: z.literal('node.drain'), node: z.string().min(1) }),
  z.object({ op: z.literal('node.list'), lapseMs: z.number().int().positive() }),
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
      // The owner PIN's hash stays out of files people paste and share, unless asked for (a backup).
      return contextsToYaml(list.map((c) => (op.withSecrets ? c.document : redactContext(c.document))));
    }
    case 'context.import': {
      // Parsed whole before anything is saved: a bad document saves nothing.
      const docs = contextsFromYaml(op.yaml);
      let out = '';
      for (const d of docs) {
        const before = await svc.find(d.name);
        // A file without the PIN (exported without secrets) keeps the PIN already set.
        const pinHash = d.owner.pinHash ?? before?.document.owner.pinHash;
        const saved = await svc.save({ ...d, owner: { ...d.owner, ...(pinHash ? { pinHash } : {}) } }, op.author, op.message ?? `imported from ${op.source}`);
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
    case 'node.drain': {
      if (!(await requestDrain(store.db, op.node))) {
        const known = (await listNodes(store.db, new Date(), 1)).filter((n) => n.state !== 'gone').map((n) => n.id);
        throw new NodeNotFoundError(`no running node is called ${op.node}${known.length ? ` (running: ${known.join(', ')})` : ''}`);
      }
      await audit(store.db, { actor: 'cli', action: 'node.drain', targetType: 'node', targetId: op.node });
      return `${op.node} is draining: it refuses new calls (OPTIONS and INVITE get 503) and exits after its last call\n`;
    }
    case 'node.list': {
      let out = '';
      for (const n of await listNodes(store.db, new Date(), op.lapseMs)) {
        out += `${n.id}\t${n.alive ? n.state : n.state === 'gone' ? 'gone' : 'silent'}\t${n.calls}/${n.capacity} calls\t${n.sipUri ?? '-'}\theartbeat ${n.heartbeatAt.toISOString()}\n`;
      }
      return out;
    }
  }
}
