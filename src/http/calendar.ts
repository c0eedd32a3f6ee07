import type { FastifyInstance } from 'fastify';
import type { Business } from '../business/index.js';

/** GET /calendar/<token>.ics — the context's bookings for any calendar app; the token is the secret. */
export async function calendarRoutes(app: FastifyInstance, business: Business): Promise<void> {
  app.get<{ Params: { file: string } }>(
    '/calendar/:file',
    { schema: { params: { type: 'object', properties: { file: { type: 'string', pattern: '^[0-9a-f]{32}\\.ics$' } }, required: ['file'] } } },
    async (req, reply) => {
      const ics = await business.scheduling.icsFeed(req.params.file.slice(0, -4));
      if (!ics) return reply.code(404).send({ error: 'not_found', message: 'no such calendar' });
      return reply.header('content-type', 'text/calendar; charset=utf-8').header('cache-control', 'private, max-age=60').send(ics);
    },
  );
}
