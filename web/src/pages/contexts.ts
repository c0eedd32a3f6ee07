import { api, ApiError } from '../api.js';
import { h, when } from '../dom.js';
import { listEditor, type ListEditor } from '../list-editor.js';
import { hoursEditor, type Interval } from '../hours-editor.js';
import { ErrorDisplay, type FieldError } from '../forms.js';
import { toE164, showPhone } from '../phone.js';
import { ownerLineCard } from './owner-line.js';

type Doc = Record<string, unknown> & {
  name: string; displayName: string; greeting: string; timezone: string;
  hours: Record<string, Interval[]>; afterHours: { action: string; greeting?: string };
};

export async function contextsPage(app: HTMLElement): Promise<void> {
  const list = await api<{ name: string; displayName: string; version: number; numbers: string[]; default: boolean }[]>('GET', '/contexts');
  app.replaceChildren(
    h('h1', {}, 'Settings'),
    h('p.muted', {}, 'Each business line (a context) has its own hours, prices and rules.'),
    h('div.table-wrap', {}, h('table', {},
      h('tr', {}, h('th', {}, 'Business'), h('th', {}, 'Numbers'), h('th', {}, 'Version')),
      ...list.map((c) => h('tr', {},
        h('td', {}, h('a', { href: `#/contexts/${c.name}` }, c.displayName), c.default ? h('span.muted', {}, ' (default)') : null),
        h('td', {}, c.numbers.map(showPhone).join(', ')),
        h('td', {}, `v${c.version}`))))),
  );
}

