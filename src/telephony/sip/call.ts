import { EventEmitter } from 'node:events';
import type {
  AudioSource, Call, CallEventMap, CallQuality, CallState, PlaybackHandle, TransferResult, TransferTarget,
} from '../call.js';
import type { MediaDirection, RtpSession } from '../rtp/session.js';
import { Headers, parseCSeq, parseNameAddr, type SipRequest, type SipResponse } from './message.js';
import { makeResponse, newBranch, reasonFor, timers, type Remote, type ServerTransaction } from './stack.js';
import type { SipEndpoint } from './endpoint.js';
import { AudioIn } from '../audio-in.js';
import type { OfferedStream } from './sdp.js';
import { parseMinSe, parseSessionExpires, SessionTimer } from './session-timer.js';

/**
 * A call on the built-in SIP endpoint: one dialog (RFC 3261 §12) and one RTP session.
 * Playout clock: ours (MediaClock via RtpSession).
 */

export interface DialogState {
  callId: string;
  localTag: string;
  remoteTag: string | undefined;
  /** Our address-of-record as it appears in From/To (without tag). */
  localUri: string;
  remoteUri: string;
  /** Where in-dialog requests go (the far end's Contact). */
  remoteTarget: string;
  routeSet: string[];
  localCseq: number;
  remote: Remote;
}

export class SipCall extends EventEmitter<CallEventMap> implements Call {
  readonly backend = 'sip' as const;
  readonly sampleRate = 8000;
  state: CallState = 'ringing';
  endReason: string | undefined;
  private ok2xx: SipResponse | undefined;
  private ok2xxTimer: NodeJS.Timeout | undefined;
  private pendingRefer: { resolve: (r: TransferResult) => void; timer: NodeJS.Timeout } | undefined;
  sdpVersion = 1;
  /** Our side of the media direction, mirroring the far end's last offer. */
  localDirection: MediaDirection = 'sendrecv';
  /** After a REFER we carried out: the leg the conversation continues on. */
  continuedOn: SipCall | undefined;
  /** We sent an offer in a 2xx (their INVITE had no SDP): the answer is due in the ACK. */
  awaitingAnswer = false;
  /** The m= lines of the far end's last offer, mirrored in our answer (unused ones with port 0). */
  offeredStreams: { list: readonly OfferedStream[]; used: number } | undefined;
  /** Audio in on wall-clock time (see call.ts): silence fills in while the far end sends nothing. */
  readonly audioIn: AudioIn;
  /** RFC 4028 session timer; inactive unless the far end (or its answer) asked for one. */
  readonly timer = new SessionTimer(() => void this.refreshSession(), () => void this.hangup('session_expired'));
  /** The far end's Allow included UPDATE: refreshes go as UPDATE, else as re-INVITE. */
  remoteAllowsUpdate = false;

  constructor(
    private readonly ep: SipEndpoint,
    readonly id: string,
    readonly direction: 'inbound' | 'outbound',
    readonly from: string,
    readonly to: string,
    readonly dialog: DialogState,
    readonly rtp: RtpSession,
    /** The INVITE server transaction while an inbound call rings. */
    public inviteTx: ServerTransaction | undefined,
  ) {
    super();
    this.audioIn = new AudioIn((f) => this.emit('audio', f), this.sampleRate, ep.clock);
    rtp.on('audio', (f) => this.audioIn.push(f));
    rtp.on('dtmf', (d) => this.emit('dtmf', d));
    rtp.on('timeout', () => void this.hangup('media_timeout').catch(() => {}));
    rtp.on('fault', (err) => {
      ep.logFault(this, err);
      void this.hangup('failed').catch(() => {});
    });
  }

  /**
   * Early media (183 with our SDP): RTP starts now, send only, so a ringback tone is heard and the
   * caller's silence before the answer is no media timeout. Not with a delayed offer (our offer
   * would need reliable provisionals): the caller's phone plays its own ringback after the 180.
   */
  async progress(): Promise<void> {
    if (this.state !== 'ringing' || !this.inviteTx || this.awaitingAnswer || this.earlyMedia) return;
    const res = makeResponse(this.inviteTx.request, 183, 'Session Progress', this.dialog.localTag);
    this.ep.addContact(res.headers, this.dialog.remote.transport);
    res.headers.add('content-type', 'application/sdp');
    res.body = Buffer.from(this.ep.localSdp(this));
    this.inviteTx.respond(res);
    this.earlyMedia = true;
    this.rtp.setDirection('sendonly');
    this.rtp.start();
  }

