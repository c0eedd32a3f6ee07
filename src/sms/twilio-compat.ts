import { createHmac, timingSafeEqual } from 'node:crypto';
import { cleanText } from '../util/text.js';
import { header, WebhookAuthError, WebhookFormatError, type SmsProvider, type WebhookEvent, type WebhookRequest, type OutboundSms, type DeliveryStatus, type ProviderName } from './types.js';

/**
 * SignalWire and Twilio share the "LaML"/TwiML compatibility API: form-encoded webhooks signed with
 * HMAC-SHA1 over the URL plus the sorted parameters (X-SignalWire-Signature / X-Twilio-Signature),
 * and sending with POST …/2010-04-01/Accounts/{id}/Messages.json under basic auth. No official
 * SignalWire SDK is needed for that one request, so it is plain fetch.
 */

/** Twilio's own API; FRONTDESK_TWILIO_API_URL overrides it (a regional edge). */
export const twilioApiBase = 'https://api.twilio.com';

export interface TwilioCompatOptions {
  name: Extract<ProviderName, 'signalwire' | 'twilio'>;
  /** https://example.signalwire.com/api/laml or https://api.twilio.com */
  apiBase: string;
  accountId: string;
  apiToken: string;
  /** The key webhooks are signed with (SignalWire: the signing key; Twilio: the auth token). */
  signingKey: string;
}

const STATUS: Record<string, DeliveryStatus> = {
  accepted: 'queued', queued: 'queued', sending: 'sending', sent: 'sent', delivered: 'delivered',
  undelivered: 'failed', failed: 'failed', receiving: 'queued', received: 'delivered',
};

export function twilioSignature(key: string, url: string, params: URLSearchParams): string {
  const sorted = [...params.keys()].filter((k, i, a) => a.indexOf(k) === i).sort();
  let data = url;
  for (const k of sorted) for (const v of params.getAll(k)) data += k + v;
  return createHmac('sha1', key).update(Buffer.from(data, 'utf8')).digest('base64');
}

export class TwilioCompatProvider implements SmsProvider {
  readonly name: TwilioCompatOptions['name'];
  readonly ack = { contentType: 'text/xml', body: '<?xml version="1.0" encoding="UTF-8"?><Response></Response>' };

  constructor(private readonly o: TwilioCompatOptions) {
    this.name = o.name;
  }

  async verify(req: WebhookRequest): Promise<void> {
    const sig = header(req.headers, this.name === 'signalwire' ? 'x-signalwire-signature' : 'x-twilio-signature')
      ?? header(req.headers, 'x-twilio-signature');
    if (!sig) throw new WebhookAuthError('missing signature header');
    const params = new URLSearchParams(req.rawBody.toString('utf8'));
    const want = Buffer.from(twilioSignature(this.o.signingKey, req.url, params));
    const got = Buffer.from(sig);
    if (want.length !== got.length || !timingSafeEqual(want, got)) throw new WebhookAuthError('signature does not match');
  }

  parse(req: WebhookRequest): WebhookEvent {
    const ct = header(req.headers, 'content-type') ?? '';
    if (!ct.startsWith('application/x-www-form-urlencoded')) throw new WebhookFormatError('expected a form-encoded body');
    const p = new URLSearchParams(req.rawBody.toString('utf8'));
    const sid = p.get('MessageSid') ?? p.get('SmsSid');
    if (!sid) throw new WebhookFormatError('missing MessageSid');
    const status = p.get('MessageStatus') ?? p.get('SmsStatus');
    const body = p.get('Body');
    if (body !== null && (status === null || status === 'received')) {
      const from = p.get('From');
      const to = p.get('To');
      if (!from || !to) throw new WebhookFormatError('missing From or To');
      return { kind: 'message', message: { provider: this.name, providerMessageId: sid, from, to, text: cleanText(body) } };
    }
    if (status) {
      const s = STATUS[status];
      if (!s) throw new WebhookFormatError(`unknown MessageStatus "${status}"`);
      const code = p.get('ErrorCode');
      return { kind: 'status', status: { provider: this.name, providerMessageId: sid, status: s, ...(code ? { error: `error ${code}` } : {}) } };
    }
    return { kind: 'ignored', reason: 'neither a message nor a status' };
  }

  /** The message list filtered by To and From (and the day sent), matched on the text and the time. */
  async findSent(q: { from: string; to: string; text: string; since: Date }): Promise<string | undefined> {
    const params = new URLSearchParams({ To: q.to, From: q.from, 'DateSent>': q.since.toISOString().slice(0, 10), PageSize: '50' });
    const res = await fetch(`${this.messagesUrl()}?${params}`, { headers: this.headers(), signal: AbortSignal.timeout(15_000) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${this.name} answered ${res.status} listing messages: ${text.slice(0, 200)}`);
    const list = (JSON.parse(text) as { messages?: { sid?: string; body?: string; date_created?: string }[] }).messages ?? [];
    // Dates are to the second; allow the request's own second.
    const after = Math.floor(q.since.getTime() / 1000) * 1000;
    return list.find((m) => m.body === q.text && m.sid && Date.parse(m.date_created ?? '') >= after)?.sid;
  }

  private messagesUrl(): string {
    return `${this.o.apiBase.replace(/\/$/, '')}/2010-04-01/Accounts/${encodeURIComponent(this.o.accountId)}/Messages.json`;
  }

  private headers(): Record<string, string> {
    return { authorization: `Basic ${Buffer.from(`${this.o.accountId}:${this.o.apiToken}`).toString('base64')}`, accept: 'application/json' };
  }

  async send(m: OutboundSms): Promise<{ providerMessageId: string }> {
    const form = new URLSearchParams({ From: m.from, To: m.to, Body: m.text });
    if (m.statusCallbackUrl) form.set('StatusCallback', m.statusCallbackUrl);
    const res = await fetch(`${this.o.apiBase.replace(/\/$/, '')}/2010-04-01/Accounts/${encodeURIComponent(this.o.accountId)}/Messages.json`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${this.o.accountId}:${this.o.apiToken}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: form,
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${this.name} answered ${res.status}: ${text.slice(0, 200)}`);
    const sid = (JSON.parse(text) as { sid?: string }).sid;
    if (!sid) throw new Error(`${this.name} accepted the message without a sid`);
    return { providerMessageId: sid };
  }
}
