import { hash, verify } from '@node-rs/argon2';
import type { Db } from '../../store/db.js';
import { audit } from '../../store/audit.js';

/** Argon2id with OWASP's recommended floor (19 MiB, 2 passes). */
// algorithm 2 is Argon2id (the package's const enum cannot be imported under verbatimModuleSyntax).
const ARGON = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const MIN_PASSWORD_LENGTH = 10;

export class UserError extends Error {}

export async function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON);
}

export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}

export async function createAdminUser(
  db: Db,
  username: string,
  password: string,
  opts: { role?: 'admin' | 'viewer'; actor?: string } = {},
): Promise<{ id: string; username: string }> {
  if (!/^[A-Za-z0-9._@-]{2,64}$/.test(username)) {
    throw new UserError('username must be 2-64 characters: letters, digits, . _ @ -');
  }
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new UserError(`password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  const existing = await db.selectFrom('admin_users').select('id').where('username', '=', username).executeTakeFirst();
  if (existing) throw new UserError(`user "${username}" already exists`);
  const password_hash = await hashPassword(password);
  const row = await db
    .insertInto('admin_users')
    .values({ username, password_hash, role: opts.role ?? 'admin' })
    .returning(['id', 'username'])
    .executeTakeFirstOrThrow();
  await audit(db, { actor: opts.actor ?? 'cli', action: 'admin_user.create', targetType: 'admin_user', targetId: username });
  return row;
}