  private earlyMedia = false;

  async answer(): Promise<void> {
    if (this.state !== 'ringing' || !this.inviteTx) return;
    // After early media (send only), media goes both ways from the answer.
    if (this.earlyMedia) this.rtp.setDirection(this.localDirection);
    const res = makeResponse(this.inviteTx.request, 200, 'OK', this.dialog.localTag);
    this.ep.addContact(res.headers, this.dialog.remote.transport);
    res.headers.add('allow', this.ep.allow);
    if (this.timer.active) {
      res.headers.add('session-expires', this.timer.header(false));
      if (this.timer.peerSupports) res.headers.add('require', 'timer');
    }
    res.headers.add('content-type', 'application/sdp');
    res.body = Buffer.from(this.ep.localSdp(this));
    this.inviteTx.respond(res);
    this.inviteTx = undefined;
    this.state = 'answered';
    this.rtp.start();
    this.audioIn.start();
    this.sent2xx(res);
    if (this.timer.active) this.timer.arm(this.timer.seconds, this.timer.weRefresh);
    this.emit('answered');
  }

  /** A 2xx to an INVITE (the first or a re-INVITE) went out: resend it until its ACK. */
  sent2xx(res: SipResponse): void {
    clearTimeout(this.ok2xxTimer);
    this.ok2xx = res;
    this.retransmit2xx();
  }

  /** RFC 3261 §13.3.1.4: resend the 2xx until the ACK arrives; no ACK in 64×T1 → hang up. */
  private retransmit2xx(): void {
    if (this.dialog.remote.transport !== 'UDP') return;
    let interval: number = timers.T1;
    let elapsed = 0;
    const again = () => {
      if (!this.ok2xx || this.state === 'ended') return;
      elapsed += interval;
      if (elapsed >= 64 * timers.T1) {
        void this.hangup('no_ack');
        return;
      }
      this.ep.stack.sendRaw(this.ok2xx, this.dialog.remote);
      // Doubling to T2, and the last wait cut short so the limit is 64×T1, not the next slot after it.
      interval = Math.min(interval * 2, timers.T2, 64 * timers.T1 - elapsed);
      this.ok2xxTimer = setTimeout(again, interval);
    };
    this.ok2xxTimer = setTimeout(again, interval);
  }

  /** An in-dialog request from the far end: Call-ID (already looked up) and both tags match. */
  matches(req: SipRequest): boolean {
    const to = tagOf(req.headers.get('to'));
    return to === this.dialog.localTag && this.matchesCaller(req);
  }

  /** The From tag is the far end's tag for this dialog. */
  matchesCaller(req: SipRequest): boolean {
    return tagOf(req.headers.get('from')) === this.dialog.remoteTag;
  }

  onAck(ack: SipRequest): void {
    const cseq = this.ok2xx ? parseCSeq(this.ok2xx.headers.get('cseq')!).seq : undefined;
    if (cseq !== undefined && parseCSeq(ack.headers.get('cseq')!).seq !== cseq) return;
    const wasPending = !!this.ok2xx;
    this.ok2xx = undefined;
    clearTimeout(this.ok2xxTimer);
    if (!wasPending || !this.awaitingAnswer) return;
    // Delayed offer: the ACK carries the answer to the offer in our 2xx.
    this.awaitingAnswer = false;
    try {
      if (!ack.body.length) throw new Error('no SDP answer in the ACK');
      this.ep.applyRemoteSdp(this, ack.body.toString('utf8'), true);
    } catch {
      void this.hangup('no_sdp_answer');
    }
  }

  /** Our turn to refresh the session (RFC 4028): UPDATE where the far end allows it, else re-INVITE. */
  private async refreshSession(attempt = 0): Promise<void> {
    if (this.state !== 'answered') return;
    const t = this.timer;
    const useUpdate = this.remoteAllowsUpdate;
    const headers = (h: Headers) => {
      h.add('session-expires', t.header(true));
      h.add('supported', 'timer');
    };
    const req = useUpdate
      ? this.request('UPDATE', headers)
      : this.request('INVITE', headers, { type: 'application/sdp', data: this.ep.localSdp(this) });
    const seq = this.dialog.localCseq;
    const res = await this.ep.stack.request(req, this.dialog.remote).response;
    if (this.state !== 'answered') return;
    if (!useUpdate && res.status >= 200 && res.status < 300) {
      const ack = this.request('ACK', (h) => h.set('cseq', `${seq} ACK`));
      this.dialog.localCseq = seq;
      this.ep.stack.sendRaw(ack, this.dialog.remote);
    }
    if (res.status < 300) {
      const se = parseSessionExpires(res.headers);
      t.arm(se?.seconds ?? t.seconds, se ? se.refresher === 'uac' : true);
    } else if (res.status === 422 && attempt < 2) {
      t.seconds = Math.max(t.seconds, parseMinSe(res.headers) ?? t.seconds);
      await this.refreshSession(attempt + 1);
    } else if (res.status === 501 && useUpdate && attempt < 2) {
      this.remoteAllowsUpdate = false;
      await this.refreshSession(attempt + 1);
    } else if (res.status === 481 || res.status === 408) {
      // The far end no longer knows the call (RFC 4028 §10): it is over.
      await this.hangup('session_refresh_failed');
    } else {
      // 491 glare and the like: try again later in the interval.
      t.arm(t.seconds, true);
    }
  }

