import type { Logger } from 'pino';
import type { Call } from '../../telephony/call.js';
import type { Business } from '../../business/index.js';
import type { StoredContext } from '../../business/context/service.js';
import type { Customer } from '../../store/schema.js';
import type { Stt, TurnDetector, Tts, Vad } from '../../speech/types.js';
import { TurnMachine } from '../turns/machine.js';
import type { TurnOptions } from '../turns/options.js';
import type { Effect, TurnEvent } from '../turns/types.js';
import { AgentTools } from '../tools.js';
import type { GuidedState } from '../guided/engine.js';
import { Brain, type BrainTurn, type LlmTurnStats } from '../brain.js';
import type { Llm } from '../../speech/types.js';
import { AnsweringFlow } from '../call/answering.js';
import { Listener, type HeardEvent } from './listener.js';
import { Speaker, type PreparedUtterance, type SpeakTimes, type Utterance } from './speaker.js';
import { spokenToText } from './transcript.js';
import { contextPhrases, questionOf, questionPhrases } from './phrases.js';
import type { DialogueOptions, Hearing } from '../guided/options.js';
import { writeWav } from '../../speech/audio.js';
import { mkdir, writeFile } from 'node:fs/promises';
import { TurnTimer, type TurnLatency } from './latency.js';
import { CallRecorder } from './call-recorder.js';
import { retrying } from '../../util/retry.js';
import { join } from 'node:path';
import { OwnerAgent, type OwnerState } from '../owner.js';
import { toE164 } from '../../util/phone.js';
import { spokenPin } from './owner-pin.js';
import { KeypadEntry, digitsWanted, keypadDefaults, type KeypadOptions } from './keypad-entry.js';

/**
 * A conversation on a live call: caller audio → VAD → streaming STT → the turn machine → the
 * guided-flow engine and its tools → TTS → paced audio out. The machine decides; this class only
 * performs its effects and writes what happened (turns, tools, latency) to the call's events.
 */

export interface VoiceDeps {
  business: Business;
  /** Each answered turn's latency, as recorded on the call (the metrics' reply-time histogram). */
  onTurnLatency?: ((l: TurnLatency) => void) | undefined;
  tts: Tts;
  stt: Stt;
  newVad: () => Vad;
  dataDir: string;
  logger?: Logger | undefined;
  turn?: Partial<TurnOptions>;
  now?: () => number;
  transcribe?: ((pcm: Int16Array, sampleRate: number) => Promise<string>) | undefined;
  /** A local LLM for open questions; without one the guided-flow engine answers everything. */
  llm?: Llm | undefined;
  llmMaxTokens?: number;
  /** The LLM reads transactional turns for the guided flow (FRONTDESK_LLM_UNDERSTANDS; default true). */
  llmUnderstands?: boolean;
  /** Give up on the LLM's first token after this long and answer from the guided flow, ms. */
  llmFirstTokenMs?: number;
  /** A semantic end-of-turn model (Smart Turn); without one the endpointing delays decide. */
  turnDetector?: TurnDetector | undefined;
  /** How unsure hearings are handled (confidence thresholds, no-match escalation). */
  dialogue?: Partial<DialogueOptions>;
  /** How numbers keyed on the keypad are collected (the pause that ends one). */
  keypad?: Partial<KeypadOptions>;
}

export interface VoiceInput {
  call: Call;
  callId: string;
  context: StoredContext;
  /** What the agent says first: the context's greeting, or an outbound call's opening line. */
  greeting: string;
  /** Where the conversation starts (an outbound reminder waits for "is that still good?"). */
  initialState?: GuidedState;
  customer: Customer | undefined;
}

export const voiceDefaults = {
  /** How often the machine's timers are checked, ms. */
  tickMs: 50,
  /** Pause between answering and the greeting, so media has settled at both ends, ms. */
  greetingDelayMs: 400,
  /**
   * Wait after the VAD's end of speech before answering, ms. The Silero VAD already needs 300 ms
   * of silence to decide, so the caller hears ~500 ms of pause before the agent starts thinking.
   */
  minEndpointingDelayMs: 200,
} as const satisfies Record<string, number>;

interface PreparedReply {
  utterance: PreparedUtterance;
  times: SpeakTimes;
}

interface Speculation {
  text: string;
  reply: ReturnType<Brain['respond']>;
  prepared: Promise<PreparedReply | undefined>;
}

