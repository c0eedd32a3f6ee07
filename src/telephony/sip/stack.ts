import { EventEmitter } from 'node:events';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createConnection, createServer, type Server, type Socket as TcpSocket } from 'node:net';
import { randomBytes } from 'node:crypto';
import {
  Headers, LIMITS, SipParseError, headerEnd, parseCSeq, parseMessage, parseVia, serialize,
  type SipMessage, type SipRequest, type SipResponse,
} from './message.js';

/**
 * SIP transports (UDP, TCP) and transactions (RFC 3261 §17) with the retransmission timers UDP
 * needs. Hand-written with message.ts for the reason given there; the dialog/call logic sits above
 * in endpoint.ts and never sees a retransmission.
 */

export const timers = { T1: 500, T2: 4_000, T4: 5_000 } as const;

export interface Remote {
  address: string;
  port: number;
  transport: 'UDP' | 'TCP';
}

export function newBranch(): string {
  return `z9hG4bK${randomBytes(8).toString('hex')}`;
}

export function newTag(): string {
  return randomBytes(6).toString('hex');
}

const REASONS: Record<number, string> = {
  100: 'Trying', 180: 'Ringing', 183: 'Session Progress', 200: 'OK', 202: 'Accepted',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  407: 'Proxy Authentication Required', 408: 'Request Timeout', 415: 'Unsupported Media Type', 420: 'Bad Extension',
  480: 'Temporarily Unavailable', 481: 'Call/Transaction Does Not Exist', 482: 'Loop Detected', 483: 'Too Many Hops',
  486: 'Busy Here', 487: 'Request Terminated', 488: 'Not Acceptable Here', 491: 'Request Pending',
  500: 'Server Internal Error', 501: 'Not Implemented', 503: 'Service Unavailable', 603: 'Decline',
};

export function reasonFor(status: number): string {
  return REASONS[status] ?? (status < 200 ? 'Progress' : status < 300 ? 'OK' : 'Error');
}

/** Builds a response to `req` (RFC 3261 §8.2.6): Via, From, To, Call-ID and CSeq copied. */
export function makeResponse(req: SipRequest, status: number, reason?: string, toTag?: string): SipResponse {
  const headers = new Headers();
  for (const [k, v] of req.headers.list) {
    if (k === 'via' || k === 'from' || k === 'call-id' || k === 'cseq' || k === 'record-route') headers.add(k, v);
    else if (k === 'to') headers.add(k, toTag && !/;\s*tag=/i.test(v) && status > 100 ? `${v};tag=${toTag}` : v);
  }
  return { kind: 'response', status, reason: reason ?? reasonFor(status), headers, body: Buffer.alloc(0) };
}

// ---- transport ---------------------------------------------------------------------------------

export const tcpDefaults = {
  /** An inbound connection with no traffic for this long is closed, unless a call still uses it, ms. */
  idleMs: 5 * 60_000,
  /** Inbound connections at once from one address. */
  maxPerSource: 20,
  /** Inbound connections at once in all. */
  maxTotal: 1_000,
} as const satisfies Record<string, number>;

export type TcpLimits = { -readonly [K in keyof typeof tcpDefaults]?: number };

export class SipTransport extends EventEmitter<{ message: [SipMessage, Remote]; malformed: [Buffer, Remote, string]; refused: [Remote, string] }> {
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private readonly conns = new Map<string, TcpSocket>();
  private readonly inbound = new Map<string, number>();
  private inboundTotal = 0;
  private readonly limits: { -readonly [K in keyof typeof tcpDefaults]: number };
  /** Asked before closing an idle connection: a call's signalling may sit quiet for an hour. */
  inUse: (remote: Remote) => boolean = () => false;
  port = 0;
  address = '';

  constructor(limits: TcpLimits = {}) {
    super();
    this.limits = { ...tcpDefaults, ...limits };
  }

