import type { Business } from '../business/index.js';
import type { Db } from '../store/db.js';
import type { Llm } from '../speech/types.js';

/**
 * What a call came to, in one line and one word, written when the call ends and kept on the call
 * record: what the owner reads in the calls list and on the customer's timeline. The facts decide
 * the tag where there are facts (a booking made, a message left, put through, blocked, nothing
 * said); the words decide the rest (a price asked about, a question, a robocall). With an LLM the
 * line is the model's, in plain words; without one, or when it fails, the rules write it.
 */

export const CALL_TAGS = ['booked', 'quote', 'message', 'transferred', 'missed', 'spam', 'question', 'outbound'] as const;
export type CallTag = (typeof CALL_TAGS)[number];

export interface CallSummary { tag: CallTag; summary: string }

export interface CallFacts {
  direction: 'inbound' | 'outbound';
  disposition: string | null;
  purpose: string | null;
  /** Caller and agent turns, in order. */
  turns: { role: 'caller' | 'agent'; text: string }[];
  /** Visits booked on the call (start as ISO text). */
  booked: string[];
  /** Voicemails and messages taken on the call. */
  messages: { kind: 'voicemail' | 'message'; body: string }[];
  /** Who the call was for (outbound) or from. */
  customerName: string | null;
  /** Shows a booked start in the business's words ("Fri, Dec 4, 9:00 AM"). */
  showTime?: (iso: string) => string;
}

const PRICE = /\b(price|prices|pricing|cost|costs|how much|quote|estimate|rate|rates|charge|fee|\$\d)/i;
// What robocalls and list sellers say in their first breath.
const ROBOCALL = /\b(extended warranty|press (one|1)\b|google (listing|business)|final notice|social security|automated (message|call)|vehicle warranty|lower your (interest|rate)|business listing)/i;
const MISSED = /^(no_agent|abandoned|interrupted|no_message|failed|rejected_busy)/;

/** A caller's words cut to one readable line. */
function clip(text: string, max = 90): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length <= max ? t : `${t.slice(0, max - 1).replace(/\s+\S*$/, '')}…`;
}

/** The tag the facts settle, if they settle one. */
function factualTag(f: CallFacts): CallTag | undefined {
  const said = f.turns.filter((t) => t.role === 'caller').map((t) => t.text).join(' ');
  if (f.disposition === 'rejected' || ROBOCALL.test(said)) return 'spam';
  if (f.booked.length) return 'booked';
  if (f.disposition === 'transferred') return 'transferred';
  if (f.messages.length || f.disposition === 'voicemail') return 'message';
  if (f.direction === 'outbound') return 'outbound';
  if (!said.trim() && (!f.disposition || MISSED.test(f.disposition) || f.disposition === 'completed')) return 'missed';
  return undefined;
}

/** The rule-written line and tag: what the owner reads when no LLM is configured. */
export function summarizeByRules(f: CallFacts): CallSummary {
  const callerTurns = f.turns.filter((t) => t.role === 'caller');
  const said = callerTurns.map((t) => t.text).join(' ');
  const first = callerTurns.find((t) => t.text.trim().split(/\s+/).length >= 3) ?? callerTurns[0];
  const tag = factualTag(f) ?? (PRICE.test(said) ? 'quote' : 'question');
  const show = f.showTime ?? ((iso: string) => iso);
  switch (tag) {
    case 'spam':
      return { tag, summary: f.disposition === 'rejected' ? 'Blocked caller; declined.' : `Likely a robocall: “${clip(said, 60)}”` };
    case 'booked':
      return { tag, summary: `Visit booked for ${f.booked.map(show).join(' and ')}.` };
    case 'transferred':
      return { tag, summary: first ? `Put through to you after asking: “${clip(first.text, 70)}”` : 'Put through to you.' };
    case 'message': {
      const m = f.messages[0];
      const what = m?.kind === 'message' ? 'Left a message' : 'Left a voicemail';
      return { tag, summary: m?.body ? `${what}: “${clip(m.body, 80)}”` : `${what} (no words made out).` };
    }
    case 'outbound': {
      const who = f.customerName ?? 'the customer';
      const why = f.purpose === 'reminder' ? 'a visit reminder' : f.purpose === 'callback' ? 'returning their call' : 'a call from the console';
      return { tag, summary: `Called ${who}: ${why}${f.disposition && f.disposition !== 'completed' ? ` (${f.disposition})` : ''}.` };
    }
    case 'missed':
      return { tag, summary: f.disposition?.startsWith('abandoned') ? 'Hung up before saying anything.' : 'Missed: nobody could take the call.' };
    case 'quote':
      return { tag, summary: `Asked about prices: “${clip(first?.text ?? said, 80)}”` };
    default:
      return { tag, summary: `Asked: “${clip(first?.text ?? said, 90)}”` };
  }
}

