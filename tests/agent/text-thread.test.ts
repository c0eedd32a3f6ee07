import { describe, expect, it } from 'vitest';
import { answerText, type TextIn } from '../../src/agent/text/thread.js';
import { demoContext } from '../../src/business/context/demo.js';
import type { StoredContext } from '../../src/business/context/service.js';
import { parseContext } from '../../src/business/context/schema.js';
import type { Business } from '../../src/business/index.js';

/** The texting agent without a transport: what a texter gets back for carrier keywords and when they opted out. */
describe('the texting agent', () => {
  const document = parseContext(demoContext);
  const context: StoredContext = { id: 'c1', name: demoContext.name, version: 1, document, updatedAt: new Date(0) };
  // Nothing in these paths may touch the business: a Business that throws proves it.
  const business = new Proxy({}, { get: () => { throw new Error('business touched'); } }) as Business;
  const text = (body: string, over: Partial<TextIn> = {}): TextIn => ({
    id: 'm1', body, context, customerNumber: '+15125550142', customerId: null, optedOut: false, state: null,
    history: async () => { throw new Error('history read without an LLM'); }, ...over,
  });

  it('STOP unsubscribes once with a confirmation that goes out even to an opted-out number', async () => {
    const out = await answerText({ business }, text('Stop please'));
    expect(out.audience).toBe('compliance');
    expect(out.reply).toMatch(/unsubscribed from Sparkle & Shine Cleaning texts.*START/);
    expect(out.optOut).toBeInstanceOf(Date);
    const again = await answerText({ business }, text('STOP', { optedOut: true }));
    expect(again).toEqual({ audience: 'none' });
  });

  it('START resubscribes and HELP names the business and how to reach it', async () => {
    const start = await answerText({ business }, text('START', { optedOut: true }));
    expect(start).toMatchObject({ audience: 'compliance', optOut: null });
    const help = await answerText({ business }, text('HELP'));
    expect(help.reply).toContain('+15125550100');
    expect(help.reply).toContain('sparkleandshine.example');
    expect(help.optOut).toBeUndefined();
  });

  it('an opted-out texter gets no reply, and nor does a number without a business or with auto-reply off', async () => {
    expect(await answerText({ business }, text('what do you charge?', { optedOut: true }))).toEqual({ audience: 'none' });
    expect(await answerText({ business }, text('what do you charge?', { context: undefined }))).toEqual({ audience: 'none' });
    const quiet = { ...context, document: { ...document, sms: { ...document.sms, autoReply: false } } };
    expect(await answerText({ business }, text('what do you charge?', { context: quiet }))).toEqual({ audience: 'none' });
  });
});
