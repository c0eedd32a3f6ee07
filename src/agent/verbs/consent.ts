import { join } from 'node:path';
import { retrying } from '../../util/retry.js';
import { CallRecorder } from '../voice/call-recorder.js';
import type { CallLeg } from './leg.js';

/**
 * Recording consent: the context's notice first, then the recording starts — by the backend where
 * it records calls, else by us (both sides, from here on). Returns our recorder when we record;
 * the runtime feeds it the caller's audio and sets it on the leg.
 */
export async function recordingConsent(leg: CallLeg, now?: () => number): Promise<CallRecorder | undefined> {
  const { call } = leg;
  await leg.say(leg.context.document.recording.consentMessage, false);
  if (call.startRecording) {
    const where = await call.startRecording(`frontdesk-${leg.callId}`).catch(() => undefined);
    if (where) await leg.business.calls.recording(leg.callId, where);
    return undefined;
  }
  return new CallRecorder(call.sampleRate, now);
}

/** Our own recording of the call, saved when the call is over and linked to it; a failure is logged, never thrown. */
export async function saveOwnRecording(leg: Pick<CallLeg, 'business' | 'callId' | 'dataDir' | 'logger'>, recorder: CallRecorder): Promise<void> {
  const rec = await recorder.save(join(leg.dataDir, 'recordings', `${leg.callId}.wav`)).catch((err: unknown) => {
    leg.logger?.warn({ err, callId: leg.callId }, 'call recording not saved');
    return undefined;
  });
  if (rec) await retrying(() => leg.business.calls.recording(leg.callId, rec.path)).catch(() => {});
}