const LLM_SCHEMA = {
  type: 'object',
  properties: {
    tag: { type: 'string', enum: ['quote', 'question', 'spam'] },
    summary: { type: 'string', maxLength: 140 },
  },
  required: ['tag', 'summary'],
} as const;

/** The LLM's line (and its tag where the facts settle none); the rules' on any failure or after `timeoutMs`. */
export async function summarizeCall(f: CallFacts, llm?: Llm, timeoutMs = 20_000): Promise<CallSummary> {
  const rules = summarizeByRules(f);
  if (!llm || !f.turns.some((t) => t.role === 'caller')) return rules;
  const settled = factualTag(f);
  const transcript = f.turns.map((t) => `${t.role === 'caller' ? 'Caller' : 'Receptionist'}: ${t.text}`).join('\n').slice(-4000);
  const facts = [
    f.booked.length ? `A visit was booked for ${f.booked.map(f.showTime ?? ((s) => s)).join(', ')}.` : '',
    f.messages.length ? `The caller left a ${f.messages[0]!.kind}.` : '',
    f.disposition === 'transferred' ? 'The call was put through to the owner.' : '',
  ].filter(Boolean).join(' ');
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const r = await llm.structured<{ tag: string; summary: string }>([
      { role: 'system', content: 'You write the one-line note a small business owner reads about a phone call their receptionist took. At most 20 words, plain words, no names of the receptionist. tag: quote if the caller asked what something costs, spam if it is a robocall or a sales pitch, else question.' },
      { role: 'user', content: `${facts ? `${facts}\n` : ''}${transcript}` },
    ], LLM_SCHEMA, { signal: ac.signal, maxTokens: 80 });
    const summary = typeof r.summary === 'string' ? clip(r.summary, 140) : '';
    if (!summary) return rules;
    const llmTag = (['quote', 'question', 'spam'] as const).find((t) => t === r.tag) ?? rules.tag;
    return { tag: settled ?? llmTag, summary };
  } catch {
    return rules;
  } finally {
    clearTimeout(timer);
  }
}

/** Reads a finished call's record, writes its summary and tag. */
export async function summarizeStoredCall(db: Db, business: Business, callId: string, llm?: Llm): Promise<CallSummary | undefined> {
  const call = await business.calls.get(callId);
  if (!call) return undefined;
  const [events, messages, customer] = await Promise.all([
    business.calls.events(callId),
    db.selectFrom('owner_messages').select(['kind', 'body']).where('call_id', '=', callId).orderBy('created_at').execute(),
    call.customer_id ? business.customers.get(call.customer_id) : undefined,
  ]);
  const ctx = call.context_id ? await business.contexts.getById(call.context_id).catch(() => undefined) : undefined;
  const zone = ctx?.document.timezone;
  const facts: CallFacts = {
    direction: call.direction,
    disposition: call.disposition,
    purpose: call.purpose,
    turns: events.filter((e) => e.kind === 'turn' && (e.role === 'caller' || e.role === 'agent') && e.text)
      .map((e) => ({ role: e.role as 'caller' | 'agent', text: e.text! })),
    booked: events.filter((e) => e.kind === 'tool_result' && e.text === 'booked')
      .map((e) => (e.data as { start?: string } | null)?.start).filter((s): s is string => typeof s === 'string'),
    messages: messages.map((m) => ({ kind: m.kind, body: m.body })),
    customerName: customer?.name ?? null,
    showTime: (iso) => new Date(iso).toLocaleString('en-US', { weekday: 'short', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', ...(zone ? { timeZone: zone } : {}) }),
  };
  const s = await summarizeCall(facts, llm);
  // An outbound call's own line (a reminder confirmed, a callback's outcome) says more than ours.
  const keep = s.tag === 'outbound' && call.summary;
  await db.updateTable('calls').set({ tag: s.tag, ...(keep ? {} : { summary: s.summary }) }).where('id', '=', callId).execute();
  return keep ? { tag: s.tag, summary: call.summary! } : s;
}
