import type { Business } from '../business/index.js';
import type { StoredContext } from '../business/context/service.js';
import { parseOwnerCommand } from '../business/owner/parse.js';
import { requirement, type Tier } from '../business/owner/policy.js';
import type { OwnerAction, OwnerWho } from '../business/owner/desk.js';

/**
 * The owner's conversation, by text or on a call once the PIN is in: a command is read, planned,
 * held by the policy (read-only answers at once; changes are read back and wait for "yes", and by
 * text the high tier for the PIN), then applied. Every step is in the audit log.
 */

export interface OwnerState {
  pending?: { kind: OwnerAction['kind']; tier: Tier; readBack: string; action: OwnerAction; said: string; pin: boolean; at: string };
}

const YES = /^(yes|yeah|yep|y|yes please|confirm|confirmed|ok|okay|sure|do it|go ahead|correct|please do|that's right|that is right)\b/;
const NO = /^(no|nope|n|no thanks|no thank you|cancel|cancel that|don't|do not|never ?mind|stop)$/;
const PENDING_MS = 30 * 60_000;
/** A text that is (or carries only) a PIN: never written down as sent. */
const PIN_ONLY = /^(?:yes\s*,?\s*)?(?:pin\s*)?(\d{4,10})$/;

export interface OwnerReply {
  reply: string;
  state: OwnerState;
  /** The text was a PIN: the caller should not keep it (the SMS thread's copy is redacted). */
  pinSeen?: boolean;
}

export const OWNER_HELP = 'Owner line. Try: what\'s on tomorrow; any messages; text the Garcias we\'re running late; move Mrs. Lee\'s Tuesday visit to Thursday at 10; cancel my 3 pm; we\'re closed Friday for the holiday; close early today at 3; forward calls until 5; block the last caller; notify me when someone books a deep clean; call me at 6 with tomorrow\'s schedule.';

/** Short enough to hear on a call. */
export const VOICE_HELP = "You can ask what's on tomorrow, for your messages, or to text, move or cancel a visit.";

export class OwnerAgent {
  constructor(private readonly business: Business, private readonly stored: StoredContext, private readonly who: OwnerWho) {}

  private get desk() {
    return this.business.owner;
  }

  async respond(raw: string, state: OwnerState): Promise<OwnerReply> {
    const text = raw.trim().toLowerCase().replace(/[.!?]+$/, '');
    const r = await this.answer(raw, text, state);
    return PIN_ONLY.test(text) ? { ...r, pinSeen: true } : r;
  }

  private async answer(raw: string, text: string, state: OwnerState): Promise<OwnerReply> {
    const p = state.pending;
    const fresh = p && this.business.now().getTime() - Date.parse(p.at) < PENDING_MS;
    if (p && fresh) {
      const audit = (verdict: string, extra: { changed?: unknown; error?: string } = {}) =>
        this.desk.audit(this.stored, this.who, { kind: p.kind, tier: p.tier, verdict, said: p.said, readBack: p.readBack, ...extra });
      if (NO.test(text)) {
        await audit('declined');
        return { reply: 'OK, not done.', state: {} };
      }
      if (p.pin) {
        const pin = PIN_ONLY.exec(text)?.[1];
        if (pin) {
          const v = await this.business.ownerPins.check(this.stored, pin, this.who.number, this.who.channel);
          if (!v.ok) {
            if (v.locked) {
              await audit('refused', { error: 'owner PIN locked' });
              return { reply: 'Too many wrong PINs: owner changes are locked for 15 minutes. Nothing was changed.', state: {} };
            }
            await audit('wrong_pin');
            return { reply: `That PIN is wrong; nothing was changed. ${v.triesLeft} ${v.triesLeft === 1 ? 'try' : 'tries'} left before owner changes lock for 15 minutes.`, state };
          }
          return this.apply(p);
        }
        if (YES.test(text)) return { reply: 'This change needs your PIN: reply with the PIN to confirm, or NO.', state };
      } else if (YES.test(text)) {
        return this.apply(p);
      }
      // Something else: a new command replaces the one waiting; words that are no command
      // (a misheard "yes") leave it waiting and ask again.
      if (parseOwnerCommand(raw, this.stored.document, this.business.now()).kind === 'unknown') {
        const again = this.who.channel === 'call' ? `Sorry, I didn't catch that. ${p.readBack} Shall I do it? Say yes or no.`
          : p.pin ? 'Reply with your PIN to confirm, or NO.' : 'Reply YES to confirm, or NO.';
        return { reply: again, state };
      }
      await audit('abandoned');
    }
    return this.command(raw);
  }

  private async apply(p: NonNullable<OwnerState['pending']>): Promise<{ reply: string; state: OwnerState }> {
    try {
      const r = await this.desk.apply(this.stored, p.action, this.who);
      await this.desk.audit(this.stored, this.who, { kind: p.kind, tier: p.tier, verdict: 'done', said: p.said, readBack: p.readBack, changed: r.changed });
      return { reply: r.text, state: {} };
    } catch (err) {
      const msg = (err as Error).message;
      await this.desk.audit(this.stored, this.who, { kind: p.kind, tier: p.tier, verdict: 'failed', said: p.said, readBack: p.readBack, error: msg });
      return { reply: `That didn't work: ${msg}. Nothing was changed.`, state: {} };
    }
  }

  private async command(said: string): Promise<{ reply: string; state: OwnerState }> {
    const cmd = parseOwnerCommand(said, this.stored.document, this.business.now());
    if (cmd.kind === 'unknown') {
      const pinLike = PIN_ONLY.test(said.trim().toLowerCase().replace(/[.!?]+$/, ''));
      await this.desk.audit(this.stored, this.who, { kind: 'unknown', tier: 'none', verdict: 'not_understood', said: pinLike ? '(digits, not kept)' : said });
      if (pinLike) return { reply: 'Nothing is waiting for a PIN. Send the command first.', state: {} };
      const help = this.who.channel === 'call' ? VOICE_HELP : OWNER_HELP;
      return { reply: cmd.hint ?? `Sorry, I didn't get that. ${help}`, state: {} };
    }
    const need = requirement(cmd.kind, this.who.channel);
    const plan = await this.desk.plan(this.stored, cmd, this.who);
    if (plan.type === 'answer') {
      await this.desk.audit(this.stored, this.who, { kind: cmd.kind, tier: need.tier, verdict: 'done', said });
      return { reply: plan.text, state: {} };
    }
    if (plan.type === 'refuse') {
      await this.desk.audit(this.stored, this.who, { kind: cmd.kind, tier: need.tier, verdict: 'refused', said, error: plan.text });
      return { reply: plan.text, state: {} };
    }
    if (need.pin) {
      const refuse = !this.stored.document.owner.pinHash ? 'This change needs the owner PIN, and none is set: set it in the console.'
        : await this.business.ownerPins.lockedUntil(this.stored.id) ? 'Owner changes are locked for a while after too many wrong PINs.' : undefined;
      if (refuse) {
        await this.desk.audit(this.stored, this.who, { kind: cmd.kind, tier: need.tier, verdict: 'refused', said, readBack: plan.readBack, error: refuse });
        return { reply: `${refuse} Nothing was changed.`, state: {} };
      }
    }
    await this.desk.audit(this.stored, this.who, { kind: cmd.kind, tier: need.tier, verdict: 'awaiting_confirmation', said, readBack: plan.readBack });
    const ask = this.who.channel === 'call' ? 'Shall I do it?' : need.pin ? 'Reply with your PIN to confirm, or NO.' : 'Reply YES to confirm, or NO.';
    return {
      reply: `${plan.readBack} ${ask}`,
      state: { pending: { kind: plan.action.kind, tier: plan.tier, readBack: plan.readBack, action: plan.action, said, pin: need.pin, at: this.business.now().toISOString() } },
    };
  }
}
