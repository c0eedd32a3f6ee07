import { describe, expect, it } from 'vitest';
import { TurnMachine } from '../../src/agent/turns/machine.js';
import type { Effect } from '../../src/agent/turns/types.js';

const lines = { greeting: 'Hello, Sparkle and Shine.', reprompt: 'Are you still there?', goodbye: 'Goodbye!', transfer: 'Connecting you now.' };
const kinds = (fx: Effect[]) => fx.filter((f) => f.type !== 'log').map((f) => (f.type === 'play' ? `play:${f.kind}` : f.type === 'think' ? `think:${f.text}` : f.type === 'hangup' ? `hangup:${f.reason}` : f.type));

/** Drives the machine on an injected clock, as the call runtime would. */
function run(opts: ConstructorParameters<typeof TurnMachine>[1] = {}) {
  const tm = new TurnMachine(lines, opts);
  let now = 0;
  const at = (ms: number) => (now = ms);
  const send = (e: Record<string, unknown> & { type: string }) => kinds(tm.dispatch({ at: now, ...e } as never));
  const tickTo = (ms: number) => {
    const out: string[] = [];
    while (now < ms) {
      now = Math.min(ms, now + 20);
      out.push(...kinds(tm.dispatch({ type: 'tick', at: now })));
    }
    return out;
  };
  return { tm, at, send, tickTo };
}

