import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AudioFrame, AudioSource, PlaybackHandle } from '../call.js';
import { RemotePlayout } from '../remote-playout.js';

/**
 * The WebSocket server FreeSWITCH's mod_audio_fork connects to (subprotocol audio.drachtio.org):
 * the first TEXT frame is the metadata we passed to uuid_audio_fork (it names the call), then
 * BINARY frames of L16 little-endian audio at the fork's sampling rate. With bidirectional
 * streaming we send L16 back, which FreeSWITCH plays in real time (its clock); killAudio drops what
 * it has buffered, and a mark echoed back with event "playout" says an item was played. Only this
 * streaming mode is supported: the older playAudio message only writes a file on FreeSWITCH's disk
 * and plays nothing by itself.
 */

export const FORK_SUBPROTOCOL = 'audio.drachtio.org';

/**
 * What mod_audio_fork (jambonz freeswitch-modules ≥ 1.2.32, bidirectional streaming with marks)
 * does with what we send, modelled so that marks mean "the caller heard it":
 * - Audio first collects in a prebuffer that moves to the playout buffer only once it holds 1280
 *   slots (160 ms at 8 kHz), later 640 (80 ms): a reply's last < 80 ms waits there for the next
 *   reply. We pad each reply's end (and a barge-in) with silence up to the threshold.
 * - A mark waits in an "inventory" until the next binary frame, which it is put in front of as a
 *   slot holding 0xFFFF — the same bits as a sample of -1, which therefore also counts as a mark.
 *   We send no -1 samples (they become -2).
 * - killAudio clears the playout buffer, and the names of the marks whose slots it held stay in a
 *   "cleared" list that the next marks played are matched against: every later mark would come back
 *   one reply late. After killAudio we put one -1 sample per such mark (the module tells us which,
 *   as 'cleared' mark events) in front of the next audio, to use those names up.
 */
const PREBUFFER_FIRST = 1280;
const PREBUFFER_NEXT = 640;
/** Longest wait for mod_audio_fork to confirm a killAudio before audio flows again, ms. */
const FLUSH_ACK_MS = 300;

class ForkWire {
  /** Slots (samples and marks) in the module's prebuffer, as far as we can tell. */
  private pre = 0;
  private threshold = PREBUFFER_FIRST;
  /** Marks sent and not yet in front of any audio. */
  private inventory: string[] = [];
  /** Marks whose slot is in the module's buffers and that have not come back. */
  private readonly inUse = new Set<string>();
  /** -1 samples owed to the module's cleared-names list. */
  private owed = 0;
  private flushSeq = 0;
  /** The killAudio we wait to see confirmed before sending more audio. */
  private flushing: { sentinel: string; done: () => void; promise: Promise<void> } | undefined;

  constructor(private readonly ws: WebSocket, private readonly onMark: (name: string) => void) {}

