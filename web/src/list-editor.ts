import { h } from './dom.js';

/**
 * An editable table for a list of objects in a context (services, owner targets, caller rules,
 * holidays): one input per field, rows added and removed in place. Fields are dotted paths into
 * each object; what the editor does not show is kept as it was.
 */

export interface Field {
  path: string;
  label: string;
  type?: 'text' | 'number' | 'date' | 'select';
  options?: readonly string[];
  width?: string;
}

export interface ListEditor {
  element: HTMLElement;
  value(): Record<string, unknown>[];
}

function get(o: Record<string, unknown>, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);
}

function set(o: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = o;
  for (const k of keys.slice(0, -1)) {
    if (!cur[k] || typeof cur[k] !== 'object') cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  if (value === undefined) delete cur[keys.at(-1)!];
  else cur[keys.at(-1)!] = value;
}

export function listEditor(id: string, fields: readonly Field[], items: readonly Record<string, unknown>[], blank: () => Record<string, unknown>): ListEditor {
  const body = h('tbody');
  const rows: { base: Record<string, unknown>; inputs: (HTMLInputElement | HTMLSelectElement)[]; tr: HTMLElement }[] = [];
  const addRow = (item: Record<string, unknown>) => {
    const base = structuredClone(item);
    const inputs = fields.map((f) => {
      const v = get(item, f.path);
      const el = f.type === 'select'
        ? h('select', { 'data-field': f.path }, ...(f.options ?? []).map((o) => h('option', { value: o, ...(o === v ? { selected: true } : {}) }, o)))
        : h('input', { 'data-field': f.path, type: f.type ?? 'text', value: v === undefined || v === null ? '' : String(v), ...(f.width ? { style: `width:${f.width}` } : {}) });
      return el;
    });
    const row = { base, inputs, tr: h('tr') };
    row.tr.append(...inputs.map((i) => h('td', {}, i)), h('td', {}, h('button.secondary', {
      type: 'button', 'data-remove': '', onclick: () => {
        row.tr.remove();
        rows.splice(rows.indexOf(row), 1);
      },
    }, 'Remove')));
    rows.push(row);
    body.append(row.tr);
  };
  items.forEach(addRow);
  const element = h('div', { id },
    h('table.list-editor', {}, h('thead', {}, h('tr', {}, ...fields.map((f) => h('th', {}, f.label)), h('th'))), body),
    h('button.secondary', { type: 'button', 'data-add': '', onclick: () => addRow(blank()) }, 'Add'));
  return {
    element,
    value: () => rows.map((r) => {
      const out = structuredClone(r.base);
      fields.forEach((f, i) => {
        const raw = r.inputs[i]!.value.trim();
        set(out, f.path, f.type === 'number' ? (raw === '' ? undefined : Number(raw)) : raw === '' && f.type !== 'select' ? undefined : raw);
      });
      return out;
    }),
  };
}
