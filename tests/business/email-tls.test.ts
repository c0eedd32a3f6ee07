import { afterAll, beforeAll, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { createEmailSender } from '../../src/business/email.js';
import type { OutboxItem } from '../../src/store/schema.js';

/** A mail server on the path that offers no STARTTLS: the owner's SMTP password must not cross in clear. */

const logins: string[] = [];
const received: string[] = [];
const smtp = new SMTPServer({
  disabledCommands: ['STARTTLS'],
  allowInsecureAuth: true,
  onAuth(auth, _session, cb) {
    logins.push(`${auth.username}:${auth.password}`);
    cb(null, { user: auth.username });
  },
  onData(stream, _session, cb) {
    let data = '';
    stream.on('data', (c: Buffer) => (data += c.toString()));
    stream.on('end', () => {
      received.push(data);
      cb();
    });
  },
});
let port = 0;
beforeAll(async () => {
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
  port = (smtp.server.address() as { port: number }).port;
});
afterAll(async () => new Promise<void>((r) => smtp.close(() => r())));

const item = { id: '00000000-0000-4000-8000-000000000001', recipient: 'maria@example.com', payload: { subject: 's', text: 't' } } as unknown as OutboxItem;

it('refuses to log in to an smtp:// server without STARTTLS, even when the URL asks it to', async () => {
  for (const url of [`smtp://owner:hunter2hunter2@127.0.0.1:${port}`, `smtp://owner:hunter2hunter2@127.0.0.1:${port}?ignoreTLS=true&requireTLS=false`]) {
    const email = createEmailSender(url, 'frontdesk@example.com');
    await expect(email(item)).rejects.toThrow(/STARTTLS/i);
    email.close();
  }
  expect(logins).toEqual([]);
  expect(received).toEqual([]);
});

it('sends in clear only when FRONTDESK_SMTP_ALLOW_PLAIN says so', async () => {
  const email = createEmailSender(`smtp://owner:hunter2hunter2@127.0.0.1:${port}`, 'frontdesk@example.com', { allowPlain: true });
  await email(item);
  email.close();
  expect(logins).toEqual(['owner:hunter2hunter2']);
  expect(received).toHaveLength(1);
});
