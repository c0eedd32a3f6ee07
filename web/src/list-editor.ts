import { h } from './dom.js';

/**
 * An editable list of objects in a context (services, owner targets, caller rules, holidays): one
 * labelled input per field, rows added and removed in place. Fields are dotted paths into each
 * object; what the editor does not show is kept as it was. Tables on a desktop, stacked cards on a
 * phone (each cell carries its label).
 */

export interface Field {
  path: string;
  label: string;
  type?: 'text' | 'number' | 'date' | 'select' | 'tel';
  /** Values, or [value, what the owner reads] pairs. */
  options?: readonly (string | readonly [string, string])[];
  width?: string;
  placeholder?: string;
}

export interface ListEditor {
  element: HTMLElement;
  /** The rows as objects; `fix` may rewrite a row (normalize numbers) or throw a {path,message} for a field. */
  value(): Record<string, unknown>[];
  /** The input for row `index`'s field `path` (or the row's first input), for an error beside it. */
  locate(index: number, path: string): { el: HTMLElement; label: string } | undefined;
}

export function get(o: Record<string, unknown>, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);
}

export function set(o: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = o;
  for (const k of keys.slice(0, -1)) {
    if (!cur[k] || typeof cur[k] !== 'object') cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  if (value === undefined) delete cur[keys.at(-1)!];
  else cur[keys.at(-1)!] = value;
}

export function listEditor(
  id: string, title: string, fields: readonly Field[], items: readonly Record<string, unknown>[], blank: () => Record<string, unknown>,
  finish: (row: Record<string, unknown>) => Record<string, unknown> = (r) => r,
): ListEditor {
  const body = h('tbody');
  const rows: { base: Record<string, unknown>; inputs: (HTMLInputElement | HTMLSelectElement)[]; tr: HTMLElement }[] = [];
  const addRow = (item: Record<string, unknown>, focus = false) => {
    const base = structuredClone(item);
    const inputs = fields.map((f) => {
      const v = get(item, f.path);
      const common = { 'data-field': f.path, 'aria-label': f.label };
      return f.type === 'select'
        ? h('select', common, ...(f.options ?? []).map((o) => {
          const [value, text] = typeof o === 'string' ? [o, o] : o;
          return h('option', { value, ...(value === v ? { selected: true } : {}) }, text);
        }))
        : h('input', {
          ...common, type: f.type ?? 'text', value: v === undefined || v === null ? '' : String(v),
          ...(f.type === 'number' ? { inputmode: 'decimal', step: 'any' } : {}), ...(f.placeholder ? { placeholder: f.placeholder } : {}),
          ...(f.width ? { style: `min-width:${f.width}` } : {}),
        });
    });
    const row = { base, inputs, tr: h('tr') };
    row.tr.append(...inputs.map((i, n) => h('td', { 'data-label': fields[n]!.label }, i)), h('td', {}, h('button.secondary', {
      type: 'button', 'data-remove': '', 'aria-label': `Remove this ${title}`, onclick: () => {
        row.tr.remove();
        rows.splice(rows.indexOf(row), 1);
      },
    }, 'Remove')));
    rows.push(row);
    body.append(row.tr);
    if (focus) inputs[0]?.focus();
  };
  items.forEach((i) => addRow(i));
  const element = h('div.list-editor', { id },
    h('div.table-wrap', {}, h('table.list-editor', {}, h('thead', {}, h('tr', {}, ...fields.map((f) => h('th', { scope: 'col' }, f.label)), h('th', {}, h('span.sr-only', {}, 'Remove')))), body)),
    h('button.secondary', { type: 'button', 'data-add': '', onclick: () => addRow(blank(), true) }, `Add ${title}`));
  return {
    element,
    value: () => rows.map((r) => {
      const out = structuredClone(r.base);
      fields.forEach((f, i) => {
        const raw = r.inputs[i]!.value.trim();
        set(out, f.path, f.type === 'number' ? (raw === '' ? undefined : Number(raw)) : raw === '' && f.type !== 'select' ? undefined : raw);
      });
      return finish(out);
    }),
    locate: (index, path) => {
      const row = rows[index];
      if (!row) return undefined;
      const n = Math.max(0, fields.findIndex((f) => f.path === path));
      return { el: row.inputs[n]!, label: `${title[0]!.toUpperCase()}${title.slice(1)} ${index + 1}, ${fields[n]!.label.toLowerCase()}` };
    },
  };
}