  /** Re-sends our 2xx when the INVITE is retransmitted after the transaction ended. */
  resend2xx(): void {
    if (this.ok2xx) this.ep.stack.sendRaw(this.ok2xx, this.dialog.remote);
  }

  async reject(status = 486, reason?: string): Promise<void> {
    if (this.state !== 'ringing' || !this.inviteTx) return;
    this.inviteTx.respond(makeResponse(this.inviteTx.request, status, reason, this.dialog.localTag));
    this.inviteTx = undefined;
    this.end(`rejected_${status}`);
  }

  /** The caller hung up before we answered (CANCEL): 487 to the INVITE. */
  onCancel(): void {
    if (this.inviteTx) this.inviteTx.respond(makeResponse(this.inviteTx.request, 487, undefined, this.dialog.localTag));
    this.inviteTx = undefined;
    this.end('cancelled');
  }

  quality(): CallQuality {
    return (this.continuedOn?.rtp ?? this.rtp).quality();
  }

  play(source: AudioSource): PlaybackHandle {
    return (this.continuedOn?.rtp ?? this.rtp).play(source);
  }

  stopPlayback(): void {
    (this.continuedOn?.rtp ?? this.rtp).stopPlayback();
  }

  sendDtmf(digits: string): Promise<void> {
    return (this.continuedOn?.rtp ?? this.rtp).sendDtmf(digits);
  }

  /** Builds an in-dialog request (RFC 3261 §12.2.1.1). */
  request(method: string, extra?: (h: Headers) => void, body?: { type: string; data: string }): SipRequest {
    const d = this.dialog;
    const headers = new Headers();
    headers.add('via', this.ep.via(d.remote.transport, newBranch()));
    headers.add('max-forwards', '70');
    headers.add('from', `<${d.localUri}>;tag=${d.localTag}`);
    headers.add('to', `<${d.remoteUri}>${d.remoteTag ? `;tag=${d.remoteTag}` : ''}`);
    headers.add('call-id', d.callId);
    headers.add('cseq', `${++d.localCseq} ${method}`);
    for (const r of d.routeSet) headers.add('route', r);
    this.ep.addContact(headers, d.remote.transport);
    extra?.(headers);
    if (body) headers.add('content-type', body.type);
    return { kind: 'request', method, uri: d.remoteTarget, headers, body: body ? Buffer.from(body.data) : Buffer.alloc(0) };
  }

  async hangup(reason = 'local_hangup'): Promise<void> {
    if (this.state === 'ended') return;
    if (this.continuedOn) {
      await this.continuedOn.hangup(reason);
      return;
    }
    if (this.state === 'ringing') {
      if (this.inviteTx) await this.reject(480, 'Temporarily Unavailable');
      this.end(reason);
      return;
    }
    const bye = this.request('BYE');
    this.end(reason);
    const tx = this.ep.stack.request(bye, this.dialog.remote);
    await tx.response;
  }

  /**
   * Blind: REFER the far end to `target`. Warm: call the target first, whisper to it, then REFER the
   * caller to that leg with Replaces (attended transfer, RFC 5589). Either way the NOTIFY sipfrag
   * is followed to the final answer.
   */
  async transfer(target: TransferTarget): Promise<TransferResult> {
    if (this.state !== 'answered') return { ok: false, status: 481, reason: 'call not answered' };
    if (this.continuedOn) return this.continuedOn.transfer(target);
    if (target.mode === 'warm') return this.warmTransfer(target);
    let uri: string;
    try {
      uri = this.ep.targetUri(target.uri, target.requestedBy);
    } catch (e) {
      return { ok: false, status: (e as { status?: number }).status ?? 403, reason: (e as Error).message };
    }
    return this.refer(uri, target.ringSeconds);
  }

