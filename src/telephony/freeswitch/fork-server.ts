import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AudioFrame, AudioSource, PlaybackHandle, PlaybackResult } from '../call.js';
import { RemotePlayout } from '../remote-playout.js';

/**
 * The WebSocket server FreeSWITCH's mod_audio_fork connects to (subprotocol audio.drachtio.org):
 * the first TEXT frame is the metadata we passed to uuid_audio_fork (it names the call), then
 * BINARY frames of L16 little-endian audio at the fork's sampling rate. With bidirectional
 * streaming we send L16 back, which FreeSWITCH plays in real time (its clock); killAudio drops what
 * it has buffered, and a mark echoed back with event "playout" says an item was played.
 */

export const FORK_SUBPROTOCOL = 'audio.drachtio.org';

export class ForkMedia extends EventEmitter<{ audio: [AudioFrame]; closed: [] }> {
  private readonly frame: AudioFrame;
  private readonly playout: RemotePlayout;
  /** Fallback mode (a mod_audio_fork without streaming): whole items as playAudio, barge-in by uuid_break. */
  private fallback: { onBreak: () => void } | undefined;
  private readonly fallbackItems = new Set<{ finish: (completed: boolean) => void }>();

  constructor(private readonly ws: WebSocket, readonly sampleRate: number) {
    super();
    this.frame = { pcm: new Int16Array((sampleRate / 1000) * 20), sampleRate };
    this.playout = new RemotePlayout({
      sendAudio: (pcm) => this.ws.send(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength)),
      sendMark: (name) => this.send({ type: 'mark', data: { name } }),
      sendFlush: () => this.send({ type: 'killAudio' }),
      ready: () => Promise.resolve(),
    });
    ws.on('message', (data, isBinary) => (isBinary ? this.onAudio(data as Buffer) : this.onText(data.toString())));
    ws.on('close', () => {
      this.playout.close();
      this.emit('closed');
    });
  }

  private send(msg: unknown): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private onText(text: string): void {
    try {
      const m = JSON.parse(text) as { type?: string; data?: { name?: string; event?: string } };
      if (m.type === 'mark' && m.data?.name && m.data.event === 'playout') this.playout.marked(m.data.name);
    } catch {
      // not JSON: nothing we act on
    }
  }

  private onAudio(buf: Buffer): void {
    // L16 little-endian; frames may not align with 20 ms, so slice whatever arrived.
    const samples = buf.length >> 1;
    if (this.frame.pcm.length !== samples) this.frame.pcm = new Int16Array(samples);
    for (let i = 0; i < samples; i++) this.frame.pcm[i] = buf.readInt16LE(i * 2);
    this.emit('audio', this.frame);
  }

  /** Switches to the fallback path: playAudio per item, killAudio + uuid_break (via onBreak) on barge-in. */
  useFallback(onBreak: () => void): void {
    this.fallback = { onBreak };
  }

  play(source: AudioSource): PlaybackHandle {
    if (!this.fallback) return this.playout.play(source);
    return this.playWhole(source);
  }

  /** Fallback: FreeSWITCH plays each item as a file; its length is the only clock we get. */
  private playWhole(source: AudioSource): PlaybackHandle {
    let resolveDone!: (r: PlaybackResult) => void;
    const done = new Promise<PlaybackResult>((r) => (resolveDone = r));
    let startedAt: number | undefined;
    let samples = 0;
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    const heard = () => (startedAt === undefined ? 0 : Math.round(Math.min((samples / this.sampleRate) * 1000, performance.now() - startedAt)));
    const entry = {
      finish: (completed: boolean) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        this.fallbackItems.delete(entry);
        resolveDone({ completed, playedMs: completed ? Math.round((samples / this.sampleRate) * 1000) : heard() });
      },
    };
    this.fallbackItems.add(entry);
    void (async () => {
      const parts: Int16Array[] = [];
      for await (const c of source instanceof Int16Array ? [source] : source) {
        if (finished) return;
        parts.push(c);
      }
      const pcm = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) {
        pcm.set(p, o);
        o += p.length;
      }
      samples = pcm.length;
      startedAt = performance.now();
      this.send({ type: 'playAudio', data: { audioContentType: 'raw', sampleRate: this.sampleRate, audioContent: Buffer.from(pcm.buffer).toString('base64') } });
      timer = setTimeout(() => entry.finish(true), (samples / this.sampleRate) * 1000);
    })();
    return { done, cancel: () => this.stopPlayback(), playedMs: heard };
  }

  stopPlayback(): void {
    if (!this.fallback) {
      this.playout.flush();
      return;
    }
    this.send({ type: 'killAudio' });
    this.fallback.onBreak();
    for (const item of [...this.fallbackItems]) item.finish(false);
  }

  close(): void {
    this.playout.close();
    for (const item of [...this.fallbackItems]) item.finish(false);
    this.ws.close();
  }
}

/** Accepts mod_audio_fork connections and hands each to whoever waits for its call id. */
export class ForkServer extends EventEmitter {
  readonly wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has(FORK_SUBPROTOCOL) ? FORK_SUBPROTOCOL : false) });
  private readonly waiting = new Map<string, { resolve: (m: ForkMedia) => void; rate: number }>();

  /** For an HTTP server's 'upgrade' on our fork path. */
  handleUpgrade(req: IncomingMessage, socket: import('node:stream').Duplex, head: Buffer): void {
    const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
    if (!offered.includes(FORK_SUBPROTOCOL)) {
      socket.destroy();
      return;
    }
    // A reset during the handshake, or a bad frame later, ends that fork's connection (and its
    // call's media) — never the process.
    socket.on('error', () => socket.destroy());
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => ws.terminate());
      ws.once('message', (data, isBinary) => {
        let callId: string | undefined;
        if (!isBinary) {
          try {
            callId = (JSON.parse(data.toString()) as { callId?: string }).callId;
          } catch {
            // no metadata: unknown fork
          }
        }
        const w = callId ? this.waiting.get(callId) : undefined;
        if (!w) {
          ws.close(1008, 'unknown call');
          return;
        }
        this.waiting.delete(callId!);
        w.resolve(new ForkMedia(ws, w.rate));
      });
    });
  }

  /** Resolves when FreeSWITCH's fork for `callId` connects. */
  expect(callId: string, rate: number, timeoutMs = 5_000): Promise<ForkMedia> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(callId);
        reject(new Error('mod_audio_fork did not connect'));
      }, timeoutMs);
      this.waiting.set(callId, { rate, resolve: (m) => { clearTimeout(timer); resolve(m); } });
    });
  }
}
