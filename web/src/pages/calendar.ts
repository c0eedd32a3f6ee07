import { api, ApiError } from '../api.js';
import { h } from '../dom.js';
import { busy, onLive } from '../live.js';
import { showPhone } from '../phone.js';
import { ErrorDisplay } from '../forms.js';
import { CALENDAR_DEFAULTS } from '../settings.js';

/** The calendar: the week from a day, or one day; visits with who they are for; add, move, cancel (with undo). */


type Appt = { id: string; context: string; serviceName: string; start: string; end: string; address: string | null; crews: string[]; status: string; customerName: string | null; customerPhone: string | null };
type Ctx = { name: string; displayName: string; timezone: string; default: boolean };

/** Cancellations waiting out the undo window; kept across redraws so Undo stays in reach. */
const pending = new Map<string, { timer: ReturnType<typeof setTimeout>; label: string }>();
/** Whether "Add a visit" is open, so a live redraw does not fold it under the owner. */
let adding = false;
/** The visit whose "Cancel this visit?" is showing. */
let confirming: string | undefined;
/** New times typed into "Move" and not yet sent: a redraw landing between typing and the click keeps them. */
const moveDrafts = new Map<string, string>();

/**
 * `offset`: weeks from today (week view) or days from today (day view). `live`: a redraw for a
 * change seen on the live feed, which gives way if the owner started typing while it fetched.
 */
export async function appointmentsPage(app: HTMLElement, offset = 0, view: 'week' | 'day' = 'week', live = false): Promise<void> {
  const span = view === 'day' ? 1 : 7;
  const start = new Date();
  start.setHours(0, 0, 0, 0);
  start.setDate(start.getDate() + offset * span);
  const end = new Date(start.getTime() + span * 86_400_000);
  const [appts, contexts] = await Promise.all([
    api<Appt[]>('GET', `/scheduling/appointments?from=${start.toISOString()}&to=${end.toISOString()}`),
    api<Ctx[]>('GET', '/contexts'),
  ]);
  const redraw = () => appointmentsPage(app, offset, view);
  // Visits are shown on the business's clock, wherever the owner's browser is.
  const tz = (name: string) => contexts.find((c) => c.name === name)?.timezone ?? undefined;
  const dayKey = (d: Date, zone?: string) => d.toLocaleDateString('en-CA', { timeZone: zone });
  const time = (iso: string, ctx: string) => new Date(iso).toLocaleString([], { weekday: 'short', hour: 'numeric', minute: '2-digit', timeZone: tz(ctx) });
  const days = Array.from({ length: span }, (_, i) => new Date(start.getTime() + i * 86_400_000));
  const dayOffset = (d: Date) => Math.round((d.getTime() - new Date(new Date().setHours(0, 0, 0, 0)).getTime()) / 86_400_000);
  const status = h('p#appt-status', { role: 'status' });
  /** Buttons for the times the server offers instead; `iso` → local wall time for the server. */
  const alternatives = (e: ApiError, ctx: string, pick: (iso: string) => Promise<void>) => {
    const alts = (e.body.alternatives as string[] | undefined) ?? [];
    return h('div.alternatives', {}, h('p', {}, `${e.message}${alts.length ? ' These times are free:' : ''}`),
      h('div.actions', {}, ...alts.map((iso) => h('button.secondary', { type: 'button', 'data-alternative': iso, onclick: () => void pick(iso) }, time(iso, ctx)))));
  };

  const visit = (a: Appt) => {
    const moveTo = h('input', { type: 'datetime-local', 'aria-label': `New time for ${a.customerName ?? 'this visit'}`, 'data-move': a.id,
      value: moveDrafts.get(a.id), oninput: () => moveDrafts.set(a.id, moveTo.value) });
    const offer = h('div');
    const move = async (to: string) => {
      try {
        // Entered on the business's clock; the server reads it in the business's time zone.
        await api('POST', `/scheduling/${a.id}/reschedule`, { start: to });
        moveDrafts.delete(a.id);
        await redraw();
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        offer.replaceChildren(alternatives(e, a.context, move));
      }
    };
    const actions = h('div.actions');
    // The question stays asked through a live redraw.
    const showActions = () => actions.replaceChildren(...(confirming === a.id ? [
      h('span', {}, 'Cancel this visit?'),
      h('button', { type: 'button', 'data-confirm-cancel': a.id, onclick: () => {
        confirming = undefined;
        pending.set(a.id, { label: a.customerName ?? a.serviceName, timer: setTimeout(() => {
          pending.delete(a.id);
          void api('POST', `/scheduling/${a.id}/cancel`).then(redraw, (e: Error) => { status.textContent = e.message; });
        }, CALENDAR_DEFAULTS.undoSeconds * 1000) });
        void redraw();
      } }, 'Yes, cancel'),
      h('button.secondary', { type: 'button', onclick: () => { confirming = undefined; showActions(); } }, 'Keep it'),
    ] : [h('button.secondary', { type: 'button', 'data-cancel': a.id, onclick: () => { confirming = a.id; showActions(); } }, 'Cancel…')]));
    showActions();
    const waiting = pending.get(a.id);
    return h('div.card.visit', { 'data-appointment': a.id, ...(waiting ? { class: 'card visit cancelling' } : {}) },
      h('b', {}, new Date(a.start).toLocaleTimeString([], { hour: 'numeric', minute: '2-digit', timeZone: tz(a.context) })), ` ${a.serviceName}`,
      h('div', {}, h('b', {}, a.customerName ?? 'No name'), a.customerPhone ? h('span.muted', {}, ` ${showPhone(a.customerPhone)}`) : null),
      h('div.muted', {}, a.address ?? '', ` · ${a.crews.join(', ')}`),
      waiting
        ? h('p.notice#undo', {}, `Cancelling; the customer is told in ${CALENDAR_DEFAULTS.undoSeconds} seconds. `,
          h('button.secondary', { type: 'button', 'data-undo': a.id, onclick: () => { clearTimeout(waiting.timer); pending.delete(a.id); void redraw(); } }, 'Undo'))
        : h('div', {}, moveTo, h('button.secondary', { type: 'button', 'data-move-button': a.id, onclick: () => void move(moveTo.value) }, 'Move'), offer, actions));
  };

  const adder = await addVisit(contexts, redraw, alternatives);
  // Checked again once the data is in: a new time typed into "Move" while it was fetched would be wiped.
  if (live && (busy() || adding || confirming)) return;
  // Not while the owner is adding a visit or answering "Cancel this visit?": their next step redraws anyway.
  onLive((e) => { if (e.type === 'booking' && !busy() && !adding && !confirming) void appointmentsPage(app, offset, view, true); });
  app.replaceChildren(
    h('h1', {}, 'Calendar'),
    view === 'day'
      ? h('p.actions', {},
        h('button.secondary', { type: 'button', onclick: () => void appointmentsPage(app, offset - 1, 'day') }, '← Previous day'),
        h('button.secondary', { type: 'button', onclick: () => void appointmentsPage(app, offset + 1, 'day') }, 'Next day →'),
        h('button.secondary#week-view', { type: 'button', onclick: () => void appointmentsPage(app, Math.floor(offset / 7)) }, 'Whole week'))
      : h('p.actions', {},
        h('button.secondary', { type: 'button', onclick: () => void appointmentsPage(app, offset - 1) }, '← Previous week'),
        h('button.secondary', { type: 'button', onclick: () => void appointmentsPage(app, offset + 1) }, 'Next week →')),
    status,
    adder,
    h(view === 'day' ? 'div.day#day' : 'div.week#week', {}, ...days.map((d) => h('div', {},
      // A day's heading opens that day on its own.
      h('h2', {}, view === 'day'
        ? d.toLocaleDateString([], { weekday: 'long', month: 'long', day: 'numeric' })
        : h('button.link', { type: 'button', 'data-day': dayKey(d), title: 'Show this day alone', onclick: () => void appointmentsPage(app, dayOffset(d), 'day') },
          d.toLocaleDateString([], { weekday: 'short', month: 'short', day: 'numeric' }))),
      ...appts.filter((a) => dayKey(new Date(a.start), tz(a.context)) === dayKey(d)).map(visit)))),
  );
}

