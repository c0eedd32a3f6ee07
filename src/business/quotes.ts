import type { BusinessContext, Service } from './context/schema.js';

/** Prices a request from the context's pricing. Money is integer cents throughout. */

export interface QuoteRequest {
  /** Service id, name or alias. */
  service: string;
  /** Units for per-unit pricing (e.g. bedrooms); defaults to what the base covers. */
  units?: number;
  /** Modifier ids or labels (e.g. "pets", "deep clean"). */
  modifiers?: string[];
  /** A new customer: first-visit modifiers apply. */
  firstVisit?: boolean;
}

export interface QuoteLine {
  label: string;
  cents: number;
}

export interface Quote {
  serviceId: string;
  serviceName: string;
  units: number;
  unit?: string;
  modifiers: string[];
  lines: QuoteLine[];
  subtotalCents: number;
  taxCents: number;
  totalCents: number;
  currency: string;
  durationMinutes: number;
  /** One sentence the agent can say. */
  spoken: string;
  /** Itemized, for a text message. */
  itemized: string;
}

export class QuoteError extends Error {
  constructor(message: string, public readonly options: string[] = []) {
    super(message);
    this.name = 'QuoteError';
  }
}

const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim();

export function resolveService(ctx: BusinessContext, text: string): Service | undefined {
  const t = norm(text);
  return (
    ctx.services.find((s) => s.id === text || norm(s.id) === t || norm(s.name) === t || s.aliases.some((a) => norm(a) === t)) ??
    // "a deep clean please" → deep: the longest name or alias contained in the text.
    ctx.services
      .flatMap((s) => [s.name, ...s.aliases, s.id].map((n) => ({ s, n: norm(n) })))
      .filter(({ n }) => n.length > 2 && (` ${t} `).includes(` ${n} `))
      .sort((a, b) => b.n.length - a.n.length)[0]?.s
  );
}

export function formatMoney(cents: number, currency: string): string {
  const whole = cents % 100 === 0;
  return new Intl.NumberFormat('en-US', {
    style: 'currency',
    currency,
    minimumFractionDigits: whole ? 0 : 2,
    maximumFractionDigits: 2,
  }).format(cents / 100);
}

export function describeDuration(minutes: number): string {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h === 0) return `${m} minutes`;
  const hs = h === 1 ? '1 hour' : `${h} hours`;
  if (m === 0) return hs;
  if (m === 30) return h === 1 ? 'an hour and a half' : `${h} and a half hours`;
  return `${hs} ${m} minutes`;
}

export function quote(ctx: BusinessContext, req: QuoteRequest): Quote {
  const svc = resolveService(ctx, req.service);
  if (!svc) throw new QuoteError(`unknown service "${req.service}"`, ctx.services.map((s) => s.name));
  const cur = ctx.pricing.currency;
  const per = svc.price.perUnit;
  const units = Math.max(per?.included ?? 1, Math.floor(req.units ?? per?.included ?? 1));
  if (!Number.isFinite(units) || units > 50) throw new QuoteError(`units must be a number from 1 to 50`);
  const lines: QuoteLine[] = [{ label: svc.name, cents: Math.round(svc.price.base * 100) }];
  let minutes = svc.durationMinutes;
  if (per) {
    const extra = units - per.included;
    if (extra > 0) {
      lines.push({ label: `${extra} extra ${per.unit}${extra === 1 ? '' : 's'}`, cents: Math.round(extra * per.amount * 100) });
      minutes += extra * per.minutes;
    }
  }
  const serviceCents = lines.reduce((a, l) => a + l.cents, 0);

  const wanted = (req.modifiers ?? []).map(norm).filter(Boolean);
  const applied = ctx.pricing.modifiers.filter(
    (m) => (m.firstVisitOnly ? req.firstVisit === true : wanted.some((w) => w === norm(m.id) || w === norm(m.label))),
  );
  const unknown = wanted.filter((w) => !ctx.pricing.modifiers.some((m) => w === norm(m.id) || w === norm(m.label)));
  if (unknown.length) {
    throw new QuoteError(`unknown option "${unknown[0]}"`, ctx.pricing.modifiers.filter((m) => !m.firstVisitOnly).map((m) => m.label));
  }
  const baseMinutes = minutes;
  for (const m of applied) {
    const cents = m.kind === 'fixed' ? Math.round(m.amount * 100) : Math.round((serviceCents * m.amount) / 100);
    lines.push({ label: m.label, cents });
    minutes += Math.round((baseMinutes * m.durationPercent) / 100);
  }
  let subtotal = lines.reduce((a, l) => a + l.cents, 0);
  const minimum = svc.price.minimum !== undefined ? Math.round(svc.price.minimum * 100) : 0;
  if (subtotal < minimum) {
    lines.push({ label: 'Minimum charge adjustment', cents: minimum - subtotal });
    subtotal = minimum;
  }
  subtotal = Math.max(0, subtotal);
  const tax = Math.round((subtotal * ctx.pricing.taxPercent) / 100);
  const total = subtotal + tax;
  // Round job time up to the slot grid, so quotes and availability agree.
  const grid = ctx.scheduling.slotMinutes;
  const durationMinutes = Math.ceil(minutes / grid) * grid;

  const unitText = per ? ` for ${units} ${per.unit}${units === 1 ? '' : 's'}` : '';
  const extras = applied.filter((m) => !m.firstVisitOnly).map((m) => m.label.toLowerCase());
  const withText = extras.length ? ` with ${extras.join(' and ')}` : '';
  const discount = applied.find((m) => m.firstVisitOnly);
  const spoken =
    `A ${svc.name.toLowerCase()}${unitText}${withText} comes to ${formatMoney(total, cur)}` +
    `${discount ? `, including your ${discount.label.toLowerCase()}` : ''}` +
    `${tax ? ' with tax' : ''}, and takes about ${describeDuration(durationMinutes)}.`;
  const itemized = [
    ...lines.map((l) => `${l.label}: ${formatMoney(l.cents, cur)}`),
    ...(tax ? [`Tax: ${formatMoney(tax, cur)}`] : []),
    `Total: ${formatMoney(total, cur)} (about ${describeDuration(durationMinutes)})`,
  ].join('\n');

  return {
    serviceId: svc.id,
    serviceName: svc.name,
    units,
    ...(per ? { unit: per.unit } : {}),
    modifiers: applied.map((m) => m.id),
    lines,
    subtotalCents: subtotal,
    taxCents: tax,
    totalCents: total,
    currency: cur,
    durationMinutes,
    spoken,
    itemized,
  };
}
