import { api } from '../api.js';
import { h } from '../dom.js';
import { showPhone } from '../phone.js';

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
