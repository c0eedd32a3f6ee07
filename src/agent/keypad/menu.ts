import type { Call } from '../../telephony/call.js';
import type { StoredContext } from '../../business/context/service.js';
import type { RouteDecision } from '../../business/routing.js';
import { retrying } from '../../util/retry.js';
import { findMe, legEvent, playLine, recordingConsent, saveOwnRecording, voicemail, type CallLeg, type CallLegDeps } from '../verbs/index.js';

/**
 * What a caller gets without speech recognition: the business's greeting, the owner at the press
 * of a key (find-me/follow-me over the context's owner targets), and otherwise voicemail —
 * recorded, stored, and the owner alerted. Built on the call verbs the voice session uses too.
 */

export type KeypadDeps = CallLegDeps;

export interface KeypadInput {
  call: Call;
  callId: string;
  context: StoredContext;
  /** How routing said to answer. */
  decision: RouteDecision;
  customerId: string | null;
}

class TransferRequested extends Error {}

export class KeypadMenu {
  private transferRequested = false;
  private playing: { cancel(): void } | undefined;
  private stopRecording: (() => void) | undefined;
  private readonly leg: CallLeg;

  constructor(d: KeypadDeps, private readonly i: KeypadInput) {
    this.leg = { ...d, call: i.call, callId: i.callId, context: i.context, customerId: i.customerId, say: (text, interruptible) => this.say(text, interruptible) };
  }

  private get ctx() {
    return this.i.context.document;
  }

  /** Says `text`; the transfer key cuts it short (and the verb saying it) unless it is not `interruptible`. */
  private async say(text: string, interruptible = true): Promise<void> {
    if (interruptible && this.transferRequested) throw new TransferRequested();
    await playLine(this.leg, text, (h) => (this.playing = h));
    if (interruptible && this.transferRequested) throw new TransferRequested();
  }

  async run(): Promise<string> {
    try {
      return await this.answer();
    } finally {
      this.stopRecording?.();
      const recorder = this.leg.recorder;
      this.leg.recorder = undefined;
      if (recorder) await saveOwnRecording(this.leg, recorder);
    }
  }

  private async answer(): Promise<string> {
    const { call, decision } = this.i;
    const leg = this.leg;
    const digit = this.ctx.owner.transferDigit;
    call.on('dtmf', (d) => {
      void legEvent(leg, 'dtmf', d);
      if (d === digit && !this.transferRequested && this.ctx.owner.targets.length) {
        this.transferRequested = true;
        this.playing?.cancel();
      }
    });
    await call.answer();
    // Not awaited: the caller hears the greeting whether or not the database answers right now.
    retrying(() => leg.business.calls.answered(this.i.callId))
      .catch((err: unknown) => leg.logger?.warn({ err, callId: this.i.callId }, 'call answered state not saved'));
    if (this.ctx.recording.enabled) {
      const recorder = await recordingConsent(leg);
      if (recorder) {
        leg.recorder = recorder;
        const onAudio = (f: { pcm: Int16Array }) => recorder.addCaller(f.pcm);
        call.on('audio', onAudio);
        this.stopRecording = () => call.off('audio', onAudio);
      }
    }
    try {
      if (decision.action === 'forward' || decision.action === 'ring_owner') {
        await this.say('Please hold while I connect you.', false);
        if (await findMe(leg)) return 'transferred';
        return await voicemail(leg, `Sorry, ${this.ctx.owner.name} can't come to the phone right now. Please leave a message after the tone.`);
      }
      await this.say(decision.greeting);
      if (decision.action === 'voicemail') return await voicemail(leg, 'Please leave a message after the tone.');
      const menu = this.ctx.owner.targets.length
        ? `To reach ${this.ctx.owner.name}, press ${digit} at any time. Or leave a message after the tone, and we'll get back to you.`
        : "Please leave a message after the tone, and we'll get back to you.";
      return await voicemail(leg, menu);
    } catch (e) {
      if (!(e instanceof TransferRequested)) throw e;
      await this.say(`Connecting you to ${this.ctx.owner.name}.`, false);
      if (await findMe(leg)) return 'transferred';
      this.transferRequested = false;
      return await voicemail(leg, `Sorry, ${this.ctx.owner.name} didn't pick up. Please leave a message after the tone.`);
    }
  }
}
