import { writePrivateFile } from '../../util/private-files.js';
import { writeWav } from '../../speech/audio.js';

/**
 * A whole call as a stereo WAV (caller left, agent right), for backends that do not record calls
 * themselves (the built-in SIP endpoint). The caller's track is the continuous inbound stream; the
 * agent's audio is placed at the moment each piece went to the wire, so the two line up.
 */
export class CallRecorder {
  private caller: Int16Array;
  private agent: Int16Array;
  private callerLen = 0;
  private agentEnd = 0;
  private readonly startedAt: number;

  constructor(private readonly rate: number, private readonly now: () => number = Date.now, private readonly maxMs = 60 * 60_000) {
    this.caller = new Int16Array(rate * 60);
    this.agent = new Int16Array(rate * 60);
    this.startedAt = now();
  }

  private room(buf: Int16Array, need: number): Int16Array {
    if (need <= buf.length) return buf;
    const bigger = new Int16Array(Math.max(need, buf.length * 2));
    bigger.set(buf);
    return bigger;
  }

  /** One inbound frame (copied). */
  addCaller(pcm: Int16Array): void {
    if (this.callerLen + pcm.length > (this.rate * this.maxMs) / 1000) return;
    this.caller = this.room(this.caller, this.callerLen + pcm.length);
    this.caller.set(pcm, this.callerLen);
    this.callerLen += pcm.length;
  }

  /** Agent audio leaving now (or right after what is already queued). */
  addAgent(pcm: Int16Array): void {
    const at = Math.max(this.agentEnd, Math.round(((this.now() - this.startedAt) * this.rate) / 1000));
    if (at + pcm.length > (this.rate * this.maxMs) / 1000) return;
    this.agent = this.room(this.agent, at + pcm.length);
    this.agent.set(pcm, at);
    this.agentEnd = at + pcm.length;
  }

  async save(path: string): Promise<{ path: string; durationMs: number }> {
    const n = Math.max(this.callerLen, this.agentEnd);
    const stereo = new Int16Array(n * 2);
    for (let i = 0; i < n; i++) {
      stereo[2 * i] = i < this.callerLen ? this.caller[i]! : 0;
      stereo[2 * i + 1] = i < this.agentEnd ? this.agent[i]! : 0;
    }
    await writePrivateFile(path, writeWav(stereo, this.rate, 2));
    return { path, durationMs: Math.round((n / this.rate) * 1000) };
  }
}
