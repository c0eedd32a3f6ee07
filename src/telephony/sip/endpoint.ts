import { EventEmitter } from 'node:events';
import { networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Call, DialOptions, Telephony } from '../call.js';
import { RtpSession } from '../rtp/session.js';
import { PortAllocator } from '../rtp/ports.js';
import { mediaClock, type MediaClock } from '../rtp/clock.js';
import { cidrContains, type Cidr } from '../../util/cidr.js';
import { toE164 } from '../../util/phone.js';
import {
  Headers, parseAuth, parseNameAddr, parseUri, parseCSeq, SipParseError,
  type SipRequest, type SipResponse,
} from './message.js';
import { makeResponse, newBranch, newTag, SipStack, type Remote, type ServerTransaction, type TcpLimits } from './stack.js';
import { SourceGuard, type SipGuardOptions } from './guard.js';
import {
  parseMinSe, parseSessionExpires, sessionTimerDefaults, supportsTimer, type SessionTimerOptions,
} from './session-timer.js';
import { buildSdp, mirrorDirection, negotiate } from './sdp.js';
import type { RtpCodec } from '../rtp/session.js';

/** The codec an RTP session starts with before the far end's SDP has chosen one (delayed offer). */
const OFFER_CODEC: RtpCodec = { codec: 'PCMU', payloadType: 0, dtmfPayloadType: 101, ptimeMs: 20 };
import { authorize, DigestVerifier } from './digest.js';
import { SipCall } from './call.js';
import type { DialPolicy } from '../../business/dial-policy.js';
import { DialGuard, type OutboundHook } from '../dial-guard.js';

/**
 * The built-in SIP endpoint: a user agent for a trunk (Telnyx, SignalWire), desk phones and
 * softphones, with no PBX. Inbound INVITEs from trusted sources (or desk phones that pass a digest
 * challenge) become Calls; everything else gets 403. Outbound calls go to the trunk only when the
 * dial policy allows, and each one is reported to the audit hook.
 */

export interface TrunkConfig {
  host: string;
  port: number;
  transport: 'UDP' | 'TCP';
  username?: string | undefined;
  password?: string | undefined;
  /** REGISTER (credential trunks) or not (IP-authenticated trunks). */
  register: boolean;
  /** Caller ID for outbound calls (E.164). */
  callerId?: string | undefined;
  registerExpires?: number;
}

export interface SipEndpointOptions {
  bind: string;
  port: number;
  /** Address put in Contact, Via and SDP; default: the bind address, or this host's first LAN address. */
  advertise?: string | undefined;
  trusted: Cidr[];
  /** Desk phones allowed from anywhere with a password (digest). */
  users?: Record<string, string>;
  trunk?: TrunkConfig | undefined;
  dialPolicy?: Partial<DialPolicy>;
  rtpPortMin: number;
  rtpPortMax: number;
  /** Simultaneous calls (in and out) before new INVITEs get 503 + Retry-After; default: no cap. */
  maxCalls?: number | undefined;
  /** Retry-After on a 503, in seconds. */
  retryAfterS?: number;
  mediaTimeoutMs?: number;
  /** Send silence packets while nothing plays (default true). false behaves like a phone with DTX. */
  sendSilence?: boolean;
  /** RTCP report interval, ms (default 5 s, RFC 3550's minimum). */
  rtcpIntervalMs?: number;
  clock?: MediaClock;
  logger?: Logger | undefined;
  /** fail2ban-style blocking of sources that keep failing authentication. */
  guard?: SipGuardOptions;
  /** Idle timeout and connection caps for SIP over TCP. */
  tcp?: TcpLimits;
  /** RFC 4028 session timers: the smallest interval we accept, the one we ask for. */
  sessionTimer?: SessionTimerOptions;
  /** Every outbound attempt, allowed or not (the app writes it to the audit log). */
  onOutbound?: OutboundHook;
}

export const endpointDefaults = {
  /** On stop, how long BYEs may wait for their answers before the stack closes anyway. */
  byeWaitOnStopMs: 2_000,
  /** Retry-After on a 503 (call cap, no media ports), in seconds. */
  retryAfterS: 30,
} as const satisfies Record<string, number>;

export class DialError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = 'DialError';
  }
}