  private async warmTransfer(target: TransferTarget): Promise<TransferResult> {
    let leg: SipCall;
    try {
      leg = (await this.ep.dial(target.uri, { timeoutSeconds: target.ringSeconds ?? 20, leg: 'warm', ...(target.requestedBy ? { requestedBy: target.requestedBy } : {}) })) as SipCall;
    } catch (e) {
      const status = (e as { status?: number }).status ?? 480;
      return { ok: false, status, reason: `${target.uri} did not answer (${(e as Error).message})` };
    }
    if (target.whisper) await leg.play(target.whisper).done;
    if (leg.state !== 'answered') return { ok: false, status: 487, reason: 'the owner hung up during the whisper' };
    const d = leg.dialog;
    // Replaces names the owner's dialog as the owner sees it: its tag is to-tag, ours from-tag.
    const replaces = encodeURIComponent(`${d.callId};to-tag=${d.remoteTag ?? ''};from-tag=${d.localTag}`);
    const result = await this.refer(`${d.remoteUri}?Replaces=${replaces}`, 10);
    // Success: the caller's new INVITE replaces our leg at the owner's phone; tidy up if it lingers.
    setTimeout(() => void leg.hangup(result.ok ? 'transferred' : 'transfer_failed'), result.ok ? 2_000 : 0).unref();
    return result;
  }

  private async refer(referTo: string, ringSeconds: number | undefined): Promise<TransferResult> {
    const req = this.request('REFER', (h) => {
      h.add('refer-to', `<${referTo}>`);
      h.add('referred-by', `<${this.dialog.localUri}>`);
    });
    const res = await this.ep.stack.request(req, this.dialog.remote).response;
    if (res.status >= 300) return { ok: false, status: res.status, reason: res.reason };
    const waitMs = ((ringSeconds ?? 30) + 10) * 1000;
    return new Promise<TransferResult>((resolve) => {
      const timer = setTimeout(() => {
        this.pendingRefer = undefined;
        resolve({ ok: false, status: 408, reason: 'no final NOTIFY from the transferee' });
      }, waitMs);
      this.pendingRefer = { resolve, timer };
    });
  }

  /** An in-dialog request from the far end. */
  onRequest(req: SipRequest, tx: ServerTransaction): void {
    switch (req.method) {
      case 'BYE':
        tx.respond(makeResponse(req, 200));
        this.end('remote_hangup');
        return;
      case 'INFO':
        this.onInfo(req, tx);
        return;
      case 'NOTIFY':
        this.onNotify(req, tx);
        return;
      case 'INVITE':
        // A re-INVITE retransmitted after we answered it: the same 2xx again, not a second answer.
        if (this.ok2xx && parseCSeq(this.ok2xx.headers.get('cseq')!).seq === parseCSeq(req.headers.get('cseq')!).seq) {
          tx.terminate();
          this.resend2xx();
          return;
        }
        this.ep.onReinvite(this, req, tx);
        return;
      case 'UPDATE':
        // Hold/unhold, a new media address, or a session-timer refresh (RFC 4028 uses either).
        this.ep.onReinvite(this, req, tx);
        return;
      case 'OPTIONS':
        tx.respond(this.ep.optionsResponse(req));
        return;
      case 'REFER':
        // A desk phone asking us to transfer: we accept and tell the app; the app calls transfer().
        this.onRefer(req, tx);
        return;
      default:
        tx.respond(makeResponse(req, 405));
    }
  }