describe('turn-taking', () => {
  it('greets, listens, waits for the end of the turn, thinks, answers, listens again', () => {
    const { tm, at, send, tickTo } = run();
    expect(send({ type: 'start' })).toEqual(['play:greeting']);
    at(2000);
    expect(send({ type: 'playback_done', completed: true, heardMs: 2000 })).toEqual([]);
    expect(tm.state).toBe('listening');
    at(2500); send({ type: 'vad_start' });
    at(3500); send({ type: 'vad_end' });
    expect(tm.state).toBe('endpointing');
    // The transcript arrives before the minimum endpointing delay (200 ms by default, what callers
    // get): the agent still waits, then answers once the caller has been quiet that long.
    at(3600);
    expect(send({ type: 'stt_final', text: 'how much is a deep clean' })).toEqual([]);
    expect(tickTo(3680)).toEqual([]);
    expect(tickTo(3700)).toEqual(['think:how much is a deep clean']);
    expect(send({ type: 'reply', text: 'A deep cleaning is $220.' })).toEqual(['play:reply']);
    at(6000);
    send({ type: 'playback_done', completed: true, heardMs: 2200 });
    expect(tm.state).toBe('listening');
  });

  it('does nothing on the clock before the call has started (no goodbye from a call with no age)', () => {
    const { tm, at, tickTo } = run();
    at(20 * 60_000);
    expect(tickTo(20 * 60_000 + 500)).toEqual([]);
    expect(tm.state).toBe('idle');
  });

  it('does not resume the interrupted reply while the caller is still talking over it', () => {
    const { tm, at, send, tickTo } = run();
    send({ type: 'start' });
    at(500); send({ type: 'vad_start' });
    expect(tickTo(900)).toEqual(['stop_playback', 'abort_reply']);
    // A long sentence: no words yet after the false-interruption timeout, but still speaking.
    expect(tickTo(4000)).toEqual([]);
    expect(tm.state).toBe('user_speaking');
    at(4200); send({ type: 'vad_end' });
    at(4300); send({ type: 'stt_final', text: 'how much is a deep cleaning' });
    expect(tickTo(4600)).toEqual(['think:how much is a deep cleaning']);
  });

  it('lets a cough pass but stops talking for a real interruption', () => {
    const { tm, at, send, tickTo } = run();
    send({ type: 'start' });
    at(500); send({ type: 'vad_start' });
    at(700);
    expect(send({ type: 'vad_end' })).toEqual([]);
    expect(tm.state).toBe('greeting');
    at(1000); send({ type: 'vad_start' });
    // 350 ms of speech over the agent is a barge-in, decided on the clock while the caller talks.
    expect(tickTo(1360)).toEqual(['stop_playback', 'abort_reply']);
    expect(tm.state).toBe('user_speaking');
    at(2000); send({ type: 'vad_end' });
    at(2100);
    send({ type: 'stt_final', text: 'I want to book' });
    expect(tickTo(2400)).toEqual(['think:I want to book']);
  });

  it('resumes the interrupted reply when the interruption brought no words', () => {
    const { tm, at, send, tickTo } = run();
    send({ type: 'start' });
    at(100); send({ type: 'playback_done', completed: true, heardMs: 100 });
    at(200); send({ type: 'vad_start' }); at(600); send({ type: 'vad_end' });
    send({ type: 'stt_final', text: 'quote please' });
    tickTo(1000);
    send({ type: 'reply', text: 'A standard cleaning is $120.' });
    at(1500); send({ type: 'vad_start' });
    tickTo(1900);
    expect(tm.state).toBe('user_speaking');
    at(2000); send({ type: 'vad_end' });
    // Nothing intelligible: after the false-interruption timeout the agent picks up again.
    expect(tickTo(3600)).toEqual(['play:resume']);
    expect(tm.m.speaking?.text).toBe('A standard cleaning is $120.');
  });

  it('resumes a false interruption from the sentence the caller stopped hearing in, not from the top', () => {
    const { tm, at, send, tickTo } = run();
    send({ type: 'start' });
    at(100); send({ type: 'playback_done', completed: true, heardMs: 100 });
    at(200); send({ type: 'vad_start' }); at(600); send({ type: 'vad_end' });
    send({ type: 'stt_final', text: 'quote please' });
    tickTo(1000);
    const reply = 'A standard cleaning is $120. Shall I book it for Tuesday?';
    send({ type: 'reply', text: reply });
    at(3000); send({ type: 'vad_start' });
    expect(tickTo(3400)).toEqual(['stop_playback', 'abort_reply']);
    // The cut reply reports what the caller heard: the price, and the start of the question.
    send({ type: 'playback_done', completed: false, heardMs: 2000, text: reply, heardText: 'A standard cleaning is $120. Shall…' });
    at(3500); send({ type: 'vad_end' });
    expect(tickTo(5100)).toEqual(['play:resume']);
    expect(tm.m.speaking?.text).toBe('Shall I book it for Tuesday?');
  });

  it('resumes a streamed reply with the words it played, since the machine had none when it began', () => {
    const { tm, at, send, tickTo } = run();
    send({ type: 'start' });
    at(100); send({ type: 'playback_done', completed: true, heardMs: 100 });
    at(200); send({ type: 'vad_start' }); at(600); send({ type: 'vad_end' });
    send({ type: 'stt_final', text: 'do you bring supplies' });
    tickTo(1000);
    send({ type: 'reply', text: '' });
    at(1500); send({ type: 'vad_start' });
    tickTo(1900);
    send({ type: 'playback_done', completed: false, heardMs: 300, text: 'Yes, we bring everything. Anything else?', heardText: 'Yes, we…' });
    at(2000); send({ type: 'vad_end' });
    expect(tickTo(3600)).toEqual(['play:resume']);
    expect(tm.m.speaking?.text).toBe('Yes, we bring everything. Anything else?');
  });

  it('with interruption.minWords, an "mm-hm" over the agent does not stop it; a question of enough words does', () => {
    const { tm, at, send, tickTo } = run({ interruption: { minWords: 3 } });
    send({ type: 'start' });
    at(500); send({ type: 'vad_start' });
    at(700); send({ type: 'stt_partial', text: 'mm hm' });
    // Long enough to be speech, too few words to be an interruption.
    expect(tickTo(1200)).toEqual([]);
    at(1300); send({ type: 'vad_end' });
    expect(tm.state).toBe('greeting');
    at(2000); send({ type: 'vad_start' });
    at(2200); send({ type: 'stt_partial', text: 'wait how' });
    expect(tickTo(2600)).toEqual([]);
    at(2700); send({ type: 'stt_partial', text: 'wait how much' });
    expect(tickTo(2720)).toEqual(['stop_playback', 'abort_reply']);
    expect(tm.state).toBe('user_speaking');
    at(3000); send({ type: 'vad_end' });
    send({ type: 'stt_final', text: 'wait how much is it' });
    expect(tickTo(3400)).toEqual(['think:wait how much is it']);
  });

  it('does not glue the words of a let-pass "mm-hm" to the caller\'s next turn', () => {
    const { at, send, tickTo } = run({ interruption: { minWords: 2 } });
    send({ type: 'start' });
    at(500); send({ type: 'vad_start' });
    at(600); send({ type: 'stt_partial', text: 'okay' });
    at(900); send({ type: 'vad_end' });
    // Its transcript comes after the VAD let it pass, while the agent still talks.
    at(1000); send({ type: 'stt_final', text: 'okay' });
    at(2000); send({ type: 'playback_done', completed: true, heardMs: 2000 });
    at(2500); send({ type: 'vad_start' }); at(3500); send({ type: 'vad_end' });
    send({ type: 'stt_final', text: 'I want to book a cleaning' });
    expect(tickTo(3900)).toEqual(['think:I want to book a cleaning']);
  });

  it('reprompts after silence, then says goodbye and hangs up', () => {
    const { at, send, tickTo } = run();
    send({ type: 'start' });
    at(1000); send({ type: 'playback_done', completed: true, heardMs: 1000 });
    expect(tickTo(9000)).toEqual(['play:reprompt']);
    at(10_000); send({ type: 'playback_done', completed: true, heardMs: 1000 });
    expect(tickTo(18_000)).toEqual(['play:reprompt']);
    at(19_000); send({ type: 'playback_done', completed: true, heardMs: 1000 });
    expect(tickTo(27_000)).toEqual(['play:goodbye']);
    at(28_000);
    expect(send({ type: 'playback_done', completed: true, heardMs: 800 })).toEqual(['hangup:agent_goodbye']);
  });

  it('silence escalates when told to: each reprompt says more, and the last hands the caller on instead of hanging up', () => {
    const said: string[] = [];
    const tm = new TurnMachine({ ...lines, reprompt: (n) => (n === 1 ? 'Which day would suit you?' : 'Press 1 for Tuesday at 9 AM.'), noInput: "I can't hear you; connecting you to Maria." }, { idle: { after: 'transfer' } });
    const fx = (e: Parameters<TurnMachine['dispatch']>[0]) => tm.dispatch(e).filter((f) => f.type === 'play').map((f) => (f as { text: string }).text);
    const tick = (from: number, to: number) => {
      for (let t = from; t <= to; t += 50) said.push(...fx({ type: 'tick', at: t }));
    };
    tm.dispatch({ type: 'start', at: 0 });
    tm.dispatch({ type: 'playback_done', at: 1000, completed: true, heardMs: 1000 });
    tick(1000, 9000);
    tm.dispatch({ type: 'playback_done', at: 10_000, completed: true, heardMs: 1000 });
    tick(10_000, 18_000);
    tm.dispatch({ type: 'playback_done', at: 19_000, completed: true, heardMs: 1000 });
    tick(19_000, 27_000);
    expect(said).toEqual(['Which day would suit you?', 'Press 1 for Tuesday at 9 AM.', "I can't hear you; connecting you to Maria."]);
    expect(tm.dispatch({ type: 'playback_done', at: 28_000, completed: true, heardMs: 800 }).filter((f) => f.type !== 'log')).toEqual([{ type: 'transfer' }]);
  });

  it('transfers on the configured DTMF digit at any time, even mid-sentence', () => {
    const { tm, send } = run();
    send({ type: 'start' });
    expect(send({ type: 'dtmf', digit: '5' })).toEqual([]);
    expect(send({ type: 'dtmf', digit: '0' })).toEqual(['stop_playback', 'abort_reply', 'play:reply']);
    expect(send({ type: 'playback_done', completed: true, heardMs: 900 })).toEqual(['transfer']);
    expect(tm.state).toBe('transferring');
  });

  it('transfers on the digit pressed before the greeting (during the recording notice), and does not greet over it', () => {
    const { tm, at, send } = run();
    expect(send({ type: 'dtmf', digit: '0' })).toEqual(['play:reply']);
    at(300);
    expect(send({ type: 'start' })).toEqual([]);
    at(1200);
    expect(send({ type: 'playback_done', completed: true, heardMs: 900 })).toEqual(['transfer']);
    expect(tm.state).toBe('transferring');
  });

  it('answers with the partial transcript when the final one never comes', () => {
    const { at, send, tickTo } = run();
    send({ type: 'start' });
    at(100); send({ type: 'playback_done', completed: true, heardMs: 100 });
    at(200); send({ type: 'vad_start' });
    send({ type: 'stt_partial', text: 'cancel my' });
    at(900); send({ type: 'vad_end' });
    expect(tickTo(3300)).toEqual([]);
    expect(tickTo(3420)).toEqual(['think:cancel my']);
  });

  it('ends a call that runs past the maximum length', () => {
    const tm = new TurnMachine(lines, { maxCallMs: 60_000 });
    tm.dispatch({ type: 'start', at: 0 });
    tm.dispatch({ type: 'playback_done', at: 1000, completed: true, heardMs: 1000 });
    tm.dispatch({ type: 'vad_start', at: 1500 });
    expect(kinds(tm.dispatch({ type: 'tick', at: 60_000 }))).toEqual(['play:goodbye']);
  });
  it('takes a keyed turn (the owner\'s PIN) at once, cutting off what the agent was saying', () => {
    const { tm, at, send } = run();
    send({ type: 'start' });
    at(500);
    expect(send({ type: 'keyed', text: 'pin:4821' })).toEqual(['stop_playback', 'abort_reply', 'think:pin:4821']);
    expect(tm.state).toBe('thinking');
    expect(send({ type: 'reply', text: 'Hi Maria.' })).toEqual(['play:reply']);
    at(1500);
    send({ type: 'playback_done', completed: true, heardMs: 1000 });
    expect(send({ type: 'keyed', text: 'pin:1111' })).toEqual(['think:pin:1111']);
  });
});

