import { EventEmitter } from 'node:events';
import Ari, { type Client, type Channel, type StasisStart } from 'ari-client';
import type { Logger } from 'pino';
import type { Call, DialOptions, Telephony, TransferResult, TransferTarget } from '../call.js';
import { RtpSession } from '../rtp/session.js';
import { PortAllocator } from '../rtp/ports.js';
import type { MediaClock } from '../rtp/clock.js';
import { toE164 } from '../../util/phone.js';
import type { DialPolicy } from '../../business/dial-policy.js';
import { DialGuard, type OutboundHook, type OutboundAttempt } from '../dial-guard.js';
import { AriCall, type AriMedia } from './call.js';
import { WsMedia } from './ws-media.js';

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
}

export class AriTelephony extends EventEmitter<{ call: [Call]; reconnected: [] }> implements Telephony {
  readonly name = 'asterisk' as const;
  private client: Client | undefined;
  private readonly calls = new Map<string, AriCall>();
  private readonly waiting = new Map<string, { resolve: (ch: Channel) => void; reject: (e: Error) => void }>();
  private readonly mediaChannels = new Set<string>();
  private readonly ports: PortAllocator;
  private readonly log: Logger | undefined;
  private readonly guard: DialGuard;

  constructor(private readonly o: AriOptions) {
    super();
    this.guard = new DialGuard(o.dialPolicy, o.onOutbound);
    this.ports = new PortAllocator(o.rtpPortMin, o.rtpPortMax);
    this.log = o.logger;
  }

  activeCalls(): number {
    return this.calls.size;
  }

  async start(): Promise<void> {
    const client = await Ari.connect(this.o.url, this.o.user, this.o.password);
    this.client = client;
    client.on('StasisStart', (e: StasisStart, ch: Channel) => this.onStasisStart(e, ch));
    client.on('StasisEnd', (_e: unknown, ch: Channel) => {
      const call = this.calls.get(ch.id);
      call?.end(call.transferring ? 'transferred' : 'remote_hangup');
    });
    client.on('ChannelDestroyed', (_e: unknown, ch: Channel) => {
      this.calls.get(ch.id)?.end('remote_hangup');
      this.waiting.get(ch.id)?.reject(new Error('no answer'));
      this.waiting.delete(ch.id);
    });
    client.on('ChannelDtmfReceived', (e: { digit: string }, ch: Channel) => this.calls.get(ch.id)?.onDtmf(e.digit));
    // ari-client reconnects the event socket with backoff; afterwards, drop calls Asterisk no longer has.
    client.on('WebSocketReconnecting', () => this.log?.warn('ARI event socket lost; reconnecting'));
    client.on('WebSocketConnected', () => void this.reconcile());
    client.on('WebSocketMaxRetries', () => {
      this.log?.error('ARI event socket gone for good; ending all calls');
      for (const c of [...this.calls.values()]) c.end('asterisk_lost');
    });
    await client.start(this.o.app);
    this.log?.info({ url: this.o.url, app: this.o.app }, 'ARI connected');
  }