  async listen(address: string, port: number): Promise<void> {
    const udp = createSocket({ type: address.includes(':') ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, address, () => resolve());
    });
    udp.removeAllListeners('error');
    udp.on('error', () => {});
    udp.on('message', (buf, r) => this.onData(buf, { address: r.address, port: r.port, transport: 'UDP' }));
    this.udp = udp;
    this.port = udp.address().port;
    this.address = address;
    const tcp = createServer((sock) => this.accept(sock));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(this.port, address, () => resolve());
    });
    tcp.removeAllListeners('error');
    // An accept failure (EMFILE under a flood) must not end the process; the listener stays up.
    tcp.on('error', () => {});
    this.tcp = tcp;
  }

  private key(r: { address: string; port: number }): string {
    return `${r.address}:${r.port}`;
  }

  /** An inbound TCP connection: within the per-source and total caps, closed when idle. */
  private accept(sock: TcpSocket): void {
    const address = sock.remoteAddress ?? '';
    const remote: Remote = { address, port: sock.remotePort ?? 0, transport: 'TCP' };
    const mine = this.inbound.get(address) ?? 0;
    if (mine >= this.limits.maxPerSource || this.inboundTotal >= this.limits.maxTotal) {
      sock.destroy();
      this.emit('refused', remote, mine >= this.limits.maxPerSource ? 'too many connections from this address' : 'too many connections');
      return;
    }
    this.inbound.set(address, mine + 1);
    this.inboundTotal++;
    sock.once('close', () => {
      this.inboundTotal--;
      const n = (this.inbound.get(address) ?? 1) - 1;
      if (n > 0) this.inbound.set(address, n);
      else this.inbound.delete(address);
    });
    sock.setTimeout(this.limits.idleMs, () => {
      if (!this.inUse(remote)) sock.destroy();
    });
    this.adopt(sock);
  }

  private adopt(sock: TcpSocket): void {
    const remote: Remote = { address: sock.remoteAddress ?? '', port: sock.remotePort ?? 0, transport: 'TCP' };
    const key = this.key(remote);
    this.conns.set(key, sock);
    sock.setNoDelay(true);
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      for (;;) {
        // Keep-alive CRLFs (RFC 5626) between messages.
        let skip = 0;
        while (skip < buf.length && (buf[skip] === 0x0d || buf[skip] === 0x0a)) skip++;
        if (skip) buf = buf.subarray(skip);
        const end = headerEnd(buf);
        if (end < 0) {
          if (buf.length > LIMITS.maxMessageBytes) {
            this.emit('malformed', buf.subarray(0, 200), remote, 'headers too large');
            sock.destroy();
          }
          return;
        }
        const head = buf.toString('latin1', 0, end);
        const m = /^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*$/im.exec(head);
        const len = m ? Number(m[1]) : 0;
        if (len > LIMITS.maxMessageBytes) {
          this.emit('malformed', buf.subarray(0, 200), remote, 'body too large');
          sock.destroy();
          return;
        }
        if (buf.length < end + 4 + len) return;
        const msg = buf.subarray(0, end + 4 + len);
        buf = buf.subarray(end + 4 + len);
        this.onData(Buffer.from(msg), remote);
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      if (this.conns.get(key) === sock) this.conns.delete(key);
    });
  }

  private onData(buf: Buffer, remote: Remote): void {
    // A CRLF keep-alive ping over UDP gets nothing back; anything else must parse.
    if (buf.length <= 4 && buf.every((b) => b === 0x0d || b === 0x0a)) return;
    let msg: SipMessage;
    try {
      msg = parseMessage(buf);
    } catch (e) {
      this.emit('malformed', buf, remote, e instanceof SipParseError ? e.message : 'unparseable');
      return;
    }
    this.emit('message', msg, remote);
  }

  send(msg: SipMessage, remote: Remote): void {
    const data = serialize(msg);
    if (remote.transport === 'UDP') {
      try {
        this.udp?.send(data, remote.port, remote.address);
      } catch {
        // Closed socket (a retransmission timer after stop) or an unusable address: a lost
        // datagram, which SIP's own retransmissions and timeouts already cover.
      }
      return;
    }
    try {
      let sock = this.conns.get(this.key(remote));
      if (!sock || sock.destroyed) {
        sock = createConnection({ host: remote.address, port: remote.port });
        this.adopt(sock);
        this.conns.set(this.key(remote), sock);
      }
      sock.write(data);
    } catch {
      // createConnection throws on an unusable port; connection failures arrive as 'error' (handled in adopt)
    }
  }

  async close(): Promise<void> {
    for (const s of this.conns.values()) s.destroy();
    this.conns.clear();
    await new Promise<void>((r) => (this.tcp ? this.tcp.close(() => r()) : r()));
    await new Promise<void>((r) => {
      try {
        this.udp ? this.udp.close(() => r()) : r();
      } catch {
        r();
      }
    });
  }
}

