import { randomUUID } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import WebSocket from 'ws';
import type { Config } from '../config/index.js';
import { FORK_SUBPROTOCOL } from '../telephony/freeswitch/fork-server.js';
import type { Check } from './doctor-checks.js';

/**
 * doctor's checks for FRONTDESK_TELEPHONY=freeswitch: drachtio's admin socket and secret,
 * FreeSWITCH's event socket and password, the drachtio_mrf profile, mod_audio_fork, and whether
 * FreeSWITCH itself reaches the fork URL. Hand-written wire clients (a login and a few commands):
 * drachtio-srf and modesl reconnect and keep the process alive, which a one-shot check must not.
 */

function splitHostPort(hp: string): { host: string; port: number } {
  const i = hp.lastIndexOf(':');
  return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms)))]).finally(() => clearTimeout(timer));
}

/** drachtio's admin protocol: `<len>#<id>|authenticate|<secret>|` answered by `<len>#<id>|response|<id>|OK|<hostport>|<version>`. */
export async function drachtioLogin(hostPort: string, secret: string, timeoutMs: number): Promise<{ ok: boolean; version?: string | undefined }> {
  const { host, port } = splitHostPort(hostPort);
  const sock = connect({ host, port });
  try {
    return await withTimeout(new Promise((resolve, reject) => {
      let buf = '';
      sock.once('error', reject);
      sock.once('close', () => reject(new Error('closed the connection')));
      sock.once('connect', () => {
        const msg = `${randomUUID()}|authenticate|${secret}|`;
        sock.write(`${Buffer.byteLength(msg)}#${msg}`);
      });
      sock.on('data', (d) => {
        buf += d.toString('utf8');
        const hash = buf.indexOf('#');
        if (hash < 0) return;
        const len = Number(buf.slice(0, hash));
        if (buf.length < hash + 1 + len) return;
        const t = buf.slice(hash + 1, hash + 1 + len).split('|');
        resolve(t[1] === 'response' && t[3] === 'OK' ? { ok: true, version: t[5] } : { ok: false });
      });
    }), timeoutMs, hostPort);
  } finally {
    sock.destroy();
  }
}

interface EslMessage { headers: Record<string, string>; body: string }

/** Just enough of an ESL client: login, api, plain events. */
export class Esl {
  private buf = Buffer.alloc(0);
  private readonly waiters: ((m: EslMessage) => void)[] = [];
  readonly events: EslMessage[] = [];
  private eventWaiter: (() => void) | undefined;
  private closed: Error | undefined;

  private constructor(readonly sock: Socket) {
    sock.on('data', (d) => this.onData(d));
    sock.on('close', () => this.fail(new Error('FreeSWITCH closed the connection')));
    sock.on('error', (e) => this.fail(e));
  }

  static async open(hostPort: string, password: string, timeoutMs: number): Promise<Esl> {
    const { host, port } = splitHostPort(hostPort);
    const sock = connect({ host, port });
    const esl = new Esl(sock);
    try {
      const banner = await withTimeout(esl.next(), timeoutMs, hostPort);
      if (banner.headers['Content-Type'] !== 'auth/request') throw new Error(`${hostPort} is not a FreeSWITCH event socket`);
      const reply = await withTimeout(esl.command(`auth ${password}`), timeoutMs, hostPort);
      if (!/^\+OK/.test(reply.headers['Reply-Text'] ?? '')) throw Object.assign(new Error('password refused'), { denied: true });
      return esl;
    } catch (e) {
      esl.close();
      throw e;
    }
  }

