import type { CallLeg } from './leg.js';

export interface RecordedMessage {
  pcm: Int16Array;
  sampleRate: number;
  path: string;
  durationMs: number;
}

/** Keeps a caller's recorded message for the owner: transcribed where a recognizer is installed; the audio is kept either way. */
export async function takeMessage(leg: CallLeg, rec: RecordedMessage): Promise<void> {
  let body = '';
  if (leg.transcribe) {
    body = await leg.transcribe(rec.pcm, rec.sampleRate).catch((err: unknown) => {
      leg.logger?.warn({ err }, 'voicemail transcription failed; the recording is kept');
      return '';
    });
  }
  await leg.business.messages.take(leg.context, {
    kind: 'voicemail', body, callId: leg.callId, customerId: leg.customerId, callerNumber: leg.call.from,
    recordingPath: rec.path, durationMs: rec.durationMs,
  });
}
