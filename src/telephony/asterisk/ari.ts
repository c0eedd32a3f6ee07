import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import Ari, { type Client, type Channel, type StasisStart } from 'ari-client';
import type { Logger } from 'pino';
import type { Call, DialOptions, Telephony, TelephonyStatus, TransferResult, TransferTarget } from '../call.js';
import { RtpSession } from '../rtp/session.js';
import { PortAllocator } from '../rtp/ports.js';
import type { MediaClock } from '../rtp/clock.js';
import { toE164 } from '../../util/phone.js';
import type { DialPolicy } from '../../business/dial-policy.js';
import { DialGuard, type OutboundHook, type OutboundAttempt } from '../dial-guard.js';
import { AriCall, type AriMedia } from './call.js';
import { WsMedia } from './ws-media.js';
import { ringback } from '../ringback.js';
import { AriRecordings } from './recordings.js';

/**
 * Asterisk through ARI (ari-client): calls enter our Stasis application from the dialplan
 * (asterisk/extensions.conf), we answer, add an externalMedia RTP leg and bridge the two. Routing
 * stays ARI-side: the dialled number travels as the Stasis argument and frontdesk's contexts
 * decide, so the admin edits numbers in one place.
 */

export interface AriOptions {
  url: string;
  user: string;
  password: string;
  app: string;
  /** Address Asterisk sends externalMedia RTP to (this host as Asterisk sees it). */
  mediaAddress: string;
  rtpPortMin: number;
  rtpPortMax: number;
  /**
   * externalMedia transport. rtp: we own the clock, any Asterisk 16+. websocket: chan_websocket
   * (Asterisk 22.8+/20.18+ with JSON control), Asterisk owns the clock, no RTP ports to open.
   */
  media?: 'rtp' | 'websocket';
  /** Outbound through the trunk: {number} is replaced, e.g. PJSIP/{number}@telnyx. */
  trunkEndpoint: string;
  /** Desk phones and extensions: {ext} is replaced, e.g. PJSIP/{ext}. */
  extensionEndpoint: string;
  dialPolicy?: Partial<DialPolicy>;
  mediaTimeoutMs?: number;
  clock?: MediaClock;
  logger?: Logger | undefined;
  /** Every outbound attempt, allowed or not (the app writes it to the audit log). */
  onOutbound?: OutboundHook;
  /**
   * Simultaneous calls (FRONTDESK_MAX_CALLS): a call beyond them, or one no RTP port is left for, is
   * hung up with cause congestion (34), which PJSIP answers as 503 so the carrier can retry or fail over.
   */
  maxCalls?: number | undefined;
  /** frontdesk's recordings folder: bridge recordings are fetched here over ARI when a call ends. */
  recordingsDir?: string;
  /** Longest wait between reconnect attempts while Asterisk is away (ms). */
  reconnectMaxMs?: number;
}

/** Q.850 cause of a leg that never answered → the SIP status a transfer reports. */
const CAUSE_STATUS: Record<number, number> = { 1: 404, 3: 404, 17: 486, 18: 480, 19: 480, 21: 603, 27: 502, 28: 484, 34: 503, 38: 503, 41: 503, 42: 503 };

/** Why a leg failed to answer, with the status it maps to. */
class LegFailed extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

export class AriTelephony extends EventEmitter<{ call: [Call]; reconnected: []; down: []; up: [] }> implements Telephony {
  readonly name = 'asterisk' as const;
  private client: Client | undefined;
  private readonly calls = new Map<string, AriCall>();
  private readonly waiting = new Map<string, { resolve: (ch: Channel) => void; reject: (e: Error) => void }>();
  private readonly mediaChannels = new Set<string>();
  /** externalMedia channels we created and wait to see enter Stasis before bridging them. */
  private readonly mediaWaiting = new Map<string, () => void>();
  /** Handed-over calls: caller and owner in one bridge of ours; either leaving ends the other. */
  private readonly handovers = new Map<string, { peer: string; bridgeId: string }>();
  /** Legs being set up (transfer, whisper): told when their channel goes. */
  private readonly legWatch = new Map<string, () => void>();
  private up = false;
  private downSince: number | undefined = performance.now();
  private lastError = 'not connected yet';
  private stopped = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  readonly recordings: AriRecordings;
  private readonly ports: PortAllocator;
  private readonly log: Logger | undefined;
  private readonly guard: DialGuard;

