import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Call, AudioSource } from '../../telephony/call.js';
import type { Business } from '../../business/index.js';
import type { StoredContext } from '../../business/context/service.js';
import type { RouteDecision } from '../../business/routing.js';
import type { Tts, Vad } from '../../speech/types.js';
import { recordMessage, tone } from './recorder.js';
import { speech } from '../../speech/speak.js';
import { retrying } from '../../util/retry.js';
import { CallRecorder } from '../voice/call-recorder.js';

/**
 * What a caller gets until speech recognition lands: the business's greeting, the owner at the
 * press of a key (find-me/follow-me over the context's owner targets), and otherwise voicemail —
 * recorded, stored, and the owner alerted. Every step is written to the call's events.
 */

export interface AnsweringDeps {
  business: Business;
  tts: Tts;
  newVad: () => Vad;
  dataDir: string;
  logger?: Logger | undefined;
  /** Speech to text for voicemail, when a recognizer is installed. */
  transcribe?: ((pcm: Int16Array, sampleRate: number) => Promise<string>) | undefined;
}

export interface AnsweringInput {
  call: Call;
  callId: string;
  context: StoredContext;
  /** How routing said to answer; only `run()` needs it (hand-offs from a conversation do not). */
  decision?: RouteDecision;
  customerId: string | null;
}

class TransferRequested extends Error {}

export class AnsweringFlow {
  private transferRequested = false;
  private playing: { cancel(): void } | undefined;
  /** Our own recording of the call, where the backend does not record (built-in SIP, FreeSWITCH). */
  private recorder: CallRecorder | undefined;
  private stopRecording: (() => void) | undefined;

  constructor(private readonly d: AnsweringDeps, private readonly i: AnsweringInput) {}

  private get ctx() {
    return this.i.context.document;
  }

  private log(kind: 'state' | 'dtmf' | 'transfer' | 'error' | 'note', text: string, data?: unknown) {
    return retrying(() => this.d.business.calls.event(this.i.callId, kind, { role: 'system', text, ...(data !== undefined ? { data } : {}) }))
      .catch((err: unknown) => this.d.logger?.warn({ err, callId: this.i.callId, kind }, 'call event not saved'));
  }

  private pcm(text: string): AudioSource {
    return speech(this.d.tts, text, this.i.call.sampleRate);
  }

  /** Says `text`; a transfer key press cuts it short. */
  private async say(text: string, interruptible = true): Promise<void> {
    if (interruptible && this.transferRequested) throw new TransferRequested();
    const h = this.i.call.play(this.recorded(this.pcm(text)));
    this.playing = h;
    await h.done;
    this.playing = undefined;
    await this.log('note', `agent: ${text}`);
    if (interruptible && this.transferRequested) throw new TransferRequested();
  }

  /** What the caller hears, also into the recording when we record. */
  private recorded(src: AudioSource): AudioSource {
    const rec = this.recorder;
    if (!rec) return src;
    if (src instanceof Int16Array) {
      rec.addAgent(src);
      return src;
    }
    return (async function* () {
      for await (const c of src) {
        rec.addAgent(c);
        yield c;
      }
    })();
  }

  async run(): Promise<string> {
    try {
      return await this.answer();
    } finally {
      this.stopRecording?.();
      if (this.recorder) {
        const rec = await this.recorder.save(join(this.d.dataDir, 'recordings', `${this.i.callId}.wav`)).catch((err: unknown) => {
          this.d.logger?.warn({ err, callId: this.i.callId }, 'call recording not saved');
          return undefined;
        });
        this.recorder = undefined;
        if (rec) await retrying(() => this.d.business.calls.recording(this.i.callId, rec.path)).catch(() => {});
      }
    }
  }

