import { describe, expect, it } from 'vitest';
import { parseOwnerCommand } from '../../src/business/owner/parse.js';
import { parseContext } from '../../src/business/context/schema.js';
import { demoContext } from '../../src/business/context/demo.js';
import { spokenToText } from '../../src/agent/voice/transcript.js';
import { spokenPin } from '../../src/agent/voice/owner-pin.js';
import { POLICY } from '../../src/business/owner/policy.js';

/** The owner's commands as texted, and as the recognizer writes them on a call. */
const ctx = parseContext(demoContext);
const NOW = new Date('2026-11-20T18:00:00Z'); // Friday noon in Chicago
const parse = (s: string) => parseOwnerCommand(spokenToText(s), ctx, NOW);

describe('owner commands', () => {
  it('reads every command of the issue, typed or spoken', () => {
    expect(parse("What's on tomorrow?")).toMatchObject({ kind: 'agenda', label: 'tomorrow' });
    expect(parse("what's on this week")).toMatchObject({ kind: 'agenda', label: 'this week' });
    expect(parse('Any messages?')).toEqual({ kind: 'messages', voicemailOnly: false });
    expect(parse('read me the voicemails')).toEqual({ kind: 'messages', voicemailOnly: true });
    expect(parse("Text the Garcias we're running 20 minutes late.")).toEqual({ kind: 'text_customer', who: 'the Garcias', text: "We're running 20 minutes late." });
    expect(parse("text the garcias we're running twenty minutes late")).toEqual({ kind: 'text_customer', who: 'the garcias', text: "We're running twenty minutes late" });
    expect(parse("Move Mrs. Lee's Tuesday visit to Thursday at 10.")).toEqual({ kind: 'move', who: 'mrs lee', fromDay: '2026-11-24', to: '2026-11-26T10:00:00.000-06:00' });
    expect(parse("move missus lee's tuesday visit to thursday at ten")).toMatchObject({ kind: 'move', fromDay: '2026-11-24', to: '2026-11-26T10:00:00.000-06:00' });
    expect(parse('Cancel my 3 pm.')).toEqual({ kind: 'cancel', hour: 15, minute: 0 });
    expect(parse('cancel my three p.m.')).toEqual({ kind: 'cancel', hour: 15, minute: 0 });
    // What the recognizer sometimes writes for it.
    expect(parse('can my three p.m.')).toEqual({ kind: 'cancel', hour: 15, minute: 0 });
    expect(parse('can my appointment be moved')).toMatchObject({ kind: 'unknown' });
    expect(parse("We're closed Friday for the holiday.")).toEqual({ kind: 'close_day', date: '2026-11-20', name: 'Holiday' });
    expect(parse('Close early today at 3.')).toEqual({ kind: 'close_early', date: '2026-11-20', close: '15:00' });
    expect(parse('close early today at three')).toEqual({ kind: 'close_early', date: '2026-11-20', close: '15:00' });
    expect(parse('Forward calls to my cell until 5.')).toEqual({ kind: 'forward', until: '2026-11-20T17:00:00.000-06:00' });
    expect(parse('forward calls to my cell until five')).toEqual({ kind: 'forward', until: '2026-11-20T17:00:00.000-06:00' });
    expect(parse('Block the last caller.')).toEqual({ kind: 'block' });
    expect(parse('block 512 555 0142')).toEqual({ kind: 'block', number: '+15125550142' });
    expect(parse('Notify me when someone books a deep clean')).toEqual({ kind: 'alert_rule', on: 'booking_created', via: 'sms', service: 'deep', remove: false });
    expect(parse('notify me when a vip calls')).toEqual({ kind: 'alert_rule', on: 'vip_call', via: 'sms', remove: false });
    expect(parse('call me when a voicemail sounds urgent')).toEqual({ kind: 'alert_rule', on: 'voicemail', via: 'call', urgentOnly: true, remove: false });
    expect(parse('stop texting me when someone books')).toMatchObject({ kind: 'alert_rule', on: 'booking_created', remove: true });
    expect(parse("Call me at 6 with tomorrow's schedule")).toEqual({ kind: 'briefing', at: '2026-11-20T18:00:00.000-06:00', day: 'tomorrow' });
    expect(parse("call me at six with tomorrow's schedule")).toEqual({ kind: 'briefing', at: '2026-11-20T18:00:00.000-06:00', day: 'tomorrow' });
  });

  it('"call me at 6" is the next 6 on the clock: 6 am after the evening one has passed', () => {
    const evening = new Date('2026-11-21T02:00:00Z'); // Friday 8 pm
    expect(parseOwnerCommand("call me at 6 with tomorrow's schedule", ctx, evening)).toEqual({ kind: 'briefing', at: '2026-11-21T06:00:00.000-06:00', day: 'tomorrow' });
  });

  it('answers what it cannot read with a hint, never a guess that changes something', () => {
    for (const s of ['', 'blah blah', 'cancel', 'forward calls', 'block', 'move it', 'text', 'call me at 99', 'close early']) {
      expect(parse(s).kind, s).toMatch(/^(unknown|agenda|messages)$/);
    }
  });

  it('every command kind has a tier in the policy table', () => {
    expect(Object.entries(POLICY).map(([k, v]) => [k, v.tier])).toEqual([
      ['agenda', 'low'], ['messages', 'low'], ['text_customer', 'medium'], ['move', 'medium'], ['cancel', 'medium'], ['briefing', 'medium'],
      ['close_day', 'high'], ['close_early', 'high'], ['forward', 'high'], ['block', 'high'], ['alert_rule', 'high'],
    ]);
  });

  it('hears a spoken PIN digit by digit, and nothing else as one', () => {
    expect(spokenPin('my pin is four eight two one')).toBe('4821');
    expect(spokenPin('pin four eight two one')).toBe('4821');
    expect(spokenPin('my pin is oh eight two one five')).toBe('08215');
    expect(spokenPin('my pin is four eight')).toBeUndefined();
    expect(spokenPin('i would like a cleaning at four')).toBeUndefined();
  });
});
