import type { Logger } from 'pino';
import type { BusinessContext } from '../../business/context/schema.js';
import type { StoredContext } from '../../business/context/service.js';
import type { Business } from '../../business/index.js';
import type { RouteDecision } from '../../business/routing.js';
import type { Executor } from '../../business/outbox.js';
import type { Call, Telephony } from '../../telephony/call.js';
import { bridge } from '../../telephony/bridge.js';
import { ringback } from '../../telephony/ringback.js';
import { retrying } from '../../util/retry.js';

/**
 * The ring phase before the agent answers (context `answer`): the caller hears ringing for
 * `ringSeconds` (180; with `earlyMedia`, 183 and our ringback tone), and with `ownerFirst` the
 * owner's phones ring meanwhile: the first to pick up gets the caller, the others are CANCELled.
 * The agent answers when nobody picked up in time, or at once when every owner phone refused.
 */

export type RingOutcome =
  | { kind: 'agent' }
  /** The caller hung up while it rang: a missed call. */
  | { kind: 'caller_gone'; reason: string }
  /** An owner phone picked up; the caller is not answered yet (bridge after answering). */
  | { kind: 'owner'; leg: Call; target: string };

export interface RingDeps {
  telephony: Telephony | undefined;
  /** A note for the call record (which phones rang, who answered). */
  note?: (text: string, data?: unknown) => void;
}

export async function ringPhase(d: RingDeps, call: Call, ctx: BusinessContext, opts: { ownerFirst: boolean }): Promise<RingOutcome> {
  const { ringSeconds, earlyMedia } = ctx.answer;
  if (ringSeconds <= 0 || call.state !== 'ringing') return { kind: 'agent' };
  const stop = new AbortController();
  const cleanups: (() => void)[] = [];
  try {
    const callerGone = new Promise<RingOutcome>((resolve) => {
      const onEnd = (reason: string) => resolve({ kind: 'caller_gone', reason });
      call.once('ended', onEnd);
      cleanups.push(() => call.off('ended', onEnd));
    });
    const rang = new Promise<RingOutcome>((resolve) => {
      const t = setTimeout(() => resolve({ kind: 'agent' }), ringSeconds * 1000);
      cleanups.push(() => clearTimeout(t));
    });
    if (earlyMedia && call.progress) {
      await call.progress();
      call.play(ringback(call.sampleRate, stop.signal));
      cleanups.push(() => call.stopPlayback());
    }
    const racers = [callerGone, rang];
    const targets = opts.ownerFirst && d.telephony ? ctx.owner.targets : [];
    if (targets.length) racers.push(ringOwners(d, call, ctx, targets.map((t) => t.value), ringSeconds, stop.signal));
    return await Promise.race(racers);
  } finally {
    // Every owner phone still ringing is CANCELled; the ringback stops.
    stop.abort();
    for (const c of cleanups) c();
  }
}

/** Rings every target at once; resolves with the first that answers, or 'agent' once all refused. */
function ringOwners(d: RingDeps, call: Call, ctx: BusinessContext, targets: string[], ringSeconds: number, signal: AbortSignal): Promise<RingOutcome> {
  return new Promise<RingOutcome>((resolve) => {
    let failed = 0;
    let won = false;
    for (const target of targets) {
      d.note?.(`ringing ${target} first`, { target });
      d.telephony!.dial(target, {
        timeoutSeconds: ringSeconds, signal, leg: 'warm', requestedBy: 'ring-first',
        ...(ctx.numbers[0] ? { from: ctx.numbers[0] } : {}),
      }).then((leg) => {
        // Answered after another phone did, or after the caller left: that leg is not wanted.
        if (won || signal.aborted || call.state !== 'ringing') {
          void leg.hangup('not_needed').catch(() => {});
          return;
        }
        won = true;
        d.note?.(`${target} picked up`, { target });
        resolve({ kind: 'owner', leg, target });
      }, (err: unknown) => {
        if (!signal.aborted) d.note?.(`${target} did not pick up: ${(err as Error).message}`, { target });
        if (++failed === targets.length && !won) resolve({ kind: 'agent' });
      });
    }
  });
}

export interface RingFirstDeps {
  business: Business;
  db: Executor;
  telephony: Telephony | undefined;
  logger?: Logger | undefined;
}

/**
 * The ring phase of an inbound call the agent would answer, with its outcome kept: a caller who
 * hung up while it rang is a missed call (the owner alerted, as any missed call); an owner who
 * picked up gets the caller, answered and bridged, until either hangs up. Returns true when the
 * call was handled here, false when the agent answers now.
 */
export async function ringThenAnswer(d: RingFirstDeps, call: Call, callId: string, stored: StoredContext, decision: RouteDecision): Promise<boolean> {
  const { business } = d;
  const note = (text: string, data?: unknown) => void retrying(() => business.calls.event(callId, 'transfer', { role: 'system', text, data: data ?? null }))
    .catch((err: unknown) => d.logger?.warn({ err, callId }, 'call event not saved'));
  // The owner is rung first only while open; after hours the agent takes the call after the ring.
  const outcome = await ringPhase({ telephony: d.telephony, note }, call, stored.document, { ownerFirst: stored.document.answer.ownerFirst && decision.action === 'agent' });
  if (outcome.kind === 'agent') return false;
  if (outcome.kind === 'caller_gone') {
    await retrying(() => business.calls.ended(callId, `abandoned (hung up while ringing: ${outcome.reason})`));
    await retrying(() => business.alerts.handle(d.db, stored, { type: 'missed_call', callId, callerNumber: call.from }));
    return true;
  }
  await call.answer();
  if (call.state !== 'answered') {
    // The caller left just as the owner picked up: release the owner's phone; a missed call.
    await outcome.leg.hangup('caller_gone').catch(() => {});
    await retrying(() => business.calls.ended(callId, 'abandoned (hung up as the owner answered)'));
    await retrying(() => business.alerts.handle(d.db, stored, { type: 'missed_call', callId, callerNumber: call.from }));
    return true;
  }
  void retrying(() => business.calls.answered(callId)).catch((err: unknown) => d.logger?.warn({ err, callId }, 'call answered state not saved'));
  const who = await bridge(call, outcome.leg, 'bridged_hangup').done;
  const reason = `${who === 'a' ? 'caller' : 'owner'} hung up`;
  note(`connected to ${outcome.target} until ${reason}`, { target: outcome.target, reason });
  await retrying(() => business.calls.ended(callId, 'owner_answered'));
  return true;
}
