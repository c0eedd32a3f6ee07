import { resolveTurnOptions, type TurnOptions, type TurnOptionsInput } from './options.js';
import type { Effect, TurnEvent, TurnMemory } from './types.js';
import { isBargeIn } from './guards/is-barge-in.js';
import { endpointingExpired, minDelayPassed } from './guards/is-end-of-turn.js';
import { isIdleTooLong } from './guards/is-idle-too-long.js';
import { isFalseInterruption } from './guards/is-false-interruption.js';
import { isCallTooLong } from './guards/is-call-too-long.js';
import { bargeIn } from './actions/barge-in.js';
import { speak } from './actions/speak.js';
import { takeTurn } from './actions/take-turn.js';
import { finishSpeaking } from './actions/finish-speaking.js';
import { reprompt } from './actions/reprompt.js';
import { unheardRest } from './actions/unheard-rest.js';

/**
 * Turn-taking as an explicit state machine: greeting → listening → user speaking → endpointing →
 * thinking → speaking → listening …, with barge-in, false-interruption resume, idle reprompts,
 * DTMF transfer and a call-length limit. Pure and clock-free: every event carries its time, every
 * decision comes back as effects for the runtime to perform.
 */

export interface TurnLines {
  greeting: string;
  /** The line after a silence; a function gets the reprompt's number (1, 2 …) and may say more each time. */
  reprompt: string | ((n: number) => string);
  /** Said before the hand-off when silence outlasts the reprompts (idle.after 'transfer'). */
  noInput?: string;
  goodbye: string;
  transfer: string;
}

export class TurnMachine {
  readonly o: TurnOptions;
  readonly m: TurnMemory = {
    state: 'idle', startedAt: 0, idleSince: 0, reprompts: 0, interruptionSince: undefined, bargedInAt: undefined,
    interruptedReply: undefined, speechEndedAt: undefined, verdict: undefined, partial: '', ignoredInterruption: false, speaking: undefined,
  };
  private finalText: string | undefined;

  constructor(private readonly lines: TurnLines, opts: TurnOptionsInput = {}) {
    this.o = resolveTurnOptions(opts);
  }

  get state() {
    return this.m.state;
  }

