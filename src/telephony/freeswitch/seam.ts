import type { EventEmitter } from 'node:events';

/**
 * The slice of drachtio-srf and drachtio-fsmrf frontdesk uses, as interfaces: the production
 * implementation (drachtio.ts) wraps the real libraries; tests drive the adapter through a fake at
 * this seam, since neither drachtio-server nor FreeSWITCH runs here.
 */

/** A FreeSWITCH endpoint (drachtio-fsmrf Endpoint). Emits 'dtmf' ({ dtmf }) and 'destroy'. */
export interface FsEndpoint extends EventEmitter {
  readonly uuid: string;
  forkAudioStart(opts: {
    wsUrl: string;
    mixType?: 'mono' | 'mixed' | 'stereo';
    sampling?: string;
    metadata?: Record<string, unknown>;
    bidirectionalAudio?: { enabled: boolean; streaming: boolean; sampleRate: number };
  }): Promise<void>;
  forkAudioStop(): Promise<void>;
  /** FreeSWITCH API command (uuid_break, …). */
  api(command: string, args: string): Promise<unknown>;
  bridge(other: FsEndpoint): Promise<void>;
  destroy(): Promise<void>;
}

/** A SIP dialog (drachtio-srf Dialog). Emits 'destroy' (far end hung up) and 'notify' (req, res). */
export interface SipDialog extends EventEmitter {
  readonly sip: { callId: string };
  request(opts: { method: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; reason?: string }>;
  destroy(): Promise<void>;
}

export interface IncomingInvite {
  callingNumber: string;
  calledNumber: string;
  /** connectCaller: a FreeSWITCH endpoint and the caller's dialog, answered. */
  accept(): Promise<{ endpoint: FsEndpoint; dialog: SipDialog }>;
  /** Answers the INVITE with a final error (headers such as Retry-After with it). */
  reject(status: number, headers?: Record<string, string>): Promise<void>;
}

/**
 * drachtio-srf + drachtio-fsmrf together. Emits 'invite', 'connected', and 'disconnected' (with a
 * reason) once per connection that was up.
 */
export interface DrachtioSeam extends EventEmitter {
  /** One attempt; rejects with what failed, leaving no connection open. The caller retries. */
  connect(): Promise<void>;
  /** An outbound leg through the trunk (or to a SIP URI), bridged to a new endpoint; `signal` cancels it while it rings. */
  call(uri: string, opts: { callerId?: string; timeoutSeconds: number; signal?: AbortSignal }): Promise<{ endpoint: FsEndpoint; dialog: SipDialog }>;
  /** Closes every connection now, including one still being made. */
  close(): Promise<void>;
}
