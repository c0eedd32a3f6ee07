import type { ChatMessage, Llm } from '../speech/types.js';
import type { AgentTools } from './tools.js';
import { GuidedEngine, type GuidedResult, type GuidedState } from './guided/engine.js';
import { understand, type Intent, type Understanding } from './guided/nlu.js';
import { finishReading, llmNluDefaults, startReading, type Reading } from './guided/llm-nlu.js';
import { gateFor, type LatencyGate, type LatencyGateOptions } from './latency-gate.js';
import { dialogueDefaults, heardSurely, type DialogueOptions, type Hearing } from './guided/options.js';

const dialogueDefaultsAct = dialogueDefaults.actAtConfidence;
import { cleanText } from '../util/text.js';

/**
 * Who answers a turn. Small local models are unreliable at free-form tool calls, so anything that
 * changes the calendar or hands the caller on (booking, quotes, moves, cancellations, messages,
 * transfers, a pending confirmation) goes through the guided-flow engine and its validated tools;
 * open questions ("do you bring your own supplies?") go to the LLM, grounded in the business's
 * facts and the last turns. The LLM's reply streams; if it errors or its first token is late, the
 * guided engine answers instead, so the caller never waits on silence.
 */

export const brainDefaults = {
  /** Turns of history the LLM sees. */
  historyTurns: 6,
  /** Reply cap for a spoken turn. */
  maxTokens: 60,
  /** Give up on the LLM if its first token takes longer, ms. */
  firstTokenTimeoutMs: 1_500,
  /** Give up on the LLM's reading of a transactional turn after this long and use the rules, ms. */
  understandTimeoutMs: llmNluDefaults.timeoutMs,
  /** With an LLM, it reads transactional turns for the guided flow (FRONTDESK_LLM_UNDERSTANDS). */
  understand: true,
} as const satisfies Record<string, number | boolean>;

const TRANSACTIONAL: Intent[] = ['book', 'quote', 'reschedule', 'cancel', 'my_appointments', 'human', 'message', 'goodbye', 'yes', 'no'];

export interface BrainTurn extends Omit<GuidedResult, 'reply' | 'state'> {
  /** Whole text (guided) or a stream of text (LLM). */
  reply: string | AsyncIterable<string>;
  by: 'guided' | 'llm';
  /** Set when the LLM read the turn's intent and slots (the guided flow then acted on them). */
  understoodBy?: 'llm';
  /** What the LLM's prompt cost this turn (LLM turns). */
  llm?: LlmTurnStats;
  /** The LLM's reading of this turn, when it was asked: from asking to its reading (or giving up), ms. */
  reading?: { ms: number; inTime: boolean; ahead: boolean };
}

export interface LlmTurnStats {
  promptTokens: number;
  /** Prompt tokens evaluated this turn; the rest were reused from the conversation's sequence. */
  evaluatedTokens: number;
  /** From asking the LLM to its first token, ms. */
  firstTokenMs: number;
}

export interface BrainOptions {
  llm?: Llm | undefined;
  conversation: string;
  channel: 'call' | 'sms';
  now: () => Date;
  maxTokens?: number;
  firstTokenTimeoutMs?: number;
  understandTimeoutMs?: number;
  /** Whether the LLM reads transactional turns (intent and slots) for the guided flow; default true. */
  understand?: boolean;
  /** Earlier turns of the conversation (an SMS thread's last texts). */
  history?: ChatMessage[];
  /** How an unsure hearing is handled (confidence thresholds, escalation). */
  dialogue?: Partial<DialogueOptions>;
  /** When to stop asking an LLM that keeps missing its budgets, and when to retry. */
  gate?: Partial<LatencyGateOptions>;
  /** Where a model that stops (or resumes) being asked is reported. */
  logger?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void } | undefined;
}

export class Brain {
  private readonly guided: GuidedEngine;
  private readonly history: ChatMessage[] = [];
  private abortLlm: (() => void) | undefined;

