import type { Telephony } from '../../telephony/call.js';
import type { Tts } from '../../speech/types.js';
import type { ChannelSender } from '../../business/outbox.js';
import type { Business } from '../../business/index.js';
import { speech } from '../../speech/speak.js';

/**
 * The outbox's 'call' channel: phones the owner and reads the alert out. No answer or busy throws,
 * so the outbox retries with backoff. A briefing call ("call me at 6 with tomorrow's schedule")
 * reads the schedule as it stands when the call is placed, not when it was asked for.
 */
export function createCallAlertSender(telephony: Telephony, tts: Tts, business: Business): ChannelSender {
  return async (item) => {
    const p = item.payload as { text?: string; briefing?: 'today' | 'tomorrow' };
    const ctx = item.context_id ? await business.contexts.getById(item.context_id) : undefined;
    const text = p.briefing && ctx ? await business.owner.briefingText(ctx, p.briefing) : p.text ?? 'You have a new notification from frontdesk.';
    const call = await telephony.dial(item.recipient, { timeoutSeconds: 30, requestedBy: 'alerts', ...(ctx?.document.numbers[0] ? { from: ctx.document.numbers[0] } : {}) });
    const id = await business.calls.start({ direction: 'outbound', backend: call.backend, externalId: call.id, from: call.from, to: call.to, contextId: item.context_id, purpose: item.purpose === 'owner_briefing' ? 'owner_briefing' : 'owner_alert' });
    await business.calls.answered(id);
    await call.play(speech(tts, `This is frontdesk${ctx ? ` for ${ctx.document.displayName}` : ''}. ${text}`, call.sampleRate)).done;
    await call.hangup('alert_delivered');
    await business.calls.event(id, 'note', { role: 'agent', text });
    await business.calls.ended(id, 'alert_delivered');
    return { status: 'sent', ref: call.id };
  };
}
