import { api, ApiError } from '../api.js';
import { h, when } from '../dom.js';
import { ErrorDisplay } from '../forms.js';
import { showPhone, toE164 } from '../phone.js';
import { onLive } from '../live.js';
import { callButton } from './people.js';

/** One inbox for everything customers left: text conversations, voicemails and messages taken. */

type Thread = { id: string; customer_number: string; customer_id: string | null; customer_name: string | null; business_number: string; opted_out_at: string | null; last_message_at: string; last_body: string | null; unread: number };
type OwnerMessage = { id: string; kind: string; caller_number: string | null; body: string; recording_path: string | null; duration_ms: number | null; read_at: string | null; created_at: string };
type Text = { id: string; direction: 'inbound' | 'outbound'; body: string; status: string; created_at: string };

export async function unreadCount(): Promise<number> {
  const [threads, msgs] = await Promise.all([api<Thread[]>('GET', '/sms/threads'), api<OwnerMessage[]>('GET', '/voicemails')]);
  return threads.reduce((n, t) => n + t.unread, 0) + msgs.filter((m) => !m.read_at).length;
}

const who = (t: { customer_name: string | null; customer_number: string }) => t.customer_name || showPhone(t.customer_number);

export async function inboxPage(app: HTMLElement): Promise<void> {
  const list = h('div#inbox-list', {}, await inboxList());
  // New arrivals redraw the list only: the New text form (perhaps half written, perhaps focused) is never replaced.
  let drawing: Promise<void> | undefined;
  let again = false;
  const redraw = async (): Promise<void> => {
    if (drawing) return void (again = true);
    drawing = (async () => {
      do {
        again = false;
        const fresh = await inboxList();
        if (list.isConnected) list.replaceChildren(fresh);
      } while (again && list.isConnected);
    })().finally(() => { drawing = undefined; });
    return drawing;
  };
  onLive((e) => { if (e.type === 'text' || e.type === 'voicemail') void redraw().catch(() => {}); });
  app.replaceChildren(h('h1', {}, 'Inbox'), newText(), list);
  const prefill = /^#\/inbox\/new\/(.+)$/.exec(location.hash)?.[1];
  if (prefill) {
    const to = document.getElementById('sms-to') as HTMLInputElement;
    to.value = showPhone(decodeURIComponent(prefill));
    document.getElementById('sms-text')?.focus();
  }
}

/** Threads, voicemails and messages, newest first. */
async function inboxList(): Promise<HTMLElement> {
  const [threads, msgs] = await Promise.all([api<Thread[]>('GET', '/sms/threads'), api<OwnerMessage[]>('GET', '/voicemails')]);
  const items = [
    ...threads.map((t) => ({ at: t.last_message_at, el: h('li.item', { 'data-thread': t.id, class: t.unread ? 'item unread' : 'item' },
      h('a.row-link', { href: `#/inbox/t/${t.id}` },
        h('span.item-head', {}, h('b', {}, who(t)), t.unread ? h('span.badge', { 'aria-label': `${t.unread} unread` }, String(t.unread)) : null,
          t.opted_out_at ? h('span.tag.bad', {}, 'opted out') : null, h('span.muted.time', {}, when(t.last_message_at))),
        h('span.preview', {}, h('span.tag', {}, 'text'), ' ', t.last_body ?? ''))) })),
    ...msgs.map((m) => ({ at: m.created_at, el: h('li.item', { 'data-message': m.id, class: m.read_at ? 'item' : 'item unread' },
      h('div.item-head', {}, h('b', {}, showPhone(m.caller_number) || 'unknown caller'), m.read_at ? null : h('span.badge', {}, 'new'),
        h('span.muted.time', {}, when(m.created_at))),
      h('p.preview', {}, h('span.tag', {}, m.kind === 'voicemail' ? 'voicemail' : 'message'), ' ', m.body || (m.recording_path ? '(no transcript)' : '')),
      m.recording_path ? h('audio', { controls: true, src: `/api/voicemails/${m.id}/audio`, preload: 'metadata', 'aria-label': 'Voicemail recording' }) : null,
      h('p.actions', {},
        h('button.secondary', { type: 'button', onclick: async () => {
          await api('POST', `/voicemails/${m.id}/read`, { read: !m.read_at });
          document.getElementById('inbox-list')?.replaceChildren(await inboxList());
        } }, m.read_at ? 'Mark unread' : 'Mark done'),
        m.caller_number ? h('a.button.secondary', { href: `#/inbox/new/${encodeURIComponent(m.caller_number)}` }, 'Text back') : null)) })),
  ].sort((a, b) => b.at.localeCompare(a.at));
  return items.length ? h('ul.inbox#inbox', {}, ...items.map((i) => i.el)) : h('p.muted#inbox', {}, 'Nothing yet: texts, voicemails and messages land here.');
}

