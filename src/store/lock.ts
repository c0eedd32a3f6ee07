// Hand-written: a pid lock file; proper-lockfile's mtime staleness would refuse a restart for its stale window after a crash.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';

/** Another live process holds the embedded database. */
export class StoreLockedError extends Error {
  constructor(public readonly dir: string, public readonly pid: number) {
    super(
      `the embedded database in ${dir} is in use by process ${pid} (a running frontdesk?). ` +
        'Only one process may open it: stop that process; or, if it is `frontdesk start` still starting, try again once it is up ' +
        '(CLI commands then run through it); or set DATABASE_URL to a Postgres server.',
    );
    this.name = 'StoreLockedError';
  }
}

/** Lock files this process holds, so a second open in the same process is refused too. */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid holding the lock file, or undefined when it is free or stale. */
export function lockHolder(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number.parseInt(text, 10);
  if (held.has(file)) return process.pid;
  // A lock naming this process that it does not hold is stale: a container restarted with the same pid.
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || !alive(pid)) return undefined;
  return pid;
}

/**
 * Takes `file` for this process, atomically (O_EXCL). A lock left by a dead process is taken over.
 * Returns the release function; throws StoreLockedError while a live process holds it.
 */
export function acquireLock(file: string, dir: string): () => void {
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = lockHolder(file);
      if (pid !== undefined) throw new StoreLockedError(dir, pid);
      // Stale: remove it and race for it again; O_EXCL decides who wins.
      try {
        unlinkSync(file);
      } catch {
        // another process removed it first
      }
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    held.add(file);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      held.delete(file);
      try {
        unlinkSync(file);
      } catch {
        // already gone
      }
    };
  }
  throw new Error(`could not take the lock ${file}`);
}
