import type { BusinessContext } from '../../business/context/schema.js';

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
