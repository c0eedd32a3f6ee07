import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { DrachtioSeam, FsEndpoint, IncomingInvite, SipDialog } from '../../src/telephony/freeswitch/seam.js';
import { FakeAudioFork } from './audio-fork-client.js';

/**
 * drachtio-srf + drachtio-fsmrf at the seam the adapter uses. Endpoints start a real
 * mod_audio_fork-style client (FakeAudioFork) against our WebSocket server; dialogs answer REFER
 * with 202 and report progress with NOTIFY sipfrag, as a SIP transferee does.
 */

class FakeEndpoint extends EventEmitter implements FsEndpoint {
  readonly uuid = randomUUID();
  fork: FakeAudioFork | undefined;
  bridgedWith: string | undefined;
  destroyed = false;
  readonly apis: string[] = [];

  async forkAudioStart(opts: Parameters<FsEndpoint['forkAudioStart']>[0]): Promise<void> {
    this.fork = new FakeAudioFork(opts.wsUrl, opts.metadata ?? {}, Number(opts.sampling ?? 8000));
    await this.fork.start();
  }
  async forkAudioStop(): Promise<void> {
    this.fork?.stop();
  }
  async api(command: string, args: string): Promise<unknown> {
    this.apis.push(`${command} ${args}`);
    return '+OK';
  }
  async bridge(other: FsEndpoint): Promise<void> {
    this.bridgedWith = other.uuid;
    (other as FakeEndpoint).bridgedWith = this.uuid;
  }
  async destroy(): Promise<void> {
    this.destroyed = true;
    this.fork?.stop();
  }
}

class FakeDialog extends EventEmitter implements SipDialog {
  readonly sip = { callId: `${randomUUID()}@drachtio` };
  readonly requests: { method: string; headers?: Record<string, string> }[] = [];
  destroyed = false;
  /** How the transferee's attempt ends (final sipfrag status). */
  transferOutcome = 200;
  /**
   * A quick transferee: its NOTIFYs and BYE arrive in the same read as the 202, i.e. before the
   * code awaiting the REFER's answer runs (seen with drachtio under load).
   */
  quickTransferee = false;

  async request(opts: { method: string; headers?: Record<string, string> }): Promise<{ status: number }> {
    this.requests.push(opts);
    if (opts.method === 'REFER' && this.quickTransferee) {
      this.notify('SIP/2.0 100 Trying');
      this.notify('SIP/2.0 200 OK');
      this.remoteHangup();
      return { status: 202 };
    }
    if (opts.method === 'REFER') {
      setTimeout(() => this.notify('SIP/2.0 100 Trying'), 20);
      setTimeout(() => this.notify(`SIP/2.0 ${this.transferOutcome} ${this.transferOutcome === 200 ? 'OK' : 'Busy Here'}`), 60);
      return { status: 202 };
    }
    return { status: 200 };
  }
  private notify(body: string): void {
    this.emit('notify', { body }, { send: () => {} });
  }
  async destroy(): Promise<void> {
    this.destroyed = true;
  }
  /** The far end hangs up. */
  remoteHangup(): void {
    this.emit('destroy');
  }
}

export class FakeDrachtio extends EventEmitter implements DrachtioSeam {
  connects = 0;
  failConnects = 0;
  /** Whether outbound legs (owner, dial) answer. */
  legsAnswer = true;
  readonly legs: { uri: string; endpoint: FakeEndpoint; dialog: FakeDialog }[] = [];
  readonly inbound: { endpoint: FakeEndpoint; dialog: FakeDialog; rejected?: number; rejectHeaders?: Record<string, string> }[] = [];

  async connect(): Promise<void> {
    this.connects++;
    if (this.failConnects > 0) {
      this.failConnects--;
      throw new Error('ECONNREFUSED');
    }
    this.emit('connected');
  }

  /** A call from the trunk reaches drachtio. */
  incoming(from: string, to: string): { endpoint: FakeEndpoint; dialog: FakeDialog; rejected?: number; rejectHeaders?: Record<string, string> } {
    const leg = { endpoint: new FakeEndpoint(), dialog: new FakeDialog() } as { endpoint: FakeEndpoint; dialog: FakeDialog; rejected?: number; rejectHeaders?: Record<string, string> };
    this.inbound.push(leg);
    const inv: IncomingInvite = {
      callingNumber: from, calledNumber: to,
      accept: async () => leg,
      reject: async (status, headers) => {
        leg.rejected = status;
        if (headers) leg.rejectHeaders = headers;
      },
    };
    this.emit('invite', inv);
    return leg;
  }

  /** Outbound legs ring until cancelled (the owner never picks up); `ringing` counts those still ringing. */
  legsRing = false;
  ringing = 0;

  async call(uri: string, opts?: { signal?: AbortSignal }): Promise<{ endpoint: FsEndpoint; dialog: SipDialog }> {
    if (this.legsRing) {
      this.ringing++;
      this.emit('ringing', uri);
      await new Promise<never>((_, reject) => opts?.signal?.addEventListener('abort', () => {
        this.ringing--;
        reject(Object.assign(new Error('cancelled'), { status: 487 }));
      }, { once: true }));
    }
    // The answer comes on a later turn of the loop, as a network's does (no fixed ring time to wait out).
    await new Promise((r) => setImmediate(r));
    if (!this.legsAnswer) throw Object.assign(new Error('480 Temporarily Unavailable'), { status: 480 });
    const leg = { uri, endpoint: new FakeEndpoint(), dialog: new FakeDialog() };
    this.legs.push(leg);
    return leg;
  }

  /** drachtio or ESL drops. */
  drop(): void {
    this.emit('disconnected');
  }

  async close(): Promise<void> {}
}
