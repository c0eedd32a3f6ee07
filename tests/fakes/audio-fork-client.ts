import WebSocket from 'ws';

/**
 * What FreeSWITCH's mod_audio_fork does on the wire: connects with subprotocol audio.drachtio.org,
 * sends the metadata as the first TEXT frame, then the caller's audio as BINARY L16 (little-endian)
 * frames; plays what comes back (bidirectional streaming: BINARY L16 at the given rate, or
 * playAudio with base64 raw audio), honours killAudio, and echoes marks once played.
 */
export class FakeAudioFork {
  private ws: WebSocket | undefined;
  private queue: (Int16Array | { mark: string })[] = [];
  private timer: NodeJS.Timeout | undefined;
  readonly heard: Int16Array[] = [];
  readonly received: string[] = [];

  constructor(private readonly url: string, private readonly metadata: Record<string, unknown>, private readonly sampleRate = 8000) {}

  async start(): Promise<void> {
    const ws = new WebSocket(this.url, 'audio.drachtio.org');
    this.ws = ws;
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify(this.metadata));
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        const b = data as Buffer;
        const pcm = new Int16Array(b.length >> 1);
        for (let i = 0; i < pcm.length; i++) pcm[i] = b.readInt16LE(i * 2);
        this.queue.push(pcm);
        return;
      }
      const msg = JSON.parse(data.toString()) as { type: string; data?: { name?: string; audioContent?: string } };
      this.received.push(msg.type);
      if (msg.type === 'killAudio') {
        for (const q of this.queue) if (!(q instanceof Int16Array)) this.send({ type: 'mark', data: { name: q.mark, event: 'cleared' } });
        this.queue = [];
      } else if (msg.type === 'mark' && msg.data?.name) this.queue.push({ mark: msg.data.name });
      else if (msg.type === 'playAudio' && msg.data?.audioContent) {
        const b = Buffer.from(msg.data.audioContent, 'base64');
        const pcm = new Int16Array(b.length >> 1);
        for (let i = 0; i < pcm.length; i++) pcm[i] = b.readInt16LE(i * 2);
        this.queue.push(pcm);
      }
    });
    // FreeSWITCH's clock: 20 ms of audio per tick.
    const per = (this.sampleRate / 1000) * 20;
    this.timer = setInterval(() => {
      let need = per;
      const out = new Int16Array(per);
      let o = 0;
      while (this.queue.length && need > 0) {
        const head = this.queue[0]!;
        if (!(head instanceof Int16Array)) {
          if (o > 0) break;
          this.send({ type: 'mark', data: { name: head.mark, event: 'playout' } });
          this.queue.shift();
          continue;
        }
        const k = Math.min(need, head.length);
        out.set(head.subarray(0, k), o);
        o += k;
        need -= k;
        if (k === head.length) this.queue.shift();
        else this.queue[0] = head.subarray(k);
      }
      if (o > 0) this.heard.push(out);
    }, 20);
  }

  private send(m: unknown): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(m));
  }

  /** The caller speaks: L16 frames, 20 ms apart. */
  async speak(pcm: Int16Array): Promise<void> {
    const per = (this.sampleRate / 1000) * 20;
    for (let i = 0; i + per <= pcm.length; i += per) {
      this.ws?.send(Buffer.from(pcm.slice(i, i + per).buffer));
      // A caller talks in real time: the 20 ms pace is what is being imitated.
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** uuid_break: FreeSWITCH stops the file it is playing. */
  breakPlayback(): void {
    this.queue = [];
  }

  stop(): void {
    clearInterval(this.timer);
    this.ws?.close();
  }
}
