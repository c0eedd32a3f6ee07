import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../store/db.js';

/**
 * Retention for the callers' own words kept beside the transcript (an address or a name the
 * recognizer was unsure of: <dataDir>/recordings/<callId>-address-N.wav). They are personal data
 * kept only for the owner to check: deleted once their call is older than the retention, or when
 * their call is no longer on record.
 */

/** The file names the voice session gives kept answers. */
const ANSWER_AUDIO = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-(address|name)-\d+\.wav$/i;

/** Deletes the kept answer audio in `dir` whose call started more than `days` before `now`; returns how many. */
export async function pruneAnswerAudio(db: Db, dir: string, days: number, now: Date): Promise<number> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const kept = names.map((n) => ({ name: n, callId: ANSWER_AUDIO.exec(n)?.[1]?.toLowerCase() })).filter((f): f is { name: string; callId: string } => !!f.callId);
  if (!kept.length) return 0;
  const ids = [...new Set(kept.map((f) => f.callId))];
  const started = new Map<string, Date>();
  // In slices: one statement's parameters are limited.
  for (let i = 0; i < ids.length; i += 1000) {
    const rows = await db.selectFrom('calls').select(['id', 'started_at']).where('id', 'in', ids.slice(i, i + 1000)).execute();
    for (const r of rows) started.set(r.id, r.started_at);
  }
  const cutoff = now.getTime() - days * 86_400_000;
  let n = 0;
  for (const f of kept) {
    const at = started.get(f.callId);
    if (at && at.getTime() >= cutoff) continue;
    await unlink(join(dir, f.name)).then(() => n++, (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
  return n;
}
