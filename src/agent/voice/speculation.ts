import type { Brain, BrainTurn, LlmTurnStats } from '../brain.js';
import type { GuidedState } from '../guided/engine.js';
import type { Hearing } from '../guided/options.js';
import type { PreparedUtterance, SpeakTimes, Speaker } from './speaker.js';

/**
 * Working ahead of the turn: an LLM answer started on the final transcript while the turn machine
 * still waits out its endpointing pause, its first piece already rendering; and the reply that is
 * ready but waits for the machine's 'play'. The session tells it what happened (words final, the
 * caller spoke again, the turn was taken, the reply aborted); this unit keeps the bookkeeping and
 * ends every generation it started that will not be played, so the LLM's sequence is free.
 */

export interface PreparedReply {
  utterance: PreparedUtterance;
  times: SpeakTimes;
}

type Respond = ReturnType<Brain['respond']>;

interface Started {
  heard: string;
  reply: Respond;
  prepared: Promise<PreparedReply | undefined>;
}

/** A reply waiting for the machine's 'play': streamed (LLM) or already rendering, with what its prompt cost. */
export interface HeldReply {
  stream?: AsyncIterable<string> | undefined;
  prepared?: PreparedReply | undefined;
  llm?: LlmTurnStats | undefined;
  /** The LLM's reading of the turn this reply answers (when it was asked), and whether the reply acted on it. */
  read?: { reading?: BrainTurn['reading']; understood: boolean } | undefined;
}

export class Speculation {
  private started: Started | undefined;
  private held: HeldReply = {};

  /** `mayStart`: whether these words may be answered ahead (not the owner's PIN or owner commands). */
  constructor(private readonly brain: Brain, private readonly speaker: Speaker, private readonly mayStart: (heard: string) => boolean) {}

  /**
   * The final transcript is in: an open question (no side effects: the LLM only talks) starts its
   * answer now. Anything that books, moves or cancels waits for the turn to be taken.
   */
  onFinal(heard: string, text: string, state: GuidedState, hearing: Hearing): void {
    // A newer final replaces any answer started on an earlier one: end that one (it holds an LLM sequence).
    this.drop();
    if (!this.mayStart(heard)) return;
    if (!text.trim()) return;
    if (!this.brain.routesToLlm(text, state, hearing)) {
      // A transactional turn: the LLM's reading of it (no side effects) starts now too.
      this.brain.readAhead(text, state, hearing);
      return;
    }
    const reply = this.brain.respond(text, state);
    reply.catch(() => {});
    const prepared = reply.then(
      (r) => {
        if (typeof r.turn.reply === 'string') return undefined;
        const times: SpeakTimes = {};
        return { utterance: this.speaker.prepare(r.turn.reply, times), times };
      },
      () => undefined,
    );
    this.started = { heard, reply, prepared };
  }

  /** The caller is talking again: the words we started answering are not the turn. */
  onSpeech(): void {
    this.brain.cancelReadAhead();
    this.drop();
  }

  /**
   * The turn is taken as `heard`: the answer started for exactly these words, else undefined (a
   * stale one is ended). `prepared` resolves to its first piece when it streams.
   */
  take(heard: string): { reply: Respond; prepared: Promise<PreparedReply | undefined> } | undefined {
    const s = this.started;
    this.started = undefined;
    if (s && s.heard === heard) return s;
    if (s) end(s);
    return undefined;
  }

  /** A reply is ready; it plays on the machine's next 'play' of a reply. */
  hold(reply: HeldReply): void {
    this.held = reply;
  }

  /** The held reply for the 'play' now performed (empty when the reply is plain text). */
  forPlay(): HeldReply {
    const h = this.held;
    this.held = {};
    return h;
  }

  /** The reply is aborted (barge-in, transfer key, hang-up): end everything started. */
  async abort(): Promise<void> {
    this.drop();
    const { stream, prepared } = this.held;
    this.held = {};
    prepared?.utterance.cancel();
    await (stream as AsyncGenerator<string> | undefined)?.return(undefined).catch(() => {});
  }

  private drop(): void {
    if (this.started) end(this.started);
    this.started = undefined;
  }
}

function end(s: Started): void {
  void s.prepared.then((p) => p?.utterance.cancel());
  void s.reply.then((r) => {
    if (typeof r.turn.reply !== 'string') void (r.turn.reply as AsyncGenerator<string>).return(undefined);
  }, () => {});
}