describe('turn-taking with a semantic end-of-turn model', () => {
  /** Greeted, listening at 2 s; the caller speaks from 2.5 s to 3.5 s. */
  function spoke(opts: ConstructorParameters<typeof TurnMachine>[1] = {}) {
    const r = run({ ...opts, endpointing: { minDelayMs: 200, ...opts.endpointing }, semantic: { enabled: true, incompleteDelayMs: 2000, verdictTimeoutMs: 600, ...opts.semantic } });
    r.send({ type: 'start' });
    r.at(2000); r.send({ type: 'playback_done', completed: true, heardMs: 2000 });
    r.at(2500); r.send({ type: 'vad_start' });
    r.at(3500);
    const fx = r.tm.dispatch({ type: 'vad_end', at: 3500 });
    return { ...r, asked: fx };
  }

  it('asks the model at each end of speech', () => {
    const { asked } = spoke();
    expect(asked).toEqual([{ type: 'check_turn', speechEndedAt: 3500 }]);
  });

  it('answers as soon as the words are in when the model says the caller is done, before the fixed delay', () => {
    const { at, send } = spoke();
    at(3550); expect(send({ type: 'turn_verdict', speechEndedAt: 3500, complete: true, probability: 0.93 })).toEqual([]);
    at(3580); expect(send({ type: 'stt_final', text: 'how much is a deep clean' })).toEqual(['think:how much is a deep clean']);
  });

  it('keeps listening through a pause the model calls unfinished, and takes the whole sentence', () => {
    const { tm, at, send, tickTo } = spoke();
    at(3560); send({ type: 'stt_final', text: "i'd like to book um" });
    at(3600); expect(send({ type: 'turn_verdict', speechEndedAt: 3500, complete: false, probability: 0.12 })).toEqual([]);
    // Past the ordinary delay, still waiting.
    expect(tickTo(4400)).toEqual([]);
    expect(tm.state).toBe('endpointing');
    // They go on; the next pause is judged afresh.
    at(4500); send({ type: 'vad_start' });
    at(5500);
    expect(tm.dispatch({ type: 'vad_end', at: 5500 })).toEqual([{ type: 'check_turn', speechEndedAt: 5500 }]);
    at(5560); send({ type: 'stt_final', text: 'a deep clean on friday' });
    at(5600); expect(send({ type: 'turn_verdict', speechEndedAt: 5500, complete: true, probability: 0.9 })).toEqual(["think:i'd like to book um a deep clean on friday"]);
  });

  it('answers an unfinished-sounding turn anyway once the caller has been quiet long enough', () => {
    const { at, send, tickTo } = spoke();
    at(3560); send({ type: 'stt_final', text: 'so um' });
    at(3600); send({ type: 'turn_verdict', speechEndedAt: 3500, complete: false, probability: 0.2 });
    expect(tickTo(5480)).toEqual([]);
    expect(tickTo(5520)).toEqual(['think:so um']);
  });

  it('falls back to the delays when the model does not answer in time', () => {
    const { at, send, tickTo } = spoke();
    at(3560); expect(send({ type: 'stt_final', text: 'what are your hours' })).toEqual([]);
    expect(tickTo(4080)).toEqual([]);
    expect(tickTo(4120)).toEqual(['think:what are your hours']);
    // The late verdict changes nothing.
    at(4300); expect(send({ type: 'turn_verdict', speechEndedAt: 3500, complete: false, probability: 0.1 })).toEqual([]);
  });

  it('ignores a verdict on a pause the caller has since talked through', () => {
    const { tm, at, send } = spoke();
    at(3600); send({ type: 'vad_start' });
    at(3700); expect(send({ type: 'turn_verdict', speechEndedAt: 3500, complete: true, probability: 0.99 })).toEqual([]);
    at(3750); send({ type: 'stt_final', text: 'and also' });
    expect(tm.state).toBe('user_speaking');
  });

  it('without the model, never asks', () => {
    const r = run();
    r.send({ type: 'start' });
    r.at(2000); r.send({ type: 'playback_done', completed: true, heardMs: 2000 });
    r.at(2500); r.send({ type: 'vad_start' });
    expect(r.tm.dispatch({ type: 'vad_end', at: 3500 })).toEqual([]);
  });
});
