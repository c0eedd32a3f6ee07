import { DateTime } from 'luxon';
import type { Db } from '../store/db.js';
import { ContextService, type StoredContext } from './context/service.js';
import { CustomerService } from './customers.js';
import { SchedulingService } from './scheduling/service.js';
import { MessageService } from './messages.js';
import { Alerts } from './alerts.js';
import { route, type RouteDecision } from './routing.js';
import { CallLog } from './calls.js';
import type { DialPolicy } from './dial-policy.js';
import { OwnerDesk } from './owner/desk.js';
import { OwnerPins } from './owner/pin.js';

/** Every business service over one store, sharing one clock (injected in tests). */
export interface Business {
  contexts: ContextService;
  customers: CustomerService;
  scheduling: SchedulingService;
  messages: MessageService;
  alerts: Alerts;
  calls: CallLog;
  /** The owner's line: commands by call or text, and the PIN that guards them. */
  owner: OwnerDesk;
  ownerPins: OwnerPins;
  now: () => Date;
  /** Routing for a dialled number (or texted business number) and caller, now or at `at`. */
  route(dialled: string, callerId: string | undefined, at?: Date): Promise<{ context: StoredContext; decision: RouteDecision } | undefined>;
}

export function createBusiness(db: Db, now: () => Date = () => new Date(), opts: { dialPolicy?: DialPolicy; nodeId?: string } = {}): Business {
  const contexts = new ContextService(db, opts.dialPolicy);
  const customers = new CustomerService(db);
  const alerts = new Alerts(now);
  const scheduling = new SchedulingService(db, contexts, customers, alerts, now);
  return {
    contexts,
    customers,
    alerts,
    calls: new CallLog(db, opts.nodeId ?? null),
    now,
    scheduling,
    owner: new OwnerDesk(db, contexts, scheduling, customers, now),
    ownerPins: new OwnerPins(db, now),
    messages: new MessageService(db, alerts),
    async route(dialled, callerId, at) {
      const context = await contexts.forNumber(dialled);
      if (!context) return undefined;
      return { context, decision: route(context.document, callerId, DateTime.fromJSDate(at ?? now())) };
    },
  };
}
