import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type {
  AudioSource, Call, CallEventMap, CallState, DialOptions, PlaybackHandle, Telephony, TransferResult, TransferTarget,
} from '../call.js';
import { toE164 } from '../../util/phone.js';
import type { DialPolicy } from '../../business/dial-policy.js';
import { DialGuard, type OutboundHook, type OutboundAttempt } from '../dial-guard.js';
import type { DrachtioSeam, FsEndpoint, IncomingInvite, SipDialog } from './seam.js';
import type { ForkMedia, ForkServer } from './fork-server.js';
import { AudioIn } from '../audio-in.js';

/**
 * FreeSWITCH the jambonz way: drachtio-server terminates SIP, drachtio-fsmrf gives each call a
 * FreeSWITCH endpoint, and mod_audio_fork streams the caller's audio to our WebSocket server and
 * plays ours back (bidirectional streaming). Playout clock: FreeSWITCH's.
 */

export interface FsOptions {
  seam: DrachtioSeam;
  forks: ForkServer;
  /** ws:// URL of our fork endpoint as FreeSWITCH reaches it. */
  forkUrl: string;
  /** SIP URI template for transfers/outbound to numbers: {number} → E.164. */
  trunkUri: string;
  /** SIP URI template for extensions: {ext}. */
  extensionUri: string;
  dialPolicy?: Partial<DialPolicy>;
  logger?: Logger | undefined;
  /** Every outbound attempt, allowed or not (the app writes it to the audit log). */
  onOutbound?: OutboundHook;
  /** Reconnect backoff after drachtio or ESL is lost. */
  reconnectMs?: number;
  /**
   * true (default): bidirectional streaming, FreeSWITCH's clock, killAudio + marks. false: the
   * fallback for a mod_audio_fork without streaming — playAudio per item, uuid_break on barge-in.
   */
  streaming?: boolean;
  /** Simultaneous calls (FRONTDESK_MAX_CALLS): an INVITE beyond them is answered 503 with Retry-After. */
  maxCalls?: number | undefined;
  /** Seconds a refused caller's carrier is asked to wait before trying again. */
  retryAfterS?: number;
}

export class FsCall extends EventEmitter<CallEventMap> implements Call {
  readonly backend = 'freeswitch' as const;
  readonly sampleRate = 8000;
  readonly id = randomUUID();
  state: CallState;
  endReason: string | undefined;
  endpoint: FsEndpoint | undefined;
  dialog: SipDialog | undefined;
  media: ForkMedia | undefined;
  private pendingRefer: ((r: TransferResult) => void) | undefined;
  /** Audio in on wall-clock time (see call.ts): silence fills in when the fork sends nothing. */
  readonly audioIn = new AudioIn((f) => this.emit('audio', f), this.sampleRate);

  constructor(
    private readonly t: FsTelephony,
    readonly direction: 'inbound' | 'outbound',
    readonly from: string,
    readonly to: string,
    private readonly invite: IncomingInvite | undefined,
  ) {
    super();
    this.state = invite ? 'ringing' : 'answered';
  }

  async answer(): Promise<void> {
    if (this.state !== 'ringing' || !this.invite) return;
    const { endpoint, dialog } = await this.invite.accept();
    await this.attach(endpoint, dialog);
    this.state = 'answered';
    this.emit('answered');
  }

  /** Wires the endpoint's events and starts the audio fork. */
  async attach(endpoint: FsEndpoint, dialog: SipDialog): Promise<void> {
    this.endpoint = endpoint;
    this.dialog = dialog;
    endpoint.on('dtmf', (e: { dtmf: string }) => this.emit('dtmf', e.dtmf));
    dialog.on('destroy', () => this.end('remote_hangup'));
    dialog.on('notify', (req: { body?: string; get?: (h: string) => string | undefined }, res: { send: (s: number) => void }) => {
      res.send(200);
      const m = /^SIP\/2\.0 (\d{3})\s*(.*)$/m.exec(req.body ?? '');
      if (!m || !this.pendingRefer) return;
      const status = Number(m[1]);
      if (status < 200) return;
      const done = this.pendingRefer;
      this.pendingRefer = undefined;
      done({ ok: status < 300, status, reason: m[2]!.trim() });
    });
    this.media = await this.t.fork(endpoint, this.id);
    this.media.on('audio', (f) => this.audioIn.push(f));
    if (this.state !== 'ended') this.audioIn.start();
  }

