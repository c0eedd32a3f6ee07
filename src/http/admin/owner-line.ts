import type { FastifyInstance } from 'fastify';
import type { Business } from '../../business/index.js';
import type { Db } from '../../store/db.js';
import type { BusinessContext } from '../../business/context/schema.js';
import { audit } from '../../store/audit.js';
import { hashPin, PinError } from '../../business/owner/pin.js';
import { POLICY, TIERS } from '../../business/owner/policy.js';

/**
 * The owner's line in the admin API. The PIN's hash never leaves the server: a four-digit PIN's
 * argon2 hash falls to an offline search in minutes, so documents and history go out without it
 * (`ownerPinSet` says whether one is set), a save without it keeps the stored one, and a new PIN
 * comes in as `ownerPin` (digits; null clears it) and is hashed here.
 */

const nameParam = { type: 'object', properties: { name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' } }, required: ['name'] } as const;

/** The document as the API shows it: without the PIN's hash. */
export function redactContext(doc: BusinessContext): BusinessContext {
  const { pinHash: _hidden, ...owner } = doc.owner;
  return { ...doc, owner };
}

export function redactDiff<T extends { path: string; from?: unknown; to?: unknown }>(diff: T[]): T[] {
  return diff.map((c) => (/pinHash/.test(c.path) ? { ...c, ...(c.from !== undefined ? { from: '(hidden)' } : {}), ...(c.to !== undefined ? { to: '(hidden)' } : {}) } : c));
}

export class OwnerPinInputError extends Error {
  constructor(message: string) {
    super(message);
  }
}

/**
 * The document to save from an admin's PUT body: the stored PIN hash carried over unless the body
 * sets (`ownerPin`: digits) or clears (`ownerPin: null`) it. A hash in the body is never taken.
 */
export async function withOwnerPin(doc: Record<string, unknown>, ownerPin: unknown, current: BusinessContext | undefined): Promise<{ doc: Record<string, unknown>; pinChanged: 'set' | 'cleared' | undefined }> {
  const owner = { ...((doc.owner as Record<string, unknown> | undefined) ?? {}) };
  delete owner.pinHash;
  let pinChanged: 'set' | 'cleared' | undefined;
  if (typeof ownerPin === 'string' && ownerPin !== '') {
    try {
      owner.pinHash = await hashPin(ownerPin);
    } catch (e) {
      if (e instanceof PinError) throw new OwnerPinInputError(e.message);
      throw e;
    }
    pinChanged = 'set';
  } else if (ownerPin === null) {
    pinChanged = current?.owner.pinHash ? 'cleared' : undefined;
  } else if (current?.owner.pinHash) owner.pinHash = current.owner.pinHash;
  return { doc: { ...doc, owner }, pinChanged };
}

export function ownerLineRoutes(app: FastifyInstance, d: { db: Db; business: Business }): void {
  /** The policy table and the owner's recent commands (and PIN events), newest first. */
  app.get<{ Params: { name: string }; Querystring: { limit?: number } }>('/api/contexts/:name/owner-line', {
    schema: { tags: ['contexts'], params: nameParam, querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 500 } } } },
  }, async (req) => {
    const c = await d.business.contexts.get(req.params.name);
    const rows = await d.db.selectFrom('audit_log').select(['at', 'actor', 'action', 'details'])
      .where('action', 'like', 'owner.%').where('target_id', '=', c.id).orderBy('at', 'desc').orderBy('id', 'desc').limit(req.query.limit ?? 100).execute();
    return {
      numbers: c.document.owner.numbers,
      pinSet: !!c.document.owner.pinHash,
      lockedUntil: (await d.business.ownerPins.lockedUntil(c.id))?.toISOString() ?? null,
      policy: Object.entries(POLICY).map(([command, p]) => ({ command, tier: p.tier, what: p.what, ...TIERS[p.tier] })),
      commands: rows.map((r) => ({ at: r.at, actor: r.actor, action: r.action, details: r.details })),
    };
  });
}

/** For routes.ts: an audit row when an admin sets or clears the PIN (never the PIN). */
export async function auditPinChange(db: Db, who: string, contextId: string, change: 'set' | 'cleared'): Promise<void> {
  await audit(db, { actor: who, action: change === 'set' ? 'owner.pin_set' : 'owner.pin_cleared', targetType: 'context', targetId: contextId });
}