  constructor(private readonly tools: AgentTools, private readonly o: BrainOptions) {
    this.guided = new GuidedEngine(tools, o.channel, o.now, o.dialogue);
    if (o.history) this.history.push(...o.history.slice(-brainDefaults.historyTurns * 2));
  }

  /** The grounding the LLM gets: persona, services and prices, hours, policies, FAQ. */
  systemPrompt(): string {
    const d = this.tools.context.document;
    const info = this.tools.businessInfo();
    const lines = [
      `You are ${d.persona.name}, the receptionist of ${d.displayName}, on the ${this.o.channel === 'call' ? 'phone' : 'text messages'}. Style: ${d.persona.style}.`,
      this.o.channel === 'call' ? 'Answer in one or two short spoken sentences. No lists, no symbols.' : 'Answer in one or two short sentences.',
      `Services: ${info.services.map((s) => `${s.name} from ${s.from} (${s.description})`).join('; ')}.`,
      `Hours: ${info.hours}.`,
      ...(info.serviceArea ? [`Service area: ${info.serviceArea}.`] : []),
      ...info.policies.map((p) => `Policy: ${p}`),
      ...(info.cancellationPolicy ? [`Cancellations: ${info.cancellationPolicy}`] : []),
      ...d.info.faq.map((f) => `Q: ${f.q} A: ${f.a}`),
      `If you do not know, say ${d.owner.name} can answer and offer to take a message. Never invent prices or times.`,
    ];
    return lines.join('\n');
  }

  /**
   * The guided flow's question again, narrower (1) or as keypad choices (2), for a caller who went
   * quiet; the state it returns is the one the keys and answers then apply to.
   */
  prompt(state: GuidedState, level: 1 | 2): { reply: string; state: GuidedState } {
    return level === 1 ? this.guided.narrow(state) : this.guided.keypad({ ...state, keypad: true });
  }

  /**
   * True when the LLM would answer `text` in this state (an open question). A key press, or words
   * not heard surely, stay with the guided flow: it confirms or asks again rather than answer a mishearing.
   */
  routesToLlm(text: string, state: GuidedState, hearing?: Hearing): boolean {
    if (!this.o.llm || !heardSurely(hearing, { actAtConfidence: this.o.dialogue?.actAtConfidence ?? dialogueDefaultsAct })) return false;
    const u = understand(this.tools.context.document, text, this.o.now());
    return !this.wantsFreeText(state) && !u.intents.some((i) => TRANSACTIONAL.includes(i)) && !u.service && !u.when;
  }

  private wantsFreeText(state: GuidedState): boolean {
    const k = state.pending?.kind;
    return k === 'ask_address' || k === 'ask_name' || k === 'take_message' || k === 'confirm_visit';
  }

  /** The LLM's reading of transactional turns and its open answers, each stopped while it keeps missing its budget. */
  private gate(what: 'reading' | 'answer'): LatencyGate | undefined {
    return this.o.llm && gateFor(this.o.llm, what, this.o.now, this.o.gate);
  }

  /** Whether the LLM would be asked to read `text` (a transactional turn heard surely). */
  private readsWithLlm(text: string, state: GuidedState, hearing?: Hearing): boolean {
    return Boolean(this.o.llm && (this.o.understand ?? brainDefaults.understand) && !this.wantsFreeText(state)
      && heardSurely(hearing, { actAtConfidence: this.o.dialogue?.actAtConfidence ?? dialogueDefaultsAct })
      && !this.routesToLlm(text, state, hearing));
  }

  private ahead: Reading | undefined;

