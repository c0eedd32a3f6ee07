import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type {
  AudioSource, Call, CallEventMap, CallState, DialOptions, PlaybackHandle, Telephony, TelephonyStatus, TransferResult, TransferTarget,
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
  /** First reconnect delay after drachtio or ESL is lost (doubles each failed attempt), ms. */
  reconnectMs?: number;
  /** Longest wait between reconnect attempts, ms. */
  reconnectMaxMs?: number;
  /** Simultaneous calls (FRONTDESK_MAX_CALLS): an INVITE beyond them is answered 503 with Retry-After. */
  maxCalls?: number | undefined;
  /** Seconds a refused caller's carrier is asked to wait before trying again. */
  retryAfterS?: number;
}

/** Settles when `p` does or after `ms`, whichever is first (never rejects). */
function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p.then(() => {}, () => {}), new Promise<void>((r) => (timer = setTimeout(r, ms)))]).finally(() => clearTimeout(timer));
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
  /**
   * A blind transfer being followed: the final sipfrag once seen, and who waits for it. The
   * transferee's NOTIFYs (and its BYE) can arrive in the same read as the REFER's 202, before the
   * code after `await request()` runs: they are kept here for it.
   */
  private refer: { final?: TransferResult; resolve?: (r: TransferResult) => void } | undefined;
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
    try {
      await this.attach(endpoint, dialog);
    } catch (e) {
      // Answered but no audio: hang up rather than leave a silent call (and its endpoint) behind.
      await this.hangup('media_failed');
      throw e;
    }
    this.state = 'answered';
    this.emit('answered');
  }

  /** Wires the endpoint's events and starts the audio fork. */
  async attach(endpoint: FsEndpoint, dialog: SipDialog): Promise<void> {
    this.endpoint = endpoint;
    this.dialog = dialog;
    endpoint.on('dtmf', (e: { dtmf: string }) => this.emit('dtmf', e.dtmf));
    // The transferee hanging up after a successful REFER is the transfer completing.
    dialog.on('destroy', () => this.end(this.refer?.final?.ok ? 'transferred' : 'remote_hangup'));
    dialog.on('notify', (req: { body?: string; get?: (h: string) => string | undefined }, res: { send: (s: number) => void }) => {
      res.send(200);
      const m = /^SIP\/2\.0 (\d{3})\s*(.*)$/m.exec(req.body ?? '');
      const watch = this.refer;
      if (!m || !watch || watch.final) return;
      const status = Number(m[1]);
      if (status < 200) return;
      watch.final = { ok: status < 300, status, reason: m[2]!.trim() };
      watch.resolve?.(watch.final);
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
    const watch: NonNullable<FsCall['refer']> = {};
    this.refer = watch;
    const res = await this.dialog.request({ method: 'REFER', headers: { 'Refer-To': `<${referTo}>`, 'Referred-By': `<sip:${this.to}@frontdesk>` } });
    if (res.status >= 300) {
      if (this.refer === watch) this.refer = undefined;
      return { ok: false, status: res.status, reason: res.reason ?? 'REFER refused' };
    }
    // Follow the transferee's NOTIFY sipfrag to the final answer (it may be here already).
    const r = watch.final ?? await new Promise<TransferResult>((resolve) => {
      const timer = setTimeout(() => resolve({ ok: false, status: 408, reason: 'no final NOTIFY from the transferee' }), ((target.ringSeconds ?? 30) + 10) * 1000);
      watch.resolve = (x) => {
        clearTimeout(timer);
        resolve(x);
      };
      // Ended meanwhile without a final NOTIFY.
      if (this.state === 'ended') watch.resolve({ ok: false, status: 487, reason: this.endReason ?? 'call ended' });
    });
    if (this.refer === watch) this.refer = undefined;
    if (r.ok) await this.hangup('transferred');
    return r;
  }

  /** `keepEndpoint`: a warm-transferred caller's endpoint now belongs to the bridge with the owner. */
  end(reason: string, keepEndpoint = false): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.endReason = reason;
    this.audioIn.stop();
    const watch = this.refer;
    if (watch && !watch.final) watch.resolve?.({ ok: false, status: 487, reason });
    this.media?.close();
    if (!keepEndpoint) void this.endpoint?.destroy().catch(() => {});
    this.t.forget(this);
    this.emit('ended', reason);
  }
}

export class FsTelephony extends EventEmitter<{ call: [Call]; up: []; down: [] }> implements Telephony {
  readonly name = 'freeswitch' as const;
  private readonly calls = new Set<FsCall>();
  private readonly handovers = new Set<() => void>();
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private up = false;
  private everUp = false;
  private attempts = 0;
  private downSince: number | undefined = performance.now();
  private lastError = 'not connected yet';
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

  /** Whether frontdesk can take calls through drachtio + FreeSWITCH now (for /health and /metrics). */
  status(): TelephonyStatus {
    if (this.up) return { up: true, detail: 'drachtio and FreeSWITCH connected' };
    const s = this.downSince === undefined ? 0 : Math.round((performance.now() - this.downSince) / 1000);
    return { up: false, detail: `drachtio/FreeSWITCH down for ${s} s: ${this.lastError}` };
  }

  /**
   * Connects; if drachtio or FreeSWITCH is not there yet, keeps trying in the background (start
   * never fails for an absent server: frontdesk comes up, /health says telephony is down until then).
   */
  async start(): Promise<void> {
    const { seam } = this.o;
    this.stopped = false;
    seam.on('invite', (inv: IncomingInvite) => this.onInvite(inv));
    seam.on('disconnected', (why?: string) => this.onLost(why ?? 'connection lost'));
    await this.attempt();
  }

