import type { Business } from '../../business/index.js';
import { TurnMachine } from '../turns/machine.js';
import { resolveTurnOptions } from '../turns/options.js';
import type { Effect, TurnEvent } from '../turns/types.js';
import { AgentTools } from '../tools.js';
import type { GuidedState } from '../guided/engine.js';
import type { Hearing } from '../guided/options.js';
import { Brain, type LlmTurnStats } from '../brain.js';
import { findMe, playLine, recordingConsent, saveOwnRecording, voicemail, type CallLeg } from '../verbs/index.js';
import { Listener, type HeardEvent } from './listener.js';
import { Speaker, type SpeakTimes, type Utterance } from './speaker.js';
import { Speculation, type HeldReply, type PreparedReply } from './speculation.js';
import { spokenToText } from './transcript.js';
import { contextPhrases, questionOf, questionPhrases } from './phrases.js';
import { TurnTimer } from './latency.js';
import { voiceDefaults, type VoiceDeps, type VoiceInput } from './options.js';
import type { CallRecorder } from './call-recorder.js';
import { OwnerLine, ownerHints } from './owner-line.js';
import { callLines, troubleLine } from './lines.js';
import { HeardTurn, keepAnswerAudio } from './heard-turn.js';
import { spokenPin } from './owner-pin.js';
import { KeypadEntry, digitsWanted, keypadDefaults } from './keypad-entry.js';
import { retrying } from '../../util/retry.js';
import { toE164 } from '../../util/phone.js';

/**
 * A conversation on a live call: caller audio → VAD → streaming STT → the turn machine → the
 * guided-flow engine and its tools → TTS → paced audio out. The machine decides; this class only
 * performs its effects and writes what happened (turns, tools, latency) to the call's events.
 */

export { voiceDefaults, type VoiceDeps, type VoiceInput } from './options.js';

export class VoiceSession {
  private readonly machine: TurnMachine;
  private readonly speaker: Speaker;
  private readonly brain: Brain;
  /** Answers started ahead of the turn, and the reply waiting for the machine's 'play'. */
  private readonly ahead: Speculation;
  private readonly now: () => number;
  private state: GuidedState;
  private confirmed: string | undefined;
  private playing: Utterance | undefined;
  private thinking = 0;
  private disposition = 'completed';
  private booked: { id: string; start: string }[] = [];
  private turns = 0;
  private readonly timer = new TurnTimer();
  private finished!: (d: string) => void;
  private handingOff = false;
  private recorder: CallRecorder | undefined;
  private listener: Listener | undefined;
  /** The caller ID is one of the owner's numbers and a PIN is set: the PIN may switch on owner mode. */
  private readonly ownerLine: OwnerLine | undefined;
  /** Keypad digits after '*', until '#': a PIN being entered (never logged). */
  private pinDigits: string | undefined;
  private readonly heard = new HeardTurn();
  private hints: string[] = [];
  private readonly keypad: KeypadEntry;

  constructor(private readonly d: VoiceDeps, private readonly i: VoiceInput) {
    this.now = d.now ?? Date.now;
    this.state = i.initialState ?? {};
    const ctx = i.context.document;
    // Silence escalates like a misunderstanding: the question narrower, then its keypad choices, then
    // the owner or a message (a call we placed ends politely instead: the person we rang is not stuck).
    const reprompt = (n: number) => {
      if (this.owner || (n === 1 && !this.state.pending)) return `Are you still there? ${ctx.persona.name} here, how can I help?`;
      const p = this.brain.prompt(this.state, n === 1 ? 1 : 2);
      this.state = p.state;
      this.expectAnswer();
      return `Are you still there? ${p.reply}`;
    };
    this.machine = new TurnMachine(callLines(ctx, i.greeting, reprompt), resolveTurnOptions({ transferDigit: ctx.owner.transferDigit, semantic: { enabled: !!d.turnDetector }, idle: { after: i.call.direction === 'inbound' ? 'transfer' : 'goodbye' } }, d.turn));
    this.speaker = new Speaker(i.call, d.tts, this.now);
    this.keypad = new KeypadEntry(this.machine.o.transferDigit, { ...keypadDefaults, ...d.keypad });
    const from = toE164(i.call.from);
    if (i.call.direction === 'inbound' && ctx.owner.pinHash && from && ctx.owner.numbers.includes(from)) {
      this.ownerLine = new OwnerLine(d.business, i.context, from, (text) => this.event('state', { role: 'system', text }));
    }
    const tools = new AgentTools({ business: d.business, context: i.context, customer: i.customer, channel: 'call', callId: i.callId });
    this.brain = new Brain(tools, { llm: d.llm, conversation: `call:${i.callId}`, channel: 'call', now: d.business.now, ...(d.llmUnderstands !== undefined ? { understand: d.llmUnderstands } : {}), ...(d.llmMaxTokens ? { maxTokens: d.llmMaxTokens } : {}), ...(d.llmFirstTokenMs ? { firstTokenTimeoutMs: d.llmFirstTokenMs } : {}), ...(d.dialogue ? { dialogue: d.dialogue } : {}), logger: d.logger });
    this.ahead = new Speculation(this.brain, this.speaker, (heard) => !(this.ownerNumber && (this.owner || spokenPin(heard) !== undefined)));
  }

