import type { FastifyInstance } from 'fastify';
import { badText, badUrl, isUtf8 } from './guard.js';
import type { SmsService } from '../sms/service.js';
import { header, WebhookAuthError, WebhookFormatError, type WebhookRequest } from '../sms/types.js';

/**
 * POST /webhooks/sms/{telnyx,signalwire,twilio}: verify the signature over the raw bytes, parse,
 * persist, then acknowledge. Forged → 403, malformed → 400; both are logged and store nothing.
 */
export async function smsWebhookRoutes(app: FastifyInstance, sms: SmsService, publicUrl: string): Promise<void> {
  await app.register(async (scope) => {
    // Signatures cover the exact bytes, so these routes keep the body raw (replacing the root's
    // UTF-8-checking JSON parser: the provider's parse checks the text after the signature).
    scope.removeContentTypeParser(['application/json', 'application/x-www-form-urlencoded']);
    scope.addContentTypeParser(['application/json', 'application/x-www-form-urlencoded'], { parseAs: 'buffer', bodyLimit: 256 * 1024 }, (_req, body, done) => done(null, body));
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 256 * 1024 }, (_req, body, done) => done(null, body));

    scope.post<{ Params: { provider: string } }>('/webhooks/sms/:provider', async (req, reply) => {
      const provider = sms.provider(req.params.provider);
      if (!provider) return reply.code(404).send({ error: 'not_found', message: `no SMS provider "${req.params.provider}" is configured` });
      const wr: WebhookRequest = {
        rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
        headers: req.headers,
        url: `${publicUrl.replace(/\/$/, '')}${req.url}`,
      };
      try {
        await provider.verify(wr);
      } catch (e) {
        if (!(e instanceof WebhookAuthError)) throw e;
        req.log.warn({ provider: provider.name, reason: e.message, ip: req.ip }, 'SMS webhook rejected: bad signature');
        return reply.code(403).send({ error: 'forbidden', message: 'signature check failed' });
      }
      // Signed is not the same as storable: NUL or broken UTF-8 (raw, or %-escaped in a form body).
      const raw = wr.rawBody;
      if (!isUtf8(raw) || (header(req.headers, 'content-type') ?? '').includes('urlencoded') && badUrl(raw.toString('latin1'))) {
        req.log.warn({ provider: provider.name }, 'SMS webhook rejected: not valid UTF-8');
        return reply.code(400).send({ error: 'bad_request', message: 'the body is not valid UTF-8 or contains a NUL byte' });
      }
      let event;
      try {
        event = provider.parse(wr);
      } catch (e) {
        if (!(e instanceof WebhookFormatError)) throw e;
        req.log.warn({ provider: provider.name, reason: e.message }, 'SMS webhook rejected: malformed');
        return reply.code(400).send({ error: 'bad_request', message: e.message });
      }
      if (badText(event, 'event')) {
        req.log.warn({ provider: provider.name }, 'SMS webhook rejected: NUL or lone surrogate in a field');
        return reply.code(400).send({ error: 'bad_request', message: 'a field contains a NUL byte or text that is not valid UTF-8' });
      }
      const result = await sms.ingest(event);
      req.log.info({ provider: provider.name, result }, 'SMS webhook');
      return reply.code(200).header('content-type', provider.ack.contentType).send(provider.ack.body);
    });
  });
}
