/** SMS in our terms. Providers translate their wire formats to and from these, nothing more. */

export type ProviderName = 'telnyx' | 'signalwire' | 'twilio';

export interface InboundSms {
  provider: ProviderName;
  providerMessageId: string;
  from: string;
  to: string;
  text: string;
}

export type DeliveryStatus = 'queued' | 'sending' | 'sent' | 'delivered' | 'failed';

export interface StatusEvent {
  provider: ProviderName;
  providerMessageId: string;
  status: DeliveryStatus;
  error?: string;
}

export type WebhookEvent =
  | { kind: 'message'; message: InboundSms }
  | { kind: 'status'; status: StatusEvent }
  | { kind: 'ignored'; reason: string };

export interface WebhookRequest {
  rawBody: Buffer;
  headers: Record<string, string | string[] | undefined>;
  /** The full URL the provider called (signatures cover it for Twilio-style providers). */
  url: string;
}

export interface OutboundSms {
  from: string;
  to: string;
  text: string;
  statusCallbackUrl?: string;
}

/** Forged, unsigned or stale: 403. */
export class WebhookAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookAuthError';
  }
}

/** Signed but not something we understand: 400. */
export class WebhookFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookFormatError';
  }
}

export interface SmsProvider {
  readonly name: ProviderName;
  verify(req: WebhookRequest): Promise<void>;
  parse(req: WebhookRequest): WebhookEvent;
  send(msg: OutboundSms): Promise<{ providerMessageId: string }>;
  /**
   * After a crash during send(): the id of a message already sent from → to with this text since
   * `since`, or undefined if none. Providers that cannot tell leave it out (the text is not resent).
   */
  findSent?(q: { from: string; to: string; text: string; since: Date }): Promise<string | undefined>;
  /** What the webhook answers with once the event is safely stored. */
  readonly ack: { contentType: string; body: string };
}

export function header(h: WebhookRequest['headers'], name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** GSM-7 texts fit 160 characters (153 per part); anything else is UCS-2 (70, 67 per part). */
export function segments(text: string): number {
  const gsm = /^[@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&'()*+,\-./0-9:;<=>?¡A-ZÄÖÑÜ§¿a-zäöñüà^{}\\[~\]|€]*$/.test(text);
  const single = gsm ? 160 : 70;
  const part = gsm ? 153 : 67;
  const len = [...text].length;
  return len <= single ? 1 : Math.ceil(len / part);
}

/** Keeps a reply within `maxSegments`, cutting at a sentence or word boundary. */
export function fitSegments(text: string, maxSegments = 3): string {
  if (segments(text) <= maxSegments) return text;
  let cut = text;
  while (segments(cut) > maxSegments) cut = cut.slice(0, Math.floor(cut.length * 0.9));
  const sentence = cut.lastIndexOf('. ');
  const word = cut.lastIndexOf(' ');
  return `${cut.slice(0, sentence > cut.length / 2 ? sentence + 1 : word > 0 ? word : cut.length).trimEnd()}…`;
}