  /** Owner mode is on (the PIN was right). */
  private get owner(): boolean {
    return !!this.ownerLine?.active;
  }

  private get ownerNumber(): string | undefined {
    return this.ownerLine?.number;
  }

  private event(kind: Parameters<Business['calls']['event']>[1], e: Parameters<Business['calls']['event']>[2]): void {
    // Never awaited: a database blip must not hold up the conversation; retried, then logged.
    retrying(() => this.d.business.calls.event(this.i.callId, kind, e))
      .catch((err: unknown) => this.d.logger?.warn({ err, callId: this.i.callId, kind }, 'call event not saved'));
  }

  async run(): Promise<{ disposition: string; summary: string }> {
    const { call } = this.i;
    const vad = this.d.newVad();
    const hints = contextPhrases(this.i.context.document);
    if (this.ownerNumber) hints.push(...await ownerHints(this.d.business));
    // The recognizer loads what it needs while the greeting plays, off the media thread.
    this.d.stt?.prepare?.(hints).catch((err: unknown) => this.d.logger?.warn({ err, callId: this.i.callId }, 'speech recognizer not prepared'));
    this.hints = hints;
    const listener = new Listener(vad, this.d.stt, hints, call.sampleRate, (e) => this.dispatch(e), this.now, undefined, !!this.d.turnDetector);
    this.listener = listener;
    // An outbound reminder starts on a question ("is that still good for you?").
    this.expectAnswer();
    const done = new Promise<string>((r) => (this.finished = r));
    call.on('audio', (f) => {
      listener.accept(f.pcm);
      this.recorder?.addCaller(f.pcm);
    });
    call.on('dtmf', (digit) => {
      // From an owner number, '*' starts a PIN and '#' ends it; the digits are never written down.
      if (this.ownerNumber && !this.owner && (digit === '*' || this.pinDigits !== undefined)) {
        if (digit === '*') this.pinDigits = '';
        else if (digit === '#') {
          const pin = this.pinDigits ?? '';
          this.pinDigits = undefined;
          this.dispatch({ type: 'keyed', at: this.now(), text: `pin:${pin}` });
        } else if ((this.pinDigits ?? '').length < 16) this.pinDigits += digit;
        return;
      }
      this.event('dtmf', { role: 'caller', text: digit });
      // A number being keyed (a home size) is one turn when complete; any other key answers the question asked at once.
      const k = this.keypad.press(digit, this.now(), this.owner ? undefined : digitsWanted(this.state.pending));
      if (k.kind === 'transfer' || digit !== this.machine.o.transferDigit) this.dispatch({ type: 'dtmf', at: this.now(), digit });
      if (k.kind === 'answer' && !this.owner && this.machine.state !== 'transferring') this.dispatch({ type: 'keyed', at: this.now(), text: `key:${k.keys}` });
    });
    call.once('ended', (reason) => {
      this.dispatch({ type: 'hangup', at: this.now() });
      // A hand-off in progress (transfer, voicemail being stored) decides the outcome when it is done.
      if (this.handingOff) return;
      if (this.disposition === 'completed') this.disposition = this.turns ? 'completed' : `abandoned (${reason})`;
      this.finished(this.disposition);
    });
    // An outbound call is already answered when it reaches us.
    if (call.direction === 'inbound') await call.answer();
    retrying(() => this.d.business.calls.answered(this.i.callId))
      .catch((err: unknown) => this.d.logger?.warn({ err, callId: this.i.callId }, 'call answered state not saved'));
    const tick = setInterval(() => this.dispatch({ type: 'tick', at: this.now() }), voiceDefaults.tickMs);
    try {
      await new Promise((r) => setTimeout(r, voiceDefaults.greetingDelayMs));
      if (this.i.context.document.recording.enabled) await this.recordingConsent();
      this.dispatch({ type: 'start', at: this.now() });
      return { disposition: await done, summary: this.summary() };
    } finally {
      clearInterval(tick);
      listener.close();
      vad.close();
      this.brain.abort();
      await this.ahead.abort();
      await this.brain.close().catch(() => {});
      if (this.recorder) await saveOwnRecording(this.leg(), this.recorder);
    }
  }

