import { Registry, collectDefaultMetrics, Counter, Gauge, Histogram } from 'prom-client';

/** One registry per app instance (tests start several); handed to whatever records metrics. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'frontdesk_' });
  return {
    registry,
    httpRequests: new Counter({
      name: 'frontdesk_http_requests_total',
      help: 'HTTP requests by route and status code',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    activeCalls: new Gauge({
      name: 'frontdesk_active_calls',
      help: 'Calls in progress',
      labelNames: ['backend'] as const,
      registers: [registry],
    }),
    telephonyUp: new Gauge({
      name: 'frontdesk_telephony_up',
      help: 'Whether the telephony backend\'s PBX connection is up (1) or down (0); only for backends with one (asterisk, freeswitch)',
      labelNames: ['backend'] as const,
      registers: [registry],
    }),
    turnLatency: new Histogram({
      name: 'frontdesk_turn_latency_seconds',
      help: "End of the caller's speech (their last voiced frame) to the first frame of the agent's voice sent",
      buckets: [0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
