import { createServer, type IncomingMessage, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { twilioSignature } from '../../src/sms/twilio-compat.js';

/**
 * A local SignalWire (LaML / Twilio-compatible) API: POST …/Accounts/{project}/Messages.json with
 * basic auth and form fields, and inbound webhooks signed with HMAC-SHA1 by the signing key.
 */
export class FakeSignalWire {
  readonly projectId = `proj-${randomBytes(4).toString('hex')}`;
  readonly apiToken = `PT${randomBytes(12).toString('hex')}`;
  readonly signingKey = `PSK_${randomBytes(12).toString('hex')}`;
  readonly sent: { From: string; To: string; Body: string; sid: string; at: Date; StatusCallback?: string }[] = [];
  private server: Server | undefined;
  apiBase = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req).then(([status, body]) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    }));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.apiBase = `http://127.0.0.1:${(this.server.address() as { port: number }).port}/api/laml`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private async handle(req: IncomingMessage): Promise<[number, unknown]> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    // GET …/Accounts/{project}.json: the account itself, what `doctor` asks to check the credentials.
    if (req.method === 'GET' && req.url === `/api/laml/2010-04-01/Accounts/${this.projectId}.json`) {
      if (req.headers.authorization !== `Basic ${Buffer.from(`${this.projectId}:${this.apiToken}`).toString('base64')}`) return [401, { code: 20003, message: 'Authentication Error' }];
      return [200, { sid: this.projectId, friendly_name: 'frontdesk', status: 'active', type: 'Full' }];
    }
    const path = `/api/laml/2010-04-01/Accounts/${this.projectId}/Messages.json`;
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== path || (req.method !== 'POST' && req.method !== 'GET')) return [404, { code: 20404, message: 'Not found' }];
    const auth = `Basic ${Buffer.from(`${this.projectId}:${this.apiToken}`).toString('base64')}`;
    if (req.headers.authorization !== auth) return [401, { code: 20003, message: 'Authentication Error' }];
    if (req.method === 'GET') {
      // The list, filtered by To and From as the real API filters (newest first).
      const q = url.searchParams;
      const messages = this.sent.filter((m) => (!q.get('To') || m.To === q.get('To')) && (!q.get('From') || m.From === q.get('From')))
        .map((m) => ({ sid: m.sid, to: m.To, from: m.From, body: m.Body, direction: 'outbound-api', date_created: m.at.toUTCString() })).reverse();
      return [200, { messages, next_page_uri: null }];
    }
    if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) return [400, { code: 21000, message: 'form body expected' }];
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    for (const f of ['From', 'To', 'Body']) if (!form.get(f)) return [400, { code: 21602, message: `Missing required parameter ${f}` }];
    const sid = `SM${randomBytes(16).toString('hex')}`;
    this.sent.push({ From: form.get('From')!, To: form.get('To')!, Body: form.get('Body')!, sid, at: new Date(), ...(form.get('StatusCallback') ? { StatusCallback: form.get('StatusCallback')! } : {}) });
    return [201, { sid, status: 'queued', from: form.get('From'), to: form.get('To'), body: form.get('Body'), num_segments: '1' }];
  }

  /** A signed form webhook to `url`. */
  webhook(url: string, params: Record<string, string>, opts: { key?: string } = {}) {
    const form = new URLSearchParams(params);
    return {
      body: form.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-signalwire-signature': twilioSignature(opts.key ?? this.signingKey, url, form) },
    };
  }

  inbound(url: string, from: string, to: string, text: string, sid = `SM${randomBytes(16).toString('hex')}`, opts: { key?: string } = {}) {
    return this.webhook(url, { MessageSid: sid, SmsSid: sid, AccountSid: this.projectId, From: from, To: to, Body: text, NumMedia: '0' }, opts);
  }
}