  async reject(status = 486): Promise<void> {
    if (this.state !== 'ringing' || !this.invite) return;
    await this.invite.reject(status);
    this.end(`rejected_${status}`);
  }

  play(source: AudioSource): PlaybackHandle {
    if (!this.media) throw new Error('call has no media yet (answer first)');
    return this.media.play(source);
  }

  stopPlayback(): void {
    this.media?.stopPlayback();
  }

  async sendDtmf(digits: string): Promise<void> {
    await this.endpoint?.api('uuid_send_dtmf', `${this.endpoint.uuid} ${digits}`);
  }

  async hangup(reason = 'local_hangup'): Promise<void> {
    if (this.state === 'ended') return;
    const d = this.dialog;
    this.end(reason);
    await d?.destroy().catch(() => {});
  }

  async transfer(target: TransferTarget): Promise<TransferResult> {
    if (this.state !== 'answered' || !this.dialog) return { ok: false, status: 481, reason: 'call not answered' };
    if (target.mode === 'warm') return this.t.warmTransfer(this, target);
    let referTo: string;
    try {
      referTo = this.t.uriFor(target.uri, 'transfer', target.requestedBy);
    } catch (e) {
      return { ok: false, status: (e as { status?: number }).status ?? 403, reason: (e as Error).message };
    }
    const res = await this.dialog.request({ method: 'REFER', headers: { 'Refer-To': `<${referTo}>`, 'Referred-By': `<sip:${this.to}@frontdesk>` } });
    if (res.status >= 300) return { ok: false, status: res.status, reason: res.reason ?? 'REFER refused' };
    // Follow the transferee's NOTIFY sipfrag to the final answer.
    return new Promise<TransferResult>((resolve) => {
      const timer = setTimeout(() => {
        this.pendingRefer = undefined;
        resolve({ ok: false, status: 408, reason: 'no final NOTIFY from the transferee' });
      }, ((target.ringSeconds ?? 30) + 10) * 1000);
      this.pendingRefer = (r) => {
        clearTimeout(timer);
        if (r.ok) void this.hangup('transferred');
        resolve(r);
      };
    });
  }

  end(reason: string): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.endReason = reason;
    this.audioIn.stop();
    this.pendingRefer?.({ ok: false, status: 487, reason });
    this.pendingRefer = undefined;
    this.media?.close();
    // A transferred caller's endpoint now belongs to the bridge with the owner: leave it up.
    if (reason !== 'transferred') void this.endpoint?.destroy().catch(() => {});
    this.t.forget(this);
    this.emit('ended', reason);
  }
}

export class FsTelephony extends EventEmitter<{ call: [Call] }> implements Telephony {
  readonly name = 'freeswitch' as const;
  private readonly calls = new Set<FsCall>();
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly guard: DialGuard;

  constructor(private readonly o: FsOptions) {
    super();
    this.guard = new DialGuard(o.dialPolicy, o.onOutbound);
  }

  /** The fork WebSocket server, to mount on the HTTP server's upgrade for /audio-fork. */
  get forkServer(): ForkServer {
    return this.o.forks;
  }

  activeCalls(): number {
    return this.calls.size;
  }

  async start(): Promise<void> {
    const { seam } = this.o;
    seam.on('invite', (inv: IncomingInvite) => this.onInvite(inv));
    seam.on('disconnected', () => this.onLost());
    await seam.connect();
  }

  /** drachtio or ESL gone: the calls it carried are gone too; reconnect with backoff. */
  private onLost(): void {
    this.o.logger?.warn({ calls: this.calls.size }, 'drachtio/FreeSWITCH connection lost; ending calls and reconnecting');
    for (const c of [...this.calls]) c.end('media_server_lost');
    if (this.stopped) return;
    let delay = this.o.reconnectMs ?? 1_000;
    const retry = () => {
      this.reconnectTimer = setTimeout(() => {
        this.o.seam.connect().then(
          () => this.o.logger?.info('drachtio/FreeSWITCH reconnected'),
          () => {
            delay = Math.min(delay * 2, 30_000);
            retry();
          },
        );
      }, delay);
    };
    retry();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    await Promise.all([...this.calls].map((c) => c.hangup('shutdown')));
    await this.o.seam.close();
  }

