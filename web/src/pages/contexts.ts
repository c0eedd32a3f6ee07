import { api, ApiError } from '../api.js';
import { h, when } from '../dom.js';
import { listEditor } from '../list-editor.js';

type Interval = { open: string; close: string };
type Doc = Record<string, unknown> & {
  name: string; displayName: string; greeting: string; timezone: string;
  hours: Record<string, Interval[]>; afterHours: { action: string; greeting?: string };
};
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

export async function contextsPage(app: HTMLElement): Promise<void> {
  const list = await api<{ name: string; displayName: string; version: number; numbers: string[]; default: boolean }[]>('GET', '/contexts');
  app.replaceChildren(
    h('h1', {}, 'Contexts'),
    h('table', {},
      h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Numbers'), h('th', {}, 'Version')),
      ...list.map((c) => h('tr', {},
        h('td', {}, h('a', { href: `#/contexts/${c.name}` }, c.displayName), c.default ? h('span.muted', {}, ' (default)') : null),
        h('td', {}, c.numbers.join(', ')),
        h('td', {}, `v${c.version}`)))),
  );
}

export async function contextPage(app: HTMLElement, name: string): Promise<void> {
  const { document: doc, version } = await api<{ document: Doc; version: number }>('GET', `/contexts/${name}`);
  const errors = h('div.error#context-errors');
  const saved = h('span.ok#context-saved');
  const greeting = h('textarea#greeting', {}, doc.greeting);
  const afterHours = h('select#after-hours', {},
    ...['agent', 'voicemail', 'forward'].map((a) => h('option', { value: a, ...(doc.afterHours.action === a ? { selected: true } : {}) }, a)));
  const numbers = h('input#numbers', { value: ((doc.numbers as string[]) ?? []).join(', ') });
  const persona = doc.persona as { name: string; style: string };
  const personaName = h('input#persona-name', { value: persona.name });
  const personaStyle = h('input#persona-style', { value: persona.style ?? '' });
  const afterHoursGreeting = h('textarea#after-hours-greeting', { rows: 2 }, doc.afterHours.greeting ?? '');
  const recording = doc.recording as { enabled: boolean; consentMessage: string };
  const recordOn = h('input#recording', { type: 'checkbox', ...(recording.enabled ? { checked: true } : {}) });
  const consent = h('input#consent', { value: recording.consentMessage });
  const owner = doc.owner as { name: string; transferDigit: string; transferMode: string; targets: Record<string, unknown>[] };
  const ownerName = h('input#owner-name', { value: owner.name });
  const transferMode = h('select#transfer-mode', {}, ...['warm', 'blind'].map((m) => h('option', { value: m, ...(owner.transferMode === m ? { selected: true } : {}) }, m)));
  const transferDigit = h('input#transfer-digit', { value: owner.transferDigit, style: 'width:3rem' });
  const services = listEditor('services', [
    { path: 'id', label: 'Id', width: '8rem' }, { path: 'name', label: 'Name' },
    { path: 'durationMinutes', label: 'Minutes', type: 'number', width: '5rem' }, { path: 'price.base', label: 'Price', type: 'number', width: '6rem' },
    { path: 'price.perUnit.amount', label: 'Per extra unit', type: 'number', width: '6rem' }, { path: 'description', label: 'Description' },
  ], (doc.services as Record<string, unknown>[]) ?? [], () => ({ id: '', name: '', durationMinutes: 60, price: { base: 0 } }));
  const targets = listEditor('owner-targets', [
    { path: 'label', label: 'Label' }, { path: 'kind', label: 'Kind', type: 'select', options: ['extension', 'phone', 'sip'] },
    { path: 'value', label: 'Extension, number or sip: URI' }, { path: 'ringSeconds', label: 'Ring (s)', type: 'number', width: '4rem' },
  ], owner.targets, () => ({ label: '', kind: 'phone', value: '', ringSeconds: 20 }));
  const callerRules = listEditor('caller-rules', [
    { path: 'match', label: 'Number or prefix*' }, { path: 'action', label: 'Action', type: 'select', options: ['ring_through', 'vip', 'block'] }, { path: 'label', label: 'Label' },
  ], (doc.callerRules as Record<string, unknown>[]) ?? [], () => ({ match: '', action: 'vip', label: '' }));
  const holidays = listEditor('holidays', [{ path: 'date', label: 'Date', type: 'date' }, { path: 'name', label: 'Name' }],
    (doc.holidays as Record<string, unknown>[]) ?? [], () => ({ date: '', name: '', hours: [] }));
  const sched = doc.scheduling as Record<string, unknown> & { crews: string[] };
  const num = (id: string, key: string, label: string) => {
    const el = h('input', { id, type: 'number', value: String(sched[key] ?? ''), style: 'width:5rem' });
    return { key, el, label: h('label', {}, `${label} `, el) };
  };
  const schedFields = [
    num('slot-minutes', 'slotMinutes', 'Start times every (min)'), num('travel-buffer', 'travelBufferMinutes', 'Travel buffer (min)'),
    num('min-notice', 'minNoticeHours', 'Book at least (h) ahead'), num('horizon', 'horizonDays', 'Up to (days) ahead'),
    num('cancel-notice', 'cancelNoticeHours', 'Free cancellation until (h) before'),
  ];
  const crews = h('input#crews', { value: sched.crews.join(', ') });
  const cancelPolicy = h('input#cancel-policy', { value: String(sched.cancellationPolicy ?? '') });
  const pricing = doc.pricing as { currency: string; taxPercent: number; modifiers: Record<string, unknown>[] };
  const addOns = listEditor('add-ons', [
    { path: 'id', label: 'Id', width: '8rem' }, { path: 'label', label: 'Label' }, { path: 'kind', label: 'Kind', type: 'select', options: ['fixed', 'percent'] },
    { path: 'amount', label: 'Amount', type: 'number', width: '6rem' }, { path: 'durationPercent', label: 'Extra time %', type: 'number', width: '5rem' },
  ], pricing.modifiers, () => ({ id: '', label: '', kind: 'fixed', amount: 0 }));
  const tax = h('input#tax', { type: 'number', value: String(pricing.taxPercent), style: 'width:5rem' });
  const alerts = listEditor('alerts', [
    { path: 'on', label: 'When', type: 'select', options: ['booking_created', 'booking_changed', 'booking_cancelled', 'voicemail', 'message', 'owner_requested_after_hours', 'missed_call', 'daily_summary'] },
    { path: 'via', label: 'Via', type: 'select', options: ['sms', 'call', 'email'] },
    { path: 'to', label: 'To (number or e-mail)' }, { path: 'at', label: 'At (daily summary)', width: '6rem' },
  ], (doc.alerts as Record<string, unknown>[]) ?? [], () => ({ on: 'voicemail', via: 'sms', to: '' }));
  const formFields = ['name', 'greeting', 'hours', 'afterHours', 'numbers', 'persona', 'recording', 'services', 'owner', 'callerRules', 'holidays', 'scheduling', 'pricing', 'alerts'];
  // Everything else (pricing add-ons, scheduling rules, alerts, business info).
  const advanced = h('textarea#advanced', { rows: 18, spellcheck: 'false', style: 'font-family: monospace; font-size: .85rem' },
    JSON.stringify(Object.fromEntries(Object.entries(doc).filter(([k]) => !formFields.includes(k))), null, 2));
  const rows = DAYS.map((d) => {
    const first = doc.hours[d]?.[0];
    const open = h('input', { type: 'time', name: `${d}-open`, value: first?.open ?? '' });
    const close = h('input', { type: 'time', name: `${d}-close`, value: first?.close ?? '' });
    const closed = h('input', { type: 'checkbox', name: `${d}-closed`, ...(first ? {} : { checked: true }) });
    return { d, open, close, closed };
  });

  const save = async () => {
    errors.replaceChildren();
    saved.textContent = '';
    const hours: Record<string, Interval[]> = {};
    for (const r of rows) hours[r.d] = r.closed.checked ? [] : [{ open: r.open.value, close: r.close.value }];
    let rest: Record<string, unknown>;
    try {
      rest = JSON.parse(advanced.value) as Record<string, unknown>;
    } catch (e) {
      errors.replaceChildren(h('div.field-error', { 'data-path': '(advanced)' }, `Advanced settings are not valid JSON: ${(e as Error).message}`));
      return;
    }
    try {
      const res = await api<{ version: number }>('PUT', `/contexts/${name}`, {
        ...doc, ...rest, greeting: greeting.value, hours, afterHours: { ...doc.afterHours, action: afterHours.value, greeting: afterHoursGreeting.value.trim() || undefined },
        numbers: numbers.value.split(',').map((n) => n.trim()).filter(Boolean),
        persona: { ...persona, name: personaName.value, style: personaStyle.value },
        recording: { enabled: recordOn.checked, consentMessage: consent.value },
        services: services.value(),
        owner: { ...owner, name: ownerName.value, transferMode: transferMode.value, transferDigit: transferDigit.value, targets: targets.value() },
        callerRules: callerRules.value(),
        pricing: { ...pricing, taxPercent: tax.value === '' ? 0 : Number(tax.value), modifiers: addOns.value() },
        alerts: alerts.value(),
        scheduling: {
          ...sched,
          ...Object.fromEntries(schedFields.map((f) => [f.key, f.el.value === '' ? undefined : Number(f.el.value)])),
          crews: crews.value.split(',').map((c) => c.trim()).filter(Boolean),
          cancellationPolicy: cancelPolicy.value,
        },
        holidays: holidays.value(),
        message: 'edited in the console',
      });
      saved.textContent = `Saved as version ${res.version}`;
      await contextPage(app, name);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      errors.replaceChildren(...(e.fields.length ? e.fields : [{ path: '', message: e.message }]).map((f) => h('div.field-error', { 'data-path': f.path }, `${f.path}: ${f.message}`)));
    }
  };

  const caller = h('input#preview-caller', { placeholder: '+15125550123' });
  const at = h('input#preview-at', { type: 'datetime-local' });
  const result = h('div#preview-result.muted');
  const preview = async () => {
    const q = new URLSearchParams();
    if (caller.value) q.set('caller', caller.value);
    // The business's own clock: the server reads a time without an offset in the context's zone.
    if (at.value) q.set('at', at.value);
    const r = await api<{ open: boolean; action: string; reason: string }>('GET', `/contexts/${name}/status?${q}`);
    result.textContent = `${r.open ? 'Open' : 'Closed'} — ${r.reason}`;
  };

  const history = await api<{ version: number; author: string; message: string | null; createdAt: string; diff: { path: string; type: string; from?: unknown; to?: unknown }[] }[]>('GET', `/contexts/${name}/history`);
  const change = (c: { path: string; type: string; from?: unknown; to?: unknown }) =>
    c.path === '(document)' ? 'created' : c.type === 'REMOVE' ? `${c.path}: removed ${JSON.stringify(c.from)}` : c.type === 'CREATE' ? `${c.path}: added ${JSON.stringify(c.to)}` : `${c.path}: ${JSON.stringify(c.from)} → ${JSON.stringify(c.to)}`;
  app.replaceChildren(
    h('h1', {}, `${doc.displayName} `, h('span.muted', {}, `v${version}`)),
    h('div.card', {},
      h('label', { for: 'greeting' }, 'Greeting'), greeting,
      h('label', {}, 'Opening hours'),
      h('div.hours', {}, ...rows.flatMap((r) => [h('span', {}, r.d), r.open, r.close, h('label', {}, r.closed, ' closed')])),
      h('label', { for: 'after-hours' }, 'After hours'), afterHours,
      h('label', { for: 'after-hours-greeting' }, 'After-hours greeting (empty: the greeting above)'), afterHoursGreeting,
      h('label', { for: 'numbers' }, 'Phone numbers (E.164, comma separated)'), numbers,
      h('label', { for: 'persona-name' }, 'Agent name'), personaName,
      h('label', { for: 'persona-style' }, 'How the agent talks'), personaStyle,
      h('label', {}, recordOn, ' Record calls (after the consent line)'), consent,
      h('h2', {}, 'Services and prices'), services.element,
      h('h2', {}, 'The owner'),
      h('div.inline', {}, h('label', {}, 'Name ', ownerName), h('label', {}, ' Transfer ', transferMode), h('label', {}, ' Key ', transferDigit)),
      h('label', {}, 'Find-me/follow-me, tried in order'), targets.element,
      h('label', {}, 'Add-ons and discounts'), addOns.element,
      h('div.inline', {}, h('label', {}, 'Tax % ', tax)),
      h('h2', {}, 'Scheduling'),
      h('div.inline', {}, ...schedFields.map((f) => f.label)),
      h('label', { for: 'crews' }, 'Crews (comma separated)'), crews,
      h('label', { for: 'cancel-policy' }, 'Cancellation policy (read to callers who cancel late)'), cancelPolicy,
      h('h2', {}, 'Caller rules'), callerRules.element,
      h('h2', {}, 'Holidays (closed)'), holidays.element,
      h('h2', {}, 'Alerts to the owner'), alerts.element,
      h('details', {}, h('summary', {}, 'Business info, FAQ, work hours, SMS settings (JSON)'), advanced),
      h('p', {}, h('button#save-context', { onclick: () => void save() }, 'Save'), ' ', saved),
      errors),
    h('div.card', {},
      h('h2', {}, 'What happens if someone calls?'),
      h('label', {}, 'Caller'), caller, h('label', {}, `At (${doc.timezone} time)`), at,
      h('p', {}, h('button#preview', { onclick: () => void preview() }, 'Preview')), result),
    h('div.card', {},
      h('h2', {}, 'History'),
      h('table#history', {}, ...history.map((v) => h('tr', {},
        h('td', {}, `v${v.version}`), h('td', {}, v.author), h('td', {}, v.message ?? ''), h('td', {}, when(v.createdAt)),
        h('td', {}, h('pre.diff', {}, v.diff.map(change).join('\n'))),
        h('td', {}, v.version === version ? h('span.muted', {}, 'current') : h('button.secondary', {
          'data-rollback': v.version,
          onclick: async () => {
            await api('POST', `/contexts/${name}/rollback`, { version: v.version });
            await contextPage(app, name);
          },
        }, 'Roll back')))))),
  );
  await preview();
}
