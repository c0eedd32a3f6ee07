/** Server-sent events from /api/events: each page says what to do with them while it is shown. */

export type LiveEvent =
  | { type: 'call'; id: string; state: string; from: string; disposition: string | null }
  | { type: 'call_event'; call: string; kind: string; role: string | null; text: string | null; at: string }
  | { type: 'text'; thread: string; direction: string }
  | { type: 'voicemail'; id: string; kind: string }
  | { type: 'booking'; id: string; status: string };

let page: ((e: LiveEvent) => void) | undefined;
let source: EventSource | undefined;

/** The shown page's handler; replaced on every navigation. */
export function onLive(fn: ((e: LiveEvent) => void) | undefined): void {
  page = fn;
}

/** True while the owner is in a field: a redraw then would throw their input away. */
export function busy(): boolean {
  const a = document.activeElement;
  return !!a && (a.tagName === 'INPUT' || a.tagName === 'TEXTAREA' || a.tagName === 'SELECT');
}

export function startLive(always: (e: LiveEvent) => void): void {
  if (source) return;
  source = new EventSource('/api/events');
  source.onmessage = (m) => {
    const e = JSON.parse(m.data as string) as LiveEvent;
    always(e);
    page?.(e);
  };
  document.documentElement.dataset.live = 'connecting';
  source.addEventListener('ready', () => { document.documentElement.dataset.live = 'open'; });
  source.onerror = () => { document.documentElement.dataset.live = 'connecting'; };
}

export function stopLive(): void {
  source?.close();
  source = undefined;
}
