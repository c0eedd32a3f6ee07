import { EventEmitter } from 'node:events';
import type { Client, Channel, Bridge } from 'ari-client';
import type {
  AudioSource, Call, CallEventMap, CallState, PlaybackHandle, TransferResult, TransferTarget,
} from '../call.js';
import type { AudioFrame, CallQuality } from '../call.js';
import type { AriTelephony } from './ari.js';
import { AudioIn } from '../audio-in.js';

/**
 * A call in our Stasis application: the caller's channel and an externalMedia channel in one
 * mixing bridge. Playout clock by media mode: RTP — ours (RtpSession paces PCMU to Asterisk);
 * chan_websocket — Asterisk's (WsMedia sends ahead, FLUSH_MEDIA on barge-in).
 */

/** What both media modes offer the call. */
export interface MediaPort {
  play(source: AudioSource): PlaybackHandle;
  stopPlayback(): void;
  sendDtmf?(digits: string): Promise<void>;
  /** RTP mode: packets, loss, jitter (RtpSession); chan_websocket has none. */
  quality?(): CallQuality;
  on(event: 'audio', listener: (f: AudioFrame) => void): unknown;
  on(event: 'timeout', listener: () => void): unknown;
  on(event: 'fault', listener: (err: unknown) => void): unknown;
  close(): void;
}

export interface AriMedia {
  port: MediaPort;
  /** The local UDP port (RTP mode), to give back to the allocator. */
  rtpPort?: number;
  mediaChannel: Channel;
  bridge: Bridge;
}

const HANGUP_REASON: Record<number, string> = { 403: 'rejected', 603: 'rejected', 486: 'busy', 480: 'congestion', 404: 'unallocated' };

export class AriCall extends EventEmitter<CallEventMap> implements Call {
  readonly backend = 'asterisk' as const;
  readonly sampleRate = 8000;
  state: CallState;
  endReason: string | undefined;
  media: AriMedia | undefined;
  /** A redirect is under way: the channel leaving Stasis is the transfer, not a hang-up. */
  transferring = false;
  /** Audio in on wall-clock time (see call.ts): silence fills in between Asterisk's talkspurts. */
  readonly audioIn = new AudioIn((f) => this.emit('audio', f), this.sampleRate);

  constructor(
    private readonly t: AriTelephony,
    private readonly client: Client,
    readonly channel: Channel,
    readonly id: string,
    readonly direction: 'inbound' | 'outbound',
    readonly from: string,
    readonly to: string,
    state: CallState = 'ringing',
  ) {
    super();
    this.state = state;
  }

  quality(): CallQuality | undefined {
    return this.media?.port.quality?.();
  }

  async answer(): Promise<void> {
    if (this.state !== 'ringing') return;
    await this.channel.answer();
    await this.attachMedia();
    this.state = 'answered';
    this.emit('answered');
  }

  /** externalMedia leg + mixing bridge; the caller's audio arrives as RTP we pace and parse. */
  async attachMedia(): Promise<void> {
    this.media = await this.t.mediaLeg(this.channel);
    this.media.port.on('audio', (f: AudioFrame) => this.audioIn.push(f));
    if (this.state !== 'ended') this.audioIn.start();
    this.media.port.on('timeout', () => void this.hangup('media_timeout').catch(() => {}));
    // A fault in this call's media path (a throwing listener) ends this call only.
    this.media.port.on('fault', () => void this.hangup('failed').catch(() => {}));
  }

  async reject(status = 486): Promise<void> {
    if (this.state !== 'ringing') return;
    await this.client.channels.hangup({ channelId: this.channel.id, reason: HANGUP_REASON[status] ?? 'normal' } as never).catch(() => {});
    this.end(`rejected_${status}`);
  }

  play(source: AudioSource): PlaybackHandle {
    if (!this.media) throw new Error('call has no media yet (answer first)');
    return this.media.port.play(source);
  }

  stopPlayback(): void {
    this.media?.port.stopPlayback();
  }

  async sendDtmf(digits: string): Promise<void> {
    await this.media?.port.sendDtmf?.(digits);
  }

  onDtmf(digit: string): void {
    this.emit('dtmf', digit);
  }

  async hangup(reason = 'local_hangup'): Promise<void> {
    if (this.state === 'ended') return;
    this.end(reason);
    await this.client.channels.hangup({ channelId: this.channel.id }).catch(() => {});
  }

  /** Records the whole conversation (the bridge) as `name`.wav in Asterisk's recordings folder. */
  async startRecording(name: string): Promise<string> {
    if (!this.media) throw new Error('call has no media yet (answer first)');
    await this.client.bridges.record({ bridgeId: this.media.bridge.id, name, format: 'wav', ifExists: 'overwrite' } as never);
    return `asterisk:/var/spool/asterisk/recording/${name}.wav`;
  }

  async transfer(target: TransferTarget): Promise<TransferResult> {
    if (this.state !== 'answered') return { ok: false, status: 481, reason: 'call not answered' };
    if (target.mode === 'warm') return this.t.warmTransfer(this, target);
    let endpoint: string;
    try {
      endpoint = this.t.endpointFor(target.uri, 'transfer', target.requestedBy);
    } catch (e) {
      return { ok: false, status: (e as { status?: number }).status ?? 403, reason: (e as Error).message };
    }
    this.transferring = true;
    try {
      // Asterisk moves the channel out of Stasis to the endpoint (for PJSIP trunks: a REFER or a new leg).
      await this.client.channels.redirect({ channelId: this.channel.id, endpoint });
      this.end('transferred');
      return { ok: true, status: 200, reason: 'redirected' };
    } catch (e) {
      this.transferring = false;
      return { ok: false, status: 500, reason: (e as Error).message };
    }
  }

  /** Frees media and the bridge; idempotent. */
  end(reason: string): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.endReason = reason;
    this.audioIn.stop();
    const m = this.media;
    if (m) {
      m.port.close();
      this.t.releaseMedia(m);
    }
    this.t.forget(this);
    this.emit('ended', reason);
  }
}