export class VoiceSession {
  private readonly machine: TurnMachine;
  private readonly speaker: Speaker;
  private readonly brain: Brain;
  /** A streamed (LLM) reply waiting for the machine's 'play'. */
  private stream: AsyncIterable<string> | undefined;
  /** What the LLM's prompt cost for the reply about to play. */
  private replyLlm: LlmTurnStats | undefined;
  /** The LLM's reading of the turn the reply being played answers (when it was asked), and whether the reply acted on it. */
  private replyRead: { reading?: BrainTurn['reading']; understood: boolean } = { understood: false };
  /** A streamed reply whose first piece was rendered during the endpointing pause. */
  private preparedReply: PreparedReply | undefined;
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
  private readonly ownerNumber: string | undefined;
  /** Owner mode, after the PIN: owner tools instead of customer tools. */
  private owner: OwnerAgent | undefined;
  private ownerState: OwnerState = {};
  /** Keypad digits after '*', until '#': a PIN being entered (never logged). */
  private pinDigits: string | undefined;
  /** What the recognizer made of the utterances of the turn being taken (a pause joins several). */
  private heard: { confidence?: number | undefined; nbest?: string[] | undefined; audio?: Int16Array | undefined }[] = [];
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
    this.machine = new TurnMachine({
      greeting: i.greeting,
      reprompt,
      goodbye: `Thanks for calling ${ctx.displayName}. Goodbye.`,
      transfer: `Sure, connecting you to ${ctx.owner.name}.`,
      noInput: ctx.owner.targets.length ? `I can't hear you, so I'll put you through to ${ctx.owner.name}.` : `I can't hear you. If you can, please leave a message for ${ctx.owner.name} after the tone.`,
    }, { transferDigit: ctx.owner.transferDigit, minEndpointingDelayMs: voiceDefaults.minEndpointingDelayMs, semanticTurn: !!d.turnDetector, afterIdleReprompts: i.call.direction === 'inbound' ? 'transfer' : 'goodbye', ...d.turn });
    this.speaker = new Speaker(i.call, d.tts, this.now);
    this.keypad = new KeypadEntry(this.machine.o.transferDigit, { ...keypadDefaults, ...d.keypad });
    const from = toE164(i.call.from);
    if (i.call.direction === 'inbound' && ctx.owner.pinHash && from && ctx.owner.numbers.includes(from)) this.ownerNumber = from;
    const tools = new AgentTools({ business: d.business, context: i.context, customer: i.customer, channel: 'call', callId: i.callId });
    this.brain = new Brain(tools, { llm: d.llm, conversation: `call:${i.callId}`, channel: 'call', now: d.business.now, understand: d.llmUnderstands ?? true, ...(d.llmMaxTokens ? { maxTokens: d.llmMaxTokens } : {}), ...(d.llmFirstTokenMs ? { firstTokenTimeoutMs: d.llmFirstTokenMs } : {}), ...(d.dialogue ? { dialogue: d.dialogue } : {}), logger: d.logger });
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
    if (this.ownerNumber) {
      // The owner names customers ("text the Garcias…"): their names join the recognizer's words on this call.
      const names = (await this.d.business.customers.list({ limit: 200 }).catch(() => [])).map((c) => c.name).filter((n): n is string => !!n);
      for (const n of names) hints.push(`text ${n}`, `move ${n}'s visit`, `the ${n.split(' ').at(-1)}s`);
    }
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
      await this.closeStream();
      if (this.speculation) this.discard(this.speculation);
      await this.brain.close().catch(() => {});
      if (this.recorder) {
        const rec = await this.recorder.save(join(this.d.dataDir, 'recordings', `${this.i.callId}.wav`)).catch((err: unknown) => {
          this.d.logger?.warn({ err }, 'call recording not saved');
          return undefined;
        });
        if (rec) await this.d.business.calls.recording(this.i.callId, rec.path).catch(() => {});
      }
    }
  }

  private async recordingConsent(): Promise<void> {
    const { call } = this.i;
    await this.speaker.say(this.i.context.document.recording.consentMessage).done;
    if (call.startRecording) {
      const where = await call.startRecording(`frontdesk-${this.i.callId}`).catch(() => undefined);
      if (where) await this.d.business.calls.recording(this.i.callId, where);
      return;
    }
    // The backend does not record: we do, both sides, from here on.
    this.recorder = new CallRecorder(call.sampleRate, this.now);
    this.speaker.onAudio = (pcm) => this.recorder?.addAgent(pcm);
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
    if (e.type === 'stt_final') {
      this.timer.final(e.at, 'sttMs' in e ? e.sttMs : 0);
      if (e.text) this.heard.push({ confidence: 'confidence' in e ? e.confidence : undefined, nbest: 'nbest' in e ? e.nbest : undefined, audio: 'audio' in e ? e.audio : undefined });
      this.speculate(e.text);
    }
    if (e.type === 'vad_start') this.brain.cancelReadAhead();
    if (e.type === 'vad_start' && this.speculation) {
      // They are still talking: the words we started answering are not the turn.
      this.discard(this.speculation);
      this.speculation = undefined;
    }
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
        const streamed = f.kind === 'reply' ? this.stream : undefined;
        const prepared = f.kind === 'reply' ? this.preparedReply : undefined;
        this.stream = undefined;
        this.preparedReply = undefined;
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
            const llm = byLlm ? this.replyLlm : undefined;
            if (t) {
              this.event('latency', { role: 'system', data: { ...t, by: byLlm ? 'llm' : 'guided', ...(llm ? { llm } : {}), ...(this.replyRead.reading ? { reading: this.replyRead.reading } : {}), ...(this.replyRead.understood ? { understoodBy: 'llm' } : {}) } });
              this.d.onTurnLatency?.(t);
            }
          }
          // A streamed reply's words are known only now; the machine resumes with them after a false interruption.
          if (byLlm && this.machine.m.interruptedReply === '') this.machine.m.interruptedReply = r.text;
          this.event('turn', { role: 'agent', text: r.completed ? r.text : r.heardText, data: { kind: f.kind, completed: r.completed, heardMs: Math.round(r.heardMs), ...(byLlm ? { by: 'llm' } : {}) } });
          this.dispatch({ type: 'playback_done', at: this.now(), completed: r.completed, heardMs: r.heardMs });
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
        void this.closeStream();
        if (this.speculation) this.discard(this.speculation);
        this.speculation = undefined;
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

  /**
   * An LLM answer started on the final transcript, before the endpointing pause is over, with its
   * first piece already rendering.
   */
  private speculation: Speculation | undefined;

  /**
   * The final transcript is in but the machine still waits out its endpointing pause: an open
   * question (no side effects: the LLM only talks) starts its answer now. Anything that books,
   * moves or cancels waits for the turn to be taken.
   */
  private speculate(heard: string): void {
    if (this.ownerNumber && (this.owner || spokenPin(heard) !== undefined)) return;
    const text = spokenToText(heard);
    if (!text.trim()) return;
    if (!this.brain.routesToLlm(text, this.state, this.hearing(false))) {
      // A transactional turn: the LLM's reading of it (no side effects) starts now too.
      this.brain.readAhead(text, this.state, this.hearing(false));
      return;
    }
    const reply = this.brain.respond(text, this.state);
    reply.catch(() => {});
    const prepared = reply.then(
      (r) => {
        if (typeof r.turn.reply === 'string') return undefined;
        const times: SpeakTimes = {};
        return { utterance: this.speaker.prepare(r.turn.reply, times), times };
      },
      () => undefined,
    );
    this.speculation = { text: heard, reply, prepared };
  }

  /** A streamed reply that will not be played: end its generation so its sequence is free. */
  private async closeStream(): Promise<void> {
    const s = this.stream as AsyncGenerator<string> | undefined;
    this.stream = undefined;
    this.preparedReply?.utterance.cancel();
    this.preparedReply = undefined;
    await s?.return(undefined).catch(() => {});
  }

  private discard(s: Speculation): void {
    void s.prepared.then((p) => p?.utterance.cancel());
    void s.reply.then((r) => {
      if (typeof r.turn.reply !== 'string') void (r.turn.reply as AsyncGenerator<string>).return(undefined);
    }, () => {});
  }

  /**
   * The recognizer's confidence in the turn (its least sure utterance) and, for a turn of one
   * utterance, its other readings. `take`: the turn is being taken; start afresh after it.
   */
  private hearing(take: boolean): Hearing & { pcm?: Int16Array } {
    const h = this.heard;
    if (take) this.heard = [];
    const cs = h.map((x) => x.confidence).filter((c): c is number => c !== undefined);
    const audio = h.map((x) => x.audio).filter((a): a is Int16Array => !!a);
    const pcm = audio.length ? new Int16Array(audio.reduce((n, a) => n + a.length, 0)) : undefined;
    if (pcm) audio.reduce((o, a) => (pcm.set(a, o), o + a.length), 0);
    return {
      ...(cs.length ? { confidence: Math.min(...cs) } : {}),
      ...(h.length === 1 && h[0]!.nbest?.length ? { nbest: h[0]!.nbest } : {}),
      ...(pcm ? { pcm } : {}),
    };
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

  /** The caller's own words for an address or a name, kept beside the transcript for the owner. */
  private async keepAnswerAudio(pcm: Int16Array, kind: string): Promise<string | undefined> {
    const dir = join(this.d.dataDir, 'recordings');
    const path = join(dir, `${this.i.callId}-${kind}-${this.turns}.wav`);
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(path, writeWav(pcm, this.i.call.sampleRate));
      return path;
    } catch (err) {
      this.d.logger?.warn({ err, callId: this.i.callId }, 'answer audio not saved');
      return undefined;
    }
  }

  private async think(heard: string): Promise<void> {
    const turn = ++this.thinking;
    this.turns++;
    const key = /^key:(.+)$/.exec(heard)?.[1];
    if (key === undefined) this.keypad.clear();
    const { pcm, ...hearing }: Hearing & { pcm?: Int16Array } = key !== undefined ? (this.heard = [], { keyed: key }) : this.hearing(true);
    const kind = this.state.pending?.kind;
    // Free answers keep their words as said: the clock-time rewrite would turn a house number into a time.
    const free = kind === 'ask_address' || kind === 'ask_name' || kind === 'take_message';
    const text = key !== undefined ? '' : free ? heard : spokenToText(heard);
    if (pcm && (kind === 'ask_address' || kind === 'ask_name')) hearing.audio = await this.keepAnswerAudio(pcm, kind === 'ask_address' ? 'address' : 'name');
    const pin = this.ownerNumber && !this.owner ? (heard.startsWith('pin:') ? heard.slice(4) : spokenPin(heard)) : undefined;
    this.event('turn', {
      role: 'caller', text: pin !== undefined ? '(owner PIN)' : key !== undefined ? `(pressed ${key})` : heard,
      ...(pin === undefined && (hearing.confidence !== undefined || hearing.keyed || hearing.audio) ? { data: { ...(hearing.confidence !== undefined ? { confidence: Math.round(hearing.confidence * 1000) / 1000 } : {}), ...(hearing.nbest ? { nbest: hearing.nbest } : {}), ...(hearing.keyed ? { keyed: true } : {}), ...(hearing.audio ? { audio: hearing.audio } : {}) } } : {}),
    });
    if (pin !== undefined || this.owner) {
      const r = await this.ownerTurn(text, pin).catch((err: unknown) => {
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
    let read: VoiceSession['replyRead'] = { understood: false };
    let prepared: PreparedReply | undefined;
    try {
      const spec = this.speculation?.text === heard ? this.speculation : undefined;
      if (this.speculation && !spec) this.discard(this.speculation);
      this.speculation = undefined;
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
      const ctx = this.i.context.document;
      reply = ctx.owner.targets.length
        ? `Sorry, I'm having trouble on my side. Let me connect you to ${ctx.owner.name}.`
        : `Sorry, I'm having trouble on my side. Please leave a message after the tone.`;
      then = 'transfer';
    }
    if (turn !== this.thinking) {
      // The caller barged in; this reply is stale.
      prepared?.utterance.cancel();
      return;
    }
    this.timer.replied(this.now());
    this.replyLlm = llmStats;
    this.replyRead = read;
    this.stream = stream;
    this.preparedReply = prepared;
    this.dispatch({ type: 'reply', at: this.now(), text: reply, ...(then ? { then } : {}) });
  }

  /** The owner's PIN (keyed or said), then owner commands under the policy (src/agent/owner.ts). */
  private async ownerTurn(text: string, pin: string | undefined): Promise<{ reply: string; then?: 'end' | undefined }> {
    const number = this.ownerNumber!;
    const ctx = this.i.context;
    if (pin !== undefined) {
      const v = await this.d.business.ownerPins.check(ctx, pin, number, 'call');
      if (!v.ok) {
        this.event('state', { role: 'system', text: v.locked ? 'owner PIN locked' : 'wrong owner PIN' });
        return { reply: v.locked ? 'Owner access is locked for now. How else can I help?' : "That PIN isn't right. How else can I help?" };
      }
      this.owner = new OwnerAgent(this.d.business, ctx, { number, channel: 'call' });
      this.event('state', { role: 'system', text: 'owner mode' });
      return { reply: `Hi ${ctx.document.owner.name}, you're on the owner line. What can I do?` };
    }
    if (!this.ownerState.pending && /^(that's all|that is all|nothing else|goodbye|bye|bye bye|no thanks|thanks bye)\b/.test(text.toLowerCase())) {
      return { reply: 'Goodbye.', then: 'end' };
    }
    const r = await this.owner!.respond(text, this.ownerState);
    this.ownerState = r.state;
    return { reply: r.reply };
  }

  /** Transfer to the owner (find-me/follow-me); nobody answers → voicemail. */
  private async handOff(): Promise<void> {
    this.handingOff = true;
    const { call } = this.i;
    const flow = new AnsweringFlow(
      { business: this.d.business, tts: this.d.tts, newVad: this.d.newVad, dataDir: this.d.dataDir, logger: this.d.logger, transcribe: this.d.transcribe },
      { call, callId: this.i.callId, context: this.i.context, customerId: this.i.customer?.id ?? null },
    );
    try {
      if (await flow.findMe()) this.disposition = 'transferred';
      else this.disposition = await flow.voicemail(`Sorry, ${this.i.context.document.owner.name} isn't available. Please leave a message after the tone.`);
    } catch (err) {
      this.d.logger?.error({ err }, 'hand-off failed');
      this.disposition = 'failed';
      await call.hangup('error').catch(() => {});
    }
    if (call.state !== 'ended') await new Promise((r) => call.once('ended', r));
    this.finished(this.disposition);
  }
}
