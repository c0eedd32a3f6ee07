import type { BusinessContext } from '../../business/context/schema.js';
import type { TurnLines } from '../turns/machine.js';

/** The lines a call's turn-taking says on its own (greeting, silence, goodbye, transfer), from the context. */
export function callLines(ctx: BusinessContext, greeting: string, reprompt: TurnLines['reprompt']): TurnLines {
  return {
    greeting,
    reprompt,
    goodbye: `Thanks for calling ${ctx.displayName}. Goodbye.`,
    transfer: `Sure, connecting you to ${ctx.owner.name}.`,
    noInput: ctx.owner.targets.length ? `I can't hear you, so I'll put you through to ${ctx.owner.name}.` : `I can't hear you. If you can, please leave a message for ${ctx.owner.name} after the tone.`,
  };
}

/** What the caller hears when the agent fails mid-call, before the hand-off to the owner or voicemail. */
export function troubleLine(ctx: BusinessContext): string {
  return ctx.owner.targets.length
    ? `Sorry, I'm having trouble on my side. Let me connect you to ${ctx.owner.name}.`
    : `Sorry, I'm having trouble on my side. Please leave a message after the tone.`;
}
