import nodemailer from 'nodemailer';
import type { ChannelSender } from './outbox.js';

/** E-mail channel for owner alerts and daily summaries, through any SMTP server. */
export function createEmailSender(smtpUrl: string, from: string): ChannelSender & { close(): void } {
  const transport = nodemailer.createTransport(smtpUrl);
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
