import diff from 'microdiff';
import type { Transaction } from 'kysely';
import type { Db } from '../../store/db.js';
import type { Database } from '../../store/schema.js';
import { audit } from '../../store/audit.js';
import { contextDialIssues, resolvePolicy, type DialPolicy } from '../dial-policy.js';
import {
  ContextValidationError,
  formatPath,
  parseContext,
  type BusinessContext,
} from './schema.js';

export interface StoredContext {
  id: string;
  name: string;
  version: number;
  document: BusinessContext;
  updatedAt: Date;
}

export interface ContextChange {
  path: string;
  type: 'CREATE' | 'REMOVE' | 'CHANGE';
  from?: unknown;
  to?: unknown;
}

export interface ContextVersion {
  version: number;
  author: string;
  message: string | null;
  diff: ContextChange[];
  createdAt: Date;
  document: BusinessContext;
}

export class ContextNotFoundError extends Error {
  constructor(name: string) {
    super(`no context named "${name}"`);
    this.name = 'ContextNotFoundError';
  }
}

export function diffContexts(before: BusinessContext | null, after: BusinessContext): ContextChange[] {
  if (!before) return [{ path: '(document)', type: 'CREATE' }];
  return diff(before, after).map((d) => ({
    path: formatPath(d.path),
    type: d.type,
    ...('oldValue' in d ? { from: d.oldValue } : {}),
    ...('value' in d ? { to: d.value } : {}),
  }));
}

// Parsed documents by id and version: validating a whole context on every text or call is the
// most expensive thing on the webhook path, and a version never changes once written.
const parsedCache = new Map<string, BusinessContext>();

function rowToStored(row: { id: string; name: string; version: number; document: unknown; updated_at: Date }): StoredContext {
  const key = `${row.id}:${row.version}`;
  let document = parsedCache.get(key);
  if (!document) {
    // Re-parse so documents written by older versions pick up new defaults.
    document = parseContext(row.document);
    if (parsedCache.size > 1000) parsedCache.clear();
    parsedCache.set(key, document);
  }
  return { id: row.id, name: row.name, version: row.version, document, updatedAt: row.updated_at };
}

/** Contexts with every version kept: who changed what, when, and rollback. */
/** How long a number → context lookup is reused (webhooks and calls look it up constantly). */
export const NUMBER_CACHE_MS = 5_000;

export class ContextService {
  // Saves in this process clear it at once; another process's edit shows within NUMBER_CACHE_MS.
  private readonly numberCache = new Map<string, { at: number; ctx: StoredContext | undefined }>();

  /** `dialPolicy`: owner targets and call alerts are checked against it on save (default: the defaults). */
  constructor(private readonly db: Db, private readonly dialPolicy: DialPolicy = resolvePolicy()) {}

  async list(): Promise<StoredContext[]> {
    const rows = await this.db.selectFrom('contexts').selectAll().orderBy('name').execute();
    return rows.map(rowToStored);
  }

  async find(name: string): Promise<StoredContext | undefined> {
    const row = await this.db.selectFrom('contexts').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? rowToStored(row) : undefined;
  }

  async get(name: string): Promise<StoredContext> {
    const c = await this.find(name);
    if (!c) throw new ContextNotFoundError(name);
    return c;
  }

  async getById(id: string): Promise<StoredContext | undefined> {
    const row = await this.db.selectFrom('contexts').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? rowToStored(row) : undefined;
  }

  /** The context that owns a dialled number, else the default context. */
  async forNumber(e164: string): Promise<StoredContext | undefined> {
    const hit = this.numberCache.get(e164);
    if (hit && Date.now() - hit.at < NUMBER_CACHE_MS) return hit.ctx;
    const ctx = await this.lookupNumber(e164);
    if (this.numberCache.size > 10_000) this.numberCache.clear();
    this.numberCache.set(e164, { at: Date.now(), ctx });
    return ctx;
  }

  private async lookupNumber(e164: string): Promise<StoredContext | undefined> {
    const owned = await this.db
      .selectFrom('phone_numbers')
      .innerJoin('contexts', 'contexts.id', 'phone_numbers.context_id')
      .selectAll('contexts')
      .where('phone_numbers.e164', '=', e164)
      .executeTakeFirst();
    if (owned) return rowToStored(owned);
    const fallback = await this.db.selectFrom('contexts').selectAll().where('is_default', '=', true).executeTakeFirst();
    return fallback ? rowToStored(fallback) : undefined;
  }

