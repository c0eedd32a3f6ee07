import Telnyx from 'telnyx';
import { cleanText } from '../util/text.js';
import { createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { header, WebhookAuthError, WebhookFormatError, type SmsProvider, type WebhookEvent, type WebhookRequest, type OutboundSms, type DeliveryStatus } from './types.js';

/**
 * Telnyx: JSON webhooks signed with Ed25519 over "timestamp|body", refused when the timestamp is
 * more than 5 minutes off (as the SDK's webhooks.unwrap does, but with the key imported once and a
 * synchronous node:crypto verify: the SDK re-imports the key through WebCrypto on every webhook,
 * which was a third of our ingest cost); sending goes through the official SDK.
 */

export const TELNYX_TOLERANCE_S = 300;

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
  private readonly key: KeyObject;

  constructor(private readonly o: TelnyxOptions) {
    this.client = new Telnyx({
      apiKey: o.apiKey,
      publicKey: o.publicKey,
      ...(o.baseUrl ? { baseURL: o.baseUrl } : {}),
      // The outbox retries with backoff; the SDK retrying underneath would double the wait.
      maxRetries: 0,
      timeout: 15_000,
    });
    const raw = Buffer.from(o.publicKey, 'base64');
    if (raw.length !== 32) throw new Error('Telnyx public key must be 32 bytes (base64)');
    // SPKI DER prefix for an Ed25519 public key, then the 32 key bytes.
    this.key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]), format: 'der', type: 'spki' });
  }

  async verify(req: WebhookRequest): Promise<void> {
    const sig = header(req.headers, 'telnyx-signature-ed25519');
    const ts = header(req.headers, 'telnyx-timestamp');
    if (!sig || !ts) throw new WebhookAuthError('missing Telnyx-Signature-Ed25519 or Telnyx-Timestamp');
    if (!/^\d{1,12}$/.test(ts)) throw new WebhookAuthError('bad Telnyx-Timestamp');
    if (Math.abs(Date.now() / 1000 - Number(ts)) > TELNYX_TOLERANCE_S) throw new WebhookAuthError('stale or future Telnyx-Timestamp (replay?)');
    const signature = Buffer.from(sig, 'base64');
    if (signature.length !== 64) throw new WebhookAuthError('bad signature encoding');
    const signed = Buffer.concat([Buffer.from(`${ts}|`), req.rawBody]);
    if (!verifySignature(null, signed, this.key, signature)) throw new WebhookAuthError('signature does not match the body');
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
      return { kind: 'message', message: { provider: 'telnyx', providerMessageId: p.id, from, to, text: cleanText(p.text) } };
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
