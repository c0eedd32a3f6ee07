import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { BrowserCall } from './call.js';

/**
 * The console's test line: upgrades an authenticated request on /api/test-call to a WebSocket and
 * hands back a ringing BrowserCall. Who may call is decided before (http/admin/test-call.ts);
 * this only carries audio.
 */

export const browserLineDefaults = {
  /** Test calls at once, for the whole server: each runs a full agent. */
  maxCalls: 4,
  /** Largest WebSocket message: a second of 16 kHz PCM with room to spare. */
  maxPayloadBytes: 64 * 1024,
} as const satisfies Record<string, number>;

export class BrowserLine {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: browserLineDefaults.maxPayloadBytes, perMessageDeflate: false });
  private readonly calls = new Set<BrowserCall>();

  activeCalls(): number {
    return this.calls.size;
  }

  /** Upgrades `req` and resolves with the call; answers 503 when the line is full. */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer, o: { from: string; to: string; sampleRate: 8000 | 16000 }): Promise<BrowserCall | undefined> {
    if (this.calls.size >= browserLineDefaults.maxCalls) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\nContent-Length: 0\r\n\r\n');
      return Promise.resolve(undefined);
    }
    return new Promise((resolve) => {
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const call = new BrowserCall(ws, o.from, o.to, o.sampleRate);
        this.calls.add(call);
        call.once('ended', () => this.calls.delete(call));
        resolve(call);
      });
    });
  }

  /** Ends every test call (shutdown). */
  async stop(): Promise<void> {
    await Promise.all([...this.calls].map((c) => c.hangup('shutdown')));
    this.wss.close();
  }
}