  private fail(e: Error): void {
    this.closed ??= e;
    for (const w of this.waiters.splice(0)) w({ headers: { 'Content-Type': 'error', 'Reply-Text': `-ERR ${e.message}` }, body: '' });
    this.eventWaiter?.();
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const end = this.buf.indexOf('\n\n');
      if (end < 0) return;
      const headers: Record<string, string> = {};
      for (const line of this.buf.subarray(0, end).toString('utf8').split('\n')) {
        const i = line.indexOf(': ');
        if (i > 0) headers[line.slice(0, i)] = line.slice(i + 2);
      }
      const len = Number(headers['Content-Length'] ?? 0);
      if (this.buf.length < end + 2 + len) return;
      const body = this.buf.subarray(end + 2, end + 2 + len).toString('utf8');
      this.buf = this.buf.subarray(end + 2 + len);
      const m = { headers, body };
      if (headers['Content-Type'] === 'text/event-plain') {
        this.events.push(m);
        this.eventWaiter?.();
      } else if (headers['Content-Type'] !== 'text/disconnect-notice') this.waiters.shift()?.(m);
    }
  }

  private next(): Promise<EslMessage> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((r) => this.waiters.push(r));
  }

  command(cmd: string): Promise<EslMessage> {
    const p = this.next();
    this.sock.write(`${cmd}\n\n`);
    return p;
  }

  async api(cmd: string): Promise<string> {
    return (await this.command(`api ${cmd}`)).body;
  }

  /** The first event whose plain-text body passes, or undefined at the deadline. */
  async waitEvent(match: (body: string) => boolean, ms: number): Promise<string | undefined> {
    const deadline = performance.now() + ms;
    for (;;) {
      const hit = this.events.find((e) => match(e.body));
      if (hit) return hit.body;
      const left = deadline - performance.now();
      if (left <= 0 || this.closed) return undefined;
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left);
        this.eventWaiter = () => {
          clearTimeout(timer);
          r();
        };
      });
    }
  }

  close(): void {
    this.sock.destroy();
  }
}

/** Does a WebSocket with mod_audio_fork's subprotocol open at `url` from here? */
function forkAnswersHere(url: string, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, FORK_SUBPROTOCOL, { handshakeTimeout: ms });
    } catch {
      resolve(false);
      return;
    }
    ws.once('open', () => {
      ws.close();
      resolve(true);
    });
    ws.once('error', () => resolve(false));
  });
}

/**
 * FreeSWITCH opens the fork URL itself: a throwaway call from the drachtio_mrf profile to itself
 * (its dialplan hands the answering side to a socket we hold), mod_audio_fork started on it, and
 * its connect / connect_failed event read back. Then both sides are hung up.
 */
async function forkFromFreeswitch(esl: Esl, cfg: Config, profileAddr: string, ms: number): Promise<'connected' | 'failed' | 'unknown'> {
  const holder: Server = createServer((s) => {
    s.on('error', () => s.destroy());
    // Outbound ESL: `connect` starts the session; we then just keep it until the end.
    s.write('connect\n\n');
  });
  const uuid = randomUUID();
  // Where FreeSWITCH reaches us: the address our ESL connection comes from.
  const hostForFs = esl.sock.localAddress ?? '127.0.0.1';
  await new Promise<void>((r) => holder.listen(0, hostForFs, () => r()));
  const holdPort = (holder.address() as { port: number }).port;
  try {
    await esl.command('event plain CUSTOM mod_audio_fork::connect mod_audio_fork::connect_failed');
    const orig = await esl.api(`originate {origination_uuid=${uuid},sip_h_X-esl-outbound=${hostForFs}:${holdPort},origination_caller_id_number=frontdesk-doctor}sofia/drachtio_mrf/doctor@${profileAddr} &park()`);
    if (!/^\+OK/.test(orig)) return 'unknown';
    const started = await esl.api(`uuid_audio_fork ${uuid} start ${cfg.freeswitch.forkUrl} mono 8000`);
    if (!/^\+OK/.test(started)) return 'unknown';
    const subclass = (b: string) => /Event-Subclass: mod_audio_fork(?:%3A%3A|::)(connect_failed|connect)\b/.exec(b)?.[1];
    const ev = await esl.waitEvent((b) => b.includes(uuid) && !!subclass(b), ms);
    if (!ev) return 'failed';
    return subclass(ev) === 'connect' ? 'connected' : 'failed';
  } finally {
    await esl.api(`uuid_kill ${uuid}`).catch(() => '');
    holder.close();
  }
}

