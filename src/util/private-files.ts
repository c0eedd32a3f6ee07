import { chmodSync, mkdirSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Recordings, voicemail audio and the embedded database hold callers' voices and the customer
 * list: owner-only whatever the umask (directories 0700, files 0600). Existing paths are tightened.
 */

export const PRIVATE_DIR = 0o700;
export const PRIVATE_FILE = 0o600;

export async function privateDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: PRIVATE_DIR });
  await chmod(path, PRIVATE_DIR);
}

export function privateDirSync(path: string): void {
  mkdirSync(path, { recursive: true, mode: PRIVATE_DIR });
  chmodSync(path, PRIVATE_DIR);
}

/** Writes `data` to `path` (0600) in a 0700 directory. */
export async function writePrivateFile(path: string, data: Uint8Array): Promise<void> {
  await privateDir(dirname(path));
  await writeFile(path, data, { mode: PRIVATE_FILE });
  // The mode above applies only when the file is created.
  await chmod(path, PRIVATE_FILE);
}
