import { join } from 'node:path';
import { recordMessage, tone } from '../call/recorder.js';
import { legEvent, recorded, type CallLeg } from './leg.js';
import { takeMessage } from './message.js';

/**
 * Voicemail: the lead line, the tone, the caller's message until they stop or hang up, a thank-you
 * and goodbye, then the message stored for the owner. Returns the call's disposition.
 */
export async function voicemail(leg: CallLeg, lead: string): Promise<'voicemail' | 'no_message' | 'abandoned'> {
  const { call } = leg;
  await leg.say(lead);
  if (call.state !== 'answered') return 'abandoned';
  await call.play(recorded(tone(call.sampleRate), leg.recorder)).done;
  await legEvent(leg, 'state', 'recording voicemail');
  const vad = leg.newVad();
  const rec = await recordMessage(call, vad, join(leg.dataDir, 'voicemail', `${leg.callId}.wav`));
  vad.close();
  await legEvent(leg, 'state', `voicemail ended by ${rec.endedBy}`, { path: rec.path, durationMs: rec.durationMs, heardSpeech: rec.heardSpeech, endedBy: rec.endedBy });
  if (!rec.heardSpeech) {
    if (call.state === 'answered') {
      await leg.say('Goodbye.', false);
      await call.hangup('no_message');
    }
    return 'no_message';
  }
  // Thank the caller and let them go first; the transcript is for the owner.
  if (call.state === 'answered') {
    await leg.say(`Thank you. ${leg.context.document.owner.name} will get back to you soon. Goodbye.`, false);
    await call.hangup('voicemail_done');
  }
  await takeMessage(leg, rec);
  return 'voicemail';
}