  constructor(private readonly o: AriOptions) {
    super();
    this.guard = new DialGuard(o.dialPolicy, o.onOutbound);
    this.ports = new PortAllocator(o.rtpPortMin, o.rtpPortMax);
    this.log = o.logger;
    this.recordings = new AriRecordings({ url: o.url, user: o.user, password: o.password, dir: o.recordingsDir, logger: o.logger, client: () => this.client });
  }

  activeCalls(): number {
    return this.calls.size;
  }

  /** Whether frontdesk can take calls through Asterisk now (for /health and /metrics). */
  status(): TelephonyStatus {
    if (this.up) return { up: true, detail: `ARI connected to ${this.o.url} (app ${this.o.app})` };
    const s = this.downSince === undefined ? 0 : Math.round((performance.now() - this.downSince) / 1000);
    return { up: false, detail: `ARI at ${this.o.url} down for ${s} s: ${this.lastError}` };
  }

  /**
   * Connects; if Asterisk is not there yet, keeps trying in the background (start never fails for
   * an absent Asterisk: frontdesk comes up, /health says telephony is down until it connects).
   */
  async start(): Promise<void> {
    this.stopped = false;
    try {
      await this.connect();
    } catch (err) {
      this.markDown(err);
      this.log?.error({ err: (err as Error).message, url: this.o.url }, 'ARI unreachable; retrying until it answers');
      this.retry();
    }
  }

  private async connect(): Promise<void> {
    const client = await Ari.connect(this.o.url, this.o.user, this.o.password);
    if (this.stopped) return;
    (this.client as unknown as EventEmitter | undefined)?.removeAllListeners();
    this.client = client;
    client.on('StasisStart', (e: StasisStart, ch: Channel) => this.onStasisStart(e, ch));
    client.on('StasisEnd', (_e: unknown, ch: Channel) => {
      this.calls.get(ch.id)?.end('remote_hangup');
      this.legGone(ch.id);
    });
    client.on('ChannelDestroyed', (e: { cause?: number; cause_txt?: string }, ch: Channel) => {
      this.calls.get(ch.id)?.end('remote_hangup');
      const w = this.waiting.get(ch.id);
      this.waiting.delete(ch.id);
      const cause = e.cause ?? 0;
      w?.reject(new LegFailed(cause === 17 ? 'busy' : cause === 21 ? 'declined' : cause === 19 || cause === 16 || cause === 0 ? 'no answer' : (e.cause_txt ?? `cause ${cause}`), CAUSE_STATUS[cause] ?? 480));
      this.legGone(ch.id);
    });
    client.on('ChannelDtmfReceived', (e: { digit: string }, ch: Channel) => this.calls.get(ch.id)?.onDtmf(e.digit));
    client.on('RecordingFinished', (e: { recording: { name: string } }) => this.recordings.finished(e.recording.name, true));
    client.on('RecordingFailed', (e: { recording: { name: string; cause?: string } }) => this.recordings.finished(e.recording.name, false, e.recording.cause));
    // ari-client retries the event socket ~10 times (~45 s); after that we start over with a fresh
    // client, forever, with capped backoff. Afterwards calls Asterisk no longer has are ended.
    client.on('WebSocketReconnecting', (err?: Error) => {
      if (this.up) this.log?.warn('ARI event socket lost; reconnecting');
      this.markDown(err ?? new Error('event socket closed'));
    });
    client.on('WebSocketConnected', () => {
      this.markUp();
      void this.reconcile();
    });
    client.on('WebSocketMaxRetries', (err?: Error) => {
      if (client !== this.client) return;
      this.markDown(err ?? new Error('event socket gone'));
      this.log?.error('ARI event socket gone; ending its calls and retrying until Asterisk is back');
      for (const c of [...this.calls.values()]) c.end('asterisk_lost');
      this.retry();
    });
    await client.start(this.o.app);
    this.log?.info({ url: this.o.url, app: this.o.app }, 'ARI connected');
  }

