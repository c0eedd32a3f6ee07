import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';

/**
 * Writes a generated model unless `file` is there with a `stamp` made from the same `recipe`
 * (its shape, its token list): change either and it is written again.
 */
export async function writeOnce(file: string, stamp: string, recipe: unknown, write: () => Promise<unknown>): Promise<void> {
  const want = createHash('sha256').update(JSON.stringify(recipe)).digest('hex');
  if (existsSync(file) && existsSync(stamp) && (await readFile(stamp, 'utf8')) === want) return;
  await write();
  await writeFile(stamp, want);
}
