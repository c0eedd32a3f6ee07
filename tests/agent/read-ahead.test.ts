import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBusiness, type Business } from '../../src/business/index.js';
import { demoContext } from '../../src/business/context/demo.js';
import { AgentTools } from '../../src/agent/tools.js';
import { Brain } from '../../src/agent/brain.js';
import { latencyGateDefaults } from '../../src/agent/latency-gate.js';
import type { LlmReading } from '../../src/agent/guided/llm-nlu.js';
import type { ChatMessage, Llm, LlmChatOptions } from '../../src/speech/types.js';
import type { Store } from '../../src/store/db.js';
import { openTestStore } from '../helpers/stores.js';

const NOW = new Date('2026-11-20T18:00:00Z'); // Friday, noon in Chicago
const SAID = 'Could somebody scrub the whole house top to bottom on Tuesday, first thing in the morning?';
const READING: LlmReading = { r: ['book', 'deep', 'tuesday', '9am'] };

/** A model whose readings the test hands out (or never does), recording what it was asked. */
class FakeLlm implements Llm {
  readonly name = 'fake';
  readonly asked: { text: string; signal: AbortSignal | undefined; answer: (r: LlmReading) => void }[] = [];
  /** Answer every reading at once with this, or leave them waiting (a model too slow for its budget). */
  instant: LlmReading | undefined;
  /** Open questions asked; the answer never starts (a first token later than any budget). */
  chats = 0;
  async *chat(_messages: readonly ChatMessage[], opts: LlmChatOptions = {}): AsyncIterable<string> {
    this.chats++;
    await new Promise((resolve) => opts.signal?.addEventListener('abort', resolve));
    yield* [];
  }
  structured<T>(messages: readonly ChatMessage[], _schema: object, opts: Omit<LlmChatOptions, 'schema'> = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      opts.signal?.addEventListener('abort', () => reject(new Error('aborted')));
      this.asked.push({ text: messages.at(-1)!.content, signal: opts.signal, answer: (r) => resolve(r as T) });
      if (this.instant) resolve(this.instant as T);
    });
  }
  async prefill(): Promise<void> {}
  async warm(): Promise<void> {}
  async release(): Promise<void> {}
  async close(): Promise<void> {}
}

/**
 * The LLM's reading of a transactional turn starts while the turn is still being taken (no side
 * effects) and is used when the turn's words are the same; a model that keeps missing its budget
 * stops being asked — the rules answer at once — and is tried again later.
 */
