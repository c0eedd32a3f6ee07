import type { Business } from '../../business/index.js';
import type { StoredContext } from '../../business/context/service.js';
import { OwnerAgent, type OwnerState } from '../owner.js';

/**
 * Owner mode on a call from one of the owner's numbers: the PIN (keyed or said) switches it on,
 * then owner commands run under the policy (src/agent/owner.ts) instead of the customer agent.
 */
export class OwnerLine {
  /** Set once the PIN was right. */
  private agent: OwnerAgent | undefined;
  private state: OwnerState = {};

  constructor(private readonly business: Business, private readonly context: StoredContext, readonly number: string, private readonly note: (text: string) => void) {}

  get active(): boolean {
    return !!this.agent;
  }

  /** One owner turn: `pin` is a PIN keyed or said (checked, never logged); else `text` is a command. */
  async turn(text: string, pin: string | undefined): Promise<{ reply: string; then?: 'end' | undefined }> {
    const ctx = this.context;
    if (pin !== undefined) {
      const v = await this.business.ownerPins.check(ctx, pin, this.number, 'call');
      if (!v.ok) {
        this.note(v.locked ? 'owner PIN locked' : 'wrong owner PIN');
        return { reply: v.locked ? 'Owner access is locked for now. How else can I help?' : "That PIN isn't right. How else can I help?" };
      }
      this.agent = new OwnerAgent(this.business, ctx, { number: this.number, channel: 'call' });
      this.note('owner mode');
      return { reply: `Hi ${ctx.document.owner.name}, you're on the owner line. What can I do?` };
    }
    if (!this.state.pending && /^(that's all|that is all|nothing else|goodbye|bye|bye bye|no thanks|thanks bye)\b/.test(text.toLowerCase())) {
      return { reply: 'Goodbye.', then: 'end' };
    }
    const r = await this.agent!.respond(text, this.state);
    this.state = r.state;
    return { reply: r.reply };
  }
}

/** The owner names customers ("text the Garcias…"): their names join the recognizer's words on the owner's calls. */
export async function ownerHints(business: Business): Promise<string[]> {
  const names = (await business.customers.list({ limit: 200 }).catch(() => [])).map((c) => c.name).filter((n): n is string => !!n);
  return names.flatMap((n) => [`text ${n}`, `move ${n}'s visit`, `the ${n.split(' ').at(-1)}s`]);
}
