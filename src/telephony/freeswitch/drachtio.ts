import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { createServer, type Socket } from 'node:net';
import type { DrachtioSeam, FsEndpoint, IncomingInvite, SipDialog } from './seam.js';

/**
 * The production seam: drachtio-srf (SIP through drachtio-server) and drachtio-fsmrf (FreeSWITCH
 * endpoints over ESL). Both are CommonJS with no bundled types, hence the narrow shapes below.
 *
 * One connection attempt builds one session: a fresh Srf, a fresh inbound ESL connection and a
 * fresh MediaServer (with its listener for FreeSWITCH's outbound ESL callbacks). The libraries'
 * own reconnect loops are switched off — left on, each one reconnected on its own while we built a
 * new session, and a FreeSWITCH restart left six drachtio and six ESL connections open. Whatever
 * goes wrong with a session (an 'error', a close, a step that never answers), it is torn down
 * whole and the owner (FsTelephony) builds the next one, with backoff.
 */

const require = createRequire(import.meta.url);

interface SrfRequest { callingNumber: string; calledNumber: string; body: string }
interface SrfResponse { send(status: number, opts?: { headers?: Record<string, string> }): void; finalResponseSent?: boolean }
interface WireProtocol {
  closing?: boolean;
  socket?: Socket | null;
  reconnectVars?: { retryTimer?: NodeJS.Timeout | null };
  installListeners(socket: Socket): void;
  /** Added by trackSockets: every socket this wire protocol opened. */
  frontdeskSockets?: Set<Socket>;
}
interface Srf extends EventEmitter {
  connect(o: { host: string; port: number; secret: string; reconnect?: { maxAttempts: number } }): void;
  invite(handler: (req: SrfRequest, res: SrfResponse) => void): void;
  createUAC(uri: string, o: Record<string, unknown>, cbs?: { cbRequest?: (err: unknown, req: { cancel?: () => void }) => void }): Promise<SipDialog & { remote: { sdp: string } }>;
  _app?: { client?: { wp?: WireProtocol; mapServer?: Map<Socket, unknown> } };
}
interface EslEvent { getBody(): string; getHeader(h: string): string | undefined }
interface EslConnection {
  socket: Socket | null;
  closing?: boolean;
  reconnectOpts: { maxAttempts?: number };
  reconnectVars: { retryTimer?: NodeJS.Timeout | null };
  initializeRetryVars(): void;
  on(event: string, fn: (...a: never[]) => void): unknown;
  once(event: string, fn: (...a: never[]) => void): unknown;
  api(command: string, cb: (res: EslEvent) => void): void;
  disconnect(): void;
}
interface MediaServer extends EventEmitter {
  connectCaller(req: SrfRequest, res: SrfResponse): Promise<{ endpoint: FsEndpoint; dialog: SipDialog }>;
  createEndpoint(): Promise<FsEndpoint & { local: { sdp: string }; modify(sdp: string): Promise<void> }>;
  closing?: boolean;
  _server?: { close(): void };
}

export interface DrachtioOptions {
  drachtio: { host: string; port: number; secret: string };
  freeswitch: { address: string; port: number; secret: string };
  /**
   * Where FreeSWITCH's outbound ESL connection for each call comes back to (the dialplan's
   * `socket ${sip_h_X-esl-outbound}`): listen address and port (0: any free port) and the address
   * FreeSWITCH is told. Default: listen on the local address of our ESL connection — the interface
   * that reaches FreeSWITCH — and advertise it.
   */
  callback?: { listenAddress?: string | undefined; listenPort?: number | undefined; advertisedAddress?: string | undefined; advertisedPort?: number | undefined };
  /** The FreeSWITCH SIP profile drachtio-fsmrf sends media legs to. */
  profile?: string;
  /** Digest credentials for the trunk, for outbound legs. */
  trunkAuth?: { username: string; password: string } | undefined;
  /** Longest wait for one step of a connection attempt (TCP connect, login, sofia status), ms. */
  stepTimeoutMs?: number;
}

interface Session {
  srf: Srf;
  conn?: EslConnection;
  ms?: MediaServer;
  /** Fully connected: from now on a loss is reported as 'disconnected' (before, connect() rejects). */
  ready: boolean;
  closed: boolean;
}

/** Records every socket drachtio-srf's wire protocol opens, so a torn-down session can close them all. */
function trackSockets(): void {
  const WireProtocol = require('drachtio-srf/lib/wire-protocol') as { prototype: WireProtocol & { frontdeskTracked?: boolean } };
  const proto = WireProtocol.prototype;
  if (proto.frontdeskTracked) return;
  const install = proto.installListeners;
  proto.installListeners = function (this: WireProtocol, socket: Socket) {
    (this.frontdeskSockets ??= new Set()).add(socket);
    socket.once('close', () => this.frontdeskSockets?.delete(socket));
    return install.call(this, socket);
  };
  proto.frontdeskTracked = true;
}