/** A text to any number; an opted-out customer is refused here, not dropped later. */
function newText(): HTMLElement {
  const to = h('input#sms-to', { placeholder: '(512) 555-0123', inputmode: 'tel', autocomplete: 'off' });
  const text = h('textarea#sms-text', { rows: 3 });
  const status = h('span#sms-status', { role: 'status' });
  const errors = new ErrorDisplay();
  const locate = (path: string) => (path === 'text' ? { el: text, label: 'Message' } : { el: to, label: 'To' });
  return h('details.card#new-text', { ...(location.hash.startsWith('#/inbox/new/') ? { open: true } : {}) }, h('summary', {}, 'New text'),
    h('form', { onsubmit: async (ev: Event) => {
      ev.preventDefault();
      errors.clear();
      status.textContent = '';
      const number = toE164(to.value);
      if (!number) return errors.show([{ path: 'to', message: 'Enter a phone number, like (512) 555-0142.' }], locate);
      if (!text.value.trim()) return errors.show([{ path: 'text', message: 'Write the message.' }], locate);
      try {
        await api('POST', '/sms', { to: number, text: text.value });
        status.textContent = `Sending to ${showPhone(number)}…`;
        status.className = 'ok';
        text.value = '';
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        errors.show(e.fields.length ? e.fields : [{ path: 'to', message: e.message }], locate);
      }
    } },
    h('label', { for: 'sms-to' }, 'To'), to, h('label', { for: 'sms-text' }, 'Message'), text,
    h('p', {}, h('button#sms-send', { type: 'submit' }, 'Send'), ' ', status), errors.summary));
}

export async function threadPage(app: HTMLElement, id: string): Promise<void> {
  const [threads, texts] = await Promise.all([api<Thread[]>('GET', '/sms/threads'), api<Text[]>('GET', `/sms/threads/${id}`)]);
  const t = threads.find((x) => x.id === id);
  if (!t) return void app.replaceChildren(h('p.error', {}, 'That conversation is gone.'));
  if (t.unread) await api('POST', `/sms/threads/${id}/read`);
  const reply = h('textarea#reply-text', { rows: 3, ...(t.opted_out_at ? { disabled: true } : {}) });
  const status = h('span#reply-status', { role: 'status' });
  const errors = new ErrorDisplay();
  const bubbles = (list: Text[]) => list.map((m) => h('li', { class: `bubble ${m.direction}` },
    h('span.sr-only', {}, m.direction === 'inbound' ? 'They wrote: ' : 'You wrote: '), m.body,
    h('span.meta', {}, `${when(m.created_at)}${m.direction === 'outbound' ? ` · ${m.status}` : ''}`)));
  const thread = h('ol.thread#thread', {}, ...bubbles(texts));
  // A new text in this conversation redraws the texts only: the reply being written is never replaced.
  let seen = 0;
  const calling = callButton(t.customer_number, who(t));
  onLive((e) => {
    calling.live(e);
    if (e.type !== 'text' || e.thread !== id) return;
    const mine = ++seen;
    void api<Text[]>('GET', `/sms/threads/${id}`).then((fresh) => {
      if (mine !== seen || !thread.isConnected) return; // a later event's answer draws it
      thread.replaceChildren(...bubbles(fresh));
      if (e.direction === 'inbound') void api('POST', `/sms/threads/${id}/read`).catch(() => {});
    }, () => {});
  });
  app.replaceChildren(
    h('p', {}, h('a', { href: '#/inbox' }, '← Inbox')),
    h('h1', {}, who(t), t.customer_name ? h('span.muted', {}, ` ${showPhone(t.customer_number)}`) : null),
    h('p.actions', {}, calling.button, t.customer_id ? h('a.button.secondary', { href: `#/customers/${t.customer_id}` }, 'Timeline') : null),
    calling.status,
    t.opted_out_at ? h('p.notice.bad#opted-out', { role: 'note' }, `Opted out: this customer texted STOP on ${when(t.opted_out_at)}. They can't be texted until they text START.`) : '',
    thread,
    h('form.card#reply', { onsubmit: async (ev: Event) => {
      ev.preventDefault();
      errors.clear();
      if (!reply.value.trim()) return errors.show([{ path: 'text', message: 'Write the reply.' }], () => ({ el: reply, label: 'Reply' }));
      try {
        await api('POST', '/sms', { thread: id, text: reply.value });
        document.getElementById('thread')!.append(h('li.bubble.outbound.pending', {}, h('span.sr-only', {}, 'You wrote: '), reply.value, h('span.meta', {}, 'sending')));
        status.textContent = 'Sent to the outbox.';
        status.className = 'ok';
        reply.value = '';
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        errors.show([{ path: 'text', message: e.message }], () => ({ el: reply, label: 'Reply' }));
      }
    } },
    h('label', { for: 'reply-text' }, `Reply to ${who(t)}`), reply,
    h('p', {}, h('button#reply-send', { type: 'submit', ...(t.opted_out_at ? { disabled: true } : {}) }, 'Send'), ' ', status), errors.summary),
  );
}