  /**
   * The final transcript is in but the turn is not taken yet (the endpointing pause): start the
   * LLM's reading now. It has no side effects; `respond` uses it if the turn's words and state are
   * the same, and the tools still act only once the turn is taken.
   */
  readAhead(text: string, state: GuidedState, hearing?: Hearing): void {
    this.cancelReadAhead();
    if (this.closed || !text.trim() || !this.readsWithLlm(text, state, hearing) || !this.gate('reading')!.allow()) return;
    this.ahead = startReading(this.o.llm!, this.tools.context.document, text, this.o.now(), state);
  }

  /** The caller went on talking: the reading started ahead is not of the turn. */
  cancelReadAhead(): void {
    this.ahead?.abort();
    this.ahead = undefined;
  }

  async respond(text: string, state: GuidedState, hearing?: Hearing): Promise<{ turn: BrainTurn; state: GuidedState }> {
    const llm = this.o.llm;
    // A question asked for free text (an address, a message) takes any answer; otherwise a pending
    // offer stays pending while the LLM answers a side question ("do you bring supplies?").
    const open = Boolean(llm && this.routesToLlm(text, state, hearing));
    const answerGate = this.gate('answer');
    if (llm && open && answerGate!.allow()) {
      const r = await this.fromLlm(llm, text).catch((e: unknown) => {
        if (e instanceof LateError) answerGate!.record(e.ms, false, e.budgetMs, this.o.logger);
        return undefined;
      });
      if (r) {
        if (r.stats) answerGate!.record(r.stats.firstTokenMs, true, this.firstTokenBudget(), this.o.logger);
        return { turn: { reply: r.stream, by: 'llm', ...(r.stats ? { llm: r.stats } : {}) }, state };
      }
    }
    // With an LLM, it reads what the caller wants (intent and slots, against this business's
    // schema); the guided flow acts on it with its validated tools. Free-text answers (an address,
    // a message) need no reading.
    let understood: Understanding | undefined;
    let reading: BrainTurn['reading'];
    // (Not after the LLM just failed to answer this turn: the caller has waited long enough.)
    const reads = Boolean(llm && !open && this.readsWithLlm(text, state, hearing));
    const ahead = reads && this.ahead?.text === text && sameState(this.ahead.state, state) ? this.ahead : undefined;
    if (!ahead) this.cancelReadAhead();
    this.ahead = undefined;
    if (llm && reads && (ahead || this.gate('reading')!.allow())) {
      const ctx = this.tools.context.document;
      const started = ahead ?? startReading(llm, ctx, text, this.o.now(), state);
      const budgetMs = this.o.understandTimeoutMs ?? brainDefaults.understandTimeoutMs;
      const out = await finishReading(started, ctx, this.o.now(), understand(ctx, text, this.o.now()), budgetMs);
      this.gate('reading')!.record(out.ms, out.inTime, budgetMs, this.o.logger);
      understood = out.understood;
      reading = { ms: out.ms, inTime: out.inTime, ahead: Boolean(ahead) };
    }
    const r = await this.guided.respond(text, state, understood, hearing);
    this.remember(text, r.reply);
    const { reply, state: next, ...rest } = r;
    return { turn: { ...rest, reply, by: 'guided', ...(understood ? { understoodBy: 'llm' as const } : {}), ...(reading ? { reading } : {}) }, state: next };
  }

  private firstTokenBudget(): number {
    return this.o.firstTokenTimeoutMs ?? brainDefaults.firstTokenTimeoutMs;
  }

  private remember(user: string, assistant: string): void {
    this.history.push({ role: 'user', content: user }, { role: 'assistant', content: assistant });
    const max = brainDefaults.historyTurns * 2;
    if (this.history.length > max) this.history.splice(0, this.history.length - max);
    // While the caller hears this reply, the LLM has nothing to do: evaluate the conversation so
    // far now, so the next open question only costs its own words. (A text thread's brain lives
    // for one message: nothing to prepare.)
    if (this.o.llm && this.o.channel === 'call' && !this.closed) {
      this.prefilling = this.o.llm.prefill([{ role: 'system', content: this.systemPrompt() }, ...this.history], this.o.conversation, { onlyIfFree: true }).catch(() => {});
    }
  }

