import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createSocket, type Socket } from 'node:dgram';
import { randomUUID } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import { ariDocs } from './spec.js';
import { concat } from '../../helpers/audio.js';
import { decodeG711, encodeG711 } from '../../../src/telephony/rtp/g711.js';
import { parseRtp, writeRtpHeader, type RtpHeader } from '../../../src/telephony/rtp/packet.js';

/**
 * A fake Asterisk speaking ARI as documented: REST under /ari (basic auth), the Swagger
 * description ari-client loads, the events WebSocket at /ari/events, and the media side of
 * externalMedia (UnicastRTP, PCMU 20 ms, from UNICASTRTP_LOCAL_ADDRESS:PORT).
 */

interface FakeChannel {
  id: string;
  name: string;
  state: 'Ring' | 'Up' | 'Down';
  caller: { name: string; number: string };
  dialplan: { context: string; exten: string; priority: number };
  vars: Record<string, string>;
  media?: { socket: Socket; host: string; port: number; heard: Int16Array[] };
  /** chan_websocket in server mode: we wait for the app to connect to /media/<connId>. */
  ws?: { connId: string; socket: WebSocket | undefined; queue: (Buffer | { mark: string })[]; heard: Int16Array[]; timer?: NodeJS.Timeout };
}

export class FakeAsterisk {
  readonly user = 'frontdesk';
  readonly pass = `pw-${randomUUID().slice(0, 8)}`;
  readonly app = 'frontdesk';
  url = '';
  private server: Server | undefined;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sockets = new Set<WebSocket>();
  readonly channels = new Map<string, FakeChannel>();
  readonly bridges = new Map<string, Set<string>>();
  private readonly bridgeNames = new Map<string, string>();
  readonly redirects: { channelId: string; endpoint: string }[] = [];
  readonly recordings: { bridgeId: string; name: string; format: string }[] = [];
  /** Finished recordings on "Asterisk's disk", by name (a WAV of what the bridge heard). */
  readonly stored = new Map<string, Buffer>();
  private readonly liveRecordings = new Map<string, string>();
  readonly originates: { endpoint: string; appArgs: string | undefined }[] = [];
  readonly hungUp: string[] = [];
  /** The reason frontdesk gave when it hung a channel up (ARI's `reason`), by channel. */
  readonly hangupReasons = new Map<string, string>();
  /** How an originated channel behaves: answers, or never does. */
  originateAnswers = true;
  /** Modules /asterisk/modules lists as running (a test removes one to see doctor name it). */
  readonly modules = new Set(['res_ari.so', 'res_stasis.so', 'app_stasis.so', 'res_ari_channels.so', 'res_ari_bridges.so', 'res_ari_recordings.so',
    'bridge_softmix.so', 'bridge_simple.so', 'chan_bridge_media.so', 'codec_ulaw.so', 'chan_rtp.so', 'res_rtp_multicast.so', 'chan_websocket.so']);
  /** chan_websocket's [global] object as ARI's dynamic configuration shows it; undefined = none. */
  websocketControlFormat: string | undefined = 'json';
  /** How long an originated leg rings before it answers (or gives up). */
  originateRingMs = 100;
  private seq = 0;