  forget(call: FsCall): void {
    this.calls.delete(call);
  }

  /** The SIP URI for a target, after the dial policy: the one place legs and REFERs get one. */
  uriFor(target: string, leg: OutboundAttempt['leg'], requestedBy?: string): string {
    const v = this.guard.check(target, leg, requestedBy);
    if (v.kind === 'sip') return v.target;
    if (v.kind === 'extension') return this.o.extensionUri.replace('{ext}', v.target);
    return this.o.trunkUri.replace('{number}', v.target);
  }

  async fork(endpoint: FsEndpoint, callId: string): Promise<ForkMedia> {
    const streaming = this.o.streaming ?? true;
    const connected = this.o.forks.expect(callId, 8000);
    await endpoint.forkAudioStart({
      wsUrl: this.o.forkUrl, mixType: 'mono', sampling: '8000', metadata: { callId },
      bidirectionalAudio: { enabled: true, streaming, sampleRate: 8000 },
    });
    const media = await connected;
    if (!streaming) media.useFallback(() => void endpoint.api('uuid_break', `${endpoint.uuid} all`).catch(() => {}));
    return media;
  }

  private onInvite(inv: IncomingInvite): void {
    if (this.o.maxCalls !== undefined && this.calls.size >= this.o.maxCalls) {
      this.o.logger?.warn({ active: this.calls.size, max: this.o.maxCalls }, 'call refused: at the simultaneous-call cap');
      void inv.reject(503, { 'Retry-After': String(this.o.retryAfterS ?? 30) }).catch((err: unknown) => this.o.logger?.warn({ err }, 'could not refuse the call'));
      return;
    }
    const call = new FsCall(this, 'inbound', toE164(inv.callingNumber) ?? (inv.callingNumber || 'anonymous'), toE164(inv.calledNumber) ?? inv.calledNumber, inv);
    this.calls.add(call);
    this.emit('call', call);
  }

  /** Owner leg first, whisper on its own fork, then bridge the two FreeSWITCH endpoints. */
  async warmTransfer(call: FsCall, target: TransferTarget): Promise<TransferResult> {
    let leg: { endpoint: FsEndpoint; dialog: SipDialog };
    try {
      leg = await this.o.seam.call(this.uriFor(target.uri, 'warm', target.requestedBy), { callerId: call.from, timeoutSeconds: target.ringSeconds ?? 20 });
    } catch (e) {
      return { ok: false, status: (e as { status?: number }).status ?? 480, reason: (e as Error).message };
    }
    const owner = new FsCall(this, 'outbound', call.to, target.uri, undefined);
    await owner.attach(leg.endpoint, leg.dialog);
    if (target.whisper) await owner.play(target.whisper).done;
    if (call.state !== 'answered' || !call.endpoint) {
      await owner.hangup('caller_gone');
      return { ok: false, status: 487, reason: 'the caller hung up during the whisper' };
    }
    owner.media?.close();
    await call.endpoint.bridge(leg.endpoint);
    call.media?.close();
    call.end('transferred');
    return { ok: true, status: 200, reason: 'bridged with the owner' };
  }

  async dial(to: string, opts: DialOptions = {}): Promise<Call> {
    const uri = this.uriFor(to, opts.leg ?? 'outbound', opts.requestedBy);
    const leg = await this.o.seam.call(uri, { timeoutSeconds: opts.timeoutSeconds ?? 60, ...(opts.from ? { callerId: opts.from } : {}) });
    const call = new FsCall(this, 'outbound', opts.from ?? '', toE164(to) ?? to, undefined);
    this.calls.add(call);
    await call.attach(leg.endpoint, leg.dialog);
    queueMicrotask(() => call.emit('answered'));
    return call;
  }
}