  /** Creates the context, or saves a new version of it. Validates first; nothing is saved on error. */
  async save(input: unknown, author: string, message?: string): Promise<StoredContext> {
    const doc = parseContext(input);
    // A target saved is a target frontdesk will dial: say now, not when a caller asks for the owner.
    const dialIssues = contextDialIssues(doc, this.dialPolicy);
    if (dialIssues.length) throw new ContextValidationError(dialIssues.map((i) => ({ path: formatPath(i.path), message: i.message })));
    this.numberCache.clear();
    const saved = await this.db.transaction().execute(async (tx) => {
      const current = await tx
        .selectFrom('contexts')
        .selectAll()
        .where('name', '=', doc.name)
        .forUpdate()
        .executeTakeFirst();
      await this.checkClaims(tx, doc, current?.id);
      const before = current ? parseContext(current.document) : null;
      const changes = diffContexts(before, doc);
      if (current && changes.length === 0) return rowToStored(current);
      const version = (current?.version ?? 0) + 1;
      const now = new Date();
      const json = JSON.stringify(doc);
      let id: string;
      if (current) {
        id = current.id;
        await tx
          .updateTable('contexts')
          .set({ version, document: json, kind: doc.kind, is_default: doc.default, updated_at: now })
          .where('id', '=', id)
          .execute();
      } else {
        const row = await tx
          .insertInto('contexts')
          .values({ name: doc.name, kind: doc.kind, is_default: doc.default, version, document: json, updated_at: now })
          .returning('id')
          .executeTakeFirstOrThrow();
        id = row.id;
      }
      await tx
        .insertInto('context_versions')
        .values({ context_id: id, version, document: json, author, message: message ?? null, diff: JSON.stringify(changes) })
        .execute();
      await tx.deleteFrom('phone_numbers').where('context_id', '=', id).execute();
      if (doc.numbers.length) {
        await tx.insertInto('phone_numbers').values(doc.numbers.map((e164) => ({ e164, context_id: id }))).execute();
      }
      await audit(tx, {
        actor: author,
        action: current ? 'context.update' : 'context.create',
        targetType: 'context',
        targetId: doc.name,
        details: { version, message: message ?? null, changes: changes.map((c) => c.path) },
      });
      return { id, name: doc.name, version, document: doc, updatedAt: now };
    });
    // Again after commit: a lookup during the transaction may have cached the old answer.
    this.numberCache.clear();
    return saved;
  }

  /** Numbers and the default flag are claimed by one context at a time; say which field clashes. */
  private async checkClaims(tx: Transaction<Database>, doc: BusinessContext, selfId: string | undefined): Promise<void> {
    const errors: { path: string; message: string }[] = [];
    if (doc.numbers.length) {
      const owners = await tx
        .selectFrom('phone_numbers')
        .innerJoin('contexts', 'contexts.id', 'phone_numbers.context_id')
        .select(['phone_numbers.e164', 'contexts.name', 'contexts.id'])
        .where('phone_numbers.e164', 'in', doc.numbers)
        .execute();
      for (const o of owners) {
        if (o.id === selfId) continue;
        errors.push({ path: `numbers[${doc.numbers.indexOf(o.e164)}]`, message: `${o.e164} already belongs to context "${o.name}"` });
      }
    }
    if (doc.default) {
      const other = await tx.selectFrom('contexts').select(['id', 'name']).where('is_default', '=', true).executeTakeFirst();
      if (other && other.id !== selfId) {
        errors.push({ path: 'default', message: `context "${other.name}" is already the default; unset it there first` });
      }
    }
    if (errors.length) throw new ContextValidationError(errors);
  }

  async history(name: string): Promise<ContextVersion[]> {
    const ctx = await this.get(name);
    const rows = await this.db
      .selectFrom('context_versions')
      .selectAll()
      .where('context_id', '=', ctx.id)
      .orderBy('version', 'desc')
      .execute();
    return rows.map((r) => ({
      version: r.version,
      author: r.author,
      message: r.message,
      diff: r.diff as ContextChange[],
      createdAt: r.created_at,
      document: parseContext(r.document),
    }));
  }

  /** Makes an old version current again, as a new version (history is never rewritten). */
  async rollback(name: string, toVersion: number, author: string): Promise<StoredContext> {
    const ctx = await this.get(name);
    const row = await this.db
      .selectFrom('context_versions')
      .select('document')
      .where('context_id', '=', ctx.id)
      .where('version', '=', toVersion)
      .executeTakeFirst();
    if (!row) throw new ContextNotFoundError(`${name}@v${toVersion}`);
    return this.save(row.document, author, `rollback to version ${toVersion}`);
  }

  async remove(name: string, author: string): Promise<void> {
    const ctx = await this.get(name);
    this.numberCache.clear();
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('contexts').where('id', '=', ctx.id).execute();
      await audit(tx, { actor: author, action: 'context.delete', targetType: 'context', targetId: name });
    });
  }
}