  /** The call as the verbs see it; lines said by the verbs (hand-off, voicemail) go into our recording too. */
  private leg(): CallLeg {
    const leg: CallLeg = {
      business: this.d.business, tts: this.d.tts, newVad: this.d.newVad, dataDir: this.d.dataDir, logger: this.d.logger, transcribe: this.d.transcribe,
      call: this.i.call, callId: this.i.callId, context: this.i.context, customerId: this.i.customer?.id ?? null, recorder: this.recorder,
      say: (text) => playLine(leg, text),
    };
    return leg;
  }

  private async recordingConsent(): Promise<void> {
    const leg = { ...this.leg(), say: (text: string) => this.speaker.say(text).done.then(() => {}) };
    this.recorder = await recordingConsent(leg, this.now);
    // The backend does not record: we do, both sides, from here on.
    if (this.recorder) this.speaker.onAudio = (pcm) => this.recorder?.addAgent(pcm);
  }

  private summary(): string {
    const parts = [`${this.turns} caller turn${this.turns === 1 ? '' : 's'}`];
    if (this.booked.length) parts.push(`booked ${this.booked.map((b) => b.start).join(', ')}`);
    if (this.confirmed) parts.push('visit confirmed');
    parts.push(this.disposition);
    return parts.join('; ');
  }

  private dispatch(e: TurnEvent | HeardEvent): void {
    const keyed = e.type === 'tick' ? this.keypad.tick(e.at) : undefined;
    if (keyed) this.dispatch({ type: 'keyed', at: e.at, text: `key:${keyed}` });
    if (e.type === 'vad_end') this.timer.speechEnded(e.at, 'speechEndedAt' in e ? e.speechEndedAt : e.at);
    if (e.type === 'stt_partial' && this.d.llm) this.brain.prefillPartial(spokenToText(e.text));
    // Words the machine lets pass over the agent (a cough, an "okay") are not part of the caller's next turn.
    const letPass = e.type === 'stt_final' && this.machine.m.ignoredInterruption && (this.machine.state === 'speaking' || this.machine.state === 'greeting');
    if (e.type === 'stt_final' && !letPass) {
      this.timer.final(e.at, 'sttMs' in e ? e.sttMs : 0);
      if (e.text) this.heard.add({ confidence: 'confidence' in e ? e.confidence : undefined, nbest: 'nbest' in e ? e.nbest : undefined, audio: 'audio' in e ? e.audio : undefined });
      this.ahead.onFinal(e.text, spokenToText(e.text), this.state, this.heard.hearing(false));
    }
    if (e.type === 'vad_start') this.ahead.onSpeech();
    let fx: Effect[];
    try {
      fx = this.machine.dispatch(e);
    } catch (err) {
      this.d.logger?.error({ err }, 'turn machine failed');
      return;
    }
    for (const f of fx) this.perform(f);
  }

