import { EventEmitter, once } from 'node:events';
import { createRequire } from 'node:module';
import type { DrachtioSeam, FsEndpoint, IncomingInvite, SipDialog } from './seam.js';

/**
 * The production seam: drachtio-srf (SIP through drachtio-server) and drachtio-fsmrf (FreeSWITCH
 * endpoints over ESL). Both are CommonJS with no bundled types, hence the narrow shapes below.
 */

const require = createRequire(import.meta.url);

interface SrfRequest { callingNumber: string; calledNumber: string; body: string }
interface SrfResponse { send(status: number, opts?: { headers?: Record<string, string> }): void }
interface Srf extends EventEmitter {
  connect(o: { host: string; port: number; secret: string }): void;
  invite(handler: (req: SrfRequest, res: SrfResponse) => void): void;
  createUAC(uri: string, o: Record<string, unknown>): Promise<SipDialog & { remote: { sdp: string } }>;
  disconnect(): void;
}
interface MediaServer extends EventEmitter {
  connectCaller(req: SrfRequest, res: SrfResponse): Promise<{ endpoint: FsEndpoint; dialog: SipDialog }>;
  createEndpoint(): Promise<FsEndpoint & { local: { sdp: string }; modify(sdp: string): Promise<void> }>;
  disconnect(): void;
}
interface Mrf {
  connect(o: { address: string; port: number; secret: string }): Promise<MediaServer>;
}

export interface DrachtioOptions {
  drachtio: { host: string; port: number; secret: string };
  freeswitch: { address: string; port: number; secret: string };
  /** Digest credentials for the trunk, for outbound legs. */
  trunkAuth?: { username: string; password: string } | undefined;
}

export class DrachtioLibSeam extends EventEmitter implements DrachtioSeam {
  private srf: Srf | undefined;
  private ms: MediaServer | undefined;

  constructor(private readonly o: DrachtioOptions) {
    super();
  }

  async connect(): Promise<void> {
    const SrfClass = require('drachtio-srf') as new () => Srf;
    const MrfClass = require('drachtio-fsmrf') as new (srf: Srf) => Mrf;
    const srf = new SrfClass();
    srf.connect(this.o.drachtio);
    await Promise.race([
      once(srf, 'connect'),
      once(srf, 'error').then(([e]) => { throw e as Error; }),
    ]);
    srf.on('error', () => this.emit('disconnected'));
    srf.on('close', () => this.emit('disconnected'));
    srf.invite((req, res) => {
      const inv: IncomingInvite = {
        callingNumber: req.callingNumber,
        calledNumber: req.calledNumber,
        accept: () => this.ms!.connectCaller(req, res),
        reject: async (status, headers) => res.send(status, headers ? { headers } : {}),
      };
      this.emit('invite', inv);
    });
    const ms = await new MrfClass(srf).connect(this.o.freeswitch);
    ms.on('end', () => this.emit('disconnected'));
    ms.on('error', () => this.emit('disconnected'));
    this.srf = srf;
    this.ms = ms;
    this.emit('connected');
  }

  async call(uri: string, opts: { callerId?: string; timeoutSeconds: number }): Promise<{ endpoint: FsEndpoint; dialog: SipDialog }> {
    const endpoint = await this.ms!.createEndpoint();
    try {
      const dialog = await Promise.race([
        this.srf!.createUAC(uri, {
          localSdp: endpoint.local.sdp,
          ...(opts.callerId ? { callingNumber: opts.callerId } : {}),
          ...(this.o.trunkAuth ? { auth: this.o.trunkAuth } : {}),
        }),
        new Promise<never>((_, reject) => setTimeout(() => reject(Object.assign(new Error('no answer'), { status: 408 })), opts.timeoutSeconds * 1000)),
      ]);
      await endpoint.modify(dialog.remote.sdp);
      return { endpoint, dialog };
    } catch (e) {
      await endpoint.destroy().catch(() => {});
      throw e;
    }
  }

  async close(): Promise<void> {
    this.ms?.disconnect();
    this.srf?.disconnect();
  }
}
