import { EventEmitter } from 'node:events';
import type { Channel, Bridge } from 'ari-client';
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
  /** The bridge recording under way (its name), fetched into frontdesk's storage when the call ends. */
  private recording: string | undefined;
  /** Audio in on wall-clock time (see call.ts): silence fills in between Asterisk's talkspurts. */
  readonly audioIn = new AudioIn((f) => this.emit('audio', f), this.sampleRate);

  constructor(
    private readonly t: AriTelephony,
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

  /** ARI as it is now (a reconnect brings a new client). */
  private get client() {
    return this.t.ari();
  }

  async answer(): Promise<void> {
    if (this.state !== 'ringing') return;
    await this.channel.answer();
    await this.attachMedia();
    if ((this.state as CallState) === 'ended') return;
    this.state = 'answered';
    this.emit('answered');
  }

  /** externalMedia leg + mixing bridge; the caller's audio arrives as RTP we pace and parse. */
  async attachMedia(): Promise<void> {
    const media = await this.t.mediaLeg(this.channel);
    if (this.state === 'ended') {
      // Hung up (or lost) while the leg was being set up: nothing else would release it.
      this.t.releaseMedia(media);
      return;
    }
    this.media = media;
    this.media.port.on('audio', (f: AudioFrame) => this.audioIn.push(f));
    this.audioIn.start();
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
    await this.t.ari().channels.hangup({ channelId: this.channel.id }).catch(() => {});
  }

  /**
   * Records the whole conversation (the bridge) as `name`.wav on Asterisk; when the call ends the
   * file is fetched over ARI into frontdesk's recordings folder, the path returned here.
   */
  async startRecording(name: string): Promise<string> {
    if (!this.media) throw new Error('call has no media yet (answer first)');
    const where = this.t.recordings.expect(name);
    try {
      await this.client.bridges.record({ bridgeId: this.media.bridge.id, name, format: 'wav', ifExists: 'overwrite' } as never);
    } catch (e) {
      this.t.recordings.forget(name);
      throw this.t.recordings.failed(name, e);
    }
    this.recording = name;
    return where;
  }

  async transfer(target: TransferTarget): Promise<TransferResult> {
    if (this.state !== 'answered') return { ok: false, status: 481, reason: 'call not answered' };
    return this.t.handOver(this, target);
  }

  /** Frees media and the bridge; idempotent. */
  end(reason: string): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.endReason = reason;
    this.audioIn.stop();
    const m = this.media;
    // Stop and collect the recording before the bridge goes (its end finalises the file too).
    if (this.recording) this.t.recordings.collect(this.recording);
    if (m) this.t.releaseMedia(m);
    this.t.forget(this);
    this.emit('ended', reason);
  }
}