  private async answer(): Promise<string> {
    const { call } = this.i;
    const decision = this.i.decision;
    if (!decision) throw new Error('AnsweringFlow.run needs a routing decision');
    const digit = this.ctx.owner.transferDigit;
    call.on('dtmf', (d) => {
      void this.log('dtmf', d);
      if (d === digit && !this.transferRequested && this.ctx.owner.targets.length) {
        this.transferRequested = true;
        this.playing?.cancel();
      }
    });
    await call.answer();
    // Not awaited: the caller hears the greeting whether or not the database answers right now.
    retrying(() => this.d.business.calls.answered(this.i.callId))
      .catch((err: unknown) => this.d.logger?.warn({ err, callId: this.i.callId }, 'call answered state not saved'));
    if (this.ctx.recording.enabled) {
      // Consent first, then the recording starts (where the backend records calls).
      await this.say(this.ctx.recording.consentMessage, false);
      if (call.startRecording) {
        const where = await call.startRecording(`frontdesk-${this.i.callId}`).catch(() => undefined);
        if (where) await this.d.business.calls.recording(this.i.callId, where);
      } else {
        // The backend does not record: we do, both sides, from here on (as a conversation does).
        const recorder = new CallRecorder(call.sampleRate);
        this.recorder = recorder;
        const onAudio = (f: { pcm: Int16Array }) => recorder.addCaller(f.pcm);
        call.on('audio', onAudio);
        this.stopRecording = () => call.off('audio', onAudio);
      }
    }
    try {
      if (decision.action === 'forward' || decision.action === 'ring_owner') {
        await this.say('Please hold while I connect you.', false);
        if (await this.findMe()) return 'transferred';
        return await this.voicemail(`Sorry, ${this.ctx.owner.name} can't come to the phone right now. Please leave a message after the tone.`);
      }
      await this.say(decision.greeting);
      if (decision.action === 'voicemail') return await this.voicemail('Please leave a message after the tone.');
      const menu = this.ctx.owner.targets.length
        ? `To reach ${this.ctx.owner.name}, press ${digit} at any time. Or leave a message after the tone, and we'll get back to you.`
        : "Please leave a message after the tone, and we'll get back to you.";
      return await this.voicemail(menu);
    } catch (e) {
      if (!(e instanceof TransferRequested)) throw e;
      await this.say(`Connecting you to ${this.ctx.owner.name}.`, false);
      if (await this.findMe()) return 'transferred';
      this.transferRequested = false;
      return await this.voicemail(`Sorry, ${this.ctx.owner.name} didn't pick up. Please leave a message after the tone.`);
    }
  }

  /** Find-me/follow-me: each owner target in order, warm or blind as the context says. */
  async findMe(): Promise<boolean> {
    const { call } = this.i;
    for (const t of this.ctx.owner.targets) {
      if (call.state !== 'answered') return false;
      const mode = this.ctx.owner.transferMode;
      await this.log('transfer', `trying ${t.label}`, { target: t.value, mode });
      const whisper = mode === 'warm' ? this.pcm(`Call for ${this.ctx.displayName} from ${call.from}. Connecting.`) : undefined;
      const r = await call.transfer({ uri: t.value, mode, ringSeconds: t.ringSeconds, ...(whisper ? { whisper } : {}) });
      await this.log('transfer', `${t.label}: ${r.ok ? 'connected' : `${r.status} ${r.reason}`}`, r);
      if (r.ok) return true;
    }
    return false;
  }

  async voicemail(lead: string): Promise<string> {
    const { call } = this.i;
    await this.say(lead);
    if (call.state !== 'answered') return 'abandoned';
    await call.play(this.recorded(tone(call.sampleRate))).done;
    await this.log('state', 'recording voicemail');
    const vad = this.d.newVad();
    const rec = await recordMessage(call, vad, join(this.d.dataDir, 'voicemail', `${this.i.callId}.wav`));
    vad.close();
    await this.log('state', `voicemail ended by ${rec.endedBy}`, { path: rec.path, durationMs: rec.durationMs, heardSpeech: rec.heardSpeech, endedBy: rec.endedBy });
    if (!rec.heardSpeech) {
      if (call.state === 'answered') {
        await this.say('Goodbye.', false);
        await call.hangup('no_message');
      }
      return 'no_message';
    }
    // Thank the caller and let them go first; the transcript is for the owner.
    if (call.state === 'answered') {
      await this.say(`Thank you. ${this.ctx.owner.name} will get back to you soon. Goodbye.`, false);
      await call.hangup('voicemail_done');
    }
    let body = '';
    if (this.d.transcribe) {
      body = await this.d.transcribe(rec.pcm, rec.sampleRate).catch((err: unknown) => {
        this.d.logger?.warn({ err }, 'voicemail transcription failed; the recording is kept');
        return '';
      });
    }
    await this.d.business.messages.take(this.i.context, {
      kind: 'voicemail', body, callId: this.i.callId, customerId: this.i.customerId, callerNumber: call.from,
      recordingPath: rec.path, durationMs: rec.durationMs,
    });
    return 'voicemail';
  }
}