  private async attempt(): Promise<void> {
    try {
      await this.o.seam.connect();
    } catch (err) {
      if (this.stopped) return;
      this.markDown((err as Error).message);
      if (this.attempts === 0) this.o.logger?.error({ err: (err as Error).message }, 'drachtio/FreeSWITCH unreachable; retrying until both answer');
      this.retry();
      return;
    }
    if (this.stopped) {
      await this.o.seam.close();
      return;
    }
    if (this.attempts > 0 || this.everUp) this.o.logger?.info('drachtio/FreeSWITCH reconnected');
    else this.o.logger?.info('drachtio/FreeSWITCH connected');
    this.everUp = true;
    this.attempts = 0;
    this.up = true;
    this.downSince = undefined;
    this.lastError = '';
    this.emit('up');
  }

  private markDown(why: string): void {
    const was = this.up;
    this.up = false;
    this.lastError = why;
    this.downSince ??= performance.now();
    if (was) this.emit('down');
  }

  /** Forever, with capped exponential backoff. */
  private retry(): void {
    if (this.stopped || this.reconnectTimer) return;
    const base = this.o.reconnectMs ?? 500;
    const delay = Math.min(this.o.reconnectMaxMs ?? 15_000, base * 2 ** Math.min(this.attempts++, 10));
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.attempt();
    }, delay);
  }

  /** drachtio or ESL gone: the calls it carried are gone too; reconnect with backoff. */
  private onLost(why: string): void {
    this.markDown(why);
    if (this.stopped) return;
    this.o.logger?.warn({ calls: this.calls.size, why }, 'drachtio/FreeSWITCH connection lost; ending calls and reconnecting');
    for (const c of [...this.calls]) c.end('media_server_lost');
    this.retry();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    // A hang-up drachtio never confirms (it is gone or hung) must not hold shutdown up.
    await Promise.all([...this.calls].map((c) => within(c.hangup('shutdown'), 2_000)));
    await this.o.seam.close();
    this.up = false;
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
    const connected = this.o.forks.expect(callId, 8000);
    try {
      await endpoint.forkAudioStart({
        wsUrl: this.o.forkUrl, mixType: 'mono', sampling: '8000', metadata: { callId },
        bidirectionalAudio: { enabled: true, streaming: true, sampleRate: 8000 },
      });
    } catch (e) {
      this.o.forks.cancel(callId);
      throw e;
    }
    return connected;
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
    // The caller hanging up while the owner's phone rings cancels that leg (it rang on for its whole ring time).
    const gone = new AbortController();
    const onEnded = () => gone.abort();
    call.once('ended', onEnded);
    try {
      if (call.state === 'ended') gone.abort();
      leg = await this.o.seam.call(this.uriFor(target.uri, 'warm', target.requestedBy), { callerId: call.from, timeoutSeconds: target.ringSeconds ?? 20, signal: gone.signal });
    } catch (e) {
      return { ok: false, status: (e as { status?: number }).status ?? 480, reason: (e as Error).message };
    } finally {
      call.off('ended', onEnded);
    }
    const owner = new FsCall(this, 'outbound', call.to, target.uri, undefined);
    try {
      await owner.attach(leg.endpoint, leg.dialog);
    } catch (e) {
      await owner.hangup('media_failed');
      return { ok: false, status: 500, reason: `owner leg has no audio: ${(e as Error).message}` };
    }
    if (target.whisper) await owner.play(target.whisper).done;
    if (call.state !== 'answered' || !call.endpoint) {
      await owner.hangup('caller_gone');
      return { ok: false, status: 487, reason: 'the caller hung up during the whisper' };
    }
    // The forks go before the bridge: nothing of ours is mixed into the conversation.
    owner.media?.close();
    call.media?.close();
    await Promise.all([leg.endpoint.forkAudioStop().catch(() => {}), call.endpoint.forkAudioStop().catch(() => {})]);
    await call.endpoint.bridge(leg.endpoint);
    const callerSide = { dialog: call.dialog!, endpoint: call.endpoint };
    call.end('transferred', true);
    this.handover(callerSide, leg);
    return { ok: true, status: 200, reason: 'bridged with the owner' };
  }

  /**
   * Caller and owner bridged on FreeSWITCH, each with its own SIP dialog here: whichever hangs up,
   * the other gets a BYE and both endpoints go (no one is left in dead air, no channel lingers).
   */
  private handover(a: { dialog: SipDialog; endpoint: FsEndpoint }, b: { dialog: SipDialog; endpoint: FsEndpoint }): void {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.handovers.delete(finish);
      for (const side of [a, b]) {
        void side.dialog.destroy().catch(() => {});
        void side.endpoint.destroy().catch(() => {});
      }
    };
    this.handovers.add(finish);
    a.dialog.on('destroy', finish);
    b.dialog.on('destroy', finish);
  }

  /** Bridged caller–owner pairs still up. */
  handoverCount(): number {
    return this.handovers.size;
  }

  async dial(to: string, opts: DialOptions = {}): Promise<Call> {
    const uri = this.uriFor(to, opts.leg ?? 'outbound', opts.requestedBy);
    const leg = await this.o.seam.call(uri, { timeoutSeconds: opts.timeoutSeconds ?? 60, ...(opts.from ? { callerId: opts.from } : {}) });
    const call = new FsCall(this, 'outbound', opts.from ?? '', toE164(to) ?? to, undefined);
    this.calls.add(call);
    try {
      await call.attach(leg.endpoint, leg.dialog);
    } catch (e) {
      await call.hangup('media_failed');
      throw e;
    }
    queueMicrotask(() => call.emit('answered'));
    return call;
  }
}