/** This host's first non-internal IPv4 address: what a wildcard bind advertises. */
export function firstLanAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export class SipEndpoint extends EventEmitter<{ call: [Call]; refer: [Call, string]; registered: [boolean] }> implements Telephony {
  readonly name = 'sip' as const;
  readonly stack: SipStack;
  readonly allow = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, UPDATE';
  private readonly calls = new Map<string, SipCall>();
  private readonly ports: PortAllocator;
  private readonly verifier = new DigestVerifier('frontdesk');
  private readonly sources: SourceGuard;
  private readonly log: Logger | undefined;
  /** The dial policy at the one place INVITE and REFER targets are made. */
  private readonly guard: DialGuard;
  private advertise = '';
  private registerTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  registered = false;
  /**
   * Draining (SIGTERM, `frontdesk drain`): OPTIONS and new INVITEs get 503, so a dispatcher
   * (kamailio/) stops sending here while the calls in progress finish.
   */
  draining = false;

  constructor(private readonly o: SipEndpointOptions) {
    super();
    this.log = o.logger;
    this.guard = new DialGuard({ ...o.dialPolicy, trustedNetworks: o.trusted }, o.onOutbound);
    this.ports = new PortAllocator(o.rtpPortMin, o.rtpPortMax);
    this.sources = new SourceGuard(o.guard);
    this.stack = new SipStack({
      onRequest: (req, tx, remote) => this.onRequest(req, tx, remote),
      onStrayResponse: (res, remote) => this.onStrayResponse(res, remote),
      onMalformed: (buf, remote, reason) => this.onMalformed(buf, remote, reason),
      onHandlerError: (err, msg, remote) => this.log?.error(
        { err, callId: msg.headers.get('call-id'), from: `${remote.address}:${remote.port}` },
        'SIP message handling failed; answered 500 where possible',
      ),
    }, o.tcp);
    // A TCP connection a live call signals over stays open however quiet it is.
    this.stack.transport.inUse = (r) => [...this.calls.values()].some((c) => c.dialog.remote.transport === 'TCP'
      && c.dialog.remote.address === r.address && c.dialog.remote.port === r.port);
    this.stack.transport.on('refused', (r, why) => this.log?.warn({ from: r.address }, `SIP over TCP refused: ${why}`));
  }

  get port(): number {
    return this.stack.transport.port;
  }

  /** The playout clock every call of this endpoint runs on. */
  get clock(): MediaClock {
    return this.o.clock ?? mediaClock;
  }

  async start(): Promise<void> {
    await this.stack.listen(this.o.bind, this.o.port);
    this.advertise = this.o.advertise ?? (this.o.bind === '0.0.0.0' || this.o.bind === '::' ? firstLanAddress() : this.o.bind);
    this.log?.info({ bind: this.o.bind, port: this.port, advertise: this.advertise }, 'SIP endpoint listening (udp+tcp)');
    if (this.o.trunk?.register) void this.register();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.registerTimer);
    // BYE every call, but do not wait out a far end that never answers (Timer F is 32 s).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.calls.values()].map((c) => c.hangup('shutdown').catch(() => {}))),
      new Promise<void>((r) => (timer = setTimeout(r, endpointDefaults.byeWaitOnStopMs))),
    ]);
    clearTimeout(timer);
    await this.stack.close();
  }

  activeCalls(): number {
    return this.calls.size;
  }

  // ---- helpers used by SipCall -----------------------------------------------------------------

  via(transport: string, branch: string): string {
    return `SIP/2.0/${transport} ${this.advertise}:${this.port};branch=${branch};rport`;
  }

  /** Our Contact; over TCP it says so, or the far end would send its in-dialog requests over UDP. */
  addContact(h: Headers, transport: Remote['transport'] = 'UDP'): void {
    h.add('contact', `<sip:frontdesk@${this.advertise}:${this.port}${transport === 'TCP' ? ';transport=tcp' : ''}>`);
  }

  /** Extensions we implement: a request that Requires anything else gets 420 (RFC 3261 §8.2.2.3). */
  readonly supported = ['timer'] as const;

  /** Our SDP: the answer to the far end's offer, or our offer when their INVITE had none (delayed offer). */
  localSdp(call: SipCall): string {
    return buildSdp({
      address: this.advertise, port: call.rtp.localPort, sessionId: Number.parseInt(call.id.slice(0, 8), 16), version: call.sdpVersion,
      ...(call.awaitingAnswer ? {} : { codec: call.rtp.codecInUse }),
      direction: call.localDirection,
      ...(call.offeredStreams && !call.awaitingAnswer ? { streams: call.offeredStreams } : {}),
      // Offering, we can mux; answering, only if they offered it.
      rtcpMux: call.awaitingAnswer || call.rtp.rtcp.mux,
    });
  }

  /** A blind-transfer (REFER) target as a SIP URI, after the dial policy: numbers and extensions go to the trunk. */
  targetUri(target: string, requestedBy?: string): string {
    const v = this.guard.check(target, 'transfer', requestedBy);
    if (v.kind === 'sip') return v.target;
    const host = this.o.trunk ? `${this.o.trunk.host}:${this.o.trunk.port}` : `${this.advertise}:${this.port}`;
    return `sip:${v.target}@${host}`;
  }

  optionsResponse(req: SipRequest): SipResponse {
    const res = makeResponse(req, 200, 'OK', newTag());
    res.headers.add('allow', this.allow);
    res.headers.add('accept', 'application/sdp');
    res.headers.add('supported', this.supported.join(', '));
    return res;
  }

  /** A fault in one call's media or handlers: logged with the call id; the call ends as `failed`. */
  logFault(call: SipCall, err: unknown): void {
    this.log?.error({ err, callId: call.dialog.callId, call: call.id }, 'call failed; ending it');
  }

  private rtcpInterval(): { intervalMs?: number } {
    return this.o.rtcpIntervalMs ? { intervalMs: this.o.rtcpIntervalMs } : {};
  }

  forget(call: SipCall): void {
    this.calls.delete(call.dialog.callId);
    this.ports.release(call.rtp.localPort);
  }

  // ---- inbound ----------------------------------------------------------------------------------

  private onMalformed(buf: Buffer, remote: Remote, reason: string): void {
    if (this.sources.blocked(remote.address) && !cidrContains(this.o.trusted, remote.address)) return;
    this.log?.warn({ from: `${remote.address}:${remote.port}`, reason }, 'malformed SIP dropped');
    // Answer 400 when enough of a request survives to address a response; otherwise drop it.
    const text = buf.toString('latin1', 0, Math.min(buf.length, 8192));
    if (!/^[A-Z]+ \S+ SIP\/2\.0\r\n/.test(text)) return;
    const grab = (re: RegExp) => re.exec(text)?.[1]?.trim();
    const via = grab(/^(?:via|v)\s*:\s*(.+)$/im);
    const from = grab(/^(?:from|f)\s*:\s*(.+)$/im);
    const to = grab(/^(?:to|t)\s*:\s*(.+)$/im);
    const callId = grab(/^(?:call-id|i)\s*:\s*(.+)$/im);
    const cseq = grab(/^cseq\s*:\s*(.+)$/im);
    if (!via || !from || !to || !callId || !cseq || text.startsWith('ACK ')) return;
    const headers = new Headers().add('via', via).add('from', from).add('to', to).add('call-id', callId).add('cseq', cseq);
    this.stack.sendRaw({ kind: 'response', status: 400, reason: `Bad Request (${reason})`.slice(0, 100), headers, body: Buffer.alloc(0) }, remote);
  }

  private findCall(req: SipRequest | SipResponse): SipCall | undefined {
    return this.calls.get(req.headers.get('call-id')!);
  }

  private onRequest(req: SipRequest, tx: ServerTransaction | undefined, remote: Remote): void {
    if (this.sources.blocked(remote.address) && !cidrContains(this.o.trusted, remote.address)) {
      // A blocked source gets no answer at all.
      tx?.terminate();
      return;
    }
    const call = this.findCall(req);
    if (!tx) {
      // ACK for a 2xx: only the dialog's own.
      if (call?.matches(req)) call.onAck(req);
      return;
    }
    const toTag = parseNameAddr(req.headers.get('to')!).params.tag;
    // A new INVITE is admitted first: strangers learn nothing about what we support.
    if ((toTag || req.method !== 'INVITE') && this.refuseUnsupported(req, tx)) return;
    if (toTag) {
      // In-dialog: Call-ID and both tags must match (RFC 3261 §12.2.2), else it is someone else's call.
      if (call?.matches(req)) call.onRequest(req, tx);
      else tx.respond(makeResponse(req, 481));
      return;
    }
    switch (req.method) {
      case 'OPTIONS':
        if (this.draining) this.busy(req, tx, 'Draining');
        else tx.respond(this.optionsResponse(req));
        return;
      case 'INVITE':
        if (call) {
          // A retransmitted INVITE whose transaction already ended (we answered): resend the 2xx.
          // The same Call-ID from another caller (another From tag) is refused as a merged request.
          if (call.matchesCaller(req)) call.resend2xx();
          else tx.respond(makeResponse(req, 482), { retransmit: false });
          return;
        }
        this.onInvite(req, tx, remote).catch((err: unknown) => {
          // Whatever went wrong setting up this call ends this call only.
          this.log?.error({ err, callId: req.headers.get('call-id') }, 'INVITE handling failed');
          const call = this.findCall(req);
          if (call) call.end('failed');
          if (tx.state === 'proceeding') tx.respond(makeResponse(req, 500, undefined, newTag()));
        });
        return;
      case 'BYE':
      case 'INFO':
      case 'NOTIFY':
      case 'REFER':
        tx.respond(makeResponse(req, 481));
        return;
      case 'REGISTER':
        tx.respond(makeResponse(req, 405));
        return;
      default:
        tx.respond(makeResponse(req, 501));
    }
  }

  /** Trusted network, or a desk phone that answers our digest challenge. */
  private admit(req: SipRequest, tx: ServerTransaction, remote: Remote): boolean {
    if (cidrContains(this.o.trusted, remote.address)) return true;
    const users = this.o.users ?? {};
    // Final answers to untrusted sources go out once: a scanner that never ACKs gets no echo.
    const once = { retransmit: false };
    if (Object.keys(users).length) {
      const auth = req.headers.get('authorization');
      let stale = false;
      if (auth) {
        let user = '';
        try {
          const a = parseAuth(auth);
          user = a.params.username ?? '';
          const pw = users[user];
          if (pw !== undefined && this.verifier.verify(a.params, req.method, pw, remote.address, req.uri)) {
            this.sources.succeed(remote.address);
            return true;
          }
          stale = pw !== undefined && this.verifier.isStale(a.params, remote.address);
        } catch {
          // unparseable credentials count as a failure
        }
        if (!stale && this.failed(remote, `digest authentication failed for user "${user.slice(0, 64)}"`)) {
          tx.terminate();
          return false;
        }
      }
      const res = makeResponse(req, 401, undefined, newTag());
      res.headers.add('www-authenticate', this.verifier.challenge(remote.address, stale));
      tx.respond(res, once);
      this.log?.info({ from: remote.address }, 'INVITE challenged');
      return false;
    }
    if (this.failed(remote, 'INVITE from an untrusted source')) {
      tx.terminate();
      return false;
    }
    tx.respond(makeResponse(req, 403, undefined, newTag()), once);
    this.log?.warn({ from: `${remote.address}:${remote.port}`, to: req.uri }, 'INVITE from an untrusted source rejected');
    return false;
  }

  /** 503 with Retry-After: the carrier tries another route or again shortly; the caller is not dropped mid-call. */
  private busy(req: SipRequest, tx: ServerTransaction, reason: string): void {
    const res = makeResponse(req, 503, reason, newTag());
    res.headers.add('retry-after', String(this.o.retryAfterS ?? endpointDefaults.retryAfterS));
    tx.respond(res);
  }

  /** Counts a failed attempt; true when the source is now blocked (and is told nothing). */
  private failed(remote: Remote, why: string): boolean {
    this.log?.warn({ from: `${remote.address}:${remote.port}` }, why);
    if (!this.sources.fail(remote.address)) return false;
    this.log?.warn({ from: remote.address }, 'SIP source blocked after repeated authentication failures');
    return true;
  }

  /** 420 Bad Extension with Unsupported: when the request Requires what we do not implement. */
  private refuseUnsupported(req: SipRequest, tx: ServerTransaction): boolean {
    const unsupported = req.headers.getAll('require').flatMap((v) => v.split(','))
      .map((x) => x.trim().toLowerCase()).filter((x) => x && !(this.supported as readonly string[]).includes(x));
    if (!unsupported.length) return false;
    const res = makeResponse(req, 420, undefined, newTag());
    res.headers.add('unsupported', unsupported.join(', ').slice(0, 200));
    tx.respond(res);
    return true;
  }

  private get minSessionSeconds(): number {
    return this.o.sessionTimer?.minSeconds ?? sessionTimerDefaults.minSeconds;
  }

  /** A Session-Expires below our Min-SE gets 422 (RFC 4028 §8.1); true when refused. */
  private refuseShortSession(req: SipRequest, tx: ServerTransaction): boolean {
    const se = parseSessionExpires(req.headers);
    if (!se || se.seconds >= this.minSessionSeconds) return false;
    const res = makeResponse(req, 422, 'Session Interval Too Small', newTag());
    res.headers.add('min-se', String(this.minSessionSeconds));
    tx.respond(res);
    return true;
  }

  /** The far end's session-timer request (an INVITE or a refresh it sends): who refreshes, how often. */
  private acceptSessionTimer(call: SipCall, req: SipRequest, initial: boolean): void {
    const se = parseSessionExpires(req.headers);
    if (!se) {
      // A refresh without Session-Expires keeps the timer it had; a first INVITE without one has none.
      if (!initial && call.timer.active) call.timer.arm(call.timer.seconds, call.timer.weRefresh);
      return;
    }
    call.timer.peerSupports = supportsTimer(req.headers);
    // `refresher` names a role in this transaction, where we are the uas. Unspecified: the far end
    // refreshes if it can (it said it supports timers), else we do.
    const weRefresh = se.refresher ? se.refresher === 'uas' : !call.timer.peerSupports;
    call.timer.arm(Math.max(se.seconds, this.minSessionSeconds), weRefresh);
    if (initial) call.timer.stop(); // armed for real once answered
  }

  private async onInvite(req: SipRequest, tx: ServerTransaction, remote: Remote): Promise<void> {
    if (!this.admit(req, tx, remote)) return;
    if (this.draining) {
      this.busy(req, tx, 'Draining');
      return;
    }
    if (this.o.maxCalls !== undefined && this.calls.size >= this.o.maxCalls) {
      this.busy(req, tx, 'Too Many Calls');
      this.log?.warn({ active: this.calls.size, max: this.o.maxCalls, callId: req.headers.get('call-id') }, 'call refused: at the simultaneous-call cap');
      return;
    }
    // The Contact is where every in-dialog request goes: one we cannot use is refused up front.
    const contact = req.headers.getAll('contact')[0];
    let remoteTarget: string | undefined;
    if (contact !== undefined) {
      try {
        remoteTarget = parseNameAddr(contact).uri;
        parseUri(remoteTarget);
      } catch (e) {
        tx.respond(makeResponse(req, 400, `Bad Contact (${(e as Error).message})`.slice(0, 100), newTag()));
        return;
      }
    }
    if (this.refuseUnsupported(req, tx)) return;
    if (this.refuseShortSession(req, tx)) return;
    tx.respond(makeResponse(req, 100));
    let media: ReturnType<typeof negotiate> | undefined;
    try {
      const type = (req.headers.get('content-type') ?? '').toLowerCase();
      if (!req.body.length) media = undefined; // delayed offer: we offer in the 200, the answer comes in the ACK
      else if (!type.startsWith('application/sdp')) {
        tx.respond(makeResponse(req, 415, undefined, newTag()));
        return;
      }
      else media = negotiate(req.body.toString('utf8'));
    } catch (e) {
      const res = makeResponse(req, 488, undefined, newTag());
      res.headers.add('warning', `304 frontdesk "${(e as Error).message}"`);
      tx.respond(res);
      return;
    }
    const family = this.o.bind.includes(':') ? 6 : 4;
    if (media && isIP(media.address) !== family && media.address !== '0.0.0.0') {
      const res = makeResponse(req, 488, undefined, newTag());
      res.headers.add('warning', `304 frontdesk "media address must be IPv${family}"`);
      tx.respond(res);
      return;
    }
    const callId = req.headers.get('call-id')!;
    let rtpSocket;
    try {
      rtpSocket = await this.ports.bind(this.o.bind, { rtcp: true });
    } catch {
      this.busy(req, tx, 'No media ports');
      this.log?.error({ callId }, 'RTP port range exhausted; call refused with 503');
      return;
    }
    if (tx.state !== 'proceeding' || this.stopped) {
      // CANCELled (or shutting down) while we bound the port.
      rtpSocket.socket.close();
      rtpSocket.rtcpSocket?.close();
      this.ports.release(rtpSocket.port);
      return;
    }
    const from = parseNameAddr(req.headers.get('from')!);
    const to = parseNameAddr(req.headers.get('to')!);
    const rtp = new RtpSession({
      socket: rtpSocket.socket, codec: media?.codec ?? OFFER_CODEC, remote: media ? { address: media.address, port: media.port } : undefined,
      ...(this.o.clock ? { clock: this.o.clock } : {}),
      ...(this.o.mediaTimeoutMs !== undefined ? { mediaTimeoutMs: this.o.mediaTimeoutMs } : {}),
      ...(this.o.sendSilence !== undefined ? { sendSilence: this.o.sendSilence } : {}),
      signallingAddress: remote.address,
      rtcp: { socket: rtpSocket.rtcpSocket, mux: media?.rtcpMux ?? false, remotePort: media?.rtcpPort, ...this.rtcpInterval() },
    });
    // The session's direction is ours: the mirror of the offer (their sendonly = we only receive).
    rtp.setDirection(mirrorDirection(media?.direction ?? 'sendrecv'));
    const dialledUser = safeUser(req.uri) ?? safeUser(to.uri) ?? '';
    const call = new SipCall(
      this, randomUUID().replace(/-/g, ''), 'inbound',
      toE164(safeUser(from.uri)) ?? safeUser(from.uri) ?? 'anonymous',
      toE164(dialledUser) ?? dialledUser,
      {
        callId, localTag: newTag(), remoteTag: from.params.tag === true ? undefined : from.params.tag,
        localUri: to.uri, remoteUri: from.uri, remoteTarget: remoteTarget ?? from.uri,
        routeSet: req.headers.getAll('record-route'),
        localCseq: Math.floor(Math.random() * 10_000), remote,
      },
      rtp, tx,
    );
    call.localDirection = mirrorDirection(media?.direction ?? 'sendrecv');
    if (media) call.offeredStreams = { list: media.streams, used: media.used };
    else call.awaitingAnswer = true;
    call.remoteAllowsUpdate = req.headers.getAll('allow').some((m) => m.trim().toUpperCase() === 'UPDATE');
    this.acceptSessionTimer(call, req, true);
    this.calls.set(callId, call);
    tx.on('cancel', () => call.onCancel());
    tx.respond(makeResponse(req, 180, undefined, call.dialog.localTag));
    this.log?.info({ callId, from: call.from, to: call.to }, 'inbound call');
    this.emit('call', call);
  }

  /** re-INVITE: hold/unhold, new media address, or a session refresh. */
  onReinvite(call: SipCall, req: SipRequest, tx: ServerTransaction): void {
    if (this.refuseShortSession(req, tx)) return;
    if (req.body.length) {
      try {
        this.applyRemoteSdp(call, req.body.toString('utf8'));
      } catch (e) {
        tx.respond(makeResponse(req, 488, (e as Error).message.slice(0, 60)));
        return;
      }
    } else if (req.method === 'INVITE') {
      // A re-INVITE without SDP: we offer in the 200, the answer comes in the ACK.
      call.awaitingAnswer = true;
    }
    this.acceptSessionTimer(call, req, false);
    const res = makeResponse(req, 200, 'OK', call.dialog.localTag);
    this.addContact(res.headers, call.dialog.remote.transport);
    if (call.timer.active) {
      res.headers.add('session-expires', call.timer.header(false));
      if (call.timer.peerSupports) res.headers.add('require', 'timer');
    }
    // An UPDATE without an offer (a plain session refresh) gets no SDP back.
    if (req.method === 'INVITE' || req.body.length) {
      call.sdpVersion++;
      res.headers.add('content-type', 'application/sdp');
      res.body = Buffer.from(this.localSdp(call));
    }
    tx.respond(res);
    // A re-INVITE's 2xx is the dialog's to resend until the ACK, like the first one's.
    if (req.method === 'INVITE') call.sent2xx(res);
  }

  /** The far end's SDP (a re-INVITE's offer, or the answer in an ACK): address, codec, direction, hold. */
  applyRemoteSdp(call: SipCall, sdp: string, inAck = false): void {
    const media = negotiate(sdp);
    call.rtp.setRemote(
      { address: media.address === '0.0.0.0' ? call.rtp.remoteAddress?.address ?? media.address : media.address, port: media.port },
      { port: media.rtcpPort, mux: media.rtcpMux },
    );
    call.rtp.setCodec(media.codec);
    call.localDirection = mirrorDirection(media.direction);
    // Hold (their sendonly/inactive): we stop sending; their recvonly: we stop expecting media.
    call.rtp.setDirection(call.localDirection);
    if (!call.awaitingAnswer) call.offeredStreams = { list: media.streams, used: media.used };
    const onHold = media.direction === 'sendonly' || media.direction === 'inactive';
    if (onHold || !inAck) call.emit('hold', onHold);
  }

  private onStrayResponse(res: SipResponse, remote: Remote): void {
    // A retransmitted 2xx to our INVITE: the ACK was lost, send it again.
    if (res.status >= 200 && res.status < 300 && parseCSeq(res.headers.get('cseq')!).method === 'INVITE') {
      const call = this.findCall(res);
      if (call) this.stack.sendRaw(call.request('ACK', (h) => h.set('cseq', `${parseCSeq(res.headers.get('cseq')!).seq} ACK`)), remote);
    }
  }

  /** A 2xx to an INVITE we no longer want (it raced our CANCEL): ACK it, then BYE (RFC 3261 §15). */
  private byeLateAnswer(res: SipResponse, remote: Remote): void {
    const contact = res.headers.getAll('contact')[0];
    let target: string;
    try {
      target = contact ? parseNameAddr(contact).uri : parseNameAddr(res.headers.get('to')!).uri;
    } catch {
      return;
    }
    const routes = res.headers.getAll('record-route').reverse();
    const seq = parseCSeq(res.headers.get('cseq')!).seq;
    const make = (method: string, n: number): SipRequest => {
      const h = new Headers();
      h.add('via', this.via(remote.transport, newBranch()));
      h.add('max-forwards', '70');
      h.add('from', res.headers.get('from')!);
      h.add('to', res.headers.get('to')!);
      h.add('call-id', res.headers.get('call-id')!);
      h.add('cseq', `${n} ${method}`);
      for (const r of routes) h.add('route', r);
      this.addContact(h, remote.transport);
      return { kind: 'request', method, uri: target, headers: h, body: Buffer.alloc(0) };
    };
    this.stack.sendRaw(make('ACK', seq), remote);
    void this.stack.request(make('BYE', seq + 1), remote).response;
    this.log?.info({ callId: res.headers.get('call-id') }, 'outbound leg answered after we gave up: ACKed and hung up');
  }

  // ---- outbound ---------------------------------------------------------------------------------

  private trunkRemote(): Remote {
    const t = this.o.trunk!;
    return { address: t.host, port: t.port, transport: t.transport };
  }

  /**
   * Where a call to `to` goes: E.164 numbers through the trunk under the dial policy; sip: URIs
   * directly, but only to hosts inside the trusted networks (desk phones on the LAN).
   */
  private resolveDestination(to: string, leg: 'outbound' | 'warm', requestedBy?: string): { remote: Remote; remoteUri: string; label: string; fromHost: string } {
    const trunk = this.o.trunk;
    const v = this.guard.check(to, leg, requestedBy);
    if (v.kind === 'sip') {
      const u = parseUri(v.target);
      const transport = String(u.params.transport ?? 'udp').toUpperCase() === 'TCP' ? 'TCP' : 'UDP';
      return { remote: { address: u.host, port: u.port ?? 5060, transport }, remoteUri: v.target, label: v.target, fromHost: this.advertise };
    }
    if (!trunk) throw new DialError(`call to ${to} refused: no SIP trunk configured`, 403);
    return { remote: this.trunkRemote(), remoteUri: `sip:${v.target}@${trunk.host}:${trunk.port}`, label: v.target, fromHost: trunk.host };
  }

  async dial(to: string, opts: DialOptions = {}): Promise<Call> {
    const trunk = this.o.trunk;
    const dest = this.resolveDestination(to, opts.leg ?? 'outbound', opts.requestedBy);
    const number = dest.label;
    const callId = `${randomBytes(10).toString('hex')}@frontdesk`;
    const { socket, port, rtcpSocket } = await this.ports.bind(this.o.bind, { rtcp: true });
    const freePorts = () => {
      socket.close();
      rtcpSocket?.close();
      this.ports.release(port);
    };
    const remote = dest.remote;
    const fromNumber = opts.from ?? trunk?.callerId ?? 'frontdesk';
    const localUri = `sip:${fromNumber}@${dest.fromHost}`;
    const remoteUri = dest.remoteUri;
    const localTag = newTag();
    let cseq = 1;
    const sdp = buildSdp({ address: this.advertise, port, sessionId: Date.now() % 1e9, version: 1, rtcpMux: true });
    const build = (authHeader?: [string, string]): SipRequest => {
      const headers = new Headers();
      headers.add('via', this.via(remote.transport, newBranch()));
      headers.add('max-forwards', '70');
      headers.add('from', `<${localUri}>;tag=${localTag}`);
      headers.add('to', `<${remoteUri}>`);
      headers.add('call-id', callId);
      headers.add('cseq', `${cseq++} INVITE`);
      this.addContact(headers, remote.transport);
      headers.add('allow', this.allow);
      // Session timers (RFC 4028): we ask for an interval and let the far end pick the refresher.
      headers.add('supported', 'timer');
      headers.add('session-expires', String(sessionSeconds));
      headers.add('min-se', String(this.minSessionSeconds));
      if (authHeader) headers.add(authHeader[0], authHeader[1]);
      headers.add('content-type', 'application/sdp');
      return { kind: 'request', method: 'INVITE', uri: remoteUri, headers, body: Buffer.from(sdp) };
    };
    let sessionSeconds: number = this.o.sessionTimer?.requestSeconds ?? sessionTimerDefaults.requestSeconds;
    let req = build();
    let res: SipResponse;
    let authTries = 0;
    let intervalTries = 0;
    // Nobody answered in time: CANCEL, so the phone stops ringing (the 487 or a racing 200 follows).
    let gaveUp = false;
    const giveUp = () => {
      gaveUp = true;
      current?.cancel();
    };
    const timeout = setTimeout(giveUp, (opts.timeoutSeconds ?? 60) * 1000);
    // The caller of dial gave up (another phone answered, the caller hung up): same as the timeout.
    opts.signal?.addEventListener('abort', giveUp, { once: true });
    let current: ReturnType<SipStack['request']> | undefined;
    try {
      for (;;) {
        current = this.stack.request(req, remote);
        if (gaveUp || opts.signal?.aborted) giveUp();
        res = await current.response;
        if ((res.status === 401 || res.status === 407) && !gaveUp && trunk?.username && trunk.password && authTries++ < 2) {
          const ch = parseAuth(res.headers.get(res.status === 401 ? 'www-authenticate' : 'proxy-authenticate') ?? '');
          const value = authorize(ch.params as never, { username: trunk.username, password: trunk.password }, 'INVITE', remoteUri);
          req = build([res.status === 401 ? 'authorization' : 'proxy-authorization', value]);
          continue;
        }
        if (res.status === 422 && !gaveUp && intervalTries++ < 2) {
          // Our interval was too small for the far end: ask again with its Min-SE.
          sessionSeconds = Math.max(sessionSeconds, parseMinSe(res.headers) ?? sessionSeconds);
          const auth = req.headers.get('authorization') ?? req.headers.get('proxy-authorization');
          req = build(auth ? [req.headers.has('authorization') ? 'authorization' : 'proxy-authorization', auth] : undefined);
          continue;
        }
        break;
      }
    } finally {
      clearTimeout(timeout);
      opts.signal?.removeEventListener('abort', giveUp);
    }
    if (gaveUp && res.status < 300) {
      // Answered just as we gave up: take the call down properly rather than leave it open.
      this.byeLateAnswer(res, remote);
      freePorts();
      throw new DialError(`call to ${number} answered after we gave up (${opts.timeoutSeconds ?? 60} s); hung up`, 487);
    }
    if (res.status >= 300) {
      freePorts();
      throw new DialError(`call to ${number} failed: ${res.status} ${res.reason}`, res.status);
    }
    let media;
    try {
      media = negotiate(res.body.toString('utf8'));
    } catch (e) {
      freePorts();
      throw new DialError(`call to ${number}: bad answer SDP (${(e as Error).message})`, 488);
    }
    const toHdr = parseNameAddr(res.headers.get('to')!);
    const contact = res.headers.getAll('contact')[0];
    const rtp = new RtpSession({
      socket, codec: media.codec, remote: { address: media.address, port: media.port },
      ...(this.o.clock ? { clock: this.o.clock } : {}),
      ...(this.o.mediaTimeoutMs !== undefined ? { mediaTimeoutMs: this.o.mediaTimeoutMs } : {}),
      ...(this.o.sendSilence !== undefined ? { sendSilence: this.o.sendSilence } : {}),
      signallingAddress: remote.address,
      rtcp: { socket: rtcpSocket, mux: media.rtcpMux, remotePort: media.rtcpPort, ...this.rtcpInterval() },
    });
    const call = new SipCall(
      this, randomUUID().replace(/-/g, ''), 'outbound', fromNumber, number,
      {
        callId, localTag, remoteTag: toHdr.params.tag === true ? undefined : toHdr.params.tag, localUri, remoteUri,
        remoteTarget: (contact && usableTarget(contact)) || remoteUri,
        routeSet: res.headers.getAll('record-route').reverse(), localCseq: cseq, remote,
      },
      rtp, undefined,
    );
    this.calls.set(callId, call);
    call.remoteAllowsUpdate = res.headers.getAll('allow').some((m) => m.trim().toUpperCase() === 'UPDATE');
    const se = parseSessionExpires(res.headers);
    // In the 200 to our INVITE we are the uac: refresher=uac (or none named) means we refresh.
    if (se) call.timer.arm(se.seconds, se.refresher !== 'uas');
    const ack = call.request('ACK', (h) => h.set('cseq', `${cseq - 1} ACK`));
    call.dialog.localCseq = cseq - 1;
    this.stack.sendRaw(ack, remote);
    call.state = 'answered';
    rtp.start();
    call.audioIn.start();
    queueMicrotask(() => call.emit('answered'));
    return call;
  }

  // ---- registration -----------------------------------------------------------------------------

  private async register(): Promise<void> {
    const t = this.o.trunk!;
    const expires = t.registerExpires ?? 300;
    const aor = `sip:${t.username}@${t.host}`;
    const callId = `${randomBytes(8).toString('hex')}@frontdesk`;
    let cseq = 1;
    const build = (auth?: [string, string]): SipRequest => {
      const headers = new Headers();
      headers.add('via', this.via(t.transport, newBranch()));
      headers.add('max-forwards', '70');
      headers.add('from', `<${aor}>;tag=${newTag()}`);
      headers.add('to', `<${aor}>`);
      headers.add('call-id', callId);
      headers.add('cseq', `${cseq++} REGISTER`);
      this.addContact(headers, t.transport);
      headers.add('expires', String(expires));
      if (auth) headers.add(auth[0], auth[1]);
      return { kind: 'request', method: 'REGISTER', uri: `sip:${t.host}`, headers, body: Buffer.alloc(0) };
    };
    let ok = false;
    let granted = expires;
    try {
      let res = await this.stack.request(build(), this.trunkRemote()).response;
      if ((res.status === 401 || res.status === 407) && t.username && t.password) {
        const ch = parseAuth(res.headers.get(res.status === 401 ? 'www-authenticate' : 'proxy-authenticate') ?? '');
        const value = authorize(ch.params as never, { username: t.username, password: t.password }, 'REGISTER', `sip:${t.host}`);
        res = await this.stack.request(build([res.status === 401 ? 'authorization' : 'proxy-authorization', value]), this.trunkRemote()).response;
      }
      ok = res.status >= 200 && res.status < 300;
      const e = Number(/expires=(\d+)/i.exec(res.headers.get('contact') ?? '')?.[1] ?? res.headers.get('expires') ?? expires);
      if (Number.isFinite(e) && e > 0) granted = e;
      if (!ok) this.log?.warn({ status: res.status, reason: res.reason }, 'trunk registration failed');
    } catch (err) {
      this.log?.warn({ err }, 'trunk registration failed');
    }
    if (ok !== this.registered) this.log?.info({ registered: ok }, 'trunk registration');
    this.registered = ok;
    this.emit('registered', ok);
    if (this.stopped) return;
    // Refresh well before expiry; retry a failure after a short wait.
    const next = ok ? Math.max(10, granted * 0.8) : 30;
    this.registerTimer = setTimeout(() => void this.register(), next * 1000);
  }
}

/** A Contact's URI when we can send requests to it; a far end's bad Contact falls back to its AOR. */
function usableTarget(contact: string): string | undefined {
  try {
    const uri = parseNameAddr(contact).uri;
    parseUri(uri);
    return uri;
  } catch {
    return undefined;
  }
}

function safeUser(uri: string): string | undefined {
  try {
    return parseUri(uri).user;
  } catch (e) {
    if (e instanceof SipParseError) return undefined;
    throw e;
  }
}

