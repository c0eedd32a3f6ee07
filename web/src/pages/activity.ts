import { api } from '../api.js';
import { h, when } from '../dom.js';
import { showPhone, toE164 } from '../phone.js';
import { busy, onLive } from '../live.js';

type CallRow = { id: string; direction: string; from_number: string; to_number: string; state: string; started_at: string; disposition: string | null; summary: string | null; context: string | null; live: boolean };
type Latency = { sttMs: number; thinkMs: number; ttsMs: number; sendMs: number; totalMs: number; fromSpeechEndMs?: number };

type CallEvent = { kind: string; role: string | null; text: string | null; data: unknown; at: string };

/** One line of the transcript: who said what, and each reply's latency breakdown; nothing else. */
function transcriptLine(e: CallEvent): HTMLElement | null {
  const time = h('span.muted', {}, `${new Date(e.at).toLocaleTimeString()} `);
  if (e.kind === 'latency' && e.data) {
    const l = e.data as Latency;
    return h('div.latency.muted', {}, time, `${Math.round(l.fromSpeechEndMs ?? l.totalMs)} ms to answer — recognition ${Math.round(l.sttMs)}, thinking ${Math.round(l.thinkMs)}, voice ${Math.round(l.ttsMs)}, network ${Math.round(l.sendMs)}`);
  }
  if (e.kind === 'turn') {
    const d = (e.data ?? {}) as { completed?: boolean; by?: string };
    return h('div', { class: e.role === 'caller' ? 'turn-caller' : 'turn-agent' }, time, h('b', {}, e.role === 'caller' ? 'Caller: ' : 'Receptionist: '), e.text ?? '',
      d.completed === false ? h('span.muted', {}, ' (interrupted)') : null);
  }
  return null;
}

/** What the system did during the call (routing, tools, transfers), in words, for the curious. */
function detailLine(e: CallEvent): HTMLElement | null {
  if (e.kind === 'turn' || e.kind === 'latency' || !e.text) return null;
  return h('li', {}, h('span.muted', {}, `${new Date(e.at).toLocaleTimeString()} `), e.text);
}

export async function dashboardPage(app: HTMLElement): Promise<void> {
  const [calls, vms, appts, latency] = await Promise.all([
    api<CallRow[]>('GET', '/calls?limit=200'),
    api<{ read_at: string | null }[]>('GET', '/voicemails'),
    api<{ start: string }[]>('GET', '/scheduling/appointments'),
    api<{ turns: number; p50Ms: number | null }>('GET', '/stats/turn-latency?hours=24'),
  ]);
  const today = new Date().toDateString();
  const todays = calls.filter((c) => new Date(c.started_at).toDateString() === today);
  // Each tile opens the list behind its number.
  const stat = (label: string, value: number | string, id: string, href: string) => h('a.card.stat', { id, href }, h('b', {}, String(value)), label);
  onLive((e) => { if (e.type !== 'call_event' && !busy()) void dashboardPage(app); });
  app.replaceChildren(
    h('h1', {}, 'Today'),
    await closedToday(app),
    h('div.grid', {},
      stat('live calls', calls.filter((c) => c.live).length, 'stat-live', '#/calls?outcome=live'),
      stat("today's calls", todays.length, 'stat-today', '#/calls'),
      stat('missed', todays.filter((c) => c.disposition === 'no_agent' || c.disposition?.startsWith('abandoned')).length, 'stat-missed', '#/calls?outcome=missed'),
      stat('unread voicemails', vms.filter((v) => !v.read_at).length, 'stat-voicemails', '#/inbox'),
      stat('visits today', appts.filter((a) => new Date(a.start).toDateString() === today).length, 'stat-visits', '#/appointments'),
      stat('upcoming visits', appts.length, 'stat-upcoming', '#/appointments'),
      stat(`median reply time (${latency.turns} turns, 24 h)`, latency.p50Ms === null ? '—' : `${Math.round(latency.p50Ms)} ms`, 'stat-latency', '#/calls')),
  );
}

export async function callsPage(app: HTMLElement, filter: { caller?: string; outcome?: string } = {}): Promise<void> {
  const qs = new URLSearchParams({ limit: '100', ...(filter.caller ? { caller: filter.caller } : {}), ...(filter.outcome ? { outcome: filter.outcome } : {}) });
  const calls = await api<CallRow[]>('GET', `/calls?${qs}`);
  const to = h('input#dial-to', { placeholder: '(512) 555-0123', inputmode: 'tel' });
  const status = h('span#dial-status', { role: 'status' });
  const caller = h('input#filter-caller', { placeholder: 'e.g. 512-555-0142', value: filter.caller ?? '', type: 'search', inputmode: 'tel' });
  const outcome = h('select#filter-outcome', {},
    ...['', 'booked', 'transferred', 'voicemail', 'missed', 'live'].map((o) => h('option', { value: o, ...(o === (filter.outcome ?? '') ? { selected: true } : {}) }, o || 'any outcome')));
  const apply = () => void callsPage(app, { caller: caller.value.trim(), outcome: outcome.value });
  caller.addEventListener('change', apply);
  outcome.addEventListener('change', apply);
  onLive((e) => { if (e.type === 'call' && !busy()) void callsPage(app, filter); });
  app.replaceChildren(
    h('h1', {}, 'Calls'),
    h('div.card.filters', {},
      h('div.field', {}, h('label', { for: 'filter-caller' }, 'Caller number'), caller),
      h('div.field', {}, h('label', { for: 'filter-outcome' }, 'Outcome'), outcome)),
    h('details.card', {}, h('summary', {}, 'Place a call'), h('label', { for: 'dial-to' }, 'Number to call'), to, h('p', {}, h('button#dial', { type: 'button', onclick: async () => {
      try {
        const r = await api<{ id: string }>('POST', '/calls/outbound', { to: toE164(to.value) ?? to.value });
        location.hash = `#/calls/${r.id}`;
      } catch (e) {
        status.textContent = (e as Error).message;
        status.className = 'error';
      }
    } }, 'Call'), ' ', status)),
    h('div.table-wrap', {}, h('table#calls', {},
      h('tr', {}, h('th', {}, 'When'), h('th', {}, 'From'), h('th', {}, 'To'), h('th', {}, 'Outcome'), h('th', {}, 'Summary')),
      ...calls.map((c) => h('tr', {},
        h('td', {}, h('a', { href: `#/calls/${c.id}` }, when(c.started_at))),
        h('td', { 'data-number': c.from_number }, showPhone(c.from_number)), h('td', {}, showPhone(c.to_number)),
        h('td', {}, c.live ? h('b', {}, 'live') : c.disposition ?? c.state),
        h('td.muted', {}, c.summary ?? ''))))),
  );
}