  private sendJson(msg: unknown): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg));
  }

  sendAudio(pcm: Int16Array): void {
    if (this.ws.readyState !== this.ws.OPEN || pcm.length === 0) return;
    let out = pcm;
    const owed = this.owed;
    if (owed > 0 || pcm.includes(-1)) {
      // Our own copy: the source may be a shared render.
      out = new Int16Array(owed + pcm.length);
      out.fill(-1, 0, owed);
      out.set(pcm, owed);
      for (let i = owed; i < out.length; i++) if (out[i] === -1) out[i] = -2;
      this.owed = 0;
    }
    this.ws.send(Buffer.from(out.buffer, out.byteOffset, out.byteLength));
    this.pre += this.inventory.length + out.length;
    for (const m of this.inventory) this.inUse.add(m);
    this.inventory = [];
    if (this.pre >= this.threshold) {
      this.pre = 0;
      this.threshold = PREBUFFER_NEXT;
    }
  }

  /** Silence that pushes whatever waits in the prebuffer out to the caller. */
  private pushThrough(): void {
    if (this.pre > 0) this.sendAudio(new Int16Array(this.threshold - this.pre));
  }

  sendMark(name: string): void {
    this.pushThrough();
    this.inventory.push(name);
    this.sendJson({ type: 'mark', data: { name } });
  }

  sendFlush(): void {
    // The prebuffer is not cleared by killAudio: push it into the playout buffer first, so that
    // what is left of the cancelled reply is never heard in front of the next one.
    this.pushThrough();
    // A mark of our own right before killAudio: its 'cleared' echo says the kill has happened.
    const sentinel = `flush-${++this.flushSeq}`;
    this.inventory.push(sentinel);
    this.sendJson({ type: 'mark', data: { name: sentinel } });
    this.sendJson({ type: 'killAudio' });
    this.pre = 0;
    this.flushing?.done();
    let done!: () => void;
    const promise = new Promise<void>((r) => (done = r));
    const timer = setTimeout(() => done(), FLUSH_ACK_MS);
    const f = { sentinel, promise, done: () => { clearTimeout(timer); if (this.flushing === f) this.flushing = undefined; done(); } };
    this.flushing = f;
  }

  /** Audio waits while a killAudio is unconfirmed: sent before it takes effect, it would be cleared too. */
  ready(): Promise<void> {
    return this.flushing?.promise ?? Promise.resolve();
  }

  /** A mark event from the module. */
  onMarkEvent(name: string, event: string | undefined): void {
    if (event === 'cleared') {
      const sentinel = name.startsWith('flush-');
      // Its slot went with the playout buffer, its name stays on the module's cleared list.
      if (this.inUse.delete(name) && !sentinel) this.owed++;
      this.inventory = this.inventory.filter((m) => m !== name);
      if (this.flushing?.sentinel === name) this.flushing.done();
      return;
    }
    if (event !== 'playout') return;
    this.inUse.delete(name);
    this.inventory = this.inventory.filter((m) => m !== name);
    if (this.flushing?.sentinel === name) {
      // Played before the kill arrived: the kill lands on the next frame.
      const f = this.flushing;
      setTimeout(() => f.done(), 40);
      return;
    }
    this.onMark(name);
  }

  close(): void {
    this.flushing?.done();
  }
}

export class ForkMedia extends EventEmitter<{ audio: [AudioFrame]; closed: [] }> {
  private readonly frame: AudioFrame;
  private readonly playout: RemotePlayout;
  private readonly wire: ForkWire;

  constructor(private readonly ws: WebSocket, readonly sampleRate: number) {
    super();
    this.frame = { pcm: new Int16Array((sampleRate / 1000) * 20), sampleRate };
    this.wire = new ForkWire(ws, (name) => this.playout.marked(name));
    this.playout = new RemotePlayout({
      sendAudio: (pcm) => this.wire.sendAudio(pcm),
      sendMark: (name) => this.wire.sendMark(name),
      sendFlush: () => this.wire.sendFlush(),
      ready: () => this.wire.ready(),
    });
    ws.on('message', (data, isBinary) => (isBinary ? this.onAudio(data as Buffer) : this.onText(data.toString())));
    ws.on('close', () => {
      this.wire.close();
      this.playout.close();
      this.emit('closed');
    });
  }

  private onText(text: string): void {
    try {
      const m = JSON.parse(text) as { type?: string; data?: { name?: string; event?: string } };
      if (m.type === 'mark' && typeof m.data?.name === 'string') this.wire.onMarkEvent(m.data.name, m.data.event);
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

  play(source: AudioSource): PlaybackHandle {
    return this.playout.play(source);
  }

  stopPlayback(): void {
    this.playout.flush();
  }

  close(): void {
    this.wire.close();
    this.playout.close();
    this.ws.close();
  }
}

/** Accepts mod_audio_fork connections and hands each to whoever waits for its call id. */
export class ForkServer extends EventEmitter {
  readonly wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has(FORK_SUBPROTOCOL) ? FORK_SUBPROTOCOL : false) });
  private readonly waiting = new Map<string, { resolve: (m: ForkMedia) => void; reject: (e: Error) => void; rate: number }>();

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

  /** Stops waiting for `callId` (the fork was never started). */
  cancel(callId: string): void {
    this.waiting.get(callId)?.reject(new Error('audio fork not started'));
  }

  /** Resolves when FreeSWITCH's fork for `callId` connects. */
  expect(callId: string, rate: number, timeoutMs = 5_000): Promise<ForkMedia> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(callId);
        reject(new Error(`mod_audio_fork did not connect within ${timeoutMs / 1000} s: can FreeSWITCH reach the fork URL (FRONTDESK_FORK_URL)?`));
      }, timeoutMs);
      this.waiting.set(callId, {
        rate,
        resolve: (m) => { clearTimeout(timer); resolve(m); },
        reject: (e) => { clearTimeout(timer); this.waiting.delete(callId); reject(e); },
      });
    });
  }
}
