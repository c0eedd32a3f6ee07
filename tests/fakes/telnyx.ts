import { createServer, type IncomingMessage, type Server } from 'node:http';
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';

/**
 * A local Telnyx: POST /v2/messages checked as the real API checks it (Bearer key, JSON, E.164
 * from/to, text), and message.received webhooks signed with a real Ed25519 key ("timestamp|body").
 */
export class FakeTelnyx {
  readonly apiKey = `KEY${randomUUID().replace(/-/g, '')}`;
  readonly sent: { from: string; to: string; text: string; id: string; webhook_url?: string }[] = [];
  private server: Server | undefined;
  private sentWaiters: { count: number; resolve: () => void }[] = [];
  private readonly privateKey: KeyObject;
  /** Base64 raw public key, as the Telnyx portal shows it. */
  readonly publicKey: string;
  url = '';
  failNext = 0;
  /** Awaited after a message is accepted and before the answer goes back (a slow provider). */
  beforeReply: (() => Promise<void>) | undefined;

  constructor() {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    this.privateKey = privateKey;
    const der = publicKey.export({ format: 'der', type: 'spki' });
    this.publicKey = der.subarray(der.length - 32).toString('base64');
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req).then(([status, body]) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    }));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}/v2`;
  }

  /** Resolves once `count` messages in all have been accepted (the app's reply reached the provider). */
  sentCount(count: number, timeoutMs = 20_000): Promise<void> {
    if (this.sent.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.sent.length} messages sent, not ${count}, within ${timeoutMs} ms`)), timeoutMs);
      this.sentWaiters.push({ count, resolve: () => (clearTimeout(t), resolve()) });
    });
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private async handle(req: IncomingMessage): Promise<[number, unknown]> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    // GET /v2/balance: what `doctor` asks to learn whether the key is good.
    if (req.method === 'GET' && req.url === '/v2/balance') {
      if (req.headers.authorization !== `Bearer ${this.apiKey}`) return [401, { errors: [{ code: '10009', title: 'Authentication failed' }] }];
      return [200, { data: { record_type: 'balance', balance: '10.00', credit_limit: '0.00', available_credit: '10.00', currency: 'USD' } }];
    }
    if (req.method !== 'POST' || req.url !== '/v2/messages') return [404, { errors: [{ code: '10005', title: 'Resource not found' }] }];
    if (req.headers.authorization !== `Bearer ${this.apiKey}`) return [401, { errors: [{ code: '10009', title: 'Authentication failed' }] }];
    if (!String(req.headers['content-type']).startsWith('application/json')) return [415, { errors: [{ title: 'Unsupported media type' }] }];
    if (this.failNext > 0) {
      this.failNext--;
      return [503, { errors: [{ code: '10011', title: 'Service unavailable' }] }];
    }
    let body: { from?: string; to?: string; text?: string; webhook_url?: string };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return [400, { errors: [{ title: 'Invalid JSON' }] }];
    }
    for (const f of ['from', 'to'] as const) {
      if (!body[f] || !/^\+[1-9]\d{6,14}$/.test(body[f]!)) return [422, { errors: [{ code: '40310', title: 'Invalid phone number', source: { pointer: `/${f}` } }] }];
    }
    if (!body.text) return [422, { errors: [{ code: '40003', title: 'Missing text', source: { pointer: '/text' } }] }];
    const id = randomUUID();
    this.sent.push({ from: body.from!, to: body.to!, text: body.text, id, ...(body.webhook_url ? { webhook_url: body.webhook_url } : {}) });
    this.sentWaiters = this.sentWaiters.filter((w) => (this.sent.length >= w.count ? (w.resolve(), false) : true));
    await this.beforeReply?.();
    return [200, {
      data: {
        record_type: 'message', id, direction: 'outbound', type: 'SMS', text: body.text,
        from: { phone_number: body.from }, to: [{ phone_number: body.to, status: 'queued' }], parts: 1,
      },
    }];
  }

  /** A signed webhook as Telnyx sends it; `tamper` changes the body after signing. */
  webhook(eventType: string, payload: Record<string, unknown>, opts: { timestamp?: number; tamper?: boolean } = {}) {
    const body = JSON.stringify({
      data: { event_type: eventType, id: randomUUID(), occurred_at: new Date().toISOString(), payload, record_type: 'event' },
      meta: { attempt: 1, delivered_to: 'frontdesk' },
    });
    const ts = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
    const signature = sign(null, Buffer.from(`${ts}|${body}`), this.privateKey).toString('base64');
    return {
      body: opts.tamper ? body.replace('"text":"', '"text":"FORGED ') : body,
      headers: { 'content-type': 'application/json', 'telnyx-signature-ed25519': signature, 'telnyx-timestamp': ts },
    };
  }

  /** Exact bytes signed as Telnyx signs (for bodies no JSON.stringify would write). */
  signedRaw(body: Buffer) {
    const ts = String(Math.floor(Date.now() / 1000));
    const signature = sign(null, Buffer.concat([Buffer.from(`${ts}|`), body]), this.privateKey).toString('base64');
    return { body, headers: { 'content-type': 'application/json', 'telnyx-signature-ed25519': signature, 'telnyx-timestamp': ts } };
  }

  /** An inbound text from `from` to `to`. */
  inbound(from: string, to: string, text: string, id: string = randomUUID(), opts: { timestamp?: number; tamper?: boolean } = {}) {
    return this.webhook('message.received', {
      id, record_type: 'message', direction: 'inbound', type: 'SMS', text,
      from: { phone_number: from, carrier: 'T-Mobile USA', line_type: 'Wireless' },
      to: [{ phone_number: to, status: 'webhook_delivered' }],
    }, opts);
  }
}