  /** After a reconnect: calls whose channels vanished meanwhile are ended, the rest kept. */
  private async reconcile(): Promise<void> {
    if (!this.client) return;
    try {
      const live = new Set((await this.client.channels.list()).map((c) => c.id));
      for (const call of [...this.calls.values()]) if (!live.has(call.channel.id)) call.end('lost_during_reconnect');
      this.emit('reconnected');
    } catch (err) {
      this.log?.warn({ err }, 'ARI reconcile failed');
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.calls.values()].map((c) => c.hangup('shutdown').catch(() => {})));
    try {
      await this.client?.stop();
    } catch {
      // already closed
    }
  }

  private onStasisStart(e: StasisStart, ch: Channel): void {
    if (this.mediaChannels.has(ch.id) || ch.name.startsWith('UnicastRTP/') || ch.name.startsWith('WebSocket/')) return;
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
    const call = new AriCall(this, this.client!, ch, ch.id, 'inbound', from, toE164(dialled) ?? dialled);
    this.calls.set(ch.id, call);
    this.log?.info({ channel: ch.id, from, to: call.to }, 'inbound call (ARI)');
    this.emit('call', call);
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

  private async wsLeg(ch: Channel): Promise<AriMedia> {
    const client = this.client!;
    const media = await client.channels.externalMedia({
      app: this.o.app, external_host: 'INCOMING', transport: 'websocket', encapsulation: 'none', connection_type: 'server', format: 'ulaw',
    } as never);
    this.mediaChannels.add(media.id);
    try {
      const vars = (media as unknown as { channelvars?: Record<string, string> }).channelvars ?? {};
      const id = vars.MEDIA_WEBSOCKET_CONNECTION_ID ?? (await client.channels.getChannelVar({ channelId: media.id, variable: 'MEDIA_WEBSOCKET_CONNECTION_ID' })).value;
      const url = new URL(this.o.url);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      url.pathname = `/media/${encodeURIComponent(id)}`;
      const port = new WsMedia(url.toString(), { user: this.o.user, password: this.o.password });
      // The channel joins Stasis (and can be bridged) only once this socket is connected.
      await port.connect();
      const bridge = await client.bridges.create({ type: 'mixing' });
      await bridge.addChannel({ channel: [ch.id, media.id] });
      return { port, mediaChannel: media, bridge };
    } catch (e) {
      this.mediaChannels.delete(media.id);
      void client.channels.hangup({ channelId: media.id }).catch(() => {});
      throw e;
    }
  }

  private async rtpLeg(ch: Channel): Promise<AriMedia> {
    const client = this.client!;
    const { socket, port } = await this.ports.bind(this.o.mediaAddress);
    const rtp = new RtpSession({
      socket, codec: { codec: 'PCMU', payloadType: 0, ptimeMs: 20 },
      ...(this.o.clock ? { clock: this.o.clock } : {}),
      ...(this.o.mediaTimeoutMs !== undefined ? { mediaTimeoutMs: this.o.mediaTimeoutMs } : {}),
    });
    try {
      const media = await client.channels.externalMedia({ app: this.o.app, external_host: `${this.o.mediaAddress}:${port}`, format: 'ulaw' } as never);
      this.mediaChannels.add(media.id);
      const vars = (media as unknown as { channelvars?: Record<string, string> }).channelvars ?? {};
      const address = vars.UNICASTRTP_LOCAL_ADDRESS ?? (await client.channels.getChannelVar({ channelId: media.id, variable: 'UNICASTRTP_LOCAL_ADDRESS' })).value;
      const rport = vars.UNICASTRTP_LOCAL_PORT ?? (await client.channels.getChannelVar({ channelId: media.id, variable: 'UNICASTRTP_LOCAL_PORT' })).value;
      rtp.setRemote({ address, port: Number(rport) });
      const bridge = await client.bridges.create({ type: 'mixing' });
      await bridge.addChannel({ channel: [ch.id, media.id] });
      rtp.start();
      return { port: rtp, rtpPort: port, mediaChannel: media, bridge };
    } catch (e) {
      rtp.close();
      this.ports.release(port);
      throw e;
    }
  }

  releaseMedia(m: AriMedia): void {
    if (m.rtpPort !== undefined) this.ports.release(m.rtpPort);
    this.mediaChannels.delete(m.mediaChannel.id);
    void this.client?.channels.hangup({ channelId: m.mediaChannel.id }).catch(() => {});
    void this.client?.bridges.destroy({ bridgeId: m.bridge.id }).catch(() => {});
  }

  /** Originates a leg into our app and waits for it to answer (StasisStart) or fail. */
  private async originate(endpoint: string, appArgs: string, callerId: string | undefined, timeoutS: number): Promise<Channel> {
    const client = this.client!;
    const ch = await client.channels.originate({ endpoint, app: this.o.app, appArgs, timeout: timeoutS, ...(callerId ? { callerId } : {}) } as never);
    return new Promise<Channel>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(ch.id);
        void client.channels.hangup({ channelId: ch.id }).catch(() => {});
        reject(new Error('no answer'));
      }, (timeoutS + 5) * 1000);
      this.waiting.set(ch.id, {
        resolve: (c) => { clearTimeout(timer); resolve(c); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
    });
  }

  /** Owner leg first, whisper to it, then move the caller into the owner's bridge. */
  async warmTransfer(call: AriCall, target: TransferTarget): Promise<TransferResult> {
    let owner: Channel;
    try {
      owner = await this.originate(this.endpointFor(target.uri, 'warm', target.requestedBy), 'warm', toE164(call.from), target.ringSeconds ?? 20);
    } catch (e) {
      return { ok: false, status: (e as { status?: number }).status ?? 480, reason: `${target.uri}: ${(e as Error).message}` };
    }
    const leg = await this.mediaLeg(owner);
    try {
      if (target.whisper) await leg.port.play(target.whisper).done;
      if (call.state !== 'answered') {
        await this.client!.channels.hangup({ channelId: owner.id }).catch(() => {});
        return { ok: false, status: 487, reason: 'the caller hung up during the whisper' };
      }
      await leg.bridge.addChannel({ channel: call.channel.id });
      await this.client!.bridges.removeChannel({ bridgeId: leg.bridge.id, channel: leg.mediaChannel.id });
      call.end('transferred');
      return { ok: true, status: 200, reason: 'bridged with the owner' };
    } finally {
      leg.port.close();
      if (leg.rtpPort !== undefined) this.ports.release(leg.rtpPort);
      this.mediaChannels.delete(leg.mediaChannel.id);
      void this.client?.channels.hangup({ channelId: leg.mediaChannel.id }).catch(() => {});
    }
  }

  async dial(to: string, opts: DialOptions = {}): Promise<Call> {
    const endpoint = this.endpointFor(to, opts.leg ?? 'outbound', opts.requestedBy);
    const ch = await this.originate(endpoint, 'outbound', opts.from, opts.timeoutSeconds ?? 60);
    const call = new AriCall(this, this.client!, ch, ch.id, 'outbound', opts.from ?? '', toE164(to) ?? to, 'answered');
    this.calls.set(ch.id, call);
    await call.attachMedia();
    queueMicrotask(() => call.emit('answered'));
    return call;
  }
}
