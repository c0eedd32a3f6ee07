import { speech } from '../../speech/speak.js';
import { legEvent, type CallLeg } from './leg.js';

/** Find-me/follow-me: each owner target in order, warm or blind as the context says. True once one answers. */
export async function findMe(leg: CallLeg): Promise<boolean> {
  const { call } = leg;
  const ctx = leg.context.document;
  for (const t of ctx.owner.targets) {
    if (call.state !== 'answered') return false;
    const mode = ctx.owner.transferMode;
    await legEvent(leg, 'transfer', `trying ${t.label}`, { target: t.value, mode });
    const whisper = mode === 'warm' ? speech(leg.tts, `Call for ${ctx.displayName} from ${call.from}. Connecting.`, call.sampleRate) : undefined;
    const r = await call.transfer({ uri: t.value, mode, ringSeconds: t.ringSeconds, ...(whisper ? { whisper } : {}) });
    await legEvent(leg, 'transfer', `${t.label}: ${r.ok ? 'connected' : `${r.status} ${r.reason}`}`, r);
    if (r.ok) return true;
  }
  return false;
}