describe('reading ahead of the turn, and not asking a model that cannot make it', () => {
  let store: Store;
  let dispose: () => Promise<void>;
  let biz: Business;
  let clock = NOW;

  beforeAll(async () => {
    ({ store, dispose } = await openTestStore('pglite'));
    biz = createBusiness(store.db, () => NOW);
    await biz.contexts.save(demoContext, 'test');
  });
  afterAll(async () => {
    await dispose();
  });

  async function brain(llm: Llm | undefined, o: { understandTimeoutMs?: number; logs?: string[] } = {}) {
    const context = await biz.contexts.get('sparkle-cleaning');
    const { customer } = (await biz.customers.findOrCreateByPhone('+15125550912'))!;
    const tools = new AgentTools({ business: biz, context, customer, channel: 'call' });
    const log = (obj: object, msg: string) => o.logs?.push(`${msg} ${JSON.stringify(obj)}`);
    return new Brain(tools, {
      llm, conversation: `ra-${Math.random()}`, channel: 'call', now: () => clock, firstTokenTimeoutMs: 1,
      ...(o.understandTimeoutMs ? { understandTimeoutMs: o.understandTimeoutMs } : {}), logger: { warn: log, info: log },
    });
  }

  it('a reading started on the final transcript answers the turn when the words are the same', async () => {
    const llm = new FakeLlm();
    const b = await brain(llm);
    b.readAhead(SAID, {});
    expect(llm.asked).toHaveLength(1);
    // The model finishes during the endpointing pause; the turn is taken after.
    llm.asked[0]!.answer(READING);
    const { turn, state } = await b.respond(SAID, {});
    expect(llm.asked).toHaveLength(1);
    expect(turn.understoodBy).toBe('llm');
    expect(state.service).toBe('deep');
    expect(state.pending).toEqual({ kind: 'ask_size', start: '2026-11-24T09:00:00.000-06:00' });
  });

  it('a reading of other words is dropped, and the turn is read afresh', async () => {
    const llm = new FakeLlm();
    const b = await brain(llm);
    b.readAhead('Could somebody scrub the whole house on Tuesday', {});
    const turn = b.respond(SAID, {});
    expect(llm.asked[0]!.signal!.aborted).toBe(true);
    expect(llm.asked).toHaveLength(2);
    expect(llm.asked[1]!.text).toContain(SAID);
    llm.asked[1]!.answer(READING);
    expect((await turn).turn.understoodBy).toBe('llm');
  });

  it('the caller going on talking stops the reading', async () => {
    const llm = new FakeLlm();
    const b = await brain(llm);
    b.readAhead(SAID, {});
    b.cancelReadAhead();
    expect(llm.asked[0]!.signal!.aborted).toBe(true);
  });

  it('after readings keep missing their budget the rules answer without asking; one is retried later', async () => {
    const rules = await (await brain(undefined)).respond(SAID, {});
    const llm = new FakeLlm();
    const logs: string[] = [];
    const b = await brain(llm, { understandTimeoutMs: 1, logs });
    clock = NOW;
    for (let i = 0; i < latencyGateDefaults.missesToStop; i++) {
      const r = await b.respond(SAID, {});
      expect(r.turn.understoodBy).toBeUndefined();
      expect(r.turn.reply).toBe(rules.turn.reply);
    }
    expect(llm.asked).toHaveLength(latencyGateDefaults.missesToStop);
    expect(llm.asked.every((a) => a.signal!.aborted)).toBe(true);
    // Said once, with the numbers.
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/missed its 1 ms budget 3 times in a row/);
    expect(logs[0]).toMatch(/"recentMs":\[\d+,\d+,\d+\]/);

    // Stopped: the rules answer and the model is not asked, by this call or the next on the same model.
    expect((await b.respond(SAID, {})).turn.reply).toBe(rules.turn.reply);
    const next = await brain(llm, { understandTimeoutMs: 1, logs });
    next.readAhead(SAID, {});
    expect((await next.respond(SAID, {})).turn.reply).toBe(rules.turn.reply);
    expect(llm.asked).toHaveLength(latencyGateDefaults.missesToStop);

    // A retry interval later one reading goes through; a quick one brings the model back.
    clock = new Date(NOW.getTime() + latencyGateDefaults.retryAfterMs);
    llm.instant = READING;
    const back = await brain(llm, { understandTimeoutMs: 60_000, logs });
    expect((await back.respond(SAID, {})).turn.understoodBy).toBe('llm');
    expect((await back.respond(SAID, {})).turn.understoodBy).toBe('llm');
    expect(llm.asked).toHaveLength(latencyGateDefaults.missesToStop + 2);
    expect(logs.at(-1)).toMatch(/back within its budget/);
    clock = NOW;
  });

  it('a retry that misses again waits another interval', async () => {
    const llm = new FakeLlm();
    const b = await brain(llm, { understandTimeoutMs: 1 });
    clock = NOW;
    for (let i = 0; i < latencyGateDefaults.missesToStop; i++) await b.respond(SAID, {});
    clock = new Date(NOW.getTime() + latencyGateDefaults.retryAfterMs);
    await b.respond(SAID, {});
    await b.respond(SAID, {});
    expect(llm.asked).toHaveLength(latencyGateDefaults.missesToStop + 1);
    clock = new Date(NOW.getTime() + 2 * latencyGateDefaults.retryAfterMs);
    await b.respond(SAID, {});
    expect(llm.asked).toHaveLength(latencyGateDefaults.missesToStop + 2);
    clock = NOW;
  });

  it('open questions whose first word keeps coming too late go to the guided flow without asking', async () => {
    const llm = new FakeLlm();
    const logs: string[] = [];
    const b = await brain(llm, { logs });
    clock = NOW;
    for (let i = 0; i < latencyGateDefaults.missesToStop + 2; i++) {
      const r = await b.respond('Do you bring your own supplies?', {});
      expect(r.turn.by).toBe('guided');
    }
    expect(llm.chats).toBe(latencyGateDefaults.missesToStop);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/answer missed its 1 ms budget 3 times in a row/);
  });
});