  private port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('upgrade', (req, sock, head) => {
      const u = new URL(req.url ?? '', 'http://x');
      if (u.pathname.startsWith('/media/')) return this.mediaUpgrade(req, sock, head, decodeURIComponent(u.pathname.slice(7)));
      if (u.pathname !== '/ari/events' || u.searchParams.get('api_key') !== `${this.user}:${this.pass}`) {
        sock.destroy();
        return;
      }
      this.wss.handleUpgrade(req, sock, head, (ws) => {
        this.sockets.add(ws);
        ws.on('close', () => this.sockets.delete(ws));
      });
    });
    await new Promise<void>((r) => this.server!.listen(this.port, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
    this.url = `http://127.0.0.1:${this.port}`;
  }

  /** "Asterisk" stops: its channels, bridges and sockets go, nothing answers on its port. */
  async down(): Promise<void> {
    await this.stop();
    this.bridges.clear();
    this.server = undefined;
  }

  /** ...and comes back on the same address, with nothing of before. */
  async up(): Promise<void> {
    await this.start();
  }

  async stop(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    for (const c of [...this.channels.values()]) {
      this.channels.delete(c.id);
      try {
        c.media?.socket.close();
      } catch {
        // already closed
      }
      if (c.ws) {
        clearInterval(c.ws.timer);
        c.ws.socket?.terminate();
      }
    }
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  get connected(): number {
    return this.sockets.size;
  }

  private emit(type: string, body: Record<string, unknown>): void {
    const msg = JSON.stringify({ type, application: this.app, timestamp: new Date().toISOString(), asterisk_id: 'fa:ke', ...body });
    for (const ws of this.sockets) ws.send(msg);
  }

  private json(c: FakeChannel) {
    return { id: c.id, name: c.name, state: c.state, caller: c.caller, connected: { name: '', number: '' }, dialplan: c.dialplan, creationtime: new Date().toISOString(), language: 'en', channelvars: {} };
  }

  // ---- what a test does to the "PBX" --------------------------------------------------------

  /** A call from the trunk reaches the Stasis app (extensions.conf: Stasis(frontdesk,${EXTEN})). */
  inboundCall(from: string, exten: string): string {
    const id = `${Date.now()}.${++this.seq}`;
    const c: FakeChannel = { id, name: `PJSIP/trunk-${String(this.seq).padStart(8, '0')}`, state: 'Ring', caller: { name: '', number: from }, dialplan: { context: 'from-trunk', exten, priority: 2 }, vars: {} };
    this.channels.set(id, c);
    this.emit('StasisStart', { args: [exten], channel: this.json(c) });
    return id;
  }

  dtmf(channelId: string, digit: string): void {
    const c = this.channels.get(channelId);
    if (c) this.emit('ChannelDtmfReceived', { digit, duration_ms: 100, channel: this.json(c) });
  }

  /** The caller hangs up: the events Asterisk sends, in order. */
  callerHangup(channelId: string): void {
    const c = this.channels.get(channelId);
    if (!c) return;
    this.emit('ChannelHangupRequest', { cause: 16, channel: this.json(c) });
    this.destroy(c, 16);
  }

  private destroy(c: FakeChannel, cause: number): void {
    // Two hang-ups can race for one channel (the app's and the test's): the first one wins.
    if (!this.channels.has(c.id)) return;
    c.state = 'Down';
    if (c.ws) {
      clearInterval(c.ws.timer);
      c.ws.socket?.close();
    }
    this.channels.delete(c.id);
    for (const members of this.bridges.values()) members.delete(c.id);
    this.emit('StasisEnd', { channel: this.json(c) });
    this.emit('ChannelDestroyed', { cause, cause_txt: cause === 16 ? 'Normal Clearing' : 'No answer', channel: this.json(c) });
    try {
      c.media?.socket.close();
    } catch {
      // already closed by stop()
    }
  }

  /** Gone while the WebSocket was down: no events will ever say so. */
  vanish(channelId: string): void {
    const c = this.channels.get(channelId);
    if (!c) return;
    this.channels.delete(channelId);
    for (const members of this.bridges.values()) members.delete(channelId);
  }

  dropWebSockets(): void {
    for (const ws of this.sockets) ws.terminate();
  }

  private readonly mediaWss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has('media') ? 'media' : false) });

  /** The app connects to chan_websocket's media socket: MEDIA_START, then μ-law both ways, timed by "Asterisk". */
  private mediaUpgrade(req: IncomingMessage, sock: import('node:stream').Duplex, head: Buffer, connId: string): void {
    const c = [...this.channels.values()].find((x) => x.ws?.connId === connId);
    const auth = `Basic ${Buffer.from(`${this.user}:${this.pass}`).toString('base64')}`;
    if (!c || req.headers.authorization !== auth || !String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((x) => x.trim()).includes('media')) {
      sock.destroy();
      return;
    }
    this.mediaWss.handleUpgrade(req, sock, head, (ws) => {
      const m = c.ws!;
      m.socket = ws;
      ws.send(JSON.stringify({ event: 'MEDIA_START', connection_id: connId, channel: c.name, channel_id: c.id, format: 'ulaw', optimal_frame_size: 160, ptime: 20, channel_variables: c.vars }));
      this.emit('StasisStart', { args: [], channel: this.json(c) });
      ws.on('message', (data, isBinary) => {
        if (isBinary) {
          m.queue.push(Buffer.from(data as Buffer));
          return;
        }
        const cmd = JSON.parse(data.toString()) as { command: string; correlation_id?: string };
        if (cmd.command === 'FLUSH_MEDIA') m.queue = [];
        if (cmd.command === 'MARK_MEDIA') m.queue.push({ mark: cmd.correlation_id ?? '' });
      });
      // Asterisk's playout clock: 160 bytes every 20 ms; a mark is reported when playout reaches it.
      m.timer = setInterval(() => {
        let need = 160;
        const out = Buffer.alloc(160, 0xff);
        let o = 0;
        while (m.queue.length && need > 0) {
          const head0 = m.queue[0]!;
          if (!Buffer.isBuffer(head0)) {
            if (o > 0) break;
            ws.send(JSON.stringify({ event: 'MEDIA_MARK_PROCESSED', channel_id: c.id, correlation_id: head0.mark }));
            m.queue.shift();
            continue;
          }
          const k = Math.min(need, head0.length);
          head0.copy(out, o, 0, k);
          o += k;
          need -= k;
          if (k === head0.length) m.queue.shift();
          else m.queue[0] = head0.subarray(k);
        }
        if (o > 0) {
          const pcm = new Int16Array(160);
          decodeG711('PCMU', out, 0, 160, pcm);
          m.heard.push(pcm);
        }
      }, 20);
      ws.on('close', () => clearInterval(m.timer));
    });
  }

  /** The media channel bridged with `callerId`. */
  private mediaFor(callerId: string): FakeChannel | undefined {
    for (const members of this.bridges.values()) {
      if (!members.has(callerId)) continue;
      for (const id of members) {
        const ch = this.channels.get(id);
        if (ch?.media || ch?.ws) return ch;
      }
    }
    return undefined;
  }

  /** Speaks `pcm` (8 kHz) from the caller into the app, as Asterisk would over externalMedia: PCMU, 20 ms. */
  async sendCallerAudio(callerId: string, pcm: Int16Array): Promise<void> {
    const ch = this.mediaFor(callerId);
    if (ch?.ws?.socket) {
      for (let i = 0; i + 160 <= pcm.length; i += 160) {
        const buf = Buffer.alloc(160);
        encodeG711('PCMU', pcm, i, 160, buf, 0);
        ch.ws.socket.send(buf);
        // A caller talks in real time: the 20 ms pace is what is being imitated, not a wait for an event.
        await new Promise((r) => setTimeout(r, 20));
      }
      return;
    }
    const m = ch?.media;
    if (!m) throw new Error('no media channel bridged with the caller');
    const ssrc = 0x1234abcd;
    for (let i = 0, seq = 1; i + 160 <= pcm.length; i += 160, seq++) {
      const buf = Buffer.alloc(172);
      writeRtpHeader(buf, seq === 1, 0, seq, seq * 160, ssrc);
      encodeG711('PCMU', pcm, i, 160, buf, 12);
      m.socket.send(buf, m.port, m.host);
      // Real-time pace, as above.
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** What the caller has heard from the app so far (decoded). */
  heardBy(callerId: string): Int16Array {
    const ch = this.mediaFor(callerId);
    return concat(ch?.media?.heard ?? ch?.ws?.heard ?? []);
  }

  // ---- REST ---------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for await (const _ of req) { /* drain */ }
    const send = (code: number, body?: unknown) => {
      res.writeHead(code, body === undefined ? {} : { 'content-type': 'application/json' });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    const auth = `Basic ${Buffer.from(`${this.user}:${this.pass}`).toString('base64')}`;
    const u = new URL(req.url ?? '/', 'http://x');
    const path = u.pathname;
    if (path.startsWith('/ari/api-docs/')) {
      const doc = ariDocs(`${this.url}/ari`)[path.slice('/ari/api-docs/'.length)];
      return doc ? send(200, doc) : send(404, { message: 'no such resource' });
    }
    if (req.headers.authorization !== auth) return send(401, { message: 'Authentication required' });
    const q = (k: string) => u.searchParams.get(k) ?? undefined;
    const m = (re: RegExp) => re.exec(path);
    let r: RegExpExecArray | null;

    if (req.method === 'GET' && path === '/ari/asterisk/info') return send(200, { system: { version: '22.10.1', entity_id: 'fa:ke' } });
    if (req.method === 'GET' && path === '/ari/asterisk/modules') {
      return send(200, [...this.modules].map((name) => ({ name, description: name, use_count: 0, status: 'Running', support_level: 'core' })));
    }
    if (req.method === 'GET' && path === `/ari/applications/${this.app}`) {
      return this.sockets.size ? send(200, { name: this.app, channel_ids: [], bridge_ids: [], endpoint_ids: [], device_names: [] }) : send(404, { message: 'Application not found' });
    }
    if (req.method === 'GET' && path === '/ari/asterisk/config/dynamic/chan_websocket/global/global') {
      return this.websocketControlFormat === undefined ? send(404, { message: 'Object not found' }) : send(200, [{ attribute: 'control_message_format', value: this.websocketControlFormat }]);
    }
    if (req.method === 'GET' && path === '/ari/channels') return send(200, [...this.channels.values()].map((c) => this.json(c)));
    if (req.method === 'POST' && path === '/ari/channels/externalMedia') return this.externalMedia(q, send);
    if (req.method === 'POST' && path === '/ari/channels') {
      const endpoint = q('endpoint');
      if (!endpoint) return send(400, { message: 'endpoint required' });
      this.originates.push({ endpoint, appArgs: q('appArgs') });
      const id = q('channelId') ?? `${Date.now()}.${++this.seq}`;
      const c: FakeChannel = { id, name: `${endpoint}-${++this.seq}`, state: 'Down', caller: { name: '', number: q('callerId') ?? '' }, dialplan: { context: 'default', exten: 's', priority: 1 }, vars: {} };
      this.channels.set(id, c);
      setTimeout(() => {
        if (!this.channels.has(id)) return; // hung up while it rang
        if (this.originateAnswers) {
          c.state = 'Up';
          this.emit('StasisStart', { args: (q('appArgs') ?? '').split(',').filter(Boolean), channel: this.json(c) });
        } else {
          this.destroy(c, 19);
        }
      }, this.originateRingMs);
      return send(200, this.json(c));
    }
    if ((r = m(/^\/ari\/channels\/([^/]+)$/))) {
      const c = this.channels.get(decodeURIComponent(r[1]!));
      if (!c) return send(404, { message: 'Channel not found' });
      if (req.method === 'GET') return send(200, this.json(c));
      if (req.method === 'DELETE') {
        this.hungUp.push(c.id);
        const reason = q('reason') ?? 'normal';
        this.hangupReasons.set(c.id, reason);
        send(204);
        // ARI's reasons as Q.850 causes (Asterisk's ari/resource_channels.c); PJSIP turns 34 into a 503.
        this.destroy(c, ({ normal: 16, busy: 17, congestion: 34, no_answer: 19, rejected: 21 } as Record<string, number>)[reason] ?? 16);
        return;
      }
    }
    if ((r = m(/^\/ari\/channels\/([^/]+)\/(answer|redirect|variable)$/))) {
      const c = this.channels.get(decodeURIComponent(r[1]!));
      if (!c) return send(404, { message: 'Channel not found' });
      if (r[2] === 'answer') {
        c.state = 'Up';
        this.emit('ChannelStateChange', { channel: this.json(c) });
        return send(204);
      }
      if (r[2] === 'redirect') {
        const endpoint = q('endpoint');
        if (!endpoint) return send(400, { message: 'endpoint required' });
        this.redirects.push({ channelId: c.id, endpoint });
        send(204);
        // The channel leaves Stasis for the new endpoint (PJSIP sends REFER, or dials it).
        for (const members of this.bridges.values()) members.delete(c.id);
        this.channels.delete(c.id);
        this.emit('StasisEnd', { channel: this.json(c) });
        return;
      }
      const v = c.vars[q('variable') ?? ''];
      return v === undefined ? send(404, { message: 'Provided variable was not found' }) : send(200, { value: v });
    }
    if (req.method === 'GET' && path === '/ari/bridges') {
      return send(200, [...this.bridges.entries()].map(([id, m]) => ({ id, technology: 'simple_bridge', bridge_type: 'mixing', bridge_class: 'stasis', name: this.bridgeNames.get(id) ?? '', channels: [...m] })));
    }
    if (req.method === 'POST' && path === '/ari/bridges') {
      const id = q('bridgeId') ?? randomUUID();
      this.bridges.set(id, new Set());
      this.bridgeNames.set(id, q('name') ?? '');
      return send(200, { id, technology: 'simple_bridge', bridge_type: q('type') ?? 'mixing', bridge_class: 'stasis', name: q('name') ?? '', channels: [] });
    }
    if ((r = m(/^\/ari\/bridges\/([^/]+)(?:\/(addChannel|removeChannel|record))?$/))) {
      const b = this.bridges.get(decodeURIComponent(r[1]!));
      if (!b) return send(404, { message: 'Bridge not found' });
      if (req.method === 'DELETE' && !r[2]) {
        this.bridges.delete(r[1]!);
        send(204);
        for (const [name, bridgeId] of this.liveRecordings) if (bridgeId === r[1]) this.finishRecording(name);
        return;
      }
      const chans = (q('channel') ?? '').split(',').filter(Boolean);
      if (r[2] === 'addChannel') {
        for (const c of chans) {
          const ch = this.channels.get(c);
          if (!ch || (ch.ws && !ch.ws.socket)) return send(422, { message: 'Channel not in Stasis application' });
          for (const other of this.bridges.values()) other.delete(c);
          b.add(c);
        }
        return send(204);
      }
      if (r[2] === 'removeChannel') {
        for (const c of chans) b.delete(c);
        return send(204);
      }
      if (r[2] === 'record') {
        this.recordings.push({ bridgeId: r[1]!, name: q('name') ?? '', format: q('format') ?? '' });
        this.liveRecordings.set(q('name') ?? '', r[1]!);
        return send(201, { name: q('name'), format: q('format'), state: 'recording', target_uri: `bridge:${r[1]}` });
      }
    }
    if ((r = m(/^\/ari\/recordings\/live\/([^/]+)\/stop$/)) && req.method === 'POST') {
      const name = decodeURIComponent(r[1]!);
      if (!this.liveRecordings.has(name)) return send(404, { message: 'Recording not found' });
      send(204);
      this.finishRecording(name);
      return;
    }
    if ((r = m(/^\/ari\/recordings\/stored\/([^/]+)(\/file)?$/))) {
      const file = this.stored.get(decodeURIComponent(r[1]!));
      if (!file) return send(404, { message: 'Recording not found' });
      if (req.method === 'GET' && r[2]) {
        res.writeHead(200, { 'content-type': 'audio/wav' });
        res.end(file);
        return;
      }
      if (req.method === 'DELETE' && !r[2]) {
        this.stored.delete(decodeURIComponent(r[1]!));
        return send(204);
      }
    }
    return send(404, { message: `no route ${req.method} ${path}` });
  }

  /** The recording ends: a WAV of what was sent into the bridge lands on "disk", then the event. */
  private finishRecording(name: string): void {
    if (!this.liveRecordings.delete(name)) return;
    const header = Buffer.alloc(44);
    header.write('RIFF', 0);
    header.writeUInt32LE(36, 4);
    header.write('WAVEfmt ', 8);
    header.writeUInt32LE(16, 16);
    header.writeUInt16LE(1, 20);
    header.writeUInt16LE(1, 22);
    header.writeUInt32LE(8000, 24);
    header.writeUInt32LE(16000, 28);
    header.writeUInt16LE(2, 32);
    header.writeUInt16LE(16, 34);
    header.write('data', 36);
    header.writeUInt32LE(0, 40);
    this.stored.set(name, header);
    this.emit('RecordingFinished', { recording: { name, format: 'wav', state: 'done', target_uri: '' } });
  }

  /** Called when the app asks for an externalMedia channel (a test hangs the caller up there). */
  onExternalMedia: (() => void) | undefined;

  private async externalMedia(q: (k: string) => string | undefined, send: (code: number, body?: unknown) => void): Promise<void> {
    this.onExternalMedia?.();
    const host = q('external_host');
    if (!host || !q('app') || !q('format')) return send(400, { message: 'app, external_host and format are required' });
    if (q('format') !== 'ulaw') return send(400, { message: 'format not supported by this fake' });
    if (q('transport') === 'websocket') {
      if (q('encapsulation') !== 'none') return send(400, { message: 'websocket transport needs encapsulation=none' });
      const connId = `media_connection${++this.seq}`;
      const id = q('channelId') ?? `${Date.now()}.${++this.seq}`;
      const c: FakeChannel = {
        id, name: `WebSocket/${connId}/0x${this.seq.toString(16)}`, state: 'Up', caller: { name: '', number: '' },
        dialplan: { context: 'default', exten: 's', priority: 1 }, vars: { MEDIA_WEBSOCKET_CONNECTION_ID: connId },
        ws: { connId, socket: undefined, queue: [], heard: [] },
      };
      this.channels.set(id, c);
      return send(200, { ...this.json(c), channelvars: c.vars });
    }
    const [h, p] = host.split(':');
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    const heard: Int16Array[] = [];
    const hdr = {} as RtpHeader;
    socket.on('message', (buf) => {
      if (!parseRtp(buf, hdr) || hdr.payloadType !== 0) return;
      const pcm = new Int16Array(hdr.payloadLength);
      decodeG711('PCMU', buf, hdr.payloadOffset, hdr.payloadLength, pcm);
      heard.push(pcm);
    });
    const id = q('channelId') ?? `${Date.now()}.${++this.seq}`;
    const c: FakeChannel = {
      id, name: `UnicastRTP/${host}-${randomUUID().slice(0, 8)}`, state: 'Up', caller: { name: '', number: '' },
      dialplan: { context: 'default', exten: 's', priority: 1 },
      vars: { UNICASTRTP_LOCAL_ADDRESS: '127.0.0.1', UNICASTRTP_LOCAL_PORT: String(socket.address().port) },
      media: { socket, host: h!, port: Number(p), heard },
    };
    this.channels.set(id, c);
    send(200, { ...this.json(c), channelvars: c.vars });
    // Asterisk raises StasisStart for the media channel too.
    this.emit('StasisStart', { args: [], channel: this.json(c) });
  }
}
