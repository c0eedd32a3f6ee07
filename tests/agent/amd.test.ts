import { describe, expect, it } from 'vitest';
import { AnsweringMachineDetector, BeepFinder, TalkOverDetector, type AmdVerdict } from '../../src/agent/call/amd.js';
import { FliteTts } from '../../src/speech/tts/flite.js';
import { concat, frames, silence, sound, tone } from '../helpers/audio.js';

/**
 * Who picked up a call the agent placed, from what the far end sent: real recordings from
 * Asterisk's sound files (a "hello", a voicemail greeting, a machine's beep) and flite voices.
 */
function verdict(pcm: Int16Array): AmdVerdict | undefined {
  const amd = new AnsweringMachineDetector();
  for (const f of frames(pcm)) {
    const v = amd.accept(f, 8000);
    if (v) return v;
  }
  return undefined;
}

function talkAt(pcm: Int16Array): ReturnType<BeepFinder['accept']> {
  const b = new BeepFinder();
  for (const f of frames(pcm)) {
    const r = b.accept(f, 8000);
    if (r) return r;
  }
  return undefined;
}

async function say(text: string): Promise<Int16Array> {
  const parts: Int16Array[] = [];
  for await (const c of new FliteTts().synthesize(text)) parts.push(c.pcm);
  return concat(parts);
}

/** Low line noise (mean |x| ≈ 60, well under the silence threshold), deterministic. */
function noise(ms: number): Int16Array {
  let s = 12345;
  return new Int16Array((8000 * ms) / 1000).map(() => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return (s % 240) - 120;
  });
}

function mix(a: Int16Array, b: Int16Array): Int16Array {
  return a.map((x, i) => Math.max(-32768, Math.min(32767, x + (b[i] ?? 0))));
}

describe('answering-machine detection', () => {
  it('takes a short "hello" followed by waiting for a person', () => {
    const v = verdict(concat([silence(400), sound('hello'), silence(2000)]));
    expect(v?.answeredBy).toBe('human');
    // Decided soon after the person stopped talking, not at the end of the analysis window.
    expect(v!.atMs).toBeLessThan(400 + (sound('hello').length / 8) + 1000);
  });

  it('takes a person who says a few words and waits, in a synthetic voice over line noise, for a person', async () => {
    const hello = await say('Hello, this is Pat.');
    const pcm = concat([silence(300), hello, silence(1500)]);
    const v = verdict(mix(pcm, noise(pcm.length / 8)));
    expect(v?.answeredBy, v?.reason).toBe('human');
  });

  it('takes a recorded voicemail greeting for a machine while it is still playing', () => {
    const greeting = sound('vm-intro');
    const v = verdict(concat([silence(300), greeting, silence(1000)]));
    expect(v?.answeredBy).toBe('machine');
    expect(v!.atMs).toBeLessThan(300 + greeting.length / 8);
  });

  it('takes a home answering machine in a synthetic voice for a machine', async () => {
    const greeting = await say("Hi, you've reached Dana and Chris. We can't come to the phone right now, so leave us a message after the beep.");
    expect(verdict(concat([silence(500), greeting]))?.answeredBy).toBe('machine');
  });

  it('is not sure when nobody says anything, and says so by the initial-silence limit', () => {
    const v = verdict(noise(6000));
    expect(v).toMatchObject({ answeredBy: 'unknown' });
    expect(v!.atMs).toBe(2500);
  });

  it('ignores clicks shorter than a word', () => {
    const click = tone(40, 1000, 12000);
    const v = verdict(concat([silence(300), click, silence(500), click, silence(3000)]));
    expect(v?.answeredBy).toBe('unknown');
  });
});

describe('waiting for the beep', () => {
  it("starts the message as a real machine's beep ends", () => {
    const before = concat([sound('vm-intro'), silence(300)]);
    const beep = sound('beep');
    const at = talkAt(concat([before, beep, silence(2000)]));
    expect(at?.why).toBe('beep');
    const beepEnd = (before.length + beep.length) / 8;
    // The beep is found as it ends: within a frame or two of its last sound (its tail fades out).
    expect(Math.abs(at!.atMs - beepEnd)).toBeLessThanOrEqual(80);
  });

  it('finds a beep at another pitch, over line noise', () => {
    const pcm = concat([sound('vm-intro'), silence(200), tone(500, 1400, 6000), silence(1500)]);
    const at = talkAt(mix(pcm, noise(pcm.length / 8)));
    expect(at?.why).toBe('beep');
  });

  it('hears no beep in speech, and talks after the greeting has plainly ended', async () => {
    const greeting = concat([sound('vm-intro'), await say('We will call you back as soon as we can. Thanks for calling.')]);
    const at = talkAt(concat([greeting, silence(4000)]));
    expect(at?.why).toBe('silence');
    // 2.5 s after the greeting's last sound (a 20 ms frame louder than line noise).
    let lastSound = 0;
    [...frames(greeting)].forEach((f, i) => {
      if (f.reduce((a, x) => a + Math.abs(x), 0) / f.length > 256) lastSound = (i + 1) * 20;
    });
    expect(at!.atMs).toBe(lastSound + 2500);
  });

  it('talks anyway when the greeting never ends', () => {
    const long = concat(Array.from({ length: 8 }, () => sound('vm-intro')));
    const b = new BeepFinder({ maxWaitMs: 10_000 });
    let r;
    for (const f of frames(long)) if ((r = b.accept(f, 8000))) break;
    expect(r).toEqual({ why: 'timeout', atMs: 10_000 });
  });
});

describe('a person talking over the message', () => {
  const heard = (pcm: Int16Array) => {
    const d = new TalkOverDetector();
    return [...frames(pcm)].some((f) => d.accept(f, 8000));
  };

  it('is heard when someone says something', () => {
    expect(heard(concat([silence(500), sound('hello-world'), silence(500)]))).toBe(true);
  });

  it('is not a late beep, line noise or a click', () => {
    expect(heard(concat([silence(300), sound('beep'), silence(300), tone(600, 1000, 8000)]))).toBe(false);
    expect(heard(noise(3000))).toBe(false);
    expect(heard(concat([tone(60, 1000, 12000), silence(400), tone(60, 700, 12000)]))).toBe(false);
  });
});
