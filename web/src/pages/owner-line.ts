import { api } from '../api.js';
import { h, when } from '../dom.js';
import { showPhone } from '../phone.js';

/** The owner's line on a context's page: what each command takes (the policy table) and every command the owner gave, with its verdict. */

interface OwnerLine {
  numbers: string[];
  pinSet: boolean;
  lockedUntil: string | null;
  policy: { command: string; tier: string; what: string; confirm: boolean; pin: boolean }[];
  commands: { at: string; actor: string; action: string; details: Record<string, unknown> | null }[];
}

const TIER: Record<string, string> = { low: 'Low: answered at once', medium: 'Medium: read back, confirmed', high: 'High: PIN and confirmed' };

function describe(c: OwnerLine['commands'][number]): [string, string, string, string] {
  const d = c.details ?? {};
  switch (c.action) {
    case 'owner.command':
      return [String(d.command ?? ''), String(d.tier ?? ''), String(d.verdict ?? ''), [d.readBack ?? d.said ?? '', d.error ? ` (${String(d.error)})` : ''].join('')];
    case 'owner.pin_failed': return ['PIN', '', 'wrong PIN', String(d.channel ?? '')];
    case 'owner.pin_ok': return ['PIN', '', 'PIN accepted', String(d.channel ?? '')];
    case 'owner.pin_locked': return ['PIN', '', 'locked', `until ${when(String(d.until ?? ''))}`];
    case 'owner.pin_refused': return ['PIN', '', 'refused (locked)', String(d.channel ?? '')];
    case 'owner.pin_set': return ['PIN', '', 'PIN set', 'in the console'];
    case 'owner.pin_cleared': return ['PIN', '', 'PIN removed', 'in the console'];
    default: return [c.action, '', '', ''];
  }
}

export async function ownerLineCard(name: string): Promise<HTMLElement> {
  const o = await api<OwnerLine>('GET', `/contexts/${name}/owner-line`);
  const status = !o.numbers.length ? 'Add the numbers you call or text from above to use the owner\'s line.'
    : `From ${o.numbers.map(showPhone).join(', ')}. ${o.pinSet ? 'PIN set.' : 'No PIN: calls never reach owner mode, and high-tier texts are refused.'}${o.lockedUntil ? ` Locked after wrong PINs until ${when(o.lockedUntil)}.` : ''}`;
  return h('div.card#owner-line', {},
    h('h2', {}, "The owner's line"),
    h('p.muted', {}, 'Call or text the business number from your own phone to run it. On a call, press * then your PIN then #, or say "my PIN is…".'),
    h('p#owner-line-status', {}, status),
    h('div.table-wrap', {}, h('table#owner-policy', {},
      h('tr', {}, h('th', {}, 'Command'), h('th', {}, 'Tier')),
      ...o.policy.map((p) => h('tr', {}, h('td', {}, p.what), h('td', {}, TIER[p.tier] ?? p.tier))))),
    h('h2', {}, 'What the owner asked for'),
    o.commands.length
      ? h('div.table-wrap', {}, h('table#owner-commands', {},
        h('tr', {}, h('th', {}, 'When'), h('th', {}, 'From'), h('th', {}, 'Command'), h('th', {}, 'Tier'), h('th', {}, 'Verdict'), h('th', {}, 'What')),
        ...o.commands.map((c) => {
          const [cmd, tier, verdict, what] = describe(c);
          const channel = String(c.details?.channel ?? '');
          return h('tr', {}, h('td', {}, when(c.at)), h('td', {}, `${showPhone(c.actor.replace(/^owner:/, ''))}${channel ? ` (${channel === 'sms' ? 'text' : channel})` : ''}`),
            h('td', {}, cmd), h('td', {}, tier), h('td', {}, verdict), h('td', {}, what));
        })))
      : h('p.muted#owner-commands-empty', {}, 'No owner commands yet.'),
  );
}
