import type { Telephony } from '../../telephony/call.js';
import type { Tts } from '../../speech/types.js';
import type { ChannelSender } from '../../business/outbox.js';
import type { Business } from '../../business/index.js';
import { resample } from '../../speech/audio.js';
import { forSpeech } from '../../speech/text.js';

/**
 * The outbox's 'call' channel: phones the owner and reads the alert out. No answer or busy throws,
 * so the outbox retries with backoff.
 */
export function createCallAlertSender(telephony: Telephony, tts: Tts, business: Business): ChannelSender {
  return async (item) => {
    const text = (item.payload as { text?: string }).text ?? 'You have a new notification from frontdesk.';
    const ctx = item.context_id ? await business.contexts.getById(item.context_id) : undefined;
    const call = await telephony.dial(item.recipient, { timeoutSeconds: 30, ...(ctx?.document.numbers[0] ? { from: ctx.document.numbers[0] } : {}) });
    const id = await business.calls.start({ direction: 'outbound', backend: call.backend, externalId: call.id, from: call.from, to: call.to, contextId: item.context_id, purpose: 'owner_alert' });
    await business.calls.answered(id);
    const say = async (s: string) => {
      const rate = call.sampleRate;
      await call.play((async function* () {
        for await (const c of tts.synthesize(forSpeech(s))) yield c.sampleRate === rate ? c.pcm : resample(c.pcm, c.sampleRate, rate);
      })()).done;
    };
    await say(`This is frontdesk${ctx ? ` for ${ctx.document.displayName}` : ''}. ${text}`);
    await call.hangup('alert_delivered');
    await business.calls.event(id, 'note', { role: 'agent', text });
    await business.calls.ended(id, 'alert_delivered');
    return { status: 'sent', ref: call.id };
  };
}