  private markUp(): void {
    this.attempt = 0;
    this.lastError = '';
    this.downSince = undefined;
    if (!this.up) {
      this.up = true;
      this.emit('up');
    }
  }

  private markDown(err: unknown): void {
    this.lastError = (err as Error)?.message || String(err);
    this.downSince ??= performance.now();
    if (this.up) {
      this.up = false;
      this.emit('down');
    }
  }

  private retry(): void {
    if (this.stopped || this.retryTimer) return;
    const delay = Math.min(this.o.reconnectMaxMs ?? 15_000, 500 * 2 ** Math.min(this.attempt++, 10));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect().catch((err: unknown) => {
        this.markDown(err);
        this.retry();
      });
    }, delay);
  }

  /** After a reconnect: calls whose channels vanished meanwhile are ended, the rest kept. */
  private async reconcile(): Promise<void> {
    if (!this.client) return;
    try {
      // Only what we knew before asking: a call arriving while the list is on its way is not in it.
      const calls = [...this.calls.values()];
      const handovers = [...this.handovers.keys()];
      const live = new Set((await this.client.channels.list()).map((c) => c.id));
      for (const call of calls) if (!live.has(call.channel.id)) call.end('lost_during_reconnect');
      for (const id of handovers) if (!live.has(id)) this.legGone(id);
      await this.adoptHandovers(live);
      this.emit('reconnected');
    } catch (err) {
      this.log?.warn({ err }, 'ARI reconcile failed');
    }
  }

  /**
   * Hand-over bridges Asterisk kept while we were away (a frontdesk restart leaves the caller and
   * owner talking): watched again, or cleared when one side already left.
   */
  private async adoptHandovers(live: Set<string>): Promise<void> {
    const bridges = (await this.client!.bridges.list()) as unknown as { id: string; name: string; channels: string[] }[];
    for (const b of bridges) {
      if (!b.name.startsWith('handover-') || this.handovers.has(b.channels[0] ?? '')) continue;
      const [a, z] = b.channels.filter((c) => live.has(c));
      if (a && z) {
        this.handovers.set(a, { peer: z, bridgeId: b.id });
        this.handovers.set(z, { peer: a, bridgeId: b.id });
        continue;
      }
      if (a) void this.client!.channels.hangup({ channelId: a }).catch(() => {});
      void this.client!.bridges.destroy({ bridgeId: b.id }).catch(() => {});
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await Promise.all([...this.calls.values()].map((c) => c.hangup('shutdown').catch(() => {})));
    await this.recordings.settled();
    try {
      (this.client as unknown as EventEmitter | undefined)?.removeAllListeners();
      await this.client?.stop();
    } catch {
      // already closed
    }
    this.up = false;
  }

  /** A channel left: a handed-over call's other side is hung up and its bridge destroyed. */
  private legGone(id: string): void {
    const watch = this.legWatch.get(id);
    this.legWatch.delete(id);
    watch?.();
    const h = this.handovers.get(id);
    if (!h) return;
    this.handovers.delete(id);
    this.handovers.delete(h.peer);
    void this.client?.channels.hangup({ channelId: h.peer }).catch(() => {});
    void this.client?.bridges.destroy({ bridgeId: h.bridgeId }).catch(() => {});
  }

  /** Handed-over calls still bridged by us (for tests and the live suite). */
  handoverCount(): number {
    return this.handovers.size / 2;
  }

  private onStasisStart(e: StasisStart, ch: Channel): void {
    const media = this.mediaWaiting.get(ch.id);
    if (media) {
      this.mediaWaiting.delete(ch.id);
      media();
      return;
    }
    if (this.mediaChannels.has(ch.id) || /^(UnicastRTP|WebSocket|Recorder|Snoop)\//.test(ch.name)) return;
    const waiter = this.waiting.get(ch.id);
    if (waiter) {
      this.waiting.delete(ch.id);
      waiter.resolve(ch);
      return;
    }
    const full = this.o.maxCalls !== undefined && this.calls.size >= this.o.maxCalls;
    // Each RTP call holds a port from answer to hang-up: none left is a refusal now, not a failed call later.
    const noPort = this.o.media !== 'websocket' && this.ports.free === 0;
    if (full || noPort) {
      this.log?.warn({ channel: ch.id, active: this.calls.size, max: this.o.maxCalls }, full ? 'call refused: at the simultaneous-call cap' : 'call refused: no RTP port left');
      void this.client!.channels.hangup({ channelId: ch.id, reason: 'congestion' }).catch((err: unknown) => this.log?.warn({ err, channel: ch.id }, 'could not refuse the call'));
      return;
    }
    const dialled = e.args[0] ?? ch.dialplan?.exten ?? '';
    const from = toE164(ch.caller?.number) ?? (ch.caller?.number || 'anonymous');
    const call = new AriCall(this, ch, ch.id, 'inbound', from, toE164(dialled) ?? dialled);
    this.calls.set(ch.id, call);
    this.log?.info({ channel: ch.id, from, to: call.to }, 'inbound call (ARI)');
    this.emit('call', call);
  }

  /** The current ARI client (a reconnect replaces it). */
  ari(): Client {
    if (!this.client) throw new Error(`Asterisk is not connected: ${this.status().detail}`);
    return this.client;
  }

  forget(call: AriCall): void {
    this.calls.delete(call.channel.id);
  }

  /**
   * The dial string for a target, after the dial policy: the one place originate (calls, warm and
   * find-me legs) and redirect (blind transfers) get an endpoint. Raw dial strings are refused.
   */
  endpointFor(target: string, leg: OutboundAttempt['leg'], requestedBy?: string): string {
    const v = this.guard.check(target, leg, requestedBy);
    if (v.kind === 'sip') return `PJSIP/${v.target.replace(/^sips?:/i, '').split('@')[0]}`;
    if (v.kind === 'extension') return this.o.extensionEndpoint.replace('{ext}', v.target);
    return this.o.trunkEndpoint.replace('{number}', v.target);
  }

  /** An externalMedia channel bridged with `ch`. */
  async mediaLeg(ch: Channel): Promise<AriMedia> {
    return this.o.media === 'websocket' ? this.wsLeg(ch) : this.rtpLeg(ch);
  }

  /**
   * Resolves when Asterisk reports the externalMedia channel in Stasis: bridging it before that
   * fails with "Channel not in Stasis application" (the first call after an Asterisk restart).
   */
  private mediaInStasis(id: string, timeoutMs = 5_000): { ready: Promise<void>; cancel: () => void } {
    let timer: NodeJS.Timeout | undefined;
    const ready = new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => {
        this.mediaWaiting.delete(id);
        reject(new Error(`externalMedia channel ${id} did not enter Stasis within ${timeoutMs} ms`));
      }, timeoutMs);
      this.mediaWaiting.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    ready.catch(() => {});
    return { ready, cancel: () => { clearTimeout(timer); this.mediaWaiting.delete(id); } };
  }

  private async wsLeg(ch: Channel): Promise<AriMedia> {
    const client = this.requireClient();
    const channelId = randomUUID();
    const stasis = this.mediaInStasis(channelId);
    this.mediaChannels.add(channelId);
    let port: WsMedia | undefined;
    try {
      const media = await client.channels.externalMedia({
        channelId, app: this.o.app, external_host: 'INCOMING', transport: 'websocket', encapsulation: 'none', connection_type: 'server', format: 'ulaw',
      } as never);
      const vars = (media as unknown as { channelvars?: Record<string, string> }).channelvars ?? {};
      const id = vars.MEDIA_WEBSOCKET_CONNECTION_ID ?? (await client.channels.getChannelVar({ channelId, variable: 'MEDIA_WEBSOCKET_CONNECTION_ID' })).value;
      const url = new URL(this.o.url);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      url.pathname = `/media/${encodeURIComponent(id)}`;
      port = new WsMedia(url.toString(), { user: this.o.user, password: this.o.password });
      // The channel joins Stasis (and can be bridged) only once this socket is connected.
      await port.connect();
      await stasis.ready;
      const bridge = await client.bridges.create({ type: 'mixing' });
      await bridge.addChannel({ channel: [ch.id, channelId] });
      return { port, mediaChannel: media, bridge };
    } catch (e) {
      stasis.cancel();
      port?.close();
      this.mediaChannels.delete(channelId);
      void client.channels.hangup({ channelId }).catch(() => {});
      throw e;
    }
  }

  private async rtpLeg(ch: Channel): Promise<AriMedia> {
    const client = this.requireClient();
    const { socket, port } = await this.ports.bind(this.o.mediaAddress);
    const rtp = new RtpSession({
      socket, codec: { codec: 'PCMU', payloadType: 0, ptimeMs: 20 },
      ...(this.o.clock ? { clock: this.o.clock } : {}),
      ...(this.o.mediaTimeoutMs !== undefined ? { mediaTimeoutMs: this.o.mediaTimeoutMs } : {}),
    });
    const channelId = randomUUID();
    const stasis = this.mediaInStasis(channelId);
    this.mediaChannels.add(channelId);
    try {
      const media = await client.channels.externalMedia({ channelId, app: this.o.app, external_host: `${this.o.mediaAddress}:${port}`, format: 'ulaw' } as never);
      const vars = (media as unknown as { channelvars?: Record<string, string> }).channelvars ?? {};
      const address = vars.UNICASTRTP_LOCAL_ADDRESS ?? (await client.channels.getChannelVar({ channelId, variable: 'UNICASTRTP_LOCAL_ADDRESS' })).value;
      const rport = vars.UNICASTRTP_LOCAL_PORT ?? (await client.channels.getChannelVar({ channelId, variable: 'UNICASTRTP_LOCAL_PORT' })).value;
      rtp.setRemote({ address, port: Number(rport) });
      await stasis.ready;
      const bridge = await client.bridges.create({ type: 'mixing' });
      await bridge.addChannel({ channel: [ch.id, channelId] });
      rtp.start();
      return { port: rtp, rtpPort: port, mediaChannel: media, bridge };
    } catch (e) {
      stasis.cancel();
      rtp.close();
      this.ports.release(port);
      this.mediaChannels.delete(channelId);
      void client.channels.hangup({ channelId }).catch(() => {});
      throw e;
    }
  }

  private requireClient(): Client {
    if (!this.client || !this.up) throw new Error(`Asterisk is not connected: ${this.status().detail}`);
    return this.client;
  }

  /** Closes a media leg: our end, its externalMedia channel and its bridge. */
  releaseMedia(m: AriMedia): void {
    m.port.close();
    if (m.rtpPort !== undefined) this.ports.release(m.rtpPort);
    this.mediaChannels.delete(m.mediaChannel.id);
    void this.client?.channels.hangup({ channelId: m.mediaChannel.id }).catch(() => {});
    void this.client?.bridges.destroy({ bridgeId: m.bridge.id }).catch(() => {});
  }

  /**
   * Originates a leg into our app and waits for it to answer (StasisStart) or fail (its
   * ChannelDestroyed cause says why: busy, declined, no answer).
   */
  private async originate(endpoint: string, appArgs: string, callerId: string | undefined, timeoutS: number, channelId = randomUUID()): Promise<Channel> {
    const client = this.requireClient();
    const answered = new Promise<Channel>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(channelId);
        void client.channels.hangup({ channelId }).catch(() => {});
        reject(new LegFailed('no answer', 480));
      }, (timeoutS + 5) * 1000);
      this.waiting.set(channelId, {
        resolve: (c) => { clearTimeout(timer); resolve(c); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
    });
    answered.catch(() => {});
    try {
      await client.channels.originate({ endpoint, app: this.o.app, appArgs, timeout: timeoutS, channelId, ...(callerId ? { callerId } : {}) } as never);
    } catch (e) {
      this.waiting.get(channelId)?.reject(e as Error);
      this.waiting.delete(channelId);
    }
    return answered;
  }

  /**
   * Transfers by bridging in Asterisk, blind or warm: the caller hears ringback while the owner's
   * leg rings; warm whispers to the owner first. A bridge (not a REFER/redirect) because a desk
   * phone's contact is private to the PBX and the result is then known: answered, or why not.
   * Afterwards either side hanging up ends the other and the bridge goes.
   */
  async handOver(call: AriCall, target: TransferTarget): Promise<TransferResult> {
    let endpoint: string;
    try {
      endpoint = this.endpointFor(target.uri, target.mode === 'warm' ? 'warm' : 'transfer', target.requestedBy);
    } catch (e) {
      return { ok: false, status: (e as { status?: number }).status ?? 403, reason: (e as Error).message };
    }
    const ownerId = randomUUID();
    const ring = call.play(ringback());
    const cancelLeg = () => void this.client?.channels.hangup({ channelId: ownerId }).catch(() => {});
    call.once('ended', cancelLeg);
    let ownerGone = false;
    let bridgeId: string | undefined;
    try {
      let owner: Channel;
      try {
        owner = await this.originate(endpoint, target.mode, toE164(call.from) ?? undefined, target.ringSeconds ?? 20, ownerId);
      } catch (e) {
        if (call.state !== 'answered') return { ok: false, status: 487, reason: 'the caller hung up while the owner rang' };
        return { ok: false, status: (e as { status?: number }).status ?? 480, reason: `${target.uri}: ${(e as Error).message}` };
      }
      this.legWatch.set(owner.id, () => (ownerGone = true));
      if (target.mode === 'warm' && target.whisper) {
        const leg = await this.mediaLeg(owner);
        try {
          await leg.port.play(target.whisper).done;
        } finally {
          this.releaseMedia(leg);
        }
      }
      if (call.state !== 'answered') {
        cancelLeg();
        return { ok: false, status: 487, reason: 'the caller hung up during the whisper' };
      }
      if (ownerGone) return { ok: false, status: 480, reason: `${target.uri}: hung up before the hand-over` };
      const client = this.requireClient();
      const bridge = await client.bridges.create({ type: 'mixing', name: `handover-${call.id}` });
      bridgeId = bridge.id;
      this.handovers.set(call.channel.id, { peer: owner.id, bridgeId });
      this.handovers.set(owner.id, { peer: call.channel.id, bridgeId });
      ring.cancel();
      await bridge.addChannel({ channel: [call.channel.id, owner.id] });
      call.off('ended', cancelLeg);
      call.end('transferred');
      return { ok: true, status: 200, reason: target.mode === 'warm' ? 'bridged with the owner after the whisper' : 'bridged with the owner' };
    } catch (e) {
      this.log?.error({ err: (e as Error).message, target: target.uri }, 'transfer failed');
      cancelLeg();
      this.handovers.delete(call.channel.id);
      this.handovers.delete(ownerId);
      if (bridgeId) void this.client?.bridges.destroy({ bridgeId }).catch(() => {});
      return { ok: false, status: 500, reason: (e as Error).message };
    } finally {
      ring.cancel();
      call.off('ended', cancelLeg);
      this.legWatch.delete(ownerId);
    }
  }

  async dial(to: string, opts: DialOptions = {}): Promise<Call> {
    const endpoint = this.endpointFor(to, opts.leg ?? 'outbound', opts.requestedBy);
    const ch = await this.originate(endpoint, 'outbound', opts.from, opts.timeoutSeconds ?? 60).catch((e: Error & { status?: number }) => {
      throw Object.assign(new Error(`${to}: ${e.message}`), { status: e.status ?? 480 });
    });
    const call = new AriCall(this, ch, ch.id, 'outbound', opts.from ?? '', toE164(to) ?? to, 'answered');
    this.calls.set(ch.id, call);
    await call.attachMedia();
    queueMicrotask(() => call.emit('answered'));
    return call;
  }
}
