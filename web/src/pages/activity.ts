import { api } from '../api.js';
import { h, when } from '../dom.js';

type CallRow = { id: string; direction: string; from_number: string; to_number: string; state: string; started_at: string; disposition: string | null; context: string | null; live: boolean };

export async function dashboardPage(app: HTMLElement): Promise<void> {
  const [calls, vms, appts] = await Promise.all([
    api<CallRow[]>('GET', '/calls?limit=200'),
    api<{ read_at: string | null }[]>('GET', '/voicemails'),
    api<{ start: string }[]>('GET', '/scheduling/appointments'),
  ]);
  const today = new Date().toDateString();
  const todays = calls.filter((c) => new Date(c.started_at).toDateString() === today);
  const stat = (label: string, value: number, id: string) => h('div.card.stat', { id }, h('b', {}, String(value)), label);
  app.replaceChildren(
    h('h1', {}, 'Today'),
    h('div.grid', {},
      stat('live calls', calls.filter((c) => c.live).length, 'stat-live'),
      stat("today's calls", todays.length, 'stat-today'),
      stat('missed', todays.filter((c) => c.disposition === 'no_agent' || c.disposition?.startsWith('abandoned')).length, 'stat-missed'),
      stat('unread voicemails', vms.filter((v) => !v.read_at).length, 'stat-voicemails'),
      stat('visits today', appts.filter((a) => new Date(a.start).toDateString() === today).length, 'stat-visits'),
      stat('upcoming visits', appts.length, 'stat-upcoming')),
  );
}

export async function callsPage(app: HTMLElement): Promise<void> {
  const calls = await api<CallRow[]>('GET', '/calls?limit=100');
  const to = h('input#dial-to', { placeholder: '+15125550123' });
  const status = h('span#dial-status');
  app.replaceChildren(
    h('h1', {}, 'Calls'),
    h('div.card', {}, h('label', {}, 'Place a call'), to, h('p', {}, h('button#dial', { onclick: async () => {
      try {
        const r = await api<{ id: string }>('POST', '/calls/outbound', { to: to.value });
        location.hash = `#/calls/${r.id}`;
      } catch (e) {
        status.textContent = (e as Error).message;
        status.className = 'error';
      }
    } }, 'Call'), ' ', status)),
    h('table#calls', {},
      h('tr', {}, h('th', {}, 'When'), h('th', {}, 'From'), h('th', {}, 'To'), h('th', {}, 'Outcome')),
      ...calls.map((c) => h('tr', {},
        h('td', {}, h('a', { href: `#/calls/${c.id}` }, when(c.started_at))),
        h('td', {}, c.from_number), h('td', {}, c.to_number),
        h('td', {}, c.live ? h('b', {}, 'live') : c.disposition ?? c.state)))),
  );
}

export async function callPage(app: HTMLElement, id: string): Promise<void> {
  const call = await api<CallRow & { recording_path: string | null; events: { kind: string; role: string | null; text: string | null; data: unknown; at: string }[] }>('GET', `/calls/${id}`);
  const live = call.state !== 'ended';
  app.replaceChildren(
    h('h1', {}, `Call from ${call.from_number}`),
    h('div.card', {},
      h('p', {}, `${call.direction} · ${when(call.started_at)} · ${call.disposition ?? call.state}`),
      live ? h('p', {},
        h('button#hangup', { onclick: async () => { await api('POST', `/calls/${id}/hangup`); await callPage(app, id); } }, 'Hang up'), ' ',
        h('button.secondary#transfer', { onclick: async () => { await api('POST', `/calls/${id}/transfer`); await callPage(app, id); } }, 'Transfer to owner')) : null),
    h('div.card#transcript', {},
      h('h2', {}, 'Transcript'),
      ...call.events.map((e) => h('div', { class: e.role === 'caller' ? 'turn-caller' : 'turn-agent' },
        h('span.muted', {}, `${new Date(e.at).toLocaleTimeString()} ${e.kind} `),
        e.text ?? '',
        e.kind === 'latency' && e.data ? h('span.muted', {}, ` ${JSON.stringify(e.data)}`) : null))),
  );
}

export async function voicemailsPage(app: HTMLElement): Promise<void> {
  const vms = await api<{ id: string; kind: string; caller_number: string | null; body: string; recording_path: string | null; duration_ms: number | null; read_at: string | null; created_at: string }[]>('GET', '/voicemails');
  app.replaceChildren(
    h('h1', {}, 'Voicemails and messages'),
    ...vms.map((v) => h('div.card', { 'data-message': v.id },
      h('p', {}, h('b', {}, v.caller_number ?? 'unknown'), ` · ${v.kind} · ${when(v.created_at)}${v.read_at ? '' : ' · new'}`),
      v.body ? h('p', {}, v.body) : null,
      v.recording_path ? h('audio', { controls: true, src: `/api/voicemails/${v.id}/audio`, preload: 'none' }) : null,
      h('button.secondary', { onclick: async () => { await api('POST', `/voicemails/${v.id}/read`, { read: !v.read_at }); await voicemailsPage(app); } }, v.read_at ? 'Mark unread' : 'Mark done'))),
  );
}