  private onInfo(req: SipRequest, tx: ServerTransaction): void {
    const type = (req.headers.get('content-type') ?? '').toLowerCase();
    const body = req.body.toString('utf8');
    let digit: string | undefined;
    if (type.startsWith('application/dtmf-relay')) digit = /Signal\s*=\s*([0-9*#A-Da-d])/.exec(body)?.[1];
    else if (type.startsWith('application/dtmf')) digit = /^\s*([0-9*#A-Da-d])/.exec(body)?.[1];
    if (type && !digit && (type.startsWith('application/dtmf'))) {
      tx.respond(makeResponse(req, 400, 'Bad DTMF'));
      return;
    }
    tx.respond(makeResponse(req, digit || !type ? 200 : 415));
    if (digit) this.emit('dtmf', digit.toUpperCase());
  }

  private onNotify(req: SipRequest, tx: ServerTransaction): void {
    tx.respond(makeResponse(req, 200));
    if (!/^refer/i.test(req.headers.get('event') ?? '')) return;
    const m = /^SIP\/2\.0 (\d{3})\s*(.*)$/m.exec(req.body.toString('utf8'));
    if (!m || !this.pendingRefer) return;
    const status = Number(m[1]);
    if (status < 200) return;
    clearTimeout(this.pendingRefer.timer);
    const done = this.pendingRefer.resolve;
    this.pendingRefer = undefined;
    done({ ok: status < 300, status, reason: m[2]!.trim() });
  }

  private onRefer(req: SipRequest, tx: ServerTransaction): void {
    const referTo = req.headers.get('refer-to');
    let target: string | undefined;
    try {
      target = referTo ? parseNameAddr(referTo).uri : undefined;
    } catch {
      target = undefined;
    }
    if (!target) {
      tx.respond(makeResponse(req, 400, referTo ? 'Bad Refer-To' : 'Missing Refer-To'));
      return;
    }
    if (/[?&]replaces=/i.test(target) || this.continuedOn) {
      // Attended transfer (Replaces) we do not implement; nor a second transfer of a moved call.
      tx.respond(makeResponse(req, 501, 'Attended transfer not supported'));
      return;
    }
    tx.respond(makeResponse(req, 202));
    this.ep.emit('refer', this, target);
    const id = parseCSeq(req.headers.get('cseq')!).seq;
    this.notifyRefer(id, 'SIP/2.0 100 Trying', 'active;expires=60');
    void this.carryOutRefer(target, id);
  }

  /** RFC 3515 NOTIFY with a sipfrag of how the referred call is going. */
  private notifyRefer(id: number, frag: string, state: string): void {
    if (this.state === 'ended' || this.continuedOn) return;
    const notify = this.request('NOTIFY', (h) => {
      h.add('event', `refer;id=${id}`);
      h.add('subscription-state', state);
    }, { type: 'message/sipfrag;version=2.0', data: `${frag}\r\n` });
    void this.ep.stack.request(notify, this.dialog.remote).response;
  }

  /**
   * A desk phone's blind transfer of this call: we call the target (through the dial policy, like
   * every leg we place), tell the phone the real outcome, and on success the conversation carries on
   * with the target on this same Call while the phone's leg is released.
   */
  private async carryOutRefer(target: string, id: number): Promise<void> {
    let leg: SipCall;
    try {
      leg = (await this.ep.dial(target, { timeoutSeconds: 30 })) as SipCall;
    } catch (e) {
      const status = (e as { status?: number }).status ?? 480;
    this.notifyRefer(id, `SIP/2.0 ${status} ${reasonFor(status)}`, 'terminated;reason=noresource');
      return;
    }
    if (this.state !== 'answered') {
      await leg.hangup('referrer_gone');
      return;
    }
    this.notifyRefer(id, 'SIP/2.0 200 OK', 'terminated;reason=noresource');
    this.continueOn(leg);
  }

  /** The call now goes on over `leg`: its audio and keys are this call's; the referrer gets a BYE. */
  private continueOn(leg: SipCall): void {
    const bye = this.request('BYE');
    const remote = this.dialog.remote;
    this.continuedOn = leg;
    leg.audioIn.stop();
    leg.rtp.on('audio', (f) => this.audioIn.push(f));
    leg.on('dtmf', (d) => this.emit('dtmf', d));
    leg.on('ended', (r) => this.end(r));
    this.stopPlayback();
    clearTimeout(this.ok2xxTimer);
    this.timer.stop();
    this.rtp.close();
    this.ep.forget(this);
    void this.ep.stack.request(bye, remote).response;
  }

  /** Marks the call ended and frees its media; idempotent. */
  end(reason: string): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.endReason = reason;
    clearTimeout(this.ok2xxTimer);
    this.audioIn.stop();
    this.timer.stop();
    if (this.pendingRefer) {
      clearTimeout(this.pendingRefer.timer);
      // The far end hanging up after our REFER is the usual sign the transfer took.
      this.pendingRefer.resolve({ ok: reason === 'remote_hangup', status: reason === 'remote_hangup' ? 200 : 487, reason });
      this.pendingRefer = undefined;
    }
    this.rtp.close();
    if (!this.continuedOn) this.ep.forget(this);
    this.emit('ended', reason);
  }
}

function tagOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  try {
    const t = parseNameAddr(header).params.tag;
    return typeof t === 'string' ? t : undefined;
  } catch {
    return undefined;
  }
}
