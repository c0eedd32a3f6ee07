import { api, login, logout, me, onReachability, UnreachableError } from './api.js';
import { h } from './dom.js';
import { contextsPage, contextPage } from './pages/contexts.js';
import { dashboardPage, callsPage, callPage } from './pages/activity.js';
import { customersPage, customerPage } from './pages/people.js';
import { testCallPage } from './pages/test-call.js';
import { appointmentsPage } from './pages/calendar.js';
import { inboxPage, threadPage, unreadCount } from './pages/inbox.js';
import { onLive, startLive, stopLive } from './live.js';

/** The admin console: a hash router over the /api endpoints. */

const main = document.getElementById('app')!;
const nav = document.getElementById('nav')!;
const who = document.getElementById('who')!;
const account = document.getElementById('account')!;
const offline = document.getElementById('offline')!;
const toggle = document.getElementById('menu-toggle')!;

const LINKS: [string, string][] = [
  ['#/', 'Today'], ['#/inbox', 'Inbox'], ['#/calls', 'Calls'], ['#/appointments', 'Calendar'],
  ['#/customers', 'Customers'], ['#/contexts', 'Settings'],
];

// On a phone the menu folds behind one button; on a desktop it is always open.
const narrow = matchMedia('(max-width: 760px)');
const fold = () => {
  toggle.hidden = !narrow.matches;
  nav.classList.toggle('folded', narrow.matches && toggle.getAttribute('aria-expanded') !== 'true');
};
narrow.addEventListener('change', fold);
toggle.addEventListener('click', () => {
  toggle.setAttribute('aria-expanded', String(toggle.getAttribute('aria-expanded') !== 'true'));
  fold();
});

// Down is not signed out: say so, keep the page, and try again until it answers.
let retry: ReturnType<typeof setTimeout> | undefined;
onReachability((up) => {
  if (up) {
    if (!offline.hidden) {
      offline.hidden = true;
      void render();
    }
    return;
  }
  offline.hidden = false;
  offline.replaceChildren(h('b', {}, 'The frontdesk server cannot be reached. '), 'Your changes are not lost; retrying every few seconds… ',
    h('button.secondary', { type: 'button', onclick: () => void render() }, 'Retry now'));
  clearTimeout(retry);
  retry = setTimeout(() => void api('GET', '/auth/me').catch(() => {}), 4000);
});

/** The unread count beside "Inbox". */
async function badge(): Promise<void> {
  const unread = await unreadCount().catch(() => 0);
  const link = nav.querySelector('a[href="#/inbox"]');
  link?.querySelector('.badge')?.remove();
  if (link && unread) link.append(h('span.badge#unread', { 'aria-label': `${unread} unread` }, String(unread)));
}

function loginPage(): void {
  const user = h('input#username', { autocomplete: 'username' });
  const pass = h('input#password', { type: 'password', autocomplete: 'current-password' });
  const err = h('p.error#login-error', { role: 'alert' });
  const submit = async (ev: Event) => {
    ev.preventDefault();
    try {
      await login(user.value, pass.value);
      location.hash = '#/';
      await render();
    } catch (e) {
      err.textContent = (e as Error).message;
    }
  };
  nav.replaceChildren();
  toggle.hidden = true;
  who.textContent = '';
  account.replaceChildren(who);
  main.replaceChildren(h('div.card.narrow', {}, h('h1', {}, 'Sign in'),
    h('form', { onsubmit: submit }, h('label', { for: 'username' }, 'Username'), user, h('label', { for: 'password' }, 'Password'), pass,
      h('p', {}, h('button#login', { type: 'submit' }, 'Sign in'))), err));
}

async function render(): Promise<void> {
  let user;
  try {
    user = await me();
  } catch (e) {
    if (e instanceof UnreachableError) return; // the banner says it; the page stays as it was
    throw e;
  }
  if (!user) return loginPage();
  who.textContent = user.username;
  account.replaceChildren(who, h('button.secondary#sign-out', { type: 'button', onclick: async () => { stopLive(); await logout(); loginPage(); } }, 'Sign out'));
  startLive((e) => { if (e.type === 'text' || e.type === 'voicemail') void badge(); });
  onLive(undefined);
  const [path = '/', query = ''] = (location.hash.replace(/^#/, '') || '/').split('?');
  nav.replaceChildren(...LINKS.map(([href, label]) => {
    const active = path === href.slice(1) || (href !== '#/' && path.startsWith(href.slice(1)));
    return h('a', { href, class: active ? 'active' : '', ...(active ? { 'aria-current': 'page' } : {}) }, label);
  }));
  await badge();
  toggle.setAttribute('aria-expanded', 'false');
  fold();
  const [, section, id, sub] = path.split('/');
  // Each visit to a page draws into its own element: a redraw the last page had in flight (a live
  // event's answer arriving after the owner moved on) lands in a detached element, never over this page.
  const previous = [...main.childNodes];
  const app = h('div.view');
  main.replaceChildren(app);
  try {
    if (!section) await dashboardPage(app);
    else if (section === 'contexts') await (id ? contextPage(app, id) : contextsPage(app));
    else if (section === 'calls') await (id ? callPage(app, id) : callsPage(app, Object.fromEntries(new URLSearchParams(query))));
    else if (section === 'inbox' || section === 'messages' || section === 'voicemails') await (id === 't' && sub ? threadPage(app, sub) : inboxPage(app));
    else if (section === 'appointments') await appointmentsPage(app);
    else if (section === 'test-call') await testCallPage(app);
    else if (section === 'customers') await (id ? customerPage(app, id) : customersPage(app));
    else app.replaceChildren(h('p', {}, 'Not found.'));
  } catch (e) {
    // Unreachable: the banner says so, and the page the owner had stays.
    if (e instanceof UnreachableError) return void main.replaceChildren(...previous);
    app.replaceChildren(h('p.error', { role: 'alert' }, (e as Error).message));
  }
}

window.addEventListener('hashchange', () => void render());
void render();
