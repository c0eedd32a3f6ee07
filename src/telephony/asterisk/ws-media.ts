import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import type { AudioFrame, AudioSource, PlaybackHandle } from '../call.js';
import { decodeG711, encodeG711 } from '../rtp/g711.js';
import { RemotePlayout } from '../remote-playout.js';

/**
 * Media over chan_websocket (Asterisk 22.8+/20.18+, JSON control): binary μ-law both ways on
 * ws://ARI/media/<connection id>. Playout clock: Asterisk's — audio goes ahead, FLUSH_MEDIA on
 * barge-in, MARK_MEDIA → MEDIA_MARK_PROCESSED says what was played (RemotePlayout).
 */
export class WsMedia extends EventEmitter<{ audio: [AudioFrame]; closed: [] }> {
  private ws: WebSocket | undefined;
  private readonly frame: AudioFrame = { pcm: new Int16Array(160), sampleRate: 8000 };
  private xoff = false;
  private xon: (() => void) | undefined;
  private readonly playout = new RemotePlayout({
    sendAudio: (pcm) => {
      const bytes = Buffer.alloc(pcm.length);
      encodeG711('PCMU', pcm, 0, pcm.length, bytes, 0);
      this.ws?.send(bytes);
    },
    sendMark: (id) => this.command({ command: 'MARK_MEDIA', correlation_id: id }),
    sendFlush: () => this.command({ command: 'FLUSH_MEDIA' }),
    ready: () => (this.xoff ? new Promise<void>((r) => (this.xon = r)) : Promise.resolve()),
  });
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
        this.playout.close();
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
    if (ev.event === 'MEDIA_MARK_PROCESSED') this.playout.marked(String(ev.correlation_id));
    else if (ev.event === 'MEDIA_XOFF') this.xoff = true;
    else if (ev.event === 'MEDIA_XON') {
      this.xoff = false;
      this.xon?.();
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
    return this.playout.play(source);
  }

  stopPlayback(): void {
    this.playout.flush();
  }

  close(): void {
    this.playout.close();
    this.ws?.close();
  }
}