  dispatch(e: TurnEvent): Effect[] {
    const m = this.m;
    if (m.state === 'ended' && e.type !== 'hangup') return [];
    switch (e.type) {
      case 'start':
        m.startedAt = e.at;
        // A key pressed during the recording notice (0 for the owner, a choice) is answered, not greeted over.
        if (m.state !== 'idle') return [];
        return speak(m, this.lines.greeting, 'greeting');

      case 'vad_start':
        if (m.state === 'speaking' || m.state === 'greeting') {
          m.interruptionSince ??= e.at;
          return [];
        }
        if (m.state === 'listening' || m.state === 'endpointing') {
          m.state = 'user_speaking';
          m.speechEndedAt = undefined;
          m.verdict = undefined;
        }
        return [];

      case 'vad_end':
        if (m.interruptionSince !== undefined) {
          // Shorter than the barge-in minimum: a cough or "mm-hm"; the agent keeps talking.
          const wasBargeIn = isBargeIn(m, this.o, e.at);
          if (!wasBargeIn) {
            m.interruptionSince = undefined;
            // Its words do not count towards the next interruption, nor join the caller's next turn.
            m.partial = '';
            m.ignoredInterruption = true;
            return [{ type: 'log', event: 'ignored_interruption' }];
          }
          const fx = bargeIn(m, e.at);
          m.state = 'endpointing';
          m.speechEndedAt = e.at;
          return [...fx, ...this.askModel(e.at)];
        }
        if (m.state === 'user_speaking') {
          m.state = 'endpointing';
          m.speechEndedAt = e.at;
          const ask = this.askModel(e.at);
          if (this.finalText !== undefined && minDelayPassed(m, this.o, e.at)) return this.take(e.at);
          return ask;
        }
        return [];

      case 'turn_verdict':
        // A verdict on an earlier pause (the caller spoke again since) is stale.
        if (m.state !== 'endpointing' || m.speechEndedAt !== e.speechEndedAt || m.verdict !== 'pending') return [];
        m.verdict = e.complete ? 'complete' : 'incomplete';
        return [
          { type: 'log', event: 'turn_verdict', data: { complete: e.complete, probability: Math.round(e.probability * 1000) / 1000, ms: e.at - e.speechEndedAt } },
          ...(this.finalText !== undefined && minDelayPassed(m, this.o, e.at) ? this.take(e.at) : []),
        ];

      case 'stt_partial':
        m.partial = e.text;
        return [];

      case 'stt_final':
        if (m.ignoredInterruption && (m.state === 'speaking' || m.state === 'greeting')) {
          m.ignoredInterruption = false;
          return e.text ? [{ type: 'log', event: 'ignored_words', data: { words: e.text.split(/\s+/).length } }] : [];
        }
        m.ignoredInterruption = false;
        // A caller who went on after a pause: the turn is everything they said since it began.
        this.finalText = this.finalText === undefined || !e.text ? (this.finalText ?? e.text) : `${this.finalText} ${e.text}`.trim();
        if (m.state === 'endpointing' && minDelayPassed(m, this.o, e.at)) return this.take(e.at);
        return [];

      case 'reply':
        if (m.state !== 'thinking') return [];
        return speak(m, e.text, 'reply', e.then);

      case 'playback_done':
        // The reply a barge-in cut off: resume, if it was a false one, where the caller stopped hearing.
        if (m.bargedInAt !== undefined && m.interruptedReply !== undefined && !e.completed && e.text !== undefined) {
          m.interruptedReply = unheardRest(m.interruptedReply || e.text, e.heardText ?? '');
        }
        if ((m.state === 'speaking' || m.state === 'greeting') && e.completed) return finishSpeaking(m, e.at);
        return [];

      case 'dtmf':
        if (e.digit === this.o.transferDigit && m.state !== 'transferring') {
          const fx: Effect[] = m.speaking ? [{ type: 'stop_playback' }, { type: 'abort_reply' }] : [];
          return [...fx, { type: 'log', event: 'dtmf_transfer' }, ...speak(m, this.lines.transfer, 'reply', 'transfer')];
        }
        return [{ type: 'log', event: 'dtmf', data: { digit: e.digit } }];

      case 'keyed': {
        if (m.state === 'transferring') return [];
        const fx: Effect[] = m.speaking || m.state === 'thinking' ? [{ type: 'stop_playback' }, { type: 'abort_reply' }] : [];
        m.speaking = undefined;
        return [...fx, ...takeTurn(m, e.text, e.at)];
      }

      case 'tick':
        return this.tick(e.at);

      case 'hangup':
        m.state = 'ended';
        return [{ type: 'stop_playback' }, { type: 'abort_reply' }];
    }
  }

  /** With a semantic end-of-turn model, each pause is put to it. */
  private askModel(at: number): Effect[] {
    if (!this.o.semantic.enabled) return [];
    this.m.verdict = 'pending';
    return [{ type: 'check_turn', speechEndedAt: at }];
  }

  private take(at: number): Effect[] {
    const text = this.finalText ?? this.m.partial;
    this.finalText = undefined;
    return takeTurn(this.m, text, at);
  }

  private tick(at: number): Effect[] {
    const m = this.m;
    if (isCallTooLong(m, this.o, at)) {
      const fx: Effect[] = m.speaking ? [{ type: 'stop_playback' }] : [];
      return [...fx, ...speak(m, this.lines.goodbye, 'goodbye', 'end')];
    }
    if (isBargeIn(m, this.o, at) && (m.state === 'speaking' || m.state === 'greeting')) return bargeIn(m, at);
    if (m.state === 'endpointing' && this.finalText !== undefined && minDelayPassed(m, this.o, at)) return this.take(at);
    if (endpointingExpired(m, this.o, at)) return this.take(at);
    if (isFalseInterruption(m, this.o, at)) {
      const text = m.interruptedReply!;
      m.bargedInAt = undefined;
      m.interruptedReply = undefined;
      return [{ type: 'log', event: 'false_interruption' }, ...speak(m, text, 'resume')];
    }
    if (isIdleTooLong(m, this.o, at)) return reprompt(m, this.o, this.lines);
    return [];
  }
}
