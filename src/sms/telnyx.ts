import Telnyx from 'telnyx';
import { header, WebhookAuthError, WebhookFormatError, type SmsProvider, type WebhookEvent, type WebhookRequest, type OutboundSms, type DeliveryStatus } from './types.js';

/**
 * Telnyx: JSON webhooks signed with Ed25519 over "timestamp|body" (checked by the official SDK,
 * which also refuses timestamps more than 5 minutes off), and sending through the SDK's
 * POST /v2/messages.
 */

export interface TelnyxOptions {
  apiKey: string;
  /** Base64 Ed25519 public key from the Telnyx portal. */
  publicKey: string;
  /** Override for tests and regional endpoints; default https://api.telnyx.com/v2. */
  baseUrl?: string | undefined;
}

const STATUS: Record<string, DeliveryStatus> = {
  queued: 'queued', sending: 'sending', sent: 'sent', delivered: 'delivered',
  sending_failed: 'failed', delivery_failed: 'failed', delivery_unconfirmed: 'sent',
};

interface TelnyxEvent {
  data?: {
    event_type?: string;
    payload?: {
      id?: string;
      text?: string;
      from?: { phone_number?: string };
      to?: { phone_number?: string; status?: string }[];
      errors?: { title?: string; detail?: string }[];
    };
  };
}

export class TelnyxProvider implements SmsProvider {
  readonly name = 'telnyx' as const;
  readonly ack = { contentType: 'application/json', body: '{"ok":true}' };
  private readonly client: Telnyx;

  constructor(private readonly o: TelnyxOptions) {
    this.client = new Telnyx({
      apiKey: o.apiKey,
      publicKey: o.publicKey,
      ...(o.baseUrl ? { baseURL: o.baseUrl } : {}),
      // The outbox retries with backoff; the SDK retrying underneath would double the wait.
      maxRetries: 0,
      timeout: 15_000,
    });
  }

  async verify(req: WebhookRequest): Promise<void> {
    const headers: Record<string, string> = {};
    for (const k of ['telnyx-signature-ed25519', 'telnyx-timestamp']) {
      const v = header(req.headers, k);
      if (v) headers[k] = v;
    }
    try {
      await this.client.webhooks.unwrap(req.rawBody.toString('utf8'), { headers });
    } catch (e) {
      throw new WebhookAuthError(`Telnyx signature: ${(e as Error).message}`);
    }
  }

  parse(req: WebhookRequest): WebhookEvent {
    let ev: TelnyxEvent;
    try {
      ev = JSON.parse(req.rawBody.toString('utf8')) as TelnyxEvent;
    } catch {
      throw new WebhookFormatError('body is not JSON');
    }
    const type = ev.data?.event_type;
    const p = ev.data?.payload;
    if (!type || !p) throw new WebhookFormatError('missing data.event_type or data.payload');
    if (type === 'message.received') {
      const from = p.from?.phone_number;
      const to = p.to?.[0]?.phone_number;
      if (!p.id || !from || !to || typeof p.text !== 'string') throw new WebhookFormatError('message.received without id, from, to or text');
      return { kind: 'message', message: { provider: 'telnyx', providerMessageId: p.id, from, to, text: p.text } };
    }
    if (type === 'message.sent' || type === 'message.finalized') {
      const raw = p.to?.[0]?.status ?? '';
      const status = STATUS[raw];
      if (!p.id || !status) throw new WebhookFormatError(`status event without id or with unknown status "${raw}"`);
      const error = p.errors?.map((x) => x.detail ?? x.title).filter(Boolean).join('; ');
      return { kind: 'status', status: { provider: 'telnyx', providerMessageId: p.id, status, ...(error ? { error } : {}) } };
    }
    return { kind: 'ignored', reason: `event ${type}` };
  }

  async send(m: OutboundSms): Promise<{ providerMessageId: string }> {
    const res = await this.client.messages.send({
      from: m.from,
      to: m.to,
      text: m.text,
      ...(m.statusCallbackUrl ? { webhook_url: m.statusCallbackUrl } : {}),
    });
    const id = (res as { data?: { id?: string } }).data?.id;
    if (!id) throw new Error('Telnyx accepted the message without an id');
    return { providerMessageId: id };
  }
}