  private perform(f: Effect): void {
    switch (f.type) {
      case 'play': {
        this.playing?.cancel();
        const { stream: streamed, prepared, llm, read } = f.kind === 'reply' ? this.ahead.forPlay() : {};
        const times: SpeakTimes = prepared?.times ?? {};
        const u = prepared ? prepared.utterance.start() : this.speaker.say(streamed ?? f.text, times);
        const byLlm = !!(streamed || prepared);
        this.playing = u;
        const isReply = f.kind === 'reply';
        void u.done.then((r) => {
          if (this.playing === u) this.playing = undefined;
          if (isReply) {
            const t = this.timer.spoken(times);
            // fromSpeechEndMs (the caller's last voiced frame → the first frame of our voice) is the reply time on the wire.
            if (t) {
              this.event('latency', { role: 'system', data: { ...t, by: byLlm ? 'llm' : 'guided', ...(byLlm && llm ? { llm } : {}), ...(read?.reading ? { reading: read.reading } : {}), ...(read?.understood ? { understoodBy: 'llm' } : {}) } });
              this.d.onTurnLatency?.(t);
            }
          }
          this.event('turn', { role: 'agent', text: r.completed ? r.text : r.heardText, data: { kind: f.kind, completed: r.completed, heardMs: Math.round(r.heardMs), ...(byLlm ? { by: 'llm' } : {}) } });
          this.dispatch({ type: 'playback_done', at: this.now(), completed: r.completed, heardMs: r.heardMs, text: r.text, heardText: r.heardText });
        });
        return;
      }
      case 'stop_playback':
        this.playing?.cancel();
        this.playing = undefined;
        return;
      case 'abort_reply':
        this.thinking++;
        this.brain.abort();
        void this.ahead.abort();
        return;
      case 'think':
        void this.think(f.text);
        return;
      case 'transfer':
        void this.handOff();
        return;
      case 'hangup':
        void this.i.call.hangup(f.reason).catch(() => {});
        return;
      case 'check_turn': {
        const detector = this.d.turnDetector;
        const audio = this.listener?.recent();
        if (!detector || !audio?.length) return;
        // A model that fails leaves the verdict pending: the machine's timeout falls back to the delays.
        detector.decide(audio, this.i.call.sampleRate).then(
          (v) => this.dispatch({ type: 'turn_verdict', at: this.now(), speechEndedAt: f.speechEndedAt, complete: v.complete, probability: v.probability }),
          (err: unknown) => this.d.logger?.warn({ err, callId: this.i.callId }, 'end-of-turn model failed'),
        );
        return;
      }
      case 'log':
        this.event('state', { role: 'system', text: f.event, ...(f.data ? { data: f.data } : {}) });
        return;
    }
  }

  /** The recognizer listens for the answers to the question now asked, and keeps the audio of free answers. */
  private expectAnswer(): void {
    const q = this.owner ? undefined : questionOf(this.state.pending);
    const question = q ? { name: q, phrases: questionPhrases(this.i.context.document, q) } : undefined;
    this.listener?.expect(question);
    const kind = this.state.pending?.kind;
    this.listener?.keepAudio(kind === 'ask_address' || kind === 'ask_name');
    if (question) this.d.stt?.prepare?.(this.hints, { question }).catch((err: unknown) => this.d.logger?.warn({ err, callId: this.i.callId }, 'question model not prepared'));
  }