// ---- transactions ------------------------------------------------------------------------------

type Timer = NodeJS.Timeout | undefined;

export class ServerTransaction extends EventEmitter<{ cancel: []; ack: [SipRequest]; terminated: [] }> {
  lastResponse: SipResponse | undefined;
  state: 'proceeding' | 'completed' | 'confirmed' | 'terminated' = 'proceeding';
  private retransmit: Timer;
  private timeout: Timer;

  constructor(
    private readonly stack: SipStack,
    readonly key: string,
    readonly request: SipRequest,
    readonly remote: Remote,
  ) {
    super();
  }

  get isInvite(): boolean {
    return this.request.method === 'INVITE';
  }

  /**
   * Sends a response. `retransmit: false` sends a final response once (to an untrusted source that
   * may never ACK: no amplification); a retransmitted request still gets it again, one for one.
   */
  respond(res: SipResponse, opts: { retransmit?: boolean } = {}): void {
    if (this.state === 'terminated' || this.state === 'completed' || this.state === 'confirmed') return;
    this.lastResponse = res;
    this.stack.transport.send(res, this.remote);
    if (res.status < 200) return;
    if (this.isInvite && res.status < 300) {
      // 2xx retransmission is the dialog's job (it knows when the ACK arrives).
      this.terminate();
      return;
    }
    this.state = 'completed';
    if (this.isInvite && this.remote.transport === 'UDP' && opts.retransmit !== false) {
      let interval: number = timers.T1;
      const again = () => {
        if (this.state !== 'completed') return;
        this.stack.transport.send(res, this.remote);
        interval = Math.min(interval * 2, timers.T2);
        this.retransmit = setTimeout(again, interval);
      };
      this.retransmit = setTimeout(again, interval);
    }
    // Timer H (INVITE: wait for ACK) or J (non-INVITE: absorb retransmissions).
    const wait = this.remote.transport === 'UDP' ? 64 * timers.T1 : this.isInvite ? 64 * timers.T1 : 0;
    this.timeout = setTimeout(() => this.terminate(), wait);
  }

  /** A retransmitted request: answer with what we said last. */
  onRetransmit(): void {
    if (this.lastResponse) this.stack.transport.send(this.lastResponse, this.remote);
  }

  onAck(ack: SipRequest): void {
    if (this.state !== 'completed') return;
    this.state = 'confirmed';
    clearTimeout(this.retransmit);
    clearTimeout(this.timeout);
    this.emit('ack', ack);
    this.timeout = setTimeout(() => this.terminate(), this.remote.transport === 'UDP' ? timers.T4 : 0);
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    clearTimeout(this.retransmit);
    clearTimeout(this.timeout);
    this.stack.forgetServer(this.key);
    this.emit('terminated');
  }
}

export class ClientTransaction extends EventEmitter<{ provisional: [SipResponse] }> {
  readonly response: Promise<SipResponse>;
  private resolve!: (r: SipResponse) => void;
  private retransmit: Timer;
  private timeout: Timer;
  private done = false;
  private provisional = false;
  /** The INVITE is being given up on: CANCEL goes out once the far end has sent a provisional. */
  cancelled = false;

  constructor(
    private readonly stack: SipStack,
    readonly key: string,
    readonly request: SipRequest,
    readonly remote: Remote,
  ) {
    super();
    this.response = new Promise((r) => (this.resolve = r));
  }

  start(): void {
    this.stack.transport.send(this.request, this.remote);
    if (this.remote.transport === 'UDP') {
      let interval: number = timers.T1;
      const again = () => {
        if (this.done) return;
        this.stack.transport.send(this.request, this.remote);
        interval = this.request.method === 'INVITE' ? interval * 2 : Math.min(interval * 2, timers.T2);
        this.retransmit = setTimeout(again, interval);
      };
      this.retransmit = setTimeout(again, interval);
    }
    // Timer B / F: no final answer in 64×T1 → 408.
    this.timeout = setTimeout(() => {
      const res = makeResponse(this.request, 408);
      this.finish(res);
    }, 64 * timers.T1);
  }

