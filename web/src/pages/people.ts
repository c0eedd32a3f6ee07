import { api, ApiError } from '../api.js';
import { h, when } from '../dom.js';
import { showPhone } from '../phone.js';
import { onLive, type LiveEvent } from '../live.js';
import { tagChip } from './activity.js';

/** Customers: a searchable list, and each one's timeline with "Call" (your phone first) and "Text". */

type Customer = { id: string; phone: string | null; name: string | null; address: string | null; email: string | null; notes: string | null };
type Item =
  | { kind: 'call'; at: string; id: string; direction: string; tag: string | null; summary: string | null; disposition: string | null; live: boolean }
  | { kind: 'text'; at: string; id: string; thread: string; direction: string; body: string; status: string }
  | { kind: 'voicemail' | 'message'; at: string; id: string; body: string; hasRecording: boolean; read: boolean }
  | { kind: 'visit'; at: string; id: string; service: string; status: string; address: string | null; crew: string };

export async function customersPage(app: HTMLElement): Promise<void> {
  const search = h('input#customer-search', { placeholder: 'name, phone or address', type: 'search' });
  const table = h('table#customers');
  let asked = 0;
  const load = async () => {
    const mine = ++asked;
    const rows = await api<Customer[]>('GET', `/customers${search.value ? `?search=${encodeURIComponent(search.value)}` : ''}`);
    if (mine !== asked) return; // a later search's answer draws the table
    table.replaceChildren(
      h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Phone'), h('th', {}, 'Address')),
      ...rows.map((r) => h('tr', { 'data-customer': r.id },
        h('td', {}, h('a.row-link', { href: `#/customers/${r.id}` }, r.name || showPhone(r.phone) || 'No name')),
        h('td', {}, showPhone(r.phone)), h('td', {}, r.address ?? ''))));
  };
  search.addEventListener('input', () => void load().catch(() => {}));
  app.replaceChildren(h('h1', {}, 'Customers'), h('label', { for: 'customer-search' }, 'Find a customer'), search, h('div.table-wrap', {}, table));
  await load();
}

const KIND: Record<Item['kind'], string> = { call: 'call', text: 'text', voicemail: 'voicemail', message: 'message', visit: 'visit' };

function line(i: Item): HTMLElement {
  const head = (...rest: (Node | string | null)[]) => h('div.item-head', {}, h('span.tag', {}, KIND[i.kind]), ...rest, h('span.muted.time', {}, when(i.at)));
  switch (i.kind) {
    case 'call':
      return h('li.item', { 'data-call': i.id },
        head(i.direction === 'outbound' ? ' we called ' : ' they called ', i.live ? h('b.live', {}, 'in progress') : tagChip(i.tag)),
        h('p.preview', {}, h('a', { href: `#/calls/${i.id}` }, i.summary || i.disposition || 'Open the call')));
    case 'text':
      return h('li.item', { 'data-text': i.id },
        head(i.direction === 'inbound' ? ' they wrote' : ` you wrote · ${i.status}`),
        h('p.preview', {}, h('a', { href: `#/inbox/t/${i.thread}` }, i.body)));
    case 'visit':
      return h('li.item', { 'data-visit': i.id },
        head(` ${i.service} · ${i.status}`),
        h('p.preview', {}, [i.address, i.crew].filter(Boolean).join(' · ') || ' '));
    default:
      return h('li.item', { 'data-message': i.id },
        head(i.read ? null : h('span.badge', {}, 'new')),
        h('p.preview', {}, i.body || (i.hasRecording ? '(no transcript)' : '')),
        i.hasRecording ? h('audio', { controls: true, src: `/api/voicemails/${i.id}/audio`, preload: 'metadata', 'aria-label': 'Voicemail recording' }) : null);
  }
}

export async function customerPage(app: HTMLElement, id: string): Promise<void> {
  const { customer: c, items } = await api<{ customer: Customer; items: Item[] }>('GET', `/customers/${id}/timeline`);
  const name = c.name || showPhone(c.phone) || 'Customer';
  const list = h('ol.inbox.timeline#timeline', {}, ...items.map((i) => line(i)));
  const calling = c.phone ? callButton(c.phone, name) : undefined;
  let asked = 0;
  onLive((e) => {
    calling?.live(e);
    if (e.type === 'call' || e.type === 'text' || e.type === 'voicemail' || e.type === 'booking') {
      const mine = ++asked;
      void api<{ items: Item[] }>('GET', `/customers/${id}/timeline`).then((t) => {
        if (mine === asked && list.isConnected) list.replaceChildren(...t.items.map((i) => line(i)));
      }, () => {});
    }
  });
  app.replaceChildren(
    h('p', {}, h('a', { href: '#/customers' }, '← Customers')),
    h('h1', {}, name),
    h('div.card#customer', {},
      c.name && c.phone ? h('p', {}, showPhone(c.phone)) : null,
      c.address ? h('p', {}, c.address) : null,
      c.email ? h('p', {}, c.email) : null,
      c.notes ? h('p.muted', {}, c.notes) : null,
      c.phone && calling ? h('p.actions', {},
        calling.button, ' ', h('a.button.secondary#text-customer', { href: `#/inbox/new/${encodeURIComponent(c.phone)}` }, 'Text')) : null,
      calling?.status),
    h('h2', {}, 'Timeline'),
    items.length ? list : h('p.muted#timeline', {}, 'Nothing with this customer yet.'),
  );
}

/**
 * "Call": frontdesk rings the owner's phone first and, once they answer, the customer, and joins
 * the two. The status line follows the call as it happens (ringing you, calling them, connected).
 */
export function callButton(to: string, name: string): { button: HTMLButtonElement; status: HTMLElement; live: (e: LiveEvent) => void } {
  const status = h('p#call-status', { role: 'status', 'aria-live': 'polite' });
  let placing: string | undefined;
  const button = h('button#call-customer', { type: 'button', onclick: async () => {
    status.className = '';
    status.textContent = 'Ringing your phone first…';
    button.disabled = true;
    try {
      const r = await api<{ id: string; owner: string }>('POST', '/calls/connect', { to });
      placing = r.id;
      status.textContent = `Ringing your phone (${r.owner}); answer it and we call ${name}.`;
      status.append(' ', h('a', { href: `#/calls/${r.id}` }, 'Open the call'));
    } catch (e) {
      button.disabled = false;
      if (!(e instanceof ApiError)) throw e;
      status.className = 'error';
      status.textContent = e.message;
    }
  } }, `Call ${name}`);
  // The call's end and its last words may come in one batch, in either order: the id is kept.
  const live = (e: LiveEvent) => {
    if (!placing) return;
    if (e.type === 'call_event' && e.call === placing && e.kind === 'state' && e.text) status.firstChild!.textContent = e.text;
    if (e.type === 'call' && e.id === placing && e.state === 'ended') button.disabled = false;
  };
  return { button, status, live };
}
