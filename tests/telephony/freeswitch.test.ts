import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FsTelephony, type FsCall } from '../../src/telephony/freeswitch/index.js';
import { ForkServer } from '../../src/telephony/freeswitch/fork-server.js';
import { FakeDrachtio } from '../fakes/drachtio.js';
import { tone, concat, rms, pauseAfterWords } from '../helpers/audio.js';

const loudFrames = (parts: Int16Array[]) => parts.filter((p) => rms(p) > 1000).length;

describe('FreeSWITCH through drachtio (fakes at the seam, real mod_audio_fork wire protocol)', () => {
  const drachtio = new FakeDrachtio();
  const forks = new ForkServer();
  let http: Server;
  let fs: FsTelephony;
  let next: (c: FsCall) => void = () => {};
  const incoming = () => new Promise<FsCall>((r) => (next = r));

  beforeAll(async () => {
    http = createServer();
    http.on('upgrade', (req, sock, head) => forks.handleUpgrade(req, sock, head));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const port = (http.address() as { port: number }).port;
    fs = new FsTelephony({
      seam: drachtio, forks, forkUrl: `ws://127.0.0.1:${port}/audio-fork`,
      trunkUri: 'sip:{number}@sip.telnyx.com', extensionUri: 'sip:{ext}@pbx.local', reconnectMs: 50,
    });
    fs.on('call', (c) => next(c as FsCall));
    await fs.start();
  });
  afterAll(async () => {
    await fs.stop();
    await new Promise((r) => http.close(r));
  });

  it('answers → greeting heard → caller audio arrives → barge-in kills audio → REFER with NOTIFY → hangup', async () => {
    const p = incoming();
    const leg = drachtio.incoming('+15125550177', '+15125550100');
    const call = await p;
    expect(call).toMatchObject({ from: '+15125550177', to: '+15125550100', state: 'ringing' });
    let frames = 0;
    call.on('audio', (f) => rms(f.pcm) > 1000 && frames++);
    await call.answer();
    const fork = leg.endpoint.fork!;

    // The greeting is played by FreeSWITCH's clock; its mark comes back when it has been heard.
    expect(await call.play(tone(400)).done).toEqual({ completed: true, playedMs: 400 });
    expect(loudFrames(fork.heard)).toBeGreaterThanOrEqual(19);

    await fork.speak(tone(300, 300));
    await vi.waitFor(() => expect(frames).toBeGreaterThanOrEqual(14));

    const greeted = loudFrames(fork.heard);
    const h = call.play(tone(3000));
    // The caller barges in once they have heard a quarter of a second of it.
    await vi.waitFor(() => expect(loudFrames(fork.heard) - greeted).toBeGreaterThanOrEqual(12));
    const before = loudFrames(fork.heard);
    h.cancel();
    const cut = await h.done;
    expect(cut.completed).toBe(false);
    // What was heard before the cut (from FreeSWITCH's marks), give or take the frames in flight.
    expect(cut.playedMs).toBeGreaterThanOrEqual(200);
    expect(cut.playedMs).toBeLessThanOrEqual((before - greeted + 5) * 20);
    await vi.waitFor(() => expect(fork.received).toContain('killAudio'));
    // The next thing said is heard right after the cut: nothing of the cancelled audio in between.
    expect(await call.play(tone(100)).done).toMatchObject({ completed: true });
    await vi.waitFor(() => expect(loudFrames(fork.heard) - before).toBeGreaterThanOrEqual(5));
    expect(loudFrames(fork.heard) - before).toBeLessThanOrEqual(5 + 2);

    const digits: string[] = [];
    call.on('dtmf', (d) => digits.push(d));
    leg.endpoint.emit('dtmf', { dtmf: '0' });
    expect(digits).toEqual(['0']);

    const r = await call.transfer({ uri: '101', mode: 'blind' });
    expect(r).toEqual({ ok: true, status: 200, reason: 'OK' });
    expect(leg.dialog.requests[0]).toMatchObject({ method: 'REFER', headers: { 'Refer-To': '<sip:101@pbx.local>' } });
    expect(call.endReason).toBe('transferred');
    expect(leg.dialog.destroyed).toBe(true);
    // Not bridged to anything of ours: its FreeSWITCH channel goes.
    expect(leg.endpoint.destroyed).toBe(true);
  });

  it('a blind transfer whose NOTIFYs and BYE arrive with the REFER\'s 202 is still reported done', async () => {
    const p = incoming();
    const leg = drachtio.incoming('+15125550185', '+15125550100');
    const call = await p;
    await call.answer();
    leg.dialog.quickTransferee = true;
    expect(await call.transfer({ uri: '101', mode: 'blind' })).toEqual({ ok: true, status: 200, reason: 'OK' });
    expect(call.endReason).toBe('transferred');
    expect(leg.endpoint.destroyed).toBe(true);
    expect(fs.activeCalls()).toBe(0);
  });

  it('keeps audio in on wall-clock time when the fork sends nothing: the pause after the words is heard', async () => {
    const p = incoming();
    const leg = drachtio.incoming('+15125550179', '+15125550100');
    const call = await p;
    await call.answer();
    const paused = pauseAfterWords(call, 600);
    await leg.endpoint.fork!.speak(tone(400, 300));
    const { loudFrames, quietFrames } = await paused;
    expect(loudFrames).toBeGreaterThanOrEqual(18);
    expect(quietFrames).toBe(30);
    expect(call.audioIn.synthesised).toBeGreaterThanOrEqual(30);
    await call.hangup();
  });

  it('reports a failed transfer from the sipfrag, and ends the call when the caller hangs up', async () => {
    const p = incoming();
    const leg = drachtio.incoming('+15125550178', '+15125550100');
    const call = await p;
    await call.answer();
    leg.dialog.transferOutcome = 486;
    expect(await call.transfer({ uri: '+15125550199', mode: 'blind' })).toEqual({ ok: false, status: 486, reason: 'Busy Here' });
    expect(leg.dialog.requests[0]!.headers!['Refer-To']).toBe('<sip:+15125550199@sip.telnyx.com>');
    expect(call.state).toBe('answered');
    leg.dialog.remoteHangup();
    expect(call.endReason).toBe('remote_hangup');
    expect(leg.endpoint.destroyed).toBe(true);
    expect(fs.activeCalls()).toBe(0);
  });

  it('transfers warm: owner leg, whisper on its own fork, endpoints bridged', async () => {
    const p = incoming();
    const leg = drachtio.incoming('+15125550179', '+15125550100');
    const call = await p;
    await call.answer();
    const r = await call.transfer({ uri: '+15125550199', mode: 'warm', whisper: tone(200, 660) });
    expect(r).toMatchObject({ ok: true });
    const owner = drachtio.legs.at(-1)!;
    expect(owner.uri).toBe('sip:+15125550199@sip.telnyx.com');
    expect(loudFrames(owner.endpoint.fork!.heard)).toBeGreaterThanOrEqual(9);
    expect(leg.endpoint.bridgedWith).toBe(owner.endpoint.uuid);
    expect(leg.endpoint.destroyed).toBe(false);
    expect(fs.handoverCount()).toBe(1);
    // The owner hangs up: the caller gets a BYE, not dead air, and both FreeSWITCH channels go.
    owner.dialog.remoteHangup();
    expect(leg.dialog.destroyed).toBe(true);
    expect([leg.endpoint.destroyed, owner.endpoint.destroyed]).toEqual([true, true]);
    expect(fs.handoverCount()).toBe(0);
  });

  it('the caller hanging up while the owner\'s phone rings for a warm transfer cancels that leg', async () => {
    const p = incoming();
    const leg = drachtio.incoming('+15125550179', '+15125550100');
    const call = await p;
    await call.answer();
    drachtio.legsRing = true;
    try {
      const rings = new Promise((r) => drachtio.once('ringing', r));
      const result = call.transfer({ uri: '+15125550199', mode: 'warm', ringSeconds: 60 });
      await rings;
      expect(drachtio.ringing).toBe(1);
      leg.dialog.remoteHangup();
      expect(await result).toMatchObject({ ok: false, status: 487 });
      expect(drachtio.ringing).toBe(0);
    } finally {
      drachtio.legsRing = false;
    }
  });

  it('ends calls cleanly when drachtio or ESL drops, and reconnects with backoff', async () => {
    const p = incoming();
    drachtio.incoming('+15125550180', '+15125550100');
    const call = await p;
    await call.answer();
    drachtio.failConnects = 2;
    const before = drachtio.connects;
    drachtio.drop();
    expect(call.endReason).toBe('media_server_lost');
    expect(fs.activeCalls()).toBe(0);
    await vi.waitFor(() => expect(drachtio.connects - before).toBe(3));
  });

  /** A reply as a TTS engine streams it: chunks of the given sizes (samples), each a piece of one tone. */
  async function* chunked(sizes: number[], pcm = tone(sizes.reduce((a, b) => a + b, 0) / 8)): AsyncIterable<Int16Array> {
    let o = 0;
    for (const n of sizes) {
      yield pcm.slice(o, o + n);
      o += n;
    }
  }

  it('a reply is marked done only once its last 80 ms have been heard, with no reply after it', async () => {
    const p = incoming();
    const leg = drachtio.incoming('+15125550182', '+15125550100');
    const call = await p;
    await call.answer();
    const fork = leg.endpoint.fork!;
    // 1 s of speech whose last chunk (40 ms) is smaller than the module's 80 ms prebuffer step.
    const r = await call.play(chunked([4000, 3680, 320])).done;
    expect(r).toEqual({ completed: true, playedMs: 1000 });
    // Everything was heard by the time the mark came back, the tail included.
    expect(loudFrames(fork.heard)).toBeGreaterThanOrEqual(49);
    await call.hangup();
  });

  it('a sample of -1 in a reply does not end it early', async () => {
    const p = incoming();
    const leg = drachtio.incoming('+15125550183', '+15125550100');
    const call = await p;
    await call.answer();
    const fork = leg.endpoint.fork!;
    const second = tone(600, 550);
    // TTS output has -1 samples here and there; to mod_audio_fork that is the bit pattern of a mark.
    for (let i = 0; i < second.length; i += 97) second[i] = -1;
    const a = call.play(tone(400));
    const b = call.play(second);
    const c = call.play(tone(400, 660));
    await a.done;
    const atA = loudFrames(fork.heard);
    expect(await b.done).toEqual({ completed: true, playedMs: 600 });
    // b's mark came back after b was heard (30 frames), not at its first -1 (frame 0).
    expect(loudFrames(fork.heard) - atA).toBeGreaterThanOrEqual(20);
    await c.done;
    await call.hangup();
  });

  it('after a barge-in over queued replies, the next replies are still marked when heard', async () => {
    const p = incoming();
    const leg = drachtio.incoming('+15125550184', '+15125550100');
    const call = await p;
    await call.answer();
    const fork = leg.endpoint.fork!;
    // Two replies queued back to back: the first's mark sits in the module's buffer, in front of
    // the second's audio, when the caller barges in.
    const first = call.play(tone(1500));
    const second = call.play(tone(1500, 550));
    await vi.waitFor(() => expect(loudFrames(fork.heard)).toBeGreaterThanOrEqual(10));
    call.stopPlayback();
    expect((await first.done).completed).toBe(false);
    expect((await second.done).completed).toBe(false);
    const before = loudFrames(fork.heard);
    // Each later reply comes back when it has been heard, not one reply late (or never).
    for (const ms of [300, 500]) {
      const heardBefore = loudFrames(fork.heard);
      expect(await call.play(tone(ms, 660)).done).toEqual({ completed: true, playedMs: ms });
      expect(loudFrames(fork.heard) - heardBefore).toBeGreaterThanOrEqual(ms / 20 - 5);
    }
    // Nothing of the cancelled replies was heard after the cut.
    expect(loudFrames(fork.heard) - before).toBeLessThanOrEqual(800 / 20 + 4);
    await call.hangup();
  });

  it('answers an INVITE beyond FRONTDESK_MAX_CALLS with 503 and Retry-After, and takes the next once a call ends', async () => {
    const port = (http.address() as { port: number }).port;
    const pbx = new FakeDrachtio();
    const capped = new FsTelephony({ seam: pbx, forks, forkUrl: `ws://127.0.0.1:${port}/audio-fork`, trunkUri: 'sip:{number}@t', extensionUri: 'sip:{ext}@p', maxCalls: 1 });
    const calls: FsCall[] = [];
    capped.on('call', (c) => calls.push(c as FsCall));
    await capped.start();
    pbx.incoming('+15125550191', '+15125550100');
    expect(calls).toHaveLength(1);
    await calls[0]!.answer();
    const refused = pbx.incoming('+15125550192', '+15125550100');
    await vi.waitFor(() => expect(refused.rejected).toBe(503));
    expect(refused.rejectHeaders).toEqual({ 'Retry-After': '30' });
    expect(calls).toHaveLength(1);
    await calls[0]!.hangup();
    const third = pbx.incoming('+15125550193', '+15125550100');
    expect(calls).toHaveLength(2);
    expect(third.rejected).toBeUndefined();
    await capped.stop();
  });

  it('places outbound calls through the trunk only where policy allows', async () => {
    await expect(fs.dial('+19005550100')).rejects.toThrow(/premium-rate/);
    const call = await fs.dial('512-555-0123');
    expect(drachtio.legs.at(-1)!.uri).toBe('sip:+15125550123@sip.telnyx.com');
    expect(call.state).toBe('answered');
    await call.hangup();
  });
});