  onResponse(res: SipResponse): void {
    if (this.done) return;
    if (res.status < 200) {
      // Proceeding: an INVITE stops retransmitting; a non-INVITE keeps going at T2.
      if (this.request.method === 'INVITE') {
        clearTimeout(this.retransmit);
        if (!this.provisional) {
          this.provisional = true;
          // Timer B stops: how long a phone may ring is the caller's decision (and its CANCEL).
          clearTimeout(this.timeout);
        }
      }
      this.emit('provisional', res);
      return;
    }
    if (this.request.method === 'INVITE' && res.status >= 300) this.ackNon2xx(res);
    this.finish(res);
  }

  /**
   * Gives up on an INVITE (RFC 3261 §9.1): a CANCEL if the far end sent a provisional; the final
   * answer still comes through `response`: 487, or a 200 that raced the CANCEL (the caller must
   * ACK and BYE it), or 408 after 64×T1 of silence. No provisional yet: 408 at once.
   */
  cancel(): void {
    if (this.done || this.cancelled || this.request.method !== 'INVITE') return;
    this.cancelled = true;
    if (!this.provisional) {
      // Not a word back to any retransmission: nothing rings there, nothing to CANCEL.
      this.finish(makeResponse(this.request, 408));
      return;
    }
    this.sendCancel();
    clearTimeout(this.timeout);
    this.timeout = setTimeout(() => this.finish(makeResponse(this.request, 408)), 64 * timers.T1);
  }

  private sendCancel(): void {
    // Same Via (branch), Request-URI, From, To, Call-ID and CSeq number as the INVITE (§9.1).
    const headers = new Headers();
    headers.add('via', this.request.headers.get('via')!);
    for (const [k, v] of this.request.headers.list) if (k === 'route') headers.add(k, v);
    headers.add('max-forwards', '70');
    headers.add('from', this.request.headers.get('from')!);
    headers.add('to', this.request.headers.get('to')!);
    headers.add('call-id', this.request.headers.get('call-id')!);
    headers.add('cseq', `${parseCSeq(this.request.headers.get('cseq')!).seq} CANCEL`);
    this.stack.request({ kind: 'request', method: 'CANCEL', uri: this.request.uri, headers, body: Buffer.alloc(0) }, this.remote);
  }

  /** Cancels retransmissions without an answer (the call was abandoned). */
  abandon(): void {
    this.finish(makeResponse(this.request, 487));
  }

  private ackNon2xx(res: SipResponse): void {
    // RFC 3261 §17.1.1.3: same branch, To from the response.
    const headers = new Headers();
    headers.add('via', this.request.headers.get('via')!);
    for (const k of ['route', 'max-forwards']) for (const v of this.request.headers.getAll(k)) headers.add(k, v);
    headers.add('from', this.request.headers.get('from')!);
    headers.add('to', res.headers.get('to')!);
    headers.add('call-id', this.request.headers.get('call-id')!);
    headers.add('cseq', `${parseCSeq(this.request.headers.get('cseq')!).seq} ACK`);
    this.stack.transport.send({ kind: 'request', method: 'ACK', uri: this.request.uri, headers, body: Buffer.alloc(0) }, this.remote);
  }

  private finish(res: SipResponse): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.retransmit);
    clearTimeout(this.timeout);
    this.stack.forgetClient(this.key);
    this.resolve(res);
  }
}

export interface StackHandlers {
  /** A new request (never a retransmission). ACKs for 2xx come with no transaction. */
  onRequest(req: SipRequest, tx: ServerTransaction | undefined, remote: Remote): void;
  /** A response no transaction claims: a retransmitted 2xx to an INVITE (re-ACK it). */
  onStrayResponse?(res: SipResponse, remote: Remote): void;
  onMalformed?(buf: Buffer, remote: Remote, reason: string): void;
  /** A handler threw: the message got a 500 where one could be sent; the process goes on. */
  onHandlerError?(err: unknown, msg: SipMessage, remote: Remote): void;
}