export async function callPage(app: HTMLElement, id: string): Promise<void> {
  const call = await api<CallRow & { recording_path: string | null; node_id: string | null; events: CallEvent[] }>('GET', `/calls/${id}`);
  const live = call.state !== 'ended';
  const transcript = h('div.card#transcript', { 'aria-live': live ? 'polite' : 'off' },
    h('h2', {}, live ? 'Transcript (live)' : 'Transcript'),
    call.summary ? h('p', {}, h('b', {}, 'Summary: '), call.summary) : null,
    ...call.events.map(transcriptLine));
  const details = call.events.map(detailLine).filter((x): x is HTMLElement => !!x);
  // The transcript grows as the call goes on; the end of the call redraws the page.
  onLive((e) => {
    if (e.type === 'call_event' && e.call === id) {
      const line = transcriptLine({ kind: e.kind, role: e.role, text: e.text, data: null, at: e.at });
      if (line) transcript.append(line);
    } else if (e.type === 'call' && e.id === id) void callPage(app, id);
  });
  app.replaceChildren(
    h('h1', {}, `Call from ${showPhone(call.from_number)}`),
    h('div.card', {},
      h('p', {}, `${call.direction} · ${when(call.started_at)} · `, live ? h('b.live#call-live', {}, 'in progress') : call.disposition ?? call.state,
        // With several nodes (docs/scaling.md), which one holds the call; its controls work from any.
        live && call.node_id ? ` on ${call.node_id}` : ''),
      call.recording_path?.endsWith('.wav') ? h('audio#call-recording', { controls: true, src: `/api/calls/${id}/recording`, preload: 'metadata', 'aria-label': 'Call recording' }) : null,
      live ? h('p.actions', {},
        h('button#hangup', { type: 'button', onclick: async () => { await api('POST', `/calls/${id}/hangup`); await callPage(app, id); } }, 'Hang up'),
        h('button.secondary#transfer', { type: 'button', onclick: async () => { await api('POST', `/calls/${id}/transfer`); await callPage(app, id); } }, 'Put them through to me')) : null),
    transcript,
    details.length ? h('details.card#call-details', {}, h('summary', {}, 'What the system did'), h('ul', {}, ...details)) : '',
  );
}

const CLOSED_TODAY = 'Closed today (set in the console)';

/** Open or closed right now, and the "closed today" override: a holiday for today, on the business's clock. */
async function closedToday(app: HTMLElement): Promise<HTMLElement> {
  const ctx = (await api<{ name: string; displayName: string; default: boolean; timezone: string }[]>('GET', '/contexts')).find((c) => c.default);
  if (!ctx) return h('span');
  const [{ document: doc }, now] = await Promise.all([
    api<{ document: Record<string, unknown> & { holidays: { date: string; name: string; hours: unknown[] }[] } }>('GET', `/contexts/${ctx.name}`),
    api<{ open: boolean; reason: string }>('GET', `/contexts/${ctx.name}/status`),
  ]);
  const today = new Date().toLocaleDateString('en-CA', { timeZone: ctx.timezone });
  const closed = doc.holidays.some((d) => d.date === today && d.name === CLOSED_TODAY);
  const status = h('span.error');
  const toggle = async () => {
    const holidays = closed ? doc.holidays.filter((d) => !(d.date === today && d.name === CLOSED_TODAY)) : [...doc.holidays, { date: today, name: CLOSED_TODAY, hours: [] }];
    try {
      await api('PUT', `/contexts/${ctx.name}`, { ...doc, holidays, message: closed ? 'reopened today' : 'closed today' });
      await dashboardPage(app);
    } catch (e) {
      status.textContent = (e as Error).message;
    }
  };
  return h('div.card.today-status', {},
    h('p#today-status', {}, h('b', {}, `${ctx.displayName}: ${now.open ? 'open now' : 'closed now'}`), ` — ${now.reason}`),
    h('button', { type: 'button', id: closed ? 'reopen-today' : 'close-today', class: closed ? '' : 'secondary', onclick: () => void toggle() },
      closed ? 'Reopen today' : 'Close for today'), ' ', status);
}
