import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import type { AudioFrame, AudioSource, PlaybackHandle, PlaybackResult } from '../call.js';
import { decodeG711, encodeG711 } from '../rtp/g711.js';

/**
 * Media over chan_websocket (Asterisk 22.8+/20.18+, JSON control): binary μ-law both ways on
 * ws://ARI/media/<connection id>. Playout clock: Asterisk's — we send audio ahead and Asterisk
 * times it, so barge-in is FLUSH_MEDIA (queued audio is dropped at Asterisk) and what the caller
 * heard is known from MARK_MEDIA → MEDIA_MARK_PROCESSED and the playout position we track.
 */

const RATE = 8000;

class WsPlayback implements PlaybackHandle {
  readonly id = randomUUID();
  readonly done: Promise<PlaybackResult>;
  private resolveDone!: (r: PlaybackResult) => void;
  finished = false;
  cancelled = false;
  /** Samples handed to Asterisk, and where they sit on Asterisk's playout timeline. */
  sentSamples = 0;
  startsAt: number | undefined;

  constructor(readonly source: AudioSource) {
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  heardMs(now: number): number {
    if (this.startsAt === undefined) return 0;
    return Math.round(Math.min((this.sentSamples / RATE) * 1000, Math.max(0, now - this.startsAt)));
  }

  playedMs(): number {
    return this.heardMs(performance.now());
  }

  cancel(): void {
    this.cancelled = true;
    this.onCancel?.();
  }

  onCancel: (() => void) | undefined;

  finish(completed: boolean, playedMs: number): void {
    if (this.finished) return;
    this.finished = true;
    this.resolveDone({ completed, playedMs });
  }
}

export class WsMedia extends EventEmitter<{ audio: [AudioFrame]; closed: [] }> {
  private ws: WebSocket | undefined;
  private readonly queue: WsPlayback[] = [];
  private pumping = false;
  /** When Asterisk will have played everything sent so far (ms, performance clock). */
  private playoutEnd = 0;
  private readonly frame: AudioFrame = { pcm: new Int16Array(160), sampleRate: RATE };
  private xoff = false;
  private xon: (() => void) | undefined;
  frameSize = 160;

  constructor(private readonly url: string, private readonly auth: { user: string; password: string }) {
    super();
  }

  /** Connects and waits for MEDIA_START. */
  async connect(timeoutMs = 5_000): Promise<void> {
    const ws = new WebSocket(this.url, 'media', {
      headers: { authorization: `Basic ${Buffer.from(`${this.auth.user}:${this.auth.password}`).toString('base64')}` },
    });
    this.ws = ws;
    ws.binaryType = 'nodebuffer';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('chan_websocket: no MEDIA_START')), timeoutMs);
      ws.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      ws.on('message', (data, isBinary) => {
        if (isBinary) return this.onAudio(data as Buffer);
        const ev = this.parse(data.toString());
        if (ev?.event === 'MEDIA_START') {
          this.frameSize = Number(ev.optimal_frame_size ?? 160) || 160;
          clearTimeout(timer);
          resolve();
        } else if (ev) this.onEvent(ev);
      });
      ws.on('close', () => {
        for (const p of this.queue.splice(0)) p.finish(false, p.playedMs());
        this.emit('closed');
      });
    });
  }

  private parse(text: string): Record<string, unknown> | undefined {
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch {
      // Plain-text control (the older format): "EVENT key:value key:value".
      const [event, ...kv] = text.trim().split(/\s+/);
      if (!event) return undefined;
      return Object.fromEntries([['event', event], ...kv.map((p) => [p.slice(0, p.indexOf(':')), p.slice(p.indexOf(':') + 1)])]);
    }
  }

  private onEvent(ev: Record<string, unknown>): void {
    switch (ev.event) {
      case 'MEDIA_MARK_PROCESSED': {
        const p = this.queue.find((x) => x.id === ev.correlation_id);
        if (p) {
          this.queue.splice(this.queue.indexOf(p), 1);
          p.finish(!p.cancelled, Math.round((p.sentSamples / RATE) * 1000));
        }
        return;
      }
      case 'MEDIA_XOFF':
        this.xoff = true;
        return;
      case 'MEDIA_XON':
        this.xoff = false;
        this.xon?.();
        return;
    }
  }

  private onAudio(buf: Buffer): void {
    for (let off = 0; off < buf.length; off += 160) {
      const n = Math.min(160, buf.length - off);
      if (this.frame.pcm.length !== n) this.frame.pcm = new Int16Array(n);
      decodeG711('PCMU', buf, off, n, this.frame.pcm);
      this.emit('audio', this.frame);
    }
  }

  private command(cmd: Record<string, unknown>): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(cmd));
  }

  play(source: AudioSource): PlaybackHandle {
    const p = new WsPlayback(source);
    p.onCancel = () => this.flush();
    this.queue.push(p);
    void this.pump();
    return p;
  }

  stopPlayback(): void {
    for (const p of this.queue) p.cancelled = true;
    this.flush();
  }

  /** Barge-in: Asterisk drops what it has queued; every item still pending ends now. */
  private flush(): void {
    this.command({ command: 'FLUSH_MEDIA' });
    const now = performance.now();
    this.playoutEnd = now;
    for (const p of this.queue.splice(0)) {
      p.cancelled = true;
      p.finish(false, p.heardMs(now));
    }
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length) {
        const p = this.queue.find((x) => !x.finished && x.startsAt === undefined);
        if (!p) break;
        const chunks = p.source instanceof Int16Array ? [p.source] : p.source;
        for await (const pcm of chunks) {
          if (p.cancelled || p.finished) break;
          if (this.xoff) await new Promise<void>((r) => (this.xon = r));
          const bytes = Buffer.alloc(pcm.length);
          encodeG711('PCMU', pcm, 0, pcm.length, bytes, 0);
          const now = performance.now();
          if (p.startsAt === undefined) p.startsAt = Math.max(now, this.playoutEnd);
          this.playoutEnd = Math.max(now, this.playoutEnd) + (pcm.length / RATE) * 1000;
          p.sentSamples += pcm.length;
          this.ws?.send(bytes);
        }
        if (p.startsAt === undefined) p.startsAt = performance.now();
        if (!p.cancelled && !p.finished) this.command({ command: 'MARK_MEDIA', correlation_id: p.id });
      }
    } finally {
      this.pumping = false;
    }
  }

  close(): void {
    for (const p of this.queue.splice(0)) p.finish(false, p.playedMs());
    this.ws?.close();
  }
}
