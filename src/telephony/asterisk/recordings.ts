import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from 'ari-client';
import type { Logger } from 'pino';

/**
 * Bridge recordings made by Asterisk, brought into frontdesk's storage: when a call ends its live
 * recording is stopped, and once Asterisk says it is finished (RecordingFinished) the file is
 * fetched over ARI (`GET /recordings/stored/{name}/file`, Asterisk 14+) and removed there. Without
 * a recordings folder (tests, tools) the path stays on Asterisk's host.
 */
export interface AriRecordingsOptions {
  url: string;
  user: string;
  password: string;
  dir: string | undefined;
  logger?: Logger | undefined;
  client: () => Client | undefined;
}

interface Pending {
  finished: Promise<{ ok: boolean; cause?: string }>;
  settle: (r: { ok: boolean; cause?: string }) => void;
}

export class AriRecordings {
  private readonly pending = new Map<string, Pending>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly o: AriRecordingsOptions) {}

  /** Where `name` will be kept; starts listening for its end. */
  expect(name: string): string {
    let settle!: Pending['settle'];
    const finished = new Promise<{ ok: boolean; cause?: string }>((r) => (settle = r));
    this.pending.set(name, { finished, settle });
    return this.o.dir ? join(this.o.dir, `${name}.wav`) : `asterisk:/var/spool/asterisk/recording/${name}.wav`;
  }

  forget(name: string): void {
    this.pending.delete(name);
  }

  /** Asterisk refused to record: the likely cause in words (logged, and the error to throw). */
  failed(name: string, e: unknown): Error {
    const msg = (e as Error).message ?? String(e);
    const err = new Error(`Asterisk did not start recording ${name}: ${msg} (is chan_bridge_media loaded, and can Asterisk write its recording folder? its log says which)`);
    this.o.logger?.error({ err: msg, name }, 'bridge recording refused');
    return err;
  }

  /** RecordingFinished / RecordingFailed from the event socket. */
  finished(name: string, ok: boolean, cause?: string): void {
    this.pending.get(name)?.settle(ok ? { ok } : { ok, ...(cause ? { cause } : {}) });
  }

  /** The call ended: stop the recording, wait for Asterisk to finish it, fetch it. */
  collect(name: string): void {
    const p = this.fetch(name).catch((err: unknown) => {
      this.o.logger?.error({ err: (err as Error).message, name }, 'call recording not fetched from Asterisk');
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Resolves when every fetch under way is done (stop() waits for them). */
  async settled(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  private async fetch(name: string): Promise<void> {
    const pending = this.pending.get(name);
    if (!pending) return;
    const client = this.o.client();
    // Already over when the bridge went: a 404 here is expected.
    await client?.recordings.stop({ recordingName: name }).catch(() => {});
    const timeout = new Promise<{ ok: boolean; cause?: string }>((r) => setTimeout(() => r({ ok: true, cause: 'no RecordingFinished within 10 s' }), 10_000).unref());
    const end = await Promise.race([pending.finished, timeout]);
    this.pending.delete(name);
    if (!end.ok) throw new Error(`Asterisk reports the recording failed: ${end.cause ?? 'unknown cause'}`);
    if (!this.o.dir) return;
    const base = `${this.o.url.replace(/\/$/, '')}/ari/recordings/stored/${encodeURIComponent(name)}`;
    const headers = { authorization: `Basic ${Buffer.from(`${this.o.user}:${this.o.password}`).toString('base64')}` };
    const res = await fetch(`${base}/file`, { headers, signal: AbortSignal.timeout(30_000) });
    if (!res.ok) throw new Error(`GET ${base}/file answered ${res.status}`);
    const body = Buffer.from(await res.arrayBuffer());
    await mkdir(this.o.dir, { recursive: true });
    const dest = join(this.o.dir, `${name}.wav`);
    await writeFile(`${dest}.part`, body);
    await rename(`${dest}.part`, dest);
    // Kept here now: Asterisk's copy goes, so its disk does not fill with every call.
    const del = await fetch(base, { method: 'DELETE', headers, signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
    if (del && !del.ok) this.o.logger?.warn({ name, status: del.status }, 'recording fetched but not deleted on Asterisk');
    this.o.logger?.info({ name, path: dest, bytes: body.length }, 'call recording fetched from Asterisk');
  }
}
