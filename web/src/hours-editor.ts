import { h } from './dom.js';

/** A week of opening hours, each day any number of intervals (a lunch break is two), or closed. */

export type Interval = { open: string; close: string };
export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const DAY_NAMES: Record<string, string> = { mon: 'Monday', tue: 'Tuesday', wed: 'Wednesday', thu: 'Thursday', fri: 'Friday', sat: 'Saturday', sun: 'Sunday' };

export interface HoursEditor {
  element: HTMLElement;
  value(): Record<string, Interval[]>;
  /** The input for `mon[1].close` and the like. */
  locate(path: string): { el: HTMLElement; label: string } | undefined;
}

/** `prefix` keeps two editors on one page apart (opening hours, crew hours). */
export function hoursEditor(prefix: string, hours: Partial<Record<string, Interval[]>>): HoursEditor {
  const name = (d: string, what: string, i: number) => `${prefix}${d}-${what}${i ? `-${i + 1}` : ''}`;
  const days = DAYS.map((d) => {
    const list = h('div.intervals');
    const intervals: { open: HTMLInputElement; close: HTMLInputElement; el: HTMLElement }[] = [];
    const closed = h('input', { type: 'checkbox', name: `${prefix}${d}-closed`, ...(hours[d]?.length ? {} : { checked: true }) });
    const add = (iv: Interval) => {
      const i = intervals.length;
      const open = h('input', { type: 'time', name: name(d, 'open', i), value: iv.open, 'aria-label': `${DAY_NAMES[d]} opens${i ? ` (${i + 1})` : ''}` });
      const close = h('input', { type: 'time', name: name(d, 'close', i), value: iv.close, 'aria-label': `${DAY_NAMES[d]} closes${i ? ` (${i + 1})` : ''}` });
      // Typing hours into a closed day opens it.
      for (const el of [open, close]) el.addEventListener('input', () => { closed.checked = false; });
      const entry = { open, close, el: h('div.interval', {}, open, h('span', { 'aria-hidden': 'true' }, '–'), close) };
      entry.el.append(h('button.secondary', {
        type: 'button', 'aria-label': `Remove ${DAY_NAMES[d]} hours ${i + 1}`, onclick: () => {
          entry.el.remove();
          intervals.splice(intervals.indexOf(entry), 1);
          if (!intervals.length) closed.checked = true;
        },
      }, '×'));
      intervals.push(entry);
      list.append(entry.el);
    };
    (hours[d]?.length ? hours[d]! : [{ open: '', close: '' }]).forEach(add);
    const more = h('button.secondary', {
      type: 'button', 'data-add-hours': d, onclick: () => {
        closed.checked = false;
        add({ open: '', close: '' });
        intervals.at(-1)!.open.focus();
      },
    }, `Add hours`);
    return { d, closed, intervals, el: h('div.day', {}, h('span.dayname', {}, DAY_NAMES[d]), list, h('div.day-actions', {}, h('label.check', {}, closed, ' Closed'), more)) };
  });
  return {
    element: h('div.hours', {}, ...days.map((x) => x.el)),
    value: () => Object.fromEntries(days.map((x) => [x.d,
      x.closed.checked ? [] : x.intervals.map((i) => ({ open: i.open.value, close: i.close.value })).filter((i) => i.open || i.close)])),
    locate: (path) => {
      const m = /^(\w{3})\[(\d+)\](?:\.(open|close))?/.exec(path);
      const day = m && days.find((x) => x.d === m[1]);
      const iv = day?.intervals[Number(m![2])];
      if (!day || !iv) return undefined;
      return { el: m![3] === 'open' ? iv.open : iv.close, label: `${DAY_NAMES[day.d]}` };
    },
  };
}
