import { api, ApiError } from '../api.js';
import { h, when } from '../dom.js';

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
  const recording = doc.recording as { enabled: boolean; consentMessage: string };
  const recordOn = h('input#recording', { type: 'checkbox', ...(recording.enabled ? { checked: true } : {}) });
  const consent = h('input#consent', { value: recording.consentMessage });
  // Everything else (services and pricing, scheduling, owner targets, caller rules, holidays, alerts).
  const advanced = h('textarea#advanced', { rows: 18, spellcheck: 'false', style: 'font-family: monospace; font-size: .85rem' },
    JSON.stringify(Object.fromEntries(Object.entries(doc).filter(([k]) => !['name', 'greeting', 'hours', 'afterHours', 'numbers', 'persona', 'recording'].includes(k))), null, 2));
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
        ...doc, ...rest, greeting: greeting.value, hours, afterHours: { ...doc.afterHours, action: afterHours.value },
        numbers: numbers.value.split(',').map((n) => n.trim()).filter(Boolean),
        persona: { ...persona, name: personaName.value },
        recording: { enabled: recordOn.checked, consentMessage: consent.value },
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
      h('label', { for: 'numbers' }, 'Phone numbers (E.164, comma separated)'), numbers,
      h('label', { for: 'persona-name' }, 'Agent name'), personaName,
      h('label', {}, recordOn, ' Record calls (after the consent line)'), consent,
      h('details', {}, h('summary', {}, 'Services, pricing, scheduling, owner targets, caller rules, holidays, alerts'), advanced),
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
