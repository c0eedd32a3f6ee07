import nodemailer from 'nodemailer';
import type { ChannelSender } from './outbox.js';

export interface EmailOptions {
  /** Talk to an smtp:// server that offers no STARTTLS (FRONTDESK_SMTP_ALLOW_PLAIN). */
  allowPlain?: boolean;
}

/**
 * E-mail channel for owner alerts and daily summaries, through any SMTP server. smtp:// must
 * upgrade with STARTTLS before anything (credentials included) is sent, unless allowPlain says
 * otherwise; smtps:// is TLS from the first byte.
 */
export function createEmailSender(smtpUrl: string, from: string, opts: EmailOptions = {}): ChannelSender & { close(): void } {
  const url = new URL(smtpUrl);
  // The URL may not switch TLS off behind the setting's back (nodemailer reads options from the query).
  for (const k of ['requireTLS', 'ignoreTLS', 'opportunisticTLS', 'secure']) url.searchParams.delete(k);
  const tls = url.protocol === 'smtps:';
  const transport = nodemailer.createTransport({ url: url.toString(), requireTLS: !tls && !opts.allowPlain });
  const send: ChannelSender = async (item) => {
    const p = item.payload as { subject?: string; text?: string };
    const info = await transport.sendMail({
      from,
      to: item.recipient,
      subject: p.subject ?? 'frontdesk',
      text: p.text ?? '',
      // Lets a receiving system drop a duplicate if a retry follows a lost acknowledgement.
      messageId: `<${item.id}@frontdesk>`,
    });
    return { status: 'sent', ref: info.messageId };
  };
  return Object.assign(send, { close: () => transport.close() });
}
