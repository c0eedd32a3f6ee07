import { h } from './dom.js';

/** Field errors as an owner reads them: in plain words, beside the field, the first one focused. */

export interface FieldError { path: string; message: string }

/** Zod's wording turned into a sentence an owner understands. */
export function plain(message: string): string {
  if (/received undefined|expected string to have >=1 characters/.test(message)) return 'Required.';
  if (/expected number, received NaN/.test(message)) return 'Enter a number.';
  let m = /Too small: expected number to be >=?(\S+)/.exec(message);
  if (m) return `Must be at least ${m[1]}.`;
  m = /Too big: expected number to be <=?(\S+)/.exec(message);
  if (m) return `Must be at most ${m[1]}.`;
  m = /Too big: expected string to have <=(\d+) characters/.exec(message);
  if (m) return `At most ${m[1]} characters.`;
  if (/expected int/.test(message)) return 'Enter a whole number.';
  if (/Invalid option/.test(message)) return 'Choose one of the options.';
  return message.charAt(0).toUpperCase() + message.slice(1) + (/[.!?]$/.test(message) ? '' : '.');
}

let seq = 0;

export class ErrorDisplay {
  private shown: HTMLElement[] = [];
  private marked: HTMLElement[] = [];
  /** Errors no field claims (and a count) go here, next to the Save button. */
  readonly summary = h('div.error#form-errors', { role: 'alert' });

  clear(): void {
    this.shown.forEach((e) => e.remove());
    this.marked.forEach((e) => { e.removeAttribute('aria-invalid'); e.removeAttribute('aria-describedby'); });
    this.shown = [];
    this.marked = [];
    this.summary.replaceChildren();
  }

  /** Puts each error beside the field `locate` finds for its path; focuses the first. */
  show(errors: readonly FieldError[], locate: (path: string) => { el: HTMLElement; label: string } | undefined): void {
    this.clear();
    const loose: HTMLElement[] = [];
    let first: HTMLElement | undefined;
    for (const e of errors) {
      const at = locate(e.path);
      const text = plain(e.message);
      const id = `err-${++seq}`;
      const note = h('span.field-error', { id, 'data-path': e.path }, at ? `${at.label}: ${text}` : text);
      if (at) {
        at.el.setAttribute('aria-invalid', 'true');
        at.el.setAttribute('aria-describedby', id);
        at.el.after(note);
        this.marked.push(at.el);
        first ??= at.el;
      } else {
        loose.push(note);
      }
      this.shown.push(note);
    }
    this.summary.append(h('p', {}, `Not saved: ${errors.length === 1 ? 'one thing needs' : `${errors.length} things need`} fixing${first ? ', shown beside the field' : ''}.`), ...loose);
    if (first) {
      first.focus();
      first.scrollIntoView({ block: 'center' });
    }
  }
}