  private async think(heard: string): Promise<void> {
    const turn = ++this.thinking;
    this.turns++;
    const key = /^key:(.+)$/.exec(heard)?.[1];
    if (key === undefined) this.keypad.clear();
    const { pcm, ...hearing }: Hearing & { pcm?: Int16Array } = key !== undefined ? (this.heard.clear(), { keyed: key }) : this.heard.hearing(true);
    const kind = this.state.pending?.kind;
    // Free answers keep their words as said: the clock-time rewrite would turn a house number into a time.
    const free = kind === 'ask_address' || kind === 'ask_name' || kind === 'take_message';
    const text = key !== undefined ? '' : free ? heard : spokenToText(heard);
    if (pcm && (kind === 'ask_address' || kind === 'ask_name')) {
      hearing.audio = await keepAnswerAudio(this.d.dataDir, `${this.i.callId}-${kind === 'ask_address' ? 'address' : 'name'}-${this.turns}`, pcm, this.i.call.sampleRate)
        .catch((err: unknown) => void this.d.logger?.warn({ err, callId: this.i.callId }, 'answer audio not saved'));
    }
    const pin = this.ownerNumber && !this.owner ? (heard.startsWith('pin:') ? heard.slice(4) : spokenPin(heard)) : undefined;
    this.event('turn', {
      role: 'caller', text: pin !== undefined ? '(owner PIN)' : key !== undefined ? `(pressed ${key})` : heard,
      ...(pin === undefined && (hearing.confidence !== undefined || hearing.keyed || hearing.audio) ? { data: { ...(hearing.confidence !== undefined ? { confidence: Math.round(hearing.confidence * 1000) / 1000 } : {}), ...(hearing.nbest ? { nbest: hearing.nbest } : {}), ...(hearing.keyed ? { keyed: true } : {}), ...(hearing.audio ? { audio: hearing.audio } : {}) } } : {}),
    });
    if (pin !== undefined || this.owner) {
      const r = await this.ownerLine!.turn(text, pin).catch((err: unknown) => {
        this.d.logger?.error({ err, call: this.i.callId }, 'owner command failed');
        return { reply: 'Sorry, that failed on my side; nothing was changed.', then: undefined };
      });
      if (turn !== this.thinking) return;
      this.timer.replied(this.now());
      this.dispatch({ type: 'reply', at: this.now(), text: r.reply, ...(r.then ? { then: r.then } : {}) });
      return;
    }
    let reply: string;
    let then: 'transfer' | 'end' | undefined;
    let stream: AsyncIterable<string> | undefined;
    let llmStats: LlmTurnStats | undefined;
    let read: HeldReply['read'];
    let prepared: PreparedReply | undefined;
    try {
      const spec = this.ahead.take(heard);
      const { turn: r, state } = await (spec?.reply ?? this.brain.respond(text, this.state, hearing));
      this.state = state;
      if (r.missed) this.event('state', { role: 'system', text: 'no_match', data: { misses: state.misses ?? 0 } });
      this.expectAnswer();
      llmStats = r.llm;
      read = { ...(r.reading ? { reading: r.reading } : {}), understood: r.understoodBy === 'llm' };
      if (typeof r.reply === 'string') reply = r.reply;
      else {
        prepared = spec ? await spec.prepared : undefined;
        if (!prepared) stream = r.reply;
        reply = '';
      }
      then = r.action;
      if (r.confirmed) {
        this.confirmed = r.confirmed;
        this.event('tool_result', { role: 'system', text: 'visit confirmed', data: { appointment: r.confirmed } });
      }
      if (r.booked) {
        this.booked.push(r.booked);
        this.event('tool_result', { role: 'system', text: 'booked', data: r.booked });
      }
    } catch (err) {
      this.d.logger?.error({ err, call: this.i.callId }, 'agent failed mid-call');
      this.event('error', { role: 'system', text: (err as Error).message });
      reply = troubleLine(this.i.context.document);
      then = 'transfer';
    }
    if (turn !== this.thinking) {
      // The caller barged in; this reply is stale.
      prepared?.utterance.cancel();
      return;
    }
    this.timer.replied(this.now());
    this.ahead.hold({ stream, prepared, llm: llmStats, read });
    this.dispatch({ type: 'reply', at: this.now(), text: reply, ...(then ? { then } : {}) });
  }

  /** Transfer to the owner (find-me/follow-me); nobody answers → voicemail. */
  private async handOff(): Promise<void> {
    this.handingOff = true;
    const { call } = this.i;
    const leg = this.leg();
    try {
      if (await findMe(leg)) this.disposition = 'transferred';
      else this.disposition = await voicemail(leg, `Sorry, ${this.i.context.document.owner.name} isn't available. Please leave a message after the tone.`);
    } catch (err) {
      this.d.logger?.error({ err }, 'hand-off failed');
      this.disposition = 'failed';
      await call.hangup('error').catch(() => {});
    }
    if (call.state !== 'ended') await new Promise((r) => call.once('ended', r));
    this.finished(this.disposition);
  }
}
