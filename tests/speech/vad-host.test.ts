import { afterAll, describe, expect, it, vi } from 'vitest';
import { SileroVad } from '../../src/speech/vad/silero.js';
import { SileroHost } from '../../src/speech/vad/host.js';
import { bundledSilero } from '../../src/speech/vad/model.js';
import type { Vad, VadEvent } from '../../src/speech/types.js';
import { SILERO, sound, silence, concat, frames } from '../helpers/audio.js';

/**
 * Every call's Silero VAD on the VAD worker thread: a call hears the same turns it would with the
 * detector in-thread, calls do not hear each other, a burst of new calls is served, and a dead
 * worker leaves each call on the energy VAD instead of deaf.
 */
describe('the VAD host (Silero on a worker thread)', () => {
  const host = new SileroHost({ model: SILERO });
  afterAll(() => host.close());

  const prompts = ['hello-world', 'please-try-again', 'vm-goodbye'].map(sound);
  const audio = concat([silence(600), prompts[0]!, silence(1000), prompts[1]!, silence(1000), prompts[2]!, silence(800)]);
  const quiet = silence(20);

  /** Feeds the audio, then silence until `n` events have come back (they arrive a turn or two later). */
  async function hear(vad: Vad, pcm: Int16Array, n: number): Promise<VadEvent[]> {
    const events: VadEvent[] = [];
    for (const f of frames(pcm)) events.push(...vad.accept(f, 8000));
    await vi.waitFor(() => {
      events.push(...vad.accept(quiet, 8000));
      expect(events.length).toBeGreaterThanOrEqual(n);
    }, { timeout: 100_000, interval: 5 });
    return events;
  }

  it.each([['v5.1.2', SILERO], ['v6.2 (bundled)', bundledSilero()!]])('decides the same speech starts and ends, at the same points of the audio, as the detector in-thread (Silero %s)', async (_, model) => {
    const local = new SileroVad({ model });
    const expected = [...frames(audio)].flatMap((f) => local.accept(f, 8000));
    expect(expected.map((e) => e.type)).toEqual(['speech_start', 'speech_end', 'speech_start', 'speech_end', 'speech_start', 'speech_end']);
    const h = model === SILERO ? host : new SileroHost({ model });
    const vad = h.create();
    const got = await hear(vad, audio, 6);
    expect(got.map((e) => [e.type, e.atMs])).toEqual(expected.map((e) => [e.type, e.atMs]));
    expect(vad.speaking).toBe(false);
    vad.close();
    if (h !== host) await h.close();
  }, 120_000);

  it('keeps calls apart, and serves fifty calls that arrive at once from their first word', async () => {
    // No detector to load per call: each hears its first start at the same point of its audio as the first call.
    const calls = Array.from({ length: 50 }, () => host.create());
    const silent = host.create();
    const heard = await Promise.all(calls.map((v) => hear(v, audio, 6)));
    for (const events of heard) expect(events.map((e) => [e.type, e.atMs])).toEqual(heard[0]!.map((e) => [e.type, e.atMs]));
    expect(heard[0]!.map((e) => e.type)).toEqual(['speech_start', 'speech_end', 'speech_start', 'speech_end', 'speech_start', 'speech_end']);
    // The caller on the line who said nothing heard nothing of the others.
    const none = [...frames(silence(3000))].flatMap((f) => silent.accept(f, 8000));
    await hear(calls[0]!, silence(200), 0);
    expect([...none, ...silent.accept(quiet, 8000)]).toEqual([]);
    for (const v of [...calls, silent]) v.close();
  }, 120_000);

  it('a detector handed to the next call starts fresh', async () => {
    const first = host.create();
    // Hang up in the middle of speech.
    for (const f of frames(concat([silence(400), prompts[0]!.subarray(0, 4000)]))) first.accept(f, 8000);
    first.close();
    const next = host.create();
    const got = await hear(next, audio, 6);
    expect(got.map((e) => e.type)[0]).toBe('speech_start');
    expect(got[0]!.atMs).toBeGreaterThan(500);
    next.close();
  }, 120_000);

  it('a call whose VAD worker died goes on hearing with the energy VAD', async () => {
    const h = new SileroHost({ model: SILERO });
    await h.ready();
    const vad = h.create();
    await h['worker'].terminate();
    await vi.waitFor(() => expect(h.error).toBeDefined());
    const loud = concat([silence(400), new Int16Array(8000).map((_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 300 * i) / 8000))), silence(1000)]);
    const events = [...frames(loud)].flatMap((f) => vad.accept(f, 8000)).map((e) => e.type);
    expect(events).toEqual(['speech_start', 'speech_end']);
    expect(h.create().name).toBe('energy');
    await h.close();
  });
});
