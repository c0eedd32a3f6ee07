import type { EventEmitter } from 'node:events';
import type { CallQuality } from './rtp/rtcp.js';

export type { CallQuality };

/**
 * The one interface every telephony backend (built-in SIP, Asterisk, FreeSWITCH) gives the agent.
 *
 * Audio in: 'audio' events carry 16-bit PCM frames with their sample rate. The frame's buffer is
 * reused for the next frame (no allocation per packet): copy it if you keep it. From answer to
 * end, audio in keeps wall-clock time: at least one frame per 20 ms, silence synthesised when the
 * far end sent nothing (DTX, silence suppression, hold, a PBX between talkspurts), so the VAD and
 * endpointing see the caller's pause. Every backend passes its frames through `AudioIn`
 * (telephony/audio-in.ts) for this; real audio may lag wall clock by up to 60 ms of jitter first.
 *
 * Audio out: play() queues PCM and returns a handle; cancel() takes effect at the next frame
 * boundary (within one frame: 20 ms by default), which is what barge-in needs.
 *
 * Who owns the playout clock is each backend's decision, written at the top of its adapter:
 * the built-in SIP endpoint and Asterisk externalMedia RTP pace packets from our MediaClock.
 */

export interface AudioFrame {
  pcm: Int16Array;
  sampleRate: number;
}

export interface PlaybackResult {
  /** True if everything queued was played; false if cancelled or the call ended first. */
  completed: boolean;
  /** Milliseconds of this item the caller actually heard (sent to them). */
  playedMs: number;
}

export interface PlaybackHandle {
  readonly done: Promise<PlaybackResult>;
  /** Stops this item at the next frame boundary. */
  cancel(): void;
  playedMs(): number;
}

/** PCM to play: one buffer, or a stream of buffers (e.g. TTS chunks), at `sampleRate`. */
export type AudioSource = Int16Array | AsyncIterable<Int16Array>;

export interface TransferTarget {
  /** An extension, an E.164 number or a sip: URI. */
  uri: string;
  mode: 'blind' | 'warm';
  /** For warm transfers: what the owner hears before being connected. */
  whisper?: AudioSource;
  ringSeconds?: number;
  /** Who asked for the transfer (audit log): an admin username, 'agent', … Default 'agent'. */
  requestedBy?: string;
}

export interface TransferResult {
  ok: boolean;
  /** Final SIP-ish status of the transfer attempt (e.g. 200, 486, 408). */
  status: number;
  reason: string;
}

export type CallState = 'ringing' | 'answered' | 'ended';

export interface CallEventMap {
  answered: [];
  audio: [frame: AudioFrame];
  dtmf: [digit: string];
  /** The caller was put on or taken off hold by the far end. */
  hold: [onHold: boolean];
  ended: [reason: string];
}

export interface Call extends EventEmitter<CallEventMap> {
  readonly id: string;
  readonly backend: 'sip' | 'asterisk' | 'freeswitch' | 'browser';
  readonly direction: 'inbound' | 'outbound';
  /** Caller: E.164 when known, else what the network said. */
  readonly from: string;
  /** Dialled number. */
  readonly to: string;
  readonly state: CallState;
  /** Sample rate of 'audio' frames and the rate play() expects. */
  readonly sampleRate: number;
  answer(): Promise<void>;
  /**
   * Early media while ringing (SIP: 183 Session Progress with our SDP): what play() queues now is
   * heard before the answer (a ringback tone). Where the backend cannot, absent or a no-op.
   */
  progress?(): Promise<void>;
  /** Refuse a ringing call (e.g. 486 busy, 603 decline, 403 blocked). */
  reject(status?: number, reason?: string): Promise<void>;
  play(source: AudioSource): PlaybackHandle;
  /** Stops everything queued or playing (barge-in). */
  stopPlayback(): void;
  sendDtmf(digits: string): Promise<void>;
  transfer(target: TransferTarget): Promise<TransferResult>;
  hangup(reason?: string): Promise<void>;
  /**
   * Media quality so far (packets, loss, jitter, RTT from RTCP where the far end reports): where the
   * backend sees the RTP itself (built-in SIP, Asterisk externalMedia over RTP). Read at the end of
   * the call for its record.
   */
  quality?(): CallQuality | undefined;
  /** Records the whole call where the backend can (Asterisk: a bridge recording); returns where it lands. */
  startRecording?(name: string): Promise<string>;
}

export interface DialOptions {
  from?: string;
  /** Give up if not answered within this many seconds. */
  timeoutSeconds?: number;
  /** Who asked for the call (audit log): an admin username, 'alerts', 'agent', … Default 'agent'. */
  requestedBy?: string;
  /** A transfer's owner leg rather than a call of its own (audit log). */
  leg?: 'outbound' | 'warm';
  /** Give up now (the leg is CANCELled where the backend can); the dial rejects. */
  signal?: AbortSignal;
}

/** A running backend: emits 'call' for inbound calls and places outbound ones. */
/** Whether a backend can take calls now (a PBX connection can drop while frontdesk runs). */
export interface TelephonyStatus {
  up: boolean;
  detail: string;
}

export interface Telephony {
  on(event: 'call', listener: (call: Call) => void): unknown;
  /** Backends that depend on a connection (ARI) say whether it is up; /health and /metrics show it. */
  status?(): TelephonyStatus;
  readonly name: Call['backend'];
  start(): Promise<void>;
  stop(): Promise<void>;
  dial(to: string, opts?: DialOptions): Promise<Call>;
  activeCalls(): number;
  /** Set while the node drains: new calls are refused (the built-in endpoint also answers OPTIONS 503). */
  draining?: boolean;
}