function step<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** Can we listen there? (MediaServer's own listener has no 'error' handler: a bad address would end the process.) */
function canListen(address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', (e) => reject(new Error(`cannot listen on ${address}:${port} for FreeSWITCH's callbacks: ${e.message}`)));
    s.listen(port, address, () => s.close(() => resolve()));
  });
}

export class DrachtioLibSeam extends EventEmitter implements DrachtioSeam {
  private session: Session | undefined;

  constructor(private readonly o: DrachtioOptions) {
    super();
  }

  /** One whole attempt: drachtio, ESL, the callback listener. Rejects (leaving nothing open) on any failure. */
  async connect(): Promise<void> {
    if (this.session) this.teardown(this.session);
    trackSockets();
    const SrfClass = require('drachtio-srf') as new () => Srf;
    const s: Session = { srf: new SrfClass(), ready: false, closed: false };
    this.session = s;
    const timeout = this.o.stepTimeoutMs ?? 5_000;
    const { drachtio: d, freeswitch: f } = this.o;
    // Every 'error' the libraries can emit has a listener for the session's whole life and after:
    // an unhandled one ends the process.
    s.srf.on('error', (err: Error) => this.lost(s, `drachtio: ${err.message}`));
    s.srf.on('close', () => this.lost(s, 'drachtio closed the connection'));
    try {
      await step(this.connectDrachtio(s), timeout, `drachtio-server at ${d.host}:${d.port}`);
      await step(this.connectEsl(s), timeout, `FreeSWITCH event socket at ${f.address}:${f.port}`);
      await step(this.startMediaServer(s), timeout, 'FreeSWITCH media server');
    } catch (e) {
      this.teardown(s);
      if (this.session === s) this.session = undefined;
      throw e;
    }
    if (s.closed) throw new Error('closed while connecting');
    s.ready = true;
    this.emit('connected');
  }

  private connectDrachtio(s: Session): Promise<void> {
    const { host, port, secret } = this.o.drachtio;
    return new Promise<void>((resolve, reject) => {
      s.srf.once('connect', (err: Error | null) => (err ? reject(new Error(`drachtio-server at ${host}:${port} refused the secret (FRONTDESK_DRACHTIO_SECRET)`)) : resolve()));
      s.srf.once('error', (err: Error) => reject(new Error(`drachtio-server at ${host}:${port}: ${err.message}`)));
      s.srf.once('close', () => reject(new Error(`drachtio-server at ${host}:${port} closed the connection`)));
      // maxAttempts 1: drachtio-srf never reconnects on its own; the next session does.
      s.srf.connect({ host, port, secret, reconnect: { maxAttempts: 1 } });
      s.srf.invite((req, res) => this.onInvite(s, req, res));
    });
  }

  private connectEsl(s: Session): Promise<void> {
    const esl = require('drachtio-modesl') as { Connection: new (h: string, p: number, pw: string, ready: () => void) => EslConnection };
    const { address, port, secret } = this.o.freeswitch;
    return new Promise<void>((resolve, reject) => {
      const conn = new esl.Connection(address, port, secret, () => resolve());
      s.conn = conn;
      // modesl reconnects forever on its own (with an uncapped, at first NaN, delay) unless told
      // not to: one attempt, and the session owns what happens next.
      conn.reconnectOpts = { maxAttempts: 1 };
      conn.initializeRetryVars();
      conn.on('error', (err: Error) => {
        reject(new Error(`FreeSWITCH event socket at ${address}:${port}: ${err.message}`));
        this.lost(s, `FreeSWITCH event socket: ${err.message}`);
      });
      conn.on('esl::end', () => {
        reject(new Error(`FreeSWITCH event socket at ${address}:${port} closed the connection`));
        this.lost(s, 'FreeSWITCH event socket closed');
      });
      conn.on('esl::event::auth::fail', () => reject(new Error(`FreeSWITCH event socket at ${address}:${port} refused the password (FRONTDESK_FREESWITCH_ESL_SECRET)`)));
      conn.on('esl::event::raw::text/rude-rejection', () => reject(new Error(`FreeSWITCH event socket at ${address}:${port} refused this address (event_socket.conf.xml apply-inbound-acl)`)));
    });
  }

  private async startMediaServer(s: Session): Promise<void> {
    const conn = s.conn!;
    const profile = this.o.profile ?? 'drachtio_mrf';
    // drachtio-fsmrf throws (inside an ESL callback: the process ends) when the profile is not up
    // yet, e.g. while FreeSWITCH is still starting; ask first.
    const status = await new Promise<string>((resolve) => conn.api('sofia status', (res) => resolve(res.getBody())));
    if (!new RegExp(`^\\s*${profile}\\s.*sip:mod_sofia@`, 'm').test(status)) {
      throw new Error(`FreeSWITCH has no running SIP profile ${profile} (sip_profiles/drachtio_mrf.xml) yet`);
    }
    const cb = this.o.callback ?? {};
    const listenAddress = cb.listenAddress ?? conn.socket?.localAddress ?? '127.0.0.1';
    const listenPort = cb.listenPort ?? 0;
    await canListen(listenAddress, listenPort);
    if (s.closed) throw new Error('closed while connecting');
    const MrfClass = require('drachtio-fsmrf') as new (srf: Srf) => object;
    const MediaServerClass = require('drachtio-fsmrf/lib/mediaserver') as new (
      conn: EslConnection, mrf: object, listenAddress: string, listenPort: number, advertisedAddress: string | undefined, advertisedPort: number | undefined, profile: string,
    ) => MediaServer;
    const ms = new MediaServerClass(conn, new MrfClass(s.srf), listenAddress, listenPort, cb.advertisedAddress, cb.advertisedPort, profile);
    s.ms = ms;
    ms.on('error', (err: Error) => this.lost(s, `FreeSWITCH media server: ${err.message}`));
    await new Promise<void>((resolve, reject) => {
      ms.once('ready', () => resolve());
      ms.once('error', (err: Error) => reject(err));
    });
  }

  private onInvite(s: Session, req: SrfRequest, res: SrfResponse): void {
    const inv: IncomingInvite = {
      callingNumber: req.callingNumber,
      calledNumber: req.calledNumber,
      accept: async () => {
        if (s.closed || !s.ms) throw new Error('FreeSWITCH connection lost');
        try {
          return await s.ms.connectCaller(req, res);
        } catch (e) {
          // The caller's INVITE still waits for an answer: without one the carrier retries.
          if (!res.finalResponseSent) {
            try {
              res.send(503);
            } catch {
              // drachtio gone too
            }
          }
          throw e;
        }
      },
      reject: async (status, headers) => res.send(status, headers ? { headers } : {}),
    };
    this.emit('invite', inv);
  }

  private lost(s: Session, why: string): void {
    if (!s.ready || s.closed || this.session !== s) return;
    this.teardown(s);
    this.session = undefined;
    this.emit('disconnected', why);
  }

  /** Closes everything a session opened, now; nothing of it reconnects or keeps the process alive. */
  private teardown(s: Session): void {
    s.closed = true;
    const client = s.srf._app?.client;
    const wp = client?.wp;
    if (wp) {
      wp.closing = true;
      if (wp.reconnectVars?.retryTimer) clearTimeout(wp.reconnectVars.retryTimer);
      for (const sock of wp.frontdeskSockets ?? []) sock.destroy();
      wp.socket?.destroy();
    }
    for (const sock of client?.mapServer?.keys() ?? []) sock.destroy();
    const ms = s.ms;
    if (ms) {
      ms.closing = true;
      if (ms._server) ms._server.close();
      // Its listener may still be on its way up: close it when it gets there.
      else ms.once('connect', () => ms._server?.close());
    }
    const conn = s.conn;
    if (conn) {
      conn.closing = true;
      if (conn.reconnectVars?.retryTimer) clearTimeout(conn.reconnectVars.retryTimer);
      conn.socket?.destroy();
    }
  }

  async call(uri: string, opts: { callerId?: string; timeoutSeconds: number; signal?: AbortSignal }): Promise<{ endpoint: FsEndpoint; dialog: SipDialog }> {
    const s = this.session;
    if (!s?.ms || s.closed) throw Object.assign(new Error('drachtio/FreeSWITCH not connected'), { status: 503 });
    const endpoint = await s.ms.createEndpoint();
    let invite: { cancel?: () => void } | undefined;
    let timedOut = false;
    try {
      let timer: NodeJS.Timeout | undefined;
      const uac = s.srf.createUAC(uri, {
        localSdp: endpoint.local.sdp,
        ...(opts.callerId ? { callingNumber: opts.callerId } : {}),
        ...(this.o.trunkAuth ? { auth: this.o.trunkAuth } : {}),
      }, { cbRequest: (_err: unknown, req: { cancel?: () => void }) => (invite = req) });
      // Answered after we gave up: hang that up too, or it is a call connected to nothing.
      void uac.then((d) => (timedOut ? d.destroy().catch(() => {}) : undefined), () => {});
      let onAbort: (() => void) | undefined;
      const dialog = await Promise.race([
        uac,
        new Promise<never>((_, reject) => {
          const giveUp = (why: Error) => {
            timedOut = true;
            try {
              invite?.cancel?.();
            } catch {
              // already answered or gone
            }
            reject(why);
          };
          timer = setTimeout(() => giveUp(Object.assign(new Error('no answer'), { status: 408 })), opts.timeoutSeconds * 1000);
          // Whoever asked for the leg no longer wants it (the caller hung up): stop it ringing now.
          onAbort = () => giveUp(Object.assign(new Error('cancelled'), { status: 487 }));
          if (opts.signal?.aborted) onAbort();
          else opts.signal?.addEventListener('abort', onAbort, { once: true });
        }),
      ]).finally(() => {
        clearTimeout(timer);
        if (onAbort) opts.signal?.removeEventListener('abort', onAbort);
      });
      await endpoint.modify(dialog.remote.sdp);
      return { endpoint, dialog };
    } catch (e) {
      await endpoint.destroy().catch(() => {});
      throw e;
    }
  }

  async close(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    if (s) this.teardown(s);
  }
}
