import { hash, verify } from '@node-rs/argon2';
import type { Db } from '../../store/db.js';
import { audit } from '../../store/audit.js';
import type { StoredContext } from '../context/service.js';
import { enqueue } from '../outbox.js';

/**
 * The owner's PIN: argon2id-hashed in the context, checked with a lockout. Wrong tries are counted
 * per context (not per number: caller ID is what an attacker forges) in the audit log on the
 * business clock; the fifth in 15 minutes locks owner commands for 15 minutes and texts the owner.
 */

// algorithm 2 is Argon2id (the package's const enum cannot be imported under verbatimModuleSyntax).
const ARGON = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const pinPolicy = { minDigits: 4, maxDigits: 10, maxFailures: 5, windowMs: 15 * 60_000 } as const;

export class PinError extends Error {}

export async function hashPin(pin: string): Promise<string> {
  if (!new RegExp(`^\\d{${pinPolicy.minDigits},${pinPolicy.maxDigits}}$`).test(pin)) {
    throw new PinError(`the PIN must be ${pinPolicy.minDigits} to ${pinPolicy.maxDigits} digits`);
  }
  if (/^(\d)\1+$/.test(pin) || '01234567890'.includes(pin) || '09876543210'.includes(pin)) {
    throw new PinError('the PIN must not be one digit repeated or a run like 1234');
  }
  return hash(pin, ARGON);
}

export type PinVerdict = { ok: true } | { ok: false; locked: boolean; triesLeft: number; lockedUntil?: Date };

export class OwnerPins {
  constructor(private readonly db: Db, private readonly now: () => Date) {}

  /** Failures in the window, oldest first. */
  private async failures(contextId: string): Promise<Date[]> {
    const since = new Date(this.now().getTime() - pinPolicy.windowMs);
    const rows = await this.db.selectFrom('audit_log').select('at')
      .where('action', '=', 'owner.pin_failed').where('target_id', '=', contextId).where('at', '>', since)
      .orderBy('at').limit(pinPolicy.maxFailures).execute();
    return rows.map((r) => r.at);
  }

  async lockedUntil(contextId: string): Promise<Date | undefined> {
    const f = await this.failures(contextId);
    if (f.length < pinPolicy.maxFailures) return undefined;
    return new Date(f[f.length - 1]!.getTime() + pinPolicy.windowMs);
  }

  /** Checks a PIN the owner keyed, said or texted. `who`: the number it came from; `channel`: call or sms. */
  async check(stored: StoredContext, pin: string, who: string, channel: string): Promise<PinVerdict> {
    const locked = await this.lockedUntil(stored.id);
    if (locked) {
      await audit(this.db, { actor: `owner:${who}`, action: 'owner.pin_refused', targetType: 'context', targetId: stored.id, details: { channel, reason: 'locked' }, at: this.now() });
      return { ok: false, locked: true, triesLeft: 0, lockedUntil: locked };
    }
    const stored_ = stored.document.owner.pinHash;
    const good = !!stored_ && (await verify(stored_, pin).catch(() => false));
    if (good) {
      await audit(this.db, { actor: `owner:${who}`, action: 'owner.pin_ok', targetType: 'context', targetId: stored.id, details: { channel }, at: this.now() });
      return { ok: true };
    }
    await audit(this.db, { actor: `owner:${who}`, action: 'owner.pin_failed', targetType: 'context', targetId: stored.id, details: { channel }, at: this.now() });
    const fails = await this.failures(stored.id);
    const left = Math.max(0, pinPolicy.maxFailures - fails.length);
    if (left > 0) return { ok: false, locked: false, triesLeft: left };
    const until = new Date(fails[fails.length - 1]!.getTime() + pinPolicy.windowMs);
    await this.alert(stored, who, channel, until);
    return { ok: false, locked: true, triesLeft: 0, lockedUntil: until };
  }

  /** Tells the owner, on every owner number, that someone keeps trying PINs. */
  private async alert(stored: StoredContext, who: string, channel: string, until: Date): Promise<void> {
    const doc = stored.document;
    const text = `${doc.displayName}: ${pinPolicy.maxFailures} wrong owner PINs by ${channel} from ${who}. Owner commands are locked for ${pinPolicy.windowMs / 60_000} minutes. If this was not you, change the PIN in the console.`;
    const recipients = new Set([...doc.owner.numbers, ...doc.alerts.filter((a) => a.via === 'sms').map((a) => a.to)]);
    for (const to of recipients) {
      await enqueue(this.db, {
        contextId: stored.id, channel: 'sms', purpose: 'owner_pin_lockout', recipient: to,
        payload: { text, from: doc.numbers[0] ?? null }, dedupeKey: `owner_pin_lockout:${stored.id}:${until.toISOString()}:${to}`, now: this.now(),
      });
    }
    await audit(this.db, { actor: 'system', action: 'owner.pin_locked', targetType: 'context', targetId: stored.id, details: { from: who, channel, until: until.toISOString() }, at: this.now() });
  }
}

