import { api } from '../api.js';
import { h, when } from '../dom.js';
import { showPhone, toE164 } from '../phone.js';
import { busy, onLive } from '../live.js';

type CallRow = { id: string; direction: string; from_number: string; to_number: string; state: string; started_at: string; disposition: string | null; summary: string | null; tag: string | null; customer_id: string | null; context: string | null; live: boolean };
/** The outcome tags written when a call ends (src/agent/call-summary.ts), as an owner reads them. */
export const TAGS: Record<string, string> = {
  booked: 'booked', quote: 'price asked', message: 'message left', transferred: 'put through', missed: 'missed',
  spam: 'spam', question: 'question', outbound: 'we called',
};
export const tagChip = (tag: string | null | undefined) => (tag ? h('span', { class: `tag tag-${tag}`, 'data-tag': tag }, TAGS[tag] ?? tag) : null);

type Latency = { sttMs: number; thinkMs: number; ttsMs: number; sendMs: number; totalMs: number; fromSpeechEndMs?: number; vadHangoverMs?: number };

type CallEvent = { kind: string; role: string | null; text: string | null; data: unknown; at: string };

/** One line of the transcript: who said what, and each reply's latency breakdown; nothing else. */
function transcriptLine(e: CallEvent): HTMLElement | null {
  const time = h('span.muted', {}, `${new Date(e.at).toLocaleTimeString()} `);
  if (e.kind === 'latency' && e.data) {
    const l = e.data as Latency;
    // Older records have no hang-over: the turn's end as the VAD decided it.
    const silence = l.vadHangoverMs !== undefined ? `hearing the end ${Math.round(l.vadHangoverMs)}, ` : '';
    return h('div.latency.muted', {}, time, `${Math.round(l.fromSpeechEndMs ?? l.totalMs)} ms to answer — ${silence}recognition ${Math.round(l.sttMs)}, thinking ${Math.round(l.thinkMs)}, voice ${Math.round(l.ttsMs)}, network ${Math.round(l.sendMs)}`);
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
    h('p', {}, h('a.button.secondary#talk', { href: '#/test-call' }, 'Talk to your receptionist')),
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
    ...['', ...Object.keys(TAGS), 'voicemail', 'live'].map((o) => h('option', { value: o, ...(o === (filter.outcome ?? '') ? { selected: true } : {}) }, o ? TAGS[o] ?? o : 'any outcome')));
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
        h('td', { 'data-number': c.from_number }, c.customer_id && c.direction === 'inbound' ? h('a', { href: `#/customers/${c.customer_id}` }, showPhone(c.from_number)) : showPhone(c.from_number)),
        h('td', {}, c.customer_id && c.direction === 'outbound' ? h('a', { href: `#/customers/${c.customer_id}` }, showPhone(c.to_number)) : showPhone(c.to_number)),
        h('td', {}, c.live ? h('b', {}, 'live') : tagChip(c.tag) ?? c.disposition ?? c.state),
        h('td.muted', {}, c.summary ?? ''))))),
  );
}

export async function callPage(app: HTMLElement, id: string): Promise<void> {
  const call = await api<CallRow & { recording_path: string | null; quality: Quality | null; node_id: string | null; events: CallEvent[] }>('GET', `/calls/${id}`);
  const live = call.state !== 'ended';
  const transcript = h('div.card#transcript', { 'aria-live': live ? 'polite' : 'off' },
    h('h2', {}, live ? 'Transcript (live)' : 'Transcript'),
    call.summary ? h('p#call-summary', {}, tagChip(call.tag), ' ', call.summary) : null,
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
    h('h1', {}, call.direction === 'outbound' ? `Call to ${showPhone(call.to_number)}` : `Call from ${showPhone(call.from_number)}`),
    call.customer_id ? h('p', {}, h('a#call-timeline', { href: `#/customers/${call.customer_id}` }, 'Everything with this customer →')) : '',
    h('div.card', {},
      h('p', {}, `${call.direction} · ${when(call.started_at)} · `, live ? h('b.live#call-live', {}, 'in progress') : call.disposition ?? call.state,
        // With several nodes (docs/scaling.md), which one holds the call; its controls work from any.
        live && call.node_id ? ` on ${call.node_id}` : ''),
      call.recording_path?.endsWith('.wav') ? h('audio#call-recording', { controls: true, src: `/api/calls/${id}/recording`, preload: 'metadata', 'aria-label': 'Call recording' }) : null,
      live ? h('p.actions', {},
        h('button#hangup', { type: 'button', onclick: async () => { await api('POST', `/calls/${id}/hangup`); await callPage(app, id); } }, 'Hang up'),
        h('button.secondary#transfer', { type: 'button', onclick: async () => { await api('POST', `/calls/${id}/transfer`); await callPage(app, id); } }, 'Put them through to me')) : null),
    transcript,
    call.quality ? qualityCard(call.quality) : '',
    details.length ? h('details.card#call-details', {}, h('summary', {}, 'What the system did'), h('ul', {}, ...details)) : '',
  );
}

type Quality = {
  packetsIn: number; packetsOut: number; lost: number; late: number; duplicates: number; discarded: number;
  jitterMs: number; maxJitterMs: number; rtcpIn: number; rtcpOut: number;
  remote?: { lost: number; fractionLost: number; jitterMs: number }; rttMs?: number; maxRttMs?: number;
};

/** The call's media quality: what we received, and what the far end reported about what we sent (RTCP). */
function qualityCard(q: Quality): HTMLElement {
  const pct = (lost: number, of: number) => (of + lost > 0 ? `${((lost / (of + lost)) * 100).toFixed(1)} %` : '0 %');
  const row = (label: string, value: string) => h('tr', {}, h('th', { scope: 'row' }, label), h('td', {}, value));
  return h('details.card#call-quality', {}, h('summary', {}, 'Call quality'),
    h('table', {},
      row('Packets received', `${q.packetsIn} (lost ${q.lost}, ${pct(q.lost, q.packetsIn)})`),
      row('Late or discarded', `${q.late + q.duplicates + q.discarded}`),
      row('Jitter (their audio)', `${q.jitterMs} ms (worst ${q.maxJitterMs} ms)`),
      row('Packets sent', String(q.packetsOut)),
      row('Their report of our audio', q.remote ? `lost ${q.remote.lost} (${(q.remote.fractionLost * 100).toFixed(1)} % lately), jitter ${q.remote.jitterMs} ms` : 'no RTCP report received'),
      row('Round trip', q.rttMs !== undefined ? `${q.rttMs} ms (worst ${q.maxRttMs ?? q.rttMs} ms)` : 'not measured'),
      row('RTCP reports', `${q.rtcpOut} sent, ${q.rtcpIn} received`)));
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