export class SipStack {
  readonly transport: SipTransport;
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly clients = new Map<string, ClientTransaction>();

  constructor(private readonly handlers: StackHandlers, tcp: TcpLimits = {}) {
    this.transport = new SipTransport(tcp);
    this.transport.on('message', (m, r) => {
      // Fault isolation: whatever one message does to a handler, it gets its error answer and
      // the socket (and with it every other call) keeps going.
      try {
        if (m.kind === 'request') this.onRequest(m, r);
        else this.onResponse(m, r);
      } catch (err) {
        this.handlerFailed(err, m, r);
      }
    });
    this.transport.on('malformed', (buf, remote, reason) => this.onMalformed(buf, remote, reason));
  }

  async listen(address: string, port: number): Promise<void> {
    await this.transport.listen(address, port);
  }

  private serverKey(req: SipRequest, method = req.method): string {
    const via = parseVia(req.headers.get('via')!);
    return `${via.params.branch}|${via.host}:${via.port ?? 5060}|${method === 'ACK' ? 'INVITE' : method}`;
  }

  private onRequest(req: SipRequest, remote: Remote): void {
    const key = this.serverKey(req);
    const existing = this.servers.get(key);
    if (req.method === 'ACK') {
      // ACK to a non-2xx final belongs to the INVITE transaction; ACK to a 2xx goes to the dialog.
      if (existing && existing.state === 'completed') existing.onAck(req);
      else if (!existing) this.handlers.onRequest(req, undefined, remote);
      return;
    }
    if (existing) {
      existing.onRetransmit();
      return;
    }
    const tx = new ServerTransaction(this, key, req, remote);
    this.servers.set(key, tx);
    if (req.method === 'CANCEL') {
      const invite = this.servers.get(this.serverKey(req, 'INVITE'));
      if (!invite || invite.state !== 'proceeding') {
        tx.respond(makeResponse(req, 481));
        return;
      }
      tx.respond(makeResponse(req, 200));
      invite.emit('cancel');
      return;
    }
    this.handlers.onRequest(req, tx, remote);
  }

  private onResponse(res: SipResponse, remote: Remote): void {
    const via = parseVia(res.headers.get('via')!);
    const key = `${via.params.branch}|${parseCSeq(res.headers.get('cseq')!).method}`;
    const tx = this.clients.get(key);
    if (tx) tx.onResponse(res);
    else this.handlers.onStrayResponse?.(res, remote);
  }

  private onMalformed(buf: Buffer, remote: Remote, reason: string): void {
    try {
      this.handlers.onMalformed?.(buf, remote, reason);
    } catch {
      // a malformed message that cannot even be answered is dropped
    }
  }

  private handlerFailed(err: unknown, m: SipMessage, remote: Remote): void {
    if (m.kind === 'request' && m.method !== 'ACK') {
      const tx = this.servers.get(this.serverKey(m));
      if (tx && tx.state === 'proceeding') tx.respond(makeResponse(m, 500, 'Server Internal Error', newTag()));
    }
    try {
      this.handlers.onHandlerError?.(err, m, remote);
    } catch {
      // logging must not turn one fault into two
    }
  }

  forgetServer(key: string): void {
    this.servers.delete(key);
  }

  forgetClient(key: string): void {
    this.clients.delete(key);
  }

  /** Sends a request in a new client transaction (the top Via's branch is its key). */
  request(req: SipRequest, remote: Remote): ClientTransaction {
    const via = parseVia(req.headers.get('via')!);
    const key = `${via.params.branch}|${req.method}`;
    const tx = new ClientTransaction(this, key, req, remote);
    this.clients.set(key, tx);
    tx.start();
    return tx;
  }

  /** Sends outside any transaction (ACK for 2xx, 2xx retransmissions). */
  sendRaw(m: SipMessage, remote: Remote): void {
    this.transport.send(m, remote);
  }

  get pending(): number {
    return this.servers.size + this.clients.size;
  }

  async close(): Promise<void> {
    for (const tx of this.servers.values()) tx.terminate();
    for (const tx of this.clients.values()) tx.abandon();
    await this.transport.close();
  }
}
