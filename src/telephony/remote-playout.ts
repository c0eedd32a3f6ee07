import { randomUUID } from 'node:crypto';
import type { AudioSource, PlaybackHandle, PlaybackResult } from './call.js';

/**
 * Playback when the far side owns the playout clock (Asterisk chan_websocket, FreeSWITCH
 * mod_audio_fork streaming): audio is sent ahead, a mark follows each item and its echo says it
 * was played; barge-in flushes the far side's queue. What the caller heard of a cut item is the
 * time since its audio started playing, tracked on the far side's timeline.
 */

const RATE = 8000;

export interface RemotePlayoutIo {
  sendAudio(pcm: Int16Array): void;
  sendMark(id: string): void;
  sendFlush(): void;
  /** Resolves when the far side can take more (flow control), immediately otherwise. */
  ready(): Promise<void>;
}

class Item implements PlaybackHandle {
  readonly id = randomUUID();
  readonly done: Promise<PlaybackResult>;
  private resolveDone!: (r: PlaybackResult) => void;
  finished = false;
  cancelled = false;
  sentSamples = 0;
  startsAt: number | undefined;

  constructor(readonly source: AudioSource, private readonly onCancel: () => void) {
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
    this.onCancel();
  }

  finish(completed: boolean, playedMs: number): void {
    if (this.finished) return;
    this.finished = true;
    this.resolveDone({ completed, playedMs });
  }
}

export class RemotePlayout {
  private readonly queue: Item[] = [];
  private pumping = false;
  private playoutEnd = 0;

  constructor(private readonly io: RemotePlayoutIo) {}

  play(source: AudioSource): PlaybackHandle {
    const item = new Item(source, () => this.flush());
    this.queue.push(item);
    void this.pump();
    return item;
  }

  /** The far side played up to this mark. */
  marked(id: string): void {
    const i = this.queue.findIndex((x) => x.id === id);
    if (i < 0) return;
    const [item] = this.queue.splice(i, 1);
    item!.finish(!item!.cancelled, Math.round((item!.sentSamples / RATE) * 1000));
  }

  /** Barge-in: the far side drops its queue; every pending item ends now. */
  flush(): void {
    this.io.sendFlush();
    const now = performance.now();
    this.playoutEnd = now;
    for (const item of this.queue.splice(0)) {
      item.cancelled = true;
      item.finish(false, item.heardMs(now));
    }
  }

  close(): void {
    for (const item of this.queue.splice(0)) item.finish(false, item.playedMs());
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        const item = this.queue.find((x) => !x.finished && x.startsAt === undefined);
        if (!item) break;
        const chunks = item.source instanceof Int16Array ? [item.source] : item.source;
        for await (const pcm of chunks) {
          if (item.cancelled || item.finished) break;
          await this.io.ready();
          const now = performance.now();
          item.startsAt ??= Math.max(now, this.playoutEnd);
          this.playoutEnd = Math.max(now, this.playoutEnd) + (pcm.length / RATE) * 1000;
          item.sentSamples += pcm.length;
          this.io.sendAudio(pcm);
        }
        item.startsAt ??= performance.now();
        if (!item.cancelled && !item.finished) this.io.sendMark(item.id);
      }
    } finally {
      this.pumping = false;
    }
  }
}