  private prefilling: Promise<void> | undefined;
  private partialBusy = false;

  /**
   * The caller is still talking: evaluate what they have said so far, so that when they stop only
   * the last words are new. (A greedy transducer's partial transcript only grows.) One at a time;
   * a partial that arrives meanwhile is skipped, the next one covers it.
   */
  prefillPartial(partial: string): void {
    const llm = this.o.llm;
    if (!llm || this.closed || this.partialBusy || !partial.trim()) return;
    this.partialBusy = true;
    const messages: ChatMessage[] = [{ role: 'system', content: this.systemPrompt() }, ...this.history, { role: 'user', content: partial }];
    this.prefilling = llm.prefill(messages, this.o.conversation, { open: true, onlyIfFree: true }).catch(() => {}).finally(() => {
      this.partialBusy = false;
    });
  }
  private closed = false;

  /** Starts the LLM; resolves once its first token is in (or rejects: late, failed, empty). */
  private async fromLlm(llm: Llm, text: string): Promise<{ stream: AsyncIterable<string>; stats: LlmTurnStats | undefined }> {
    const messages: ChatMessage[] = [{ role: 'system', content: this.systemPrompt() }, ...this.history, { role: 'user', content: text }];
    const ac = new AbortController();
    this.abortLlm = () => ac.abort();
    const started = performance.now();
    let stats: LlmTurnStats | undefined;
    const it = llm.chat(messages, {
      conversation: this.o.conversation, maxTokens: this.o.maxTokens ?? brainDefaults.maxTokens, signal: ac.signal,
      onFirstToken: (s) => (stats = { promptTokens: s.promptTokens, evaluatedTokens: s.evaluatedTokens, firstTokenMs: Math.round(performance.now() - started) }),
    })[Symbol.asyncIterator]();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ac.abort();
        // Close the generation (it frees its sequence once its first token arrives).
        void it.return?.(undefined);
        reject(new LateError(performance.now() - started, this.firstTokenBudget()));
      }, this.firstTokenBudget());
    });
    try {
      // A model can emit control bytes: nothing the caller hears or the store keeps should carry
      // them. Wait (within the deadline) for the first piece with words: a leading space is not one.
      let head = '';
      for (;;) {
        const n = await Promise.race([it.next(), late]);
        if (n.done) break;
        head += cleanText(n.value);
        if (head.trim()) break;
      }
      if (!head.trim()) throw new Error('the LLM said nothing');
      const self = this;
      const stream = (async function* () {
        let all = head;
        try {
          yield head;
          for (let n = await it.next(); !n.done; n = await it.next()) {
            const piece = cleanText(n.value);
            all += piece;
            if (piece) yield piece;
          }
          self.remember(text, all);
        } finally {
          // Closed early (barge-in, a discarded speculative answer): end the generation and free its sequence.
          ac.abort();
          await it.return?.(undefined);
        }
      })();
      return { stream, stats };
    } finally {
      clearTimeout(timer);
    }
  }

  /** The caller barged in: stop generating. */
  abort(): void {
    this.abortLlm?.();
    this.abortLlm = undefined;
  }

  /** The conversation is over; its sequence keeps the evaluated system prompt for the next one. */
  async close(): Promise<void> {
    const llm = this.o.llm;
    this.closed = true;
    this.cancelReadAhead();
    // A prefill still queued would take a sequence back after the release.
    await this.prefilling;
    if (llm) await llm.release(this.o.conversation, [{ role: 'system', content: this.systemPrompt() }]);
  }
}

/** The LLM's first token missed its budget. */
class LateError extends Error {
  constructor(readonly ms: number, readonly budgetMs: number) {
    super('the LLM was too slow');
  }
}

/** The same conversation state (the session passes the same object; a text thread a rebuilt one). */
function sameState(a: GuidedState, b: GuidedState): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}
