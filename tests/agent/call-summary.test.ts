import { describe, expect, it } from 'vitest';
import { summarizeByRules, summarizeCall, type CallFacts } from '../../src/agent/call-summary.js';
import type { ChatMessage, Llm } from '../../src/speech/types.js';

/** The line and tag the owner reads for each call, from what happened on it. */

const facts = (f: Partial<CallFacts>): CallFacts => ({
  direction: 'inbound', disposition: 'completed', purpose: null, turns: [], booked: [], messages: [], customerName: null, ...f,
});
const caller = (text: string) => ({ role: 'caller' as const, text });

/** An Llm that answers one fixed structured reply (or fails): the summary's only use of the model. */
function llmAnswering(reply: unknown): Llm & { asked: ChatMessage[][] } {
  const asked: ChatMessage[][] = [];
  return {
    name: 'scripted', asked,
    chat: () => { throw new Error('not used'); },
    structured: async <T>(messages: readonly ChatMessage[]) => {
      asked.push([...messages]);
      if (reply instanceof Error) throw reply;
      return reply as T;
    },
    prefill: async () => {}, warm: async () => {}, release: async () => {}, close: async () => {},
  };
}

describe('call summaries', () => {
  it('tags a call by what happened on it, and says it in one line', () => {
    expect(summarizeByRules(facts({ booked: ['2026-12-04T15:00:00Z'], turns: [caller('can you come friday at nine')], showTime: () => 'Fri, Dec 4, 9:00 AM' })))
      .toEqual({ tag: 'booked', summary: 'Visit booked for Fri, Dec 4, 9:00 AM.' });
    expect(summarizeByRules(facts({ turns: [caller('yes'), caller('How much do you charge for a move-out clean?')] })))
      .toEqual({ tag: 'quote', summary: 'Asked about prices: “How much do you charge for a move-out clean?”' });
    expect(summarizeByRules(facts({ disposition: 'voicemail', messages: [{ kind: 'voicemail', body: 'Call me back about the carpet' }] })))
      .toEqual({ tag: 'message', summary: 'Left a voicemail: “Call me back about the carpet”' });
    expect(summarizeByRules(facts({ disposition: 'transferred', turns: [caller('I need to talk to the owner please')] })).tag).toBe('transferred');
    expect(summarizeByRules(facts({ disposition: 'abandoned (remote_hangup)' }))).toEqual({ tag: 'missed', summary: 'Hung up before saying anything.' });
    expect(summarizeByRules(facts({ disposition: 'no_agent' }))).toEqual({ tag: 'missed', summary: 'Missed: nobody could take the call.' });
    expect(summarizeByRules(facts({ disposition: 'rejected' })).tag).toBe('spam');
    expect(summarizeByRules(facts({ turns: [caller('This is an important message about your car\'s extended warranty, press one')] })).tag).toBe('spam');
    expect(summarizeByRules(facts({ turns: [caller('Do you bring your own supplies?')] })))
      .toEqual({ tag: 'question', summary: 'Asked: “Do you bring your own supplies?”' });
    expect(summarizeByRules(facts({ direction: 'outbound', purpose: 'click_to_call', customerName: 'Rosa' })))
      .toEqual({ tag: 'outbound', summary: 'Called Rosa: a call from the console.' });
  });

  it('keeps a long question to one line', () => {
    const long = `Hi, ${'I have a question about the cleaning of my very large house '.repeat(5)}`;
    const s = summarizeByRules(facts({ turns: [caller(long)] }));
    expect(s.summary.length).toBeLessThan(110);
    expect(s.summary.endsWith('…”')).toBe(true);
  });

  it('takes the LLM\'s line, but not its word over the facts', async () => {
    const llm = llmAnswering({ tag: 'question', summary: 'Booked a standard clean for Friday morning.' });
    const s = await summarizeCall(facts({ booked: ['2026-12-04T15:00:00Z'], turns: [caller('friday at nine please')] }), llm);
    expect(s).toEqual({ tag: 'booked', summary: 'Booked a standard clean for Friday morning.' });
    expect(llm.asked[0]!.at(-1)!.content).toContain('Caller: friday at nine please');
    const q = await summarizeCall(facts({ turns: [caller('what do you charge')] }), llmAnswering({ tag: 'quote', summary: 'Wanted a price for a regular clean.' }));
    expect(q).toEqual({ tag: 'quote', summary: 'Wanted a price for a regular clean.' });
  });

  it('falls back to the rules when the LLM fails, answers nothing usable, or there was nothing said', async () => {
    const f = facts({ turns: [caller('Do you clean windows?')] });
    expect(await summarizeCall(f, llmAnswering(new Error('model crashed')))).toEqual(summarizeByRules(f));
    expect(await summarizeCall(f, llmAnswering({ tag: 'nonsense', summary: '' }))).toEqual(summarizeByRules(f));
    const silent = llmAnswering({ tag: 'question', summary: 'x' });
    expect(await summarizeCall(facts({ disposition: 'abandoned (remote_hangup)' }), silent)).toEqual({ tag: 'missed', summary: 'Hung up before saying anything.' });
    expect(silent.asked).toHaveLength(0);
  });
});
