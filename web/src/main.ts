import { login, me } from './api.js';
import { h } from './dom.js';
import { contextsPage, contextPage } from './pages/contexts.js';
import { dashboardPage, callsPage, callPage, voicemailsPage } from './pages/activity.js';
import { messagesPage, appointmentsPage, customersPage } from './pages/people.js';

/** The admin console: a hash router over the /api endpoints. */

const app = document.getElementById('app')!;
const nav = document.getElementById('nav')!;
const who = document.getElementById('who')!;

const LINKS: [string, string][] = [
  ['#/', 'Dashboard'], ['#/contexts', 'Contexts'], ['#/calls', 'Calls'], ['#/messages', 'Messages'],
  ['#/appointments', 'Appointments'], ['#/customers', 'Customers'], ['#/voicemails', 'Voicemails'],
];

function loginPage(): void {
  const user = h('input#username', { autocomplete: 'username' });
  const pass = h('input#password', { type: 'password', autocomplete: 'current-password' });
  const err = h('p.error#login-error');
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
  app.replaceChildren(h('div.card', {}, h('h1', {}, 'Sign in'),
    h('form', { onsubmit: submit }, h('label', {}, 'Username'), user, h('label', {}, 'Password'), pass, h('p', {}, h('button#login', { type: 'submit' }, 'Sign in'))), err));
}

async function render(): Promise<void> {
  const user = await me();
  if (!user) return loginPage();
  who.textContent = user.username;
  const path = location.hash.replace(/^#/, '') || '/';
  nav.replaceChildren(...LINKS.map(([href, label]) => h('a', { href, class: path === href.slice(1) || (href !== '#/' && path.startsWith(href.slice(1))) ? 'active' : '' }, label)));
  const [, section, id] = path.split('/');
  try {
    if (!section) await dashboardPage(app);
    else if (section === 'contexts') await (id ? contextPage(app, id) : contextsPage(app));
    else if (section === 'calls') await (id ? callPage(app, id) : callsPage(app));
    else if (section === 'messages') await messagesPage(app);
    else if (section === 'appointments') await appointmentsPage(app);
    else if (section === 'customers') await customersPage(app);
    else if (section === 'voicemails') await voicemailsPage(app);
    else app.replaceChildren(h('p', {}, 'Not found.'));
  } catch (e) {
    app.replaceChildren(h('p.error', {}, (e as Error).message));
  }
}

window.addEventListener('hashchange', () => void render());
void render();