export async function checkFreeswitch(cfg: Config, timeoutMs: number): Promise<Check[]> {
  const out: Check[] = [];
  const fs = cfg.freeswitch;
  try {
    const r = await drachtioLogin(fs.drachtio, fs.drachtioSecret ?? '', timeoutMs);
    out.push(r.ok
      ? { name: 'drachtio', status: 'ok', detail: `${fs.drachtio}, secret accepted${r.version ? ` (drachtio-server ${r.version})` : ''}` }
      : { name: 'drachtio', status: 'fail', detail: `${fs.drachtio} refused the secret: check FRONTDESK_DRACHTIO_SECRET against drachtio.conf.xml <admin secret>` });
  } catch (e) {
    out.push({ name: 'drachtio', status: 'fail', detail: `${fs.drachtio}: ${(e as Error).message}; is drachtio-server running?` });
  }
  let esl: Esl;
  try {
    esl = await Esl.open(fs.esl, fs.eslSecret ?? '', timeoutMs);
  } catch (e) {
    out.push((e as { denied?: boolean }).denied
      ? { name: 'freeswitch esl', status: 'fail', detail: `${fs.esl} refused the password: check FRONTDESK_FREESWITCH_ESL_SECRET against event_socket.conf.xml` }
      : { name: 'freeswitch esl', status: 'fail', detail: `${fs.esl}: ${(e as Error).message}; is FreeSWITCH running with mod_event_socket?` });
    return out;
  }
  try {
    out.push({ name: 'freeswitch esl', status: 'ok', detail: `${fs.esl}, password accepted` });
    const mod = (await withTimeout(esl.api('module_exists mod_audio_fork'), timeoutMs, 'module_exists')).trim();
    out.push(mod === 'true'
      ? { name: 'mod_audio_fork', status: 'ok', detail: 'loaded' }
      : { name: 'mod_audio_fork', status: 'fail', detail: 'not loaded: build jambonz\'s mod_audio_fork and load it in modules.conf.xml (docs/freeswitch.md)' });
    const sofia = await withTimeout(esl.api('sofia status'), timeoutMs, 'sofia status');
    const profile = /^\s*drachtio_mrf\s.*sip:mod_sofia@((?:\d{1,3}\.){3}\d{1,3}:\d+)/m.exec(sofia);
    out.push(profile
      ? { name: 'drachtio_mrf profile', status: 'ok', detail: `running on ${profile[1]}` }
      : { name: 'drachtio_mrf profile', status: 'fail', detail: 'no running drachtio_mrf SIP profile: install sip_profiles/drachtio_mrf.xml (its port may be taken)' });
    if (mod === 'true' && profile) {
      const here = await forkAnswersHere(fs.forkUrl, timeoutMs);
      const there = await forkFromFreeswitch(esl, cfg, profile[1]!, timeoutMs * 2).catch(() => 'unknown' as const);
      if (there === 'connected') out.push({ name: 'fork url', status: 'ok', detail: `FreeSWITCH opened ${fs.forkUrl}` });
      else if (there === 'failed' && here) out.push({ name: 'fork url', status: 'fail', detail: `FreeSWITCH cannot open ${fs.forkUrl} though it answers here: set FRONTDESK_FORK_URL to an address FreeSWITCH reaches` });
      else if (there === 'failed') out.push({ name: 'fork url', status: 'warn', detail: `nothing answers ${fs.forkUrl}, from here or from FreeSWITCH: start frontdesk and run doctor again (FRONTDESK_FORK_URL must be how FreeSWITCH reaches its HTTP port)` });
      else out.push({ name: 'fork url', status: 'warn', detail: `could not try ${fs.forkUrl} from FreeSWITCH (a test call on drachtio_mrf did not start)` });
    }
  } catch (e) {
    out.push({ name: 'freeswitch esl', status: 'fail', detail: `${fs.esl}: ${(e as Error).message}` });
  } finally {
    esl.close();
  }
  return out;
}