async function addVisit(contexts: Ctx[], redraw: () => Promise<void>, alternatives: (e: ApiError, ctx: string, pick: (iso: string) => Promise<void>) => HTMLElement): Promise<HTMLElement> {
  const ctx = contexts.find((c) => c.default) ?? contexts[0];
  if (!ctx) return h('p.muted', {}, 'Add a business in Settings first.');
  const doc = (await api<{ document: { services: { id: string; name: string }[] } }>('GET', `/contexts/${ctx.name}`)).document;
  const service = h('select#visit-service', {}, ...doc.services.map((s) => h('option', { value: s.id }, s.name)));
  const when = h('input#visit-start', { type: 'datetime-local' });
  const name = h('input#visit-name', { autocomplete: 'off' });
  const phone = h('input#visit-phone', { inputmode: 'tel', placeholder: '(512) 555-0123' });
  const address = h('input#visit-address');
  const offer = h('div');
  const errors = new ErrorDisplay();
  const fields: Record<string, [HTMLElement, string]> = { start: [when, 'When'], phone: [phone, 'Phone'], service: [service, 'Service'] };
  const book = async (start: string) => {
    errors.clear();
    if (!start) return errors.show([{ path: 'start', message: 'Pick a day and time.' }], (p) => ({ el: fields[p]![0], label: fields[p]![1] }));
    // Customers are known by their phone: a name without one would be lost.
    if ((name.value || address.value) && !phone.value) return errors.show([{ path: 'phone', message: 'Add the customer\'s phone so the visit is theirs (and they get the confirmation).' }], (p) => ({ el: fields[p]![0], label: fields[p]![1] }));
    try {
      adding = false;
      await api('POST', '/scheduling/book', { context: ctx.name, service: service.value, start, ...(phone.value ? { phone: phone.value } : {}), ...(name.value ? { name: name.value } : {}), ...(address.value ? { address: address.value } : {}) });
      await redraw();
    } catch (e) {
      adding = true;
      if (!(e instanceof ApiError)) throw e;
      if (e.body.alternatives) offer.replaceChildren(alternatives(e, ctx.name, (iso) => book(iso)));
      else errors.show(e.fields.length ? e.fields : [{ path: 'start', message: e.message }], (p) => (fields[p] ? { el: fields[p][0], label: fields[p][1] } : undefined));
    }
  };
  const box = h('details.card#add-visit', { ...(adding ? { open: true } : {}), ontoggle: () => { adding = (box as HTMLDetailsElement).open; } }, h('summary', {}, 'Add a visit'),
    h('form', { onsubmit: (ev: Event) => { ev.preventDefault(); void book(when.value); } },
      h('label', { for: 'visit-service' }, 'Service'), service, h('label', { for: 'visit-start' }, `When (${ctx.timezone} time)`), when,
      h('label', { for: 'visit-name' }, 'Customer name'), name, h('label', { for: 'visit-phone' }, 'Customer phone'), phone,
      h('label', { for: 'visit-address' }, 'Address'), address,
      h('p', {}, h('button#visit-book', { type: 'submit' }, 'Book')), offer, errors.summary));
  return box;
}
