import { api, ApiError } from '../api.js';
import { h, when } from '../dom.js';

export async function messagesPage(app: HTMLElement): Promise<void> {
  const threads = await api<{ id: string; customer_number: string; business_number: string; opted_out_at: string | null; last_message_at: string }[]>('GET', '/sms/threads');
  const to = h('input#sms-to', { placeholder: '+15125550123' });
  const text = h('textarea#sms-text');
  const status = h('span#sms-status');
  app.replaceChildren(
    h('h1', {}, 'Messages'),
    h('div.card', {}, h('h2', {}, 'Send a text'), h('label', {}, 'To'), to, h('label', {}, 'Message'), text,
      h('p', {}, h('button#sms-send', {
        onclick: async () => {
          try {
            await api('POST', '/sms', { to: to.value, text: text.value });
            status.textContent = 'Queued';
            status.className = 'ok';
          } catch (e) {
            status.textContent = e instanceof ApiError ? e.message : String(e);
            status.className = 'error';
          }
        },
      }, 'Send'), ' ', status)),
    h('table#threads', {}, ...threads.map((t) => h('tr', {},
      h('td', {}, t.customer_number), h('td', {}, t.opted_out_at ? 'opted out (STOP)' : ''), h('td', {}, when(t.last_message_at))))),
  );
}

export async function appointmentsPage(app: HTMLElement): Promise<void> {
  const contexts = await api<{ name: string }[]>('GET', '/contexts');
  const c = contexts[0]?.name;
  app.replaceChildren(h('h1', {}, 'Appointments'), c ? h('p.muted', {}, `Book, move and cancel visits for ${c} from calls, texts or the API; the owner's calendar feed lists them.`) : h('p', {}, 'No context yet.'));
}

export async function customersPage(app: HTMLElement): Promise<void> {
  const search = h('input#customer-search', { placeholder: 'name, phone or address' });
  const table = h('table#customers');
  const load = async () => {
    const rows = await api<{ id: string; phone: string | null; name: string | null; address: string | null }[]>('GET', `/customers${search.value ? `?search=${encodeURIComponent(search.value)}` : ''}`);
    table.replaceChildren(...rows.map((r) => h('tr', {}, h('td', {}, r.name ?? ''), h('td', {}, r.phone ?? ''), h('td', {}, r.address ?? ''))));
  };
  search.addEventListener('input', () => void load());
  app.replaceChildren(h('h1', {}, 'Customers'), search, table);
  await load();
}
