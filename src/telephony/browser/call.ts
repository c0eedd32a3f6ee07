import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { AudioSource, Call, CallEventMap, CallState, PlaybackHandle, TransferResult } from '../call.js';
import { PlayoutQueue } from '../playout.js';
import { AudioIn } from '../audio-in.js';
import { mediaClock, type ClockListener, type MediaClock } from '../rtp/clock.js';

/**
 * A call from the console's "Test call" button: the owner's microphone over a WebSocket.
 * Hand-written on `ws`: the wire is raw PCM of our own choosing, and what it must meet is our Call
 * contract (paced playout, cancel within a frame, AudioIn), which no library knows.
 *
 * Wire: binary messages both ways are 16-bit little-endian mono PCM at the rate agreed when the
 * socket opened (16 kHz or 8 kHz). Text messages are JSON: from us {type: 'answered' | 'clear' |
 * 'ended', …} ('clear': drop what you have not played yet — barge-in); from the browser
 * {type: 'dtmf', digit} or {type: 'hangup'}.
 *
 * Clock: ours. We send the agent's voice in 20 ms frames on the MediaClock, as the RTP session
 * does, so a cancelled reply stops within a frame and the browser holds only a few frames ahead.
 * Audio in goes through AudioIn like every backend.
 */

export const browserCallDefaults = {
  frameMs: 20,
  /** Frames kept in flight before we stop writing to a socket that does not drain (a stalled browser). */
  maxBufferedFrames: 25,
  /** Largest audio message accepted from the browser: one second. */
  maxInMs: 1000,
} as const satisfies Record<string, number>;

export class BrowserCall extends EventEmitter<CallEventMap> implements Call, ClockListener {
  readonly id = randomUUID();
  readonly backend = 'browser' as const;
  readonly direction = 'inbound' as const;
  state: CallState = 'ringing';
  private readonly audioIn: AudioIn;
  private readonly playout: PlayoutQueue;
  private nextSendAt = 0;
  private readonly out: Int16Array;
  /** Frames sent ride the socket until written: a ring, so a frame is not reused while queued. */
  private readonly ring: Buffer[];
  private ringPos = 0;
  private inFrame: Int16Array | undefined;
  /** Microphone audio received, ms (the call's record says whether the browser was heard at all). */
  receivedMs = 0;

  constructor(
    private readonly ws: WebSocket,
    readonly from: string,
    readonly to: string,
    readonly sampleRate: 8000 | 16000,
    private readonly clock: MediaClock = mediaClock,
  ) {
    super();
    this.playout = new PlayoutQueue(sampleRate);
    this.audioIn = new AudioIn((f) => this.emit('audio', f), sampleRate, clock);
    const samples = (sampleRate * browserCallDefaults.frameMs) / 1000;
    this.out = new Int16Array(samples);
    this.ring = Array.from({ length: browserCallDefaults.maxBufferedFrames + 2 }, () => Buffer.alloc(samples * 2));
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('close', () => this.end('remote_hangup'));
    ws.on('error', () => this.end('network_error'));
  }

  private onMessage(data: Buffer | Buffer[] | ArrayBuffer, isBinary: boolean): void {
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (!isBinary) {
      let m: { type?: unknown; digit?: unknown };
      try {
        m = JSON.parse(buf.toString('utf8')) as typeof m;
      } catch {
        return; // not JSON: ignored, the call goes on
      }
      if (m.type === 'hangup') void this.hangup('remote_hangup');
      else if (m.type === 'dtmf' && typeof m.digit === 'string' && /^[0-9*#A-D]$/.test(m.digit)) this.emit('dtmf', m.digit);
      return;
    }
    if (this.state !== 'answered') return;
    const samples = buf.length >> 1;
    if (buf.length % 2 || samples === 0 || samples > (this.sampleRate * browserCallDefaults.maxInMs) / 1000) return; // not 16-bit PCM at our rate
    // Aligned copy into a frame reused while the browser keeps its frame size (the Call contract allows reuse).
    if (!this.inFrame || this.inFrame.length !== samples) this.inFrame = new Int16Array(samples);
    for (let i = 0; i < samples; i++) this.inFrame[i] = buf.readInt16LE(i * 2);
    this.receivedMs += (samples * 1000) / this.sampleRate;
    this.audioIn.push({ pcm: this.inFrame, sampleRate: this.sampleRate });
  }

  /** A JSON message to the browser (the console learns the call's record id this way). */
  notify(o: object): void {
    this.send(o);
  }

  private send(o: object): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(o));
  }

  async answer(): Promise<void> {
    if (this.state !== 'ringing') return;
    this.state = 'answered';
    this.send({ type: 'answered', sampleRate: this.sampleRate });
    this.nextSendAt = performance.now();
    this.audioIn.start();
    this.clock.add(this);
    this.emit('answered');
  }

  async reject(status = 486, reason = 'Busy Here'): Promise<void> {
    if (this.state !== 'ringing') return;
    this.send({ type: 'ended', reason: `${status} ${reason}` });
    this.ws.close(1000);
    this.end('rejected');
  }

  play(source: AudioSource): PlaybackHandle {
    return this.playout.play(source);
  }

  stopPlayback(): void {
    this.playout.stop();
  }

  async sendDtmf(): Promise<void> {}

  async transfer(): Promise<TransferResult> {
    return { ok: false, status: 501, reason: 'a test call from the browser cannot be put through' };
  }

  async hangup(reason = 'hangup'): Promise<void> {
    if (this.state === 'ended') return;
    this.send({ type: 'ended', reason });
    this.ws.close(1000);
    this.end(reason);
  }

  onTick(now: number): void {
    if (this.state !== 'answered') return;
    const flushed = this.playout.dropCancelled();
    // Barge-in: the browser drops the few frames it holds, so the cut is heard at once there too.
    if (flushed) this.send({ type: 'clear' });
    const slack = this.clock.tickMs / 2;
    let sent = 0;
    while (now + slack >= this.nextSendAt && sent < 3) {
      this.sendFrame();
      this.nextSendAt += browserCallDefaults.frameMs;
      sent++;
    }
    // After an event-loop stall, resume from now rather than burst.
    if (now - this.nextSendAt > 3 * browserCallDefaults.frameMs) this.nextSendAt = now;
  }

  onFault(): void {
    void this.hangup('failed');
  }

  private sendFrame(): void {
    const n = this.out.length;
    const got = this.playout.fill(this.out, n);
    if (got === 0) return; // silence is not sent: the browser plays nothing when it gets nothing
    if (got < n) this.out.fill(0, got);
    // A browser that stopped reading loses audio rather than growing our memory.
    if (this.ws.bufferedAmount > browserCallDefaults.maxBufferedFrames * n * 2 || this.ws.readyState !== this.ws.OPEN) return;
    this.ringPos = (this.ringPos + 1) % this.ring.length;
    const buf = this.ring[this.ringPos]!;
    for (let i = 0; i < n; i++) buf.writeInt16LE(this.out[i]!, i * 2);
    this.ws.send(buf, { binary: true });
  }

  private end(reason: string): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.audioIn.stop();
    this.clock.remove(this);
    this.playout.close();
    this.emit('ended', reason);
  }
}
