import WebSocket from 'ws';

/**
 * What FreeSWITCH's mod_audio_fork (jambonz freeswitch-modules 1.2.32+, lws_glue.cpp) does on the
 * wire and with what it is sent, for bidirectional streaming at 8 kHz:
 * - connects with subprotocol audio.drachtio.org, sends the metadata as the first TEXT frame, then
 *   the caller's audio as BINARY L16 (little-endian);
 * - audio sent to it collects in a prebuffer that moves to the playout buffer only once it holds
 *   1280 slots, afterwards 640 (processIncomingBinary);
 * - a mark waits in an inventory until the next BINARY frame, in front of which it is put as a
 *   slot 0xFFFF (= a sample of -1); once in the buffer, marks are matched by position to names,
 *   the oldest "cleared" name first; with no marks in the buffer, an inventory mark is sent as
 *   soon as the buffer is empty (dub_speech_frame);
 * - killAudio clears the playout buffer on the next frame (not the prebuffer), echoes every mark
 *   in use or in inventory as "cleared", and keeps the in-use names on the cleared list;
 * - playAudio writes a file on FreeSWITCH's disk and fires an event: nothing is played.
 * Every 20 ms (FreeSWITCH's write clock, kept running by send_silence_when_idle) one frame is
 * played to the caller: `heard`.
 */
const MARKER = -1;

export class FakeAudioFork {
  private ws: WebSocket | undefined;
  private pre: number[] = [];
  private threshold = 1280;
  private play: number[] = [];
  private inventory: string[] = [];
  private inUse: string[] = [];
  private cleared: string[] = [];
  private clearFlag = false;
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
        this.binary(pcm);
        return;
      }
      const msg = JSON.parse(data.toString()) as { type: string; data?: { name?: string } };
      this.received.push(msg.type);
      if (msg.type === 'killAudio') this.clearFlag = true;
      else if (msg.type === 'mark' && msg.data?.name && this.inventory.length + this.inUse.length < 30) this.inventory.push(msg.data.name);
    });
    const per = (this.sampleRate / 1000) * 20;
    // FreeSWITCH's clock runs in real time even when this process's timers run late: catch up.
    const t0 = performance.now();
    let frames = 0;
    this.timer = setInterval(() => {
      const due = Math.floor((performance.now() - t0) / 20);
      while (frames < due) {
        frames++;
        this.frame(per);
      }
    }, 20);
  }

  private binary(pcm: Int16Array): void {
    for (const m of this.inventory) {
      this.inUse.push(m);
      this.pre.push(MARKER);
    }
    this.inventory = [];
    for (const s of pcm) this.pre.push(s);
    if (this.pre.length < this.threshold) return;
    this.threshold = 640;
    for (const s of this.pre) this.play.push(s);
    this.pre = [];
  }

  private frame(per: number): void {
    if (this.clearFlag) {
      this.clearFlag = false;
      this.play = [];
      for (const name of [...this.inUse, ...this.inventory]) this.send({ type: 'mark', data: { name, event: 'cleared' } });
      this.cleared.push(...this.inUse);
      this.inUse = [];
      this.inventory = [];
      return;
    }
    const out = new Int16Array(per);
    const n = Math.min(this.play.length, per);
    const slots = this.play.splice(0, n);
    if (this.inUse.length + this.cleared.length > 0) {
      let o = 0;
      for (const s of slots) {
        if (s === MARKER) {
          const list = this.cleared.length > 0 ? this.cleared : this.inUse;
          const name = list.shift();
          if (name !== undefined && list === this.inUse) this.send({ type: 'mark', data: { name, event: 'playout' } });
        } else out[o++] = s;
      }
    } else {
      out.set(slots);
      if (n === 0 && this.inventory.length) this.send({ type: 'mark', data: { name: this.inventory.shift(), event: 'playout' } });
    }
    this.heard.push(out);
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

  stop(): void {
    clearInterval(this.timer);
    this.ws?.close();
  }
}