/** A slug from a name, for the ids an owner should not have to invent. */
const slug = (s: unknown) => String(s ?? '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
/** A phone number in any common format becomes E.164; anything else is left for the server to name. */
const phone = (v: unknown) => (typeof v === 'string' && v && !v.endsWith('*') ? toE164(v) ?? v : v);

const field = (id: string, label: string, input: HTMLElement, hint?: string) =>
  h('div.field', {}, h('label', { for: id }, label), hint ? h('p.hint', { id: `${id}-hint` }, hint) : null, input);

export async function contextPage(app: HTMLElement, name: string, flash = ''): Promise<void> {
  const { document: doc, version, ownerPinSet } = await api<{ document: Doc; version: number; ownerPinSet: boolean }>('GET', `/contexts/${name}`);
  const errors = new ErrorDisplay();
  const saved = h('span.ok#context-saved', { role: 'status', tabindex: '-1' }, flash);
  const greeting = h('textarea#greeting', {}, doc.greeting);
  const afterHours = h('select#after-hours', {},
    ...[['agent', 'The receptionist answers (can book, takes messages)'], ['voicemail', 'Voicemail'], ['forward', 'Ring my phones (follow-me list)']]
      .map(([a, t]) => h('option', { value: a, ...(doc.afterHours.action === a ? { selected: true } : {}) }, t)));
  const numbers = h('input#numbers', { value: ((doc.numbers as string[]) ?? []).map(showPhone).join(', '), inputmode: 'tel' });
  const persona = doc.persona as { name: string; style: string };
  const personaName = h('input#persona-name', { value: persona.name });
  const personaStyle = h('input#persona-style', { value: persona.style ?? '' });
  const afterHoursGreeting = h('textarea#after-hours-greeting', { rows: 2 }, doc.afterHours.greeting ?? '');
  const recording = doc.recording as { enabled: boolean; consentMessage: string };
  const recordOn = h('input#recording', { type: 'checkbox', ...(recording.enabled ? { checked: true } : {}) });
  const consent = h('input#consent', { value: recording.consentMessage });
  const owner = doc.owner as { name: string; transferDigit: string; transferMode: string; targets: Record<string, unknown>[]; numbers?: string[] };
  const ownerName = h('input#owner-name', { value: owner.name });
  const ownerNumbers = h('input#owner-numbers', { value: (owner.numbers ?? []).map(showPhone).join(', '), inputmode: 'tel', 'aria-describedby': 'owner-numbers-hint' });
  // The PIN is never shown, only replaced: empty keeps the one set.
  const ownerPin = h('input#owner-pin', { type: 'password', inputmode: 'numeric', autocomplete: 'new-password', maxlength: 10, placeholder: ownerPinSet ? 'set (type to change)' : 'not set', 'aria-describedby': 'owner-pin-hint' });
  const transferMode = h('select#transfer-mode', {}, ...[['warm', 'Tell me who is calling first'], ['blind', 'Put them straight through']]
    .map(([m, t]) => h('option', { value: m, ...(owner.transferMode === m ? { selected: true } : {}) }, t)));
  const transferDigit = h('input#transfer-digit', { value: owner.transferDigit, inputmode: 'numeric', maxlength: 1 });
  // The ring phase before the receptionist answers (ring first, then answer).
  const answer = (doc.answer as { ringSeconds: number; ownerFirst: boolean; earlyMedia: boolean } | undefined) ?? { ringSeconds: 0, ownerFirst: false, earlyMedia: false };
  const ringSeconds = h('input#ring-seconds', { type: 'number', min: 0, max: 120, value: String(answer.ringSeconds), inputmode: 'numeric' });
  const ownerFirst = h('input#owner-first', { type: 'checkbox', ...(answer.ownerFirst ? { checked: true } : {}) });
  const earlyMedia = h('input#early-media', { type: 'checkbox', ...(answer.earlyMedia ? { checked: true } : {}) });
  const hours = hoursEditor('', doc.hours);
  const services = listEditor('services', 'service', [
    { path: 'name', label: 'Name' }, { path: 'id', label: 'Short id', width: '7rem', placeholder: 'from the name' },
    { path: 'durationMinutes', label: 'Minutes', type: 'number', width: '5rem' }, { path: 'price.base', label: 'Price', type: 'number', width: '6rem' },
    { path: 'price.perUnit.unit', label: 'Extra unit', placeholder: 'e.g. bedroom', width: '7rem' },
    { path: 'price.perUnit.amount', label: 'Price per extra unit', type: 'number', width: '6rem' }, { path: 'description', label: 'Description' },
  ], (doc.services as Record<string, unknown>[]) ?? [], () => ({ id: '', name: '', durationMinutes: 60, price: { base: 0 } }), (s) => {
    if (!s.id && s.name) s.id = slug(s.name);
    // No extra unit and no price for it: the service is priced flat.
    const per = (s.price as { perUnit?: Record<string, unknown> } | undefined)?.perUnit;
    if (per && per.unit === undefined && per.amount === undefined) delete (s.price as Record<string, unknown>).perUnit;
    return s;
  });
  const targets = listEditor('owner-targets', 'phone to ring', [
    { path: 'label', label: 'Name' }, { path: 'kind', label: 'Kind', type: 'select', options: [['phone', 'Phone number'], ['extension', 'Desk extension'], ['sip', 'SIP address']] },
    { path: 'value', label: 'Number, extension or sip: address' }, { path: 'ringSeconds', label: 'Ring for (seconds)', type: 'number', width: '4rem' },
  ], owner.targets, () => ({ label: '', kind: 'phone', value: '', ringSeconds: 20 }), (t) => (t.kind === 'phone' ? { ...t, value: phone(t.value) } : t));
  const callerRules = listEditor('caller-rules', 'caller rule', [
    { path: 'match', label: 'Number (or prefix ending in *)' },
    { path: 'action', label: 'What happens', type: 'select', options: [['vip', 'VIP: the receptionist answers, even after hours'], ['ring_through', 'Ring my phones straight away'], ['block', 'Block']] },
    { path: 'label', label: 'Who' },
  ], (doc.callerRules as Record<string, unknown>[]) ?? [], () => ({ match: '', action: 'vip', label: '' }), (r) => ({ ...r, match: phone(r.match) }));
  const holidays = listEditor('holidays', 'day closed', [{ path: 'date', label: 'Date', type: 'date' }, { path: 'name', label: 'Why' }],
    (doc.holidays as Record<string, unknown>[]) ?? [], () => ({ date: '', name: '', hours: [] }));
  const sched = doc.scheduling as Record<string, unknown> & { crews: string[]; workHours?: Record<string, Interval[]> };
  const num = (id: string, key: string, label: string) => {
    const el = h('input', { id, type: 'number', inputmode: 'numeric', value: String(sched[key] ?? '') });
    return { key, el, label: h('div.field.small', {}, h('label', { for: id }, label), el) };
  };
  const schedFields = [
    num('slot-minutes', 'slotMinutes', 'Start times every (minutes)'), num('travel-buffer', 'travelBufferMinutes', 'Travel time between visits (minutes)'),
    num('min-notice', 'minNoticeHours', 'Book at least (hours) ahead'), num('horizon', 'horizonDays', 'Book up to (days) ahead'),
    num('cancel-notice', 'cancelNoticeHours', 'Free cancellation until (hours) before'),
  ];
  const crews = h('input#crews', { value: sched.crews.join(', ') });
  const cancelPolicy = h('input#cancel-policy', { value: String(sched.cancellationPolicy ?? '') });
  const sameHours = h('input#crew-hours-same', { type: 'checkbox', ...(sched.workHours ? {} : { checked: true }) });
  const crewHours = hoursEditor('work-', sched.workHours ?? doc.hours);
  const crewHoursBox = h('div#crew-hours', { ...(sched.workHours ? {} : { hidden: true }) }, crewHours.element);
  sameHours.addEventListener('change', () => { crewHoursBox.hidden = sameHours.checked; });
  const pricing = doc.pricing as { currency: string; taxPercent: number; modifiers: Record<string, unknown>[] };
  const addOns = listEditor('add-ons', 'add-on or discount', [
    { path: 'label', label: 'Name' }, { path: 'id', label: 'Short id', width: '7rem', placeholder: 'from the name' },
    { path: 'kind', label: 'Kind', type: 'select', options: [['fixed', 'Amount'], ['percent', 'Percent']] },
    { path: 'amount', label: 'Amount (negative: discount)', type: 'number', width: '6rem' }, { path: 'durationPercent', label: 'Extra time %', type: 'number', width: '5rem' },
  ], pricing.modifiers, () => ({ id: '', label: '', kind: 'fixed', amount: 0 }), (m) => (!m.id && m.label ? { ...m, id: slug(m.label) } : m));
  const tax = h('input#tax', { type: 'number', inputmode: 'decimal', value: String(pricing.taxPercent) });
  const alerts = listEditor('alerts', 'alert', [
    { path: 'on', label: 'When', type: 'select', options: [['booking_created', 'A visit is booked'], ['booking_changed', 'A visit is moved'], ['booking_cancelled', 'A visit is cancelled'], ['voicemail', 'A voicemail is left'], ['message', 'A message is taken'], ['owner_requested_after_hours', 'A caller asks for me after hours'], ['missed_call', 'A call is missed'], ['daily_summary', 'Every day (summary)'], ['vip_call', 'A VIP calls']] },
    { path: 'service', label: 'Only this service (id)', width: '7rem', placeholder: 'any' },
    { path: 'via', label: 'How', type: 'select', options: [['sms', 'Text'], ['call', 'Call'], ['email', 'E-mail']] },
    { path: 'to', label: 'To (number or e-mail)' }, { path: 'at', label: 'At (daily summary)', type: 'text', width: '6rem', placeholder: '18:00' },
  ], (doc.alerts as Record<string, unknown>[]) ?? [], () => ({ on: 'voicemail', via: 'sms', to: '' }), (a) => (a.via === 'email' ? a : { ...a, to: phone(a.to) }));
  const formFields = ['name', 'greeting', 'hours', 'afterHours', 'numbers', 'persona', 'recording', 'services', 'owner', 'callerRules', 'holidays', 'scheduling', 'pricing', 'alerts', 'answer'];
  // What has no form yet (business info, FAQ, SMS settings) stays editable as JSON.
  const advanced = h('textarea#advanced', { rows: 18, spellcheck: 'false', class: 'mono' },
    JSON.stringify(Object.fromEntries(Object.entries(doc).filter(([k]) => !formFields.includes(k))), null, 2));

  const lists: [RegExp, ListEditor][] = [[/^services\[(\d+)\]\.?(.*)$/, services], [/^owner\.targets\[(\d+)\]\.?(.*)$/, targets], [/^callerRules\[(\d+)\]\.?(.*)$/, callerRules],
    [/^holidays\[(\d+)\]\.?(.*)$/, holidays], [/^alerts\[(\d+)\]\.?(.*)$/, alerts], [/^pricing\.modifiers\[(\d+)\]\.?(.*)$/, addOns]];
  const single: Record<string, [HTMLElement, string]> = {
    greeting: [greeting, 'Greeting'], 'afterHours.greeting': [afterHoursGreeting, 'After-hours greeting'], numbers: [numbers, 'Phone numbers'],
    'persona.name': [personaName, 'Receptionist name'], 'persona.style': [personaStyle, 'How the receptionist talks'], 'recording.consentMessage': [consent, 'Recording notice'],
    'owner.name': [ownerName, 'Your name'], 'owner.numbers': [ownerNumbers, 'Numbers you call or text from'], 'owner.pin': [ownerPin, 'Owner PIN'], 'owner.transferDigit': [transferDigit, 'Key'], 'answer.ringSeconds': [ringSeconds, 'Ring first'], 'answer.ownerFirst': [ownerFirst, 'Ring my phones first'], 'pricing.taxPercent': [tax, 'Tax'],
    'scheduling.crews': [crews, 'Crews'], 'scheduling.cancellationPolicy': [cancelPolicy, 'Cancellation policy'],
    ...Object.fromEntries(schedFields.map((f) => [`scheduling.${f.key}`, [f.el, f.label.textContent ?? '']])),
  };
  const locate = (path: string) => {
    for (const [re, ed] of lists) {
      const m = re.exec(path);
      if (m) return ed.locate(Number(m[1]), m[2]!);
    }
    if (path.startsWith('hours.')) return hours.locate(path.slice(6));
    if (path.startsWith('scheduling.workHours.')) return crewHours.locate(path.slice(21));
    const key = Object.keys(single).find((k) => path === k || path.startsWith(`${k}[`) || path.startsWith(`${k}.`));
    if (key) return { el: single[key]![0], label: single[key]![1] };
    return path === '(advanced)' || !formFields.includes(path.split(/[.[]/)[0]!) ? { el: advanced, label: 'Advanced settings' } : undefined;
  };

  const save = async () => {
    errors.clear();
    saved.textContent = '';
    let rest: Record<string, unknown>;
    try {
      rest = JSON.parse(advanced.value) as Record<string, unknown>;
    } catch (e) {
      (advanced.closest('details') as HTMLDetailsElement).open = true;
      errors.show([{ path: '(advanced)', message: `not valid JSON: ${(e as Error).message}` }], locate);
      return;
    }
    const nums = numbers.value.split(/[,;\n]/).map((n) => n.trim()).filter(Boolean);
    const bad = nums.filter((n) => !toE164(n));
    if (bad.length) return errors.show([{ path: 'numbers', message: `${bad.map((b) => `"${b}"`).join(', ')} is not a phone number` }], locate);
    const ownerNums = ownerNumbers.value.split(/[,;\n]/).map((n) => n.trim()).filter(Boolean);
    const badOwner = ownerNums.filter((n) => !toE164(n));
    if (badOwner.length) return errors.show([{ path: 'owner.numbers', message: `${badOwner.map((b) => `"${b}"`).join(', ')} is not a phone number` }], locate);
    const fail = (fields: FieldError[]) => {
      // An error inside the collapsed JSON box must be visible to be focused.
      if (fields.some((f) => locate(f.path)?.el === advanced)) (advanced.closest('details') as HTMLDetailsElement).open = true;
      errors.show(fields, locate);
    };
    try {
      const res = await api<{ version: number }>('PUT', `/contexts/${name}`, {
        ...doc, ...rest, greeting: greeting.value, hours: hours.value(),
        afterHours: { ...doc.afterHours, action: afterHours.value, greeting: afterHoursGreeting.value.trim() || undefined },
        numbers: nums.map((n) => toE164(n)!),
        persona: { ...persona, name: personaName.value, style: personaStyle.value },
        recording: { enabled: recordOn.checked, consentMessage: consent.value },
        services: services.value(),
        owner: { ...owner, name: ownerName.value, transferMode: transferMode.value, transferDigit: transferDigit.value, targets: targets.value(), numbers: ownerNums.map((n) => toE164(n)!) },
        ...(ownerPin.value ? { ownerPin: ownerPin.value } : {}),
        callerRules: callerRules.value(),
        answer: { ringSeconds: ringSeconds.value === '' ? 0 : Number(ringSeconds.value), ownerFirst: ownerFirst.checked, earlyMedia: earlyMedia.checked },
        pricing: { ...pricing, taxPercent: tax.value === '' ? 0 : Number(tax.value), modifiers: addOns.value() },
        alerts: alerts.value(),
        scheduling: {
          ...sched,
          ...Object.fromEntries(schedFields.map((f) => [f.key, f.el.value === '' ? undefined : Number(f.el.value)])),
          crews: crews.value.split(',').map((c) => c.trim()).filter(Boolean),
          cancellationPolicy: cancelPolicy.value,
          workHours: sameHours.checked ? undefined : crewHours.value(),
        },
        holidays: holidays.value(),
        message: 'edited in the console',
      });
      // The page is drawn again from what the server kept; the confirmation survives it.
      await contextPage(app, name, res.version === version ? 'No changes to save.' : `Saved as version ${res.version}.`);
      document.getElementById('context-saved')?.focus();
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      fail(e.fields.length ? e.fields : [{ path: '', message: e.message }]);
    }
  };

  const caller = h('input#preview-caller', { placeholder: '(512) 555-0123', inputmode: 'tel' });
  const at = h('input#preview-at', { type: 'datetime-local' });
  const result = h('div#preview-result.muted', { role: 'status' });
  const preview = async () => {
    const q = new URLSearchParams();
    if (caller.value) q.set('caller', toE164(caller.value) ?? caller.value);
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
      field('greeting', 'Greeting', greeting),
      h('h2', {}, 'Opening hours'), hours.element,
      field('after-hours', 'When closed', afterHours),
      field('after-hours-greeting', 'Greeting when closed (empty: the greeting above)', afterHoursGreeting),
      field('numbers', 'Your business phone numbers (comma separated)', numbers),
      field('persona-name', 'Receptionist name', personaName),
      field('persona-style', 'How the receptionist talks', personaStyle),
      h('div.field', {}, h('label.check', {}, recordOn, ' Record calls (after this notice)')), h('div.field', {}, h('label.sr-only', { for: 'consent' }, 'Recording notice'), consent),
      h('h2', {}, 'Services and prices'), services.element,
      h('h2', {}, 'Add-ons and discounts'), addOns.element,
      h('div.inline', {}, field('tax', 'Tax %', tax)),
      h('h2', {}, 'Reaching you'),
      h('div.inline', {}, field('owner-name', 'Your name', ownerName), field('transfer-mode', 'When the receptionist puts a caller through', transferMode), field('transfer-digit', 'Key callers press for you', transferDigit)),
      h('p.hint', {}, 'Phones to ring, tried in order (follow-me):'), targets.element,
      h('div.inline', {}, field('ring-seconds', 'Ring for this many seconds before the receptionist answers', ringSeconds)),
      h('div.field', {}, h('label.check', {}, ownerFirst, ' Ring my phones during those seconds; the receptionist answers if I don\'t')),
      h('div.field', {}, h('label.check', {}, earlyMedia, ' Play the ringing tone ourselves (for carriers that expect early media)')),
      field('owner-numbers', "Numbers you call or text from (the owner's line)", ownerNumbers, 'Texts from these numbers get owner commands; calls need the PIN too.'),
      field('owner-pin', 'Owner PIN', ownerPin, '4 to 10 digits. Needed on a call, and by text for hours, forwarding, blocks and alerts.'),
      h('h2', {}, 'Visits'),
      h('div.inline', {}, ...schedFields.map((f) => f.label)),
      field('crews', 'Crews (comma separated)', crews),
      field('cancel-policy', 'Cancellation policy (read to callers who cancel late)', cancelPolicy),
      h('div.field', {}, h('label.check', {}, sameHours, ' Crews work during opening hours')), crewHoursBox,
      h('h2', {}, 'Callers you know'), callerRules.element,
      h('h2', {}, 'Days closed'), holidays.element,
      h('h2', {}, 'Tell me when'), alerts.element,
      h('details', {}, h('summary', {}, 'Business info, FAQ, text settings (advanced)'), h('label', { for: 'advanced' }, 'Advanced settings (JSON)'), advanced),
      h('p.save-row', {}, h('button#save-context', { type: 'button', onclick: () => void save() }, 'Save'), ' ', saved),
      errors.summary),
    await ownerLineCard(name),
    h('div.card', {},
      h('h2', {}, 'What happens if someone calls?'),
      field('preview-caller', 'Caller', caller), field('preview-at', `At (${doc.timezone} time)`, at),
      h('p', {}, h('button#preview', { type: 'button', onclick: () => void preview() }, 'Preview')), result),
    h('div.card', {},
      h('h2', {}, 'History'),
      h('div.table-wrap', {}, h('table#history', {}, ...history.map((v) => h('tr', {},
        h('td', {}, `v${v.version}`), h('td', {}, v.author), h('td', {}, v.message ?? ''), h('td', {}, when(v.createdAt)),
        h('td', {}, h('pre.diff', {}, v.diff.map(change).join('\n'))),
        h('td', {}, v.version === version ? h('span.muted', {}, 'current') : h('button.secondary', {
          'data-rollback': v.version,
          onclick: async () => {
            await api('POST', `/contexts/${name}/rollback`, { version: v.version });
            await contextPage(app, name, `Rolled back to version ${v.version}.`);
          },
        }, 'Roll back'))))))),
  );
  await preview();
}
