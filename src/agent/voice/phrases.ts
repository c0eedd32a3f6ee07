import type { BusinessContext } from '../../business/context/schema.js';
import type { SttQuestion } from '../../speech/types.js';
import type { GuidedState } from '../guided/engine.js';

/**
 * The business's own words as example sentences for the recognizer: its services and add-ons, the
 * owner's and the agent's names, and the ways a caller asks for them.
 */
export function contextPhrases(ctx: BusinessContext): string[] {
  const out: string[] = [ctx.displayName, ctx.owner.name, ctx.persona.name, `can i speak to ${ctx.owner.name}`, `is ${ctx.owner.name} there`];
  for (const s of ctx.services) {
    const name = s.name.toLowerCase();
    out.push(
      name, `a ${name}`, `i would like a ${name}`, `i need a ${name}`, `how much is a ${name}`, `how much for a ${name}`,
      `book a ${name}`, `i want to book a ${name}`, `a ${name} next week`, `can you do a ${name}`,
    );
    for (const a of s.aliases ?? []) out.push(a.toLowerCase(), `a ${a.toLowerCase()}`);
    if (s.price.perUnit) out.push(`${s.price.perUnit.unit}s`, `three ${s.price.perUnit.unit}s`, `a two ${s.price.perUnit.unit} house`);
  }
  for (const m of ctx.pricing.modifiers) out.push(m.label.toLowerCase(), `with ${m.label.toLowerCase()}`);
  return [...new Set(out)];
}

const DIGITS = ['zero', 'oh', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const HOURS = ['eight', 'nine', 'ten', 'eleven', 'twelve', 'one', 'two', 'three', 'four', 'five'];

/**
 * The answers a question expects, for the recognizer's per-question model: after "Shall I book
 * it?" a "yes" outweighs "yeah is"; after "how many bedrooms?" a number outweighs "for".
 */
export function questionPhrases(ctx: BusinessContext, q: SttQuestion): string[] {
  switch (q) {
    case 'yes_no':
      return ['yes', 'yes please', 'yeah', 'yep', 'sure', 'okay', 'correct', "that's right", 'that is right', 'go ahead', 'please do', 'sounds good',
        'no', 'no thanks', 'no thank you', 'nope', 'not really', "that's wrong", 'no that is wrong', 'yes that is right', 'no i said'];
    case 'time':
      return [
        ...DAYS.flatMap((d) => [d, `on ${d}`, `next ${d}`, ...HOURS.map((h) => `${d} at ${h}`)]),
        ...HOURS.flatMap((h) => [`at ${h}`, `${h} o'clock`, `${h} thirty`, `${h} in the morning`, `${h} in the afternoon`]),
        'the first one', 'the second one', 'the third one', 'the last one', 'tomorrow', 'tomorrow morning', 'tomorrow afternoon', 'next week',
      ];
    case 'service':
      return ctx.services.flatMap((s) => [s.name.toLowerCase(), `a ${s.name.toLowerCase()}`, `the ${s.name.toLowerCase()}`, ...(s.aliases ?? []).map((a) => a.toLowerCase())]);
    case 'size': {
      const unit = ctx.services.find((s) => s.price.perUnit)?.price.perUnit?.unit ?? 'bedroom';
      const n = DIGITS.slice(2, 8);
      return [...n, ...n.map((x) => `${x} ${unit}s`), ...n.map((x) => `a ${x} ${unit} house`), ...n.map((x) => `${x} ${unit} apartment`), `one ${unit}`, 'a studio', 'just one'];
    }
    case 'digits':
      return [...DIGITS, ...DIGITS.map((a) => DIGITS.map((b) => `${a} ${b}`).join(' '))];
  }
}

/** The question a pending step of the guided flow asks, if it has a narrow set of answers. */
export function questionOf(pending: GuidedState['pending']): SttQuestion | undefined {
  switch (pending?.kind) {
    case 'offer_book': case 'confirm_book': case 'confirm_cancel': case 'confirm_reschedule': case 'confirm_visit': case 'confirm_heard':
      return 'yes_no';
    case 'ask_time': case 'ask_reschedule_time': return 'time';
    case 'ask_service': return 'service';
    case 'ask_size': return 'size';
    default: return undefined;
  }
}
