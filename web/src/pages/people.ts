import { api, ApiError } from '../api.js';
import { h } from '../dom.js';
import { showPhone } from '../phone.js';
import { busy, onLive } from '../live.js';

type Appt = { id: string; context: string; serviceName: string; start: string; end: string; address: string | null; crews: string[]; status: string };

/** The week ahead, one column a day; each visit can be moved or cancelled. */
export async function appointmentsPage(app: HTMLElement, weekOffset = 0): Promise<void> {
  const start = new Date();
  start.setHours(0, 0, 0, 0);
  start.setDate(start.getDate() + weekOffset * 7);
  const end = new Date(start.getTime() + 7 * 86_400_000);
  const [appts, contexts] = await Promise.all([
    api<Appt[]>('GET', `/scheduling/appointments?from=${start.toISOString()}&to=${end.toISOString()}`),
    api<{ name: string; timezone: string }[]>('GET', '/contexts'),
  ]);
  // Visits are shown on the business's clock, wherever the admin's browser is.
  const tz = (name: string) => contexts.find((c) => c.name === name)?.timezone ?? undefined;
  const dayKey = (d: Date, zone?: string) => d.toLocaleDateString('en-CA', { timeZone: zone });
  const days = Array.from({ length: 7 }, (_, i) => new Date(start.getTime() + i * 86_400_000));
  const status = h('p#appt-status.muted');
  const visit = (a: Appt) => {
    const moveTo = h('input', { type: 'datetime-local', 'aria-label': 'new time', 'data-move': a.id });
    return h('div.card', { 'data-appointment': a.id },
      h('b', {}, new Date(a.start).toLocaleTimeString([], { hour: 'numeric', minute: '2-digit', timeZone: tz(a.context) })), ` ${a.serviceName}`,
      h('div.muted', {}, a.address ?? '', ` · ${a.crews.join(', ')}`),
      moveTo,
      h('button.secondary', { 'data-move-button': a.id, onclick: async () => {
        try {
          // Entered on the business's clock; the server reads it in the business's time zone.
          await api('POST', `/scheduling/${a.id}/reschedule`, { start: moveTo.value });
          await appointmentsPage(app, weekOffset);
        } catch (e) {
          status.textContent = e instanceof ApiError ? e.message : String(e);
        }
      } }, 'Move'), ' ',
      h('button.secondary', { 'data-cancel': a.id, onclick: async () => {
        await api('POST', `/scheduling/${a.id}/cancel`);
        await appointmentsPage(app, weekOffset);
      } }, 'Cancel'));
  };
  onLive((e) => { if (e.type === 'booking' && !busy()) void appointmentsPage(app, weekOffset); });
  app.replaceChildren(
    h('h1', {}, 'Calendar'),
    h('p', {},
      h('button.secondary', { onclick: () => void appointmentsPage(app, weekOffset - 1) }, '← Previous week'), ' ',
      h('button.secondary', { onclick: () => void appointmentsPage(app, weekOffset + 1) }, 'Next week →')),
    status,
    h('div.week#week', {}, ...days.map((d) => h('div', {},
      h('h2', {}, d.toLocaleDateString([], { weekday: 'short', month: 'short', day: 'numeric' })),
      ...appts.filter((a) => dayKey(new Date(a.start), tz(a.context)) === dayKey(d)).map(visit)))),
  );
}

export async function customersPage(app: HTMLElement): Promise<void> {
  const search = h('input#customer-search', { placeholder: 'name, phone or address', type: 'search' });
  const table = h('table#customers');
  const load = async () => {
    const rows = await api<{ id: string; phone: string | null; name: string | null; address: string | null }[]>('GET', `/customers${search.value ? `?search=${encodeURIComponent(search.value)}` : ''}`);
    table.replaceChildren(...rows.map((r) => h('tr', {}, h('td', {}, r.name ?? ''), h('td', {}, showPhone(r.phone)), h('td', {}, r.address ?? ''))));
  };
  search.addEventListener('input', () => void load());
  app.replaceChildren(h('h1', {}, 'Customers'), h('label', { for: 'customer-search' }, 'Find a customer'), search, h('div.table-wrap', {}, table));
  await load();
}
