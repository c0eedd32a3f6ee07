import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AriTelephony } from '../../src/telephony/asterisk/ari.js';
import type { AriCall } from '../../src/telephony/asterisk/call.js';
import { FakeAsterisk } from '../fakes/ari/server.js';
import { tone, rms, pauseAfterWords } from '../helpers/audio.js';

const loudFrames = (pcm: Int16Array) => {
  let n = 0;
  for (let i = 0; i + 160 <= pcm.length; i += 160) if (rms(pcm.subarray(i, i + 160)) > 1000) n++;
  return n;
};
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Waits for a condition the fake PBX reaches (an event we cannot subscribe to), up to a bound. */
async function until(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`never happened: ${what}`);
    await wait(10);
  }
}

for (const media of ['rtp', 'websocket'] as const) describe(`Asterisk through ARI, ${media} media (against a fake speaking ARI)`, () => {
  const pbx = new FakeAsterisk();
  const recDir = mkdtempSync(join(tmpdir(), 'fd-ari-rec-'));
  let ari: AriTelephony;
  let next: (c: AriCall) => void = () => {};
  const incoming = () => new Promise<AriCall>((r) => (next = r));

  beforeAll(async () => {
    await pbx.start();
    ari = new AriTelephony({
      url: pbx.url, user: pbx.user, password: pbx.pass, app: pbx.app, mediaAddress: '127.0.0.1',
      rtpPortMin: media === 'rtp' ? 37000 : 37200, rtpPortMax: media === 'rtp' ? 37199 : 37399, media, trunkEndpoint: 'PJSIP/{number}@trunk', extensionEndpoint: 'PJSIP/{ext}', mediaTimeoutMs: 0,
      recordingsDir: recDir, reconnectMaxMs: 1_000,
    });
    ari.on('call', (c) => next(c as AriCall));
    await ari.start();
  });
  afterAll(async () => {
    await ari.stop();
    await pbx.stop();
    rmSync(recDir, { recursive: true, force: true });
  });
  const ownerOf = (chan: string) => {
    const b = [...pbx.bridges.entries()].find(([, m]) => m.has(chan));
    const owner = b && [...b[1]].find((id) => id !== chan && !pbx.channels.get(id)?.name.match(/^(UnicastRTP|WebSocket)\//));
    return b && owner ? { bridgeId: b[0], owner } : undefined;
  };

  it('answers, bridges an externalMedia leg, and carries audio both ways', async () => {
    const p = incoming();
    const chan = pbx.inboundCall('+15125550177', '+15125550100');
    const call = await p;
    expect(call).toMatchObject({ from: '+15125550177', to: '+15125550100', direction: 'inbound', state: 'ringing' });
    let heardFrames = 0;
    call.on('audio', (f) => rms(f.pcm) > 1000 && heardFrames++);
    await call.answer();
    expect(pbx.channels.get(chan)?.state).toBe('Up');
    // The greeting reaches the caller through Asterisk...
    expect(await call.play(tone(400)).done).toEqual({ completed: true, playedMs: 400 });
    await vi.waitFor(() => expect(loudFrames(pbx.heardBy(chan))).toBeGreaterThanOrEqual(19));
    // ...and the caller's voice reaches us.
    await pbx.sendCallerAudio(chan, tone(300, 300));
    await vi.waitFor(() => expect(heardFrames).toBeGreaterThanOrEqual(14));
    await call.hangup();
    expect(pbx.hungUp).toContain(chan);
    expect(ari.activeCalls()).toBe(0);
  });

  it('keeps audio in on wall-clock time when the caller stops sending: the pause after the words is heard', async () => {
    const p = incoming();
    const chan = pbx.inboundCall('+15125550179', '+15125550100');
    const call = await p;
    await call.answer();
    // Asterisk between talkspurts: the words, then no media at all.
    const paused = pauseAfterWords(call, 600);
    await pbx.sendCallerAudio(chan, tone(400, 300));
    const { loudFrames, quietFrames } = await paused;
    expect(loudFrames).toBeGreaterThanOrEqual(18);
    // 600 ms of pause arrives as 20 ms frames of silence, synthesised.
    expect(quietFrames).toBe(30);
    expect(call.audioIn.synthesised).toBeGreaterThanOrEqual(30);
    await call.hangup();
  });

  it('stops talking within a frame on barge-in, and hears DTMF', async () => {
    const p = incoming();
    const chan = pbx.inboundCall('+15125550178', '+15125550100');
    const call = await p;
    await call.answer();
    const digits: string[] = [];
    call.on('dtmf', (d) => digits.push(d));
    const h = call.play(tone(3000));
    // The caller barges in once they have heard a quarter of a second of it.
    await vi.waitFor(() => expect(loudFrames(pbx.heardBy(chan))).toBeGreaterThanOrEqual(12));
    const before = loudFrames(pbx.heardBy(chan));
    h.cancel();
    const result = await h.done;
    expect(result.completed).toBe(false);
    // What the caller actually heard before the cut, for the transcript (give or take the frames in flight).
    expect(result.playedMs).toBeGreaterThanOrEqual(before * 20);
    expect(result.playedMs).toBeLessThanOrEqual((before + 5) * 20);
    // The next thing said is heard right after the cut: nothing of the cancelled audio in between.
    expect(await call.play(tone(100)).done).toMatchObject({ completed: true });
    await vi.waitFor(() => expect(loudFrames(pbx.heardBy(chan)) - before).toBeGreaterThanOrEqual(5));
    expect(loudFrames(pbx.heardBy(chan)) - before).toBeLessThanOrEqual(5 + 2);
    pbx.dtmf(chan, '0');
    await vi.waitFor(() => expect(digits).toEqual(['0']));
    pbx.callerHangup(chan);
    await vi.waitFor(() => expect(call.state).toBe('ended'));
    expect(call.endReason).toBe('remote_hangup');
  });

  it('transfers blind by bridging the owner in Asterisk (no REFER with a desk phone\'s private contact): ringback while it rings, the real outcome', async () => {
    const p = incoming();
    const chan = pbx.inboundCall('+15125550179', '+15125550100');
    const call = await p;
    await call.answer();
    pbx.originateRingMs = 1_500;
    const before = loudFrames(pbx.heardBy(chan));
    const r = call.transfer({ uri: '101', mode: 'blind' });
    // The caller hears ringback, not silence, while the desk phone rings.
    await until(() => loudFrames(pbx.heardBy(chan)) - before >= 20, 'ringback heard by the caller');
    expect(await r).toMatchObject({ ok: true, status: 200 });
    pbx.originateRingMs = 100;
    expect(pbx.redirects).toEqual([]);
    expect(pbx.originates.at(-1)).toEqual({ endpoint: 'PJSIP/101', appArgs: 'blind' });
    expect(pbx.channels.get(ownerOf(chan)!.owner)?.name).toMatch(/^PJSIP\/101/);
    expect(call.endReason).toBe('transferred');
    // The caller hangs up later: the owner's leg goes with them, and the bridge.
    const { bridgeId, owner } = ownerOf(chan)!;
    pbx.callerHangup(chan);
    await until(() => !pbx.channels.has(owner) && !pbx.bridges.has(bridgeId), 'owner leg and hand-over bridge gone');
    expect(ari.handoverCount()).toBe(0);
  });

  it('transfers warm: rings the owner, whispers, bridges; the owner hanging up ends the caller\'s call and leaks no bridge', async () => {
    const p = incoming();
    const chan = pbx.inboundCall('+15125550180', '+15125550100');
    const call = await p;
    await call.answer();
    const bridgesBefore = pbx.bridges.size;
    const r = await call.transfer({ uri: '+15125550199', mode: 'warm', whisper: tone(200), ringSeconds: 5 });
    expect(r).toMatchObject({ ok: true });
    expect(pbx.originates.at(-1)).toEqual({ endpoint: 'PJSIP/+15125550199@trunk', appArgs: 'warm' });
    const { bridgeId, owner } = ownerOf(chan)!;
    expect(pbx.channels.get(owner)?.name).toMatch(/^PJSIP\/\+15125550199@trunk/);
    // The owner hangs up after the hand-over: the caller is not left in dead air.
    pbx.callerHangup(owner);
    await until(() => !pbx.channels.has(chan), 'caller hung up after the owner left');
    expect(pbx.hungUp).toContain(chan);
    await until(() => !pbx.bridges.has(bridgeId), 'hand-over bridge destroyed');
    expect(pbx.bridges.size).toBeLessThanOrEqual(bridgesBefore - 1);
    expect(ari.handoverCount()).toBe(0);
  });

  it('reports an owner who does not answer as a failed transfer; the caller stays with the agent', async () => {
    pbx.originateAnswers = false;
    const p2 = incoming();
    pbx.inboundCall('+15125550181', '+15125550100');
    const call2 = await p2;
    await call2.answer();
    const r2 = await call2.transfer({ uri: '102', mode: 'warm', ringSeconds: 5 });
    expect(r2).toMatchObject({ ok: false, status: 480 });
    expect(r2.reason).toMatch(/no answer/);
    expect(call2.state).toBe('answered');
    pbx.originateAnswers = true;
    // Still talking to the agent: audio reaches the caller after the failed attempt.
    expect(await call2.play(tone(200)).done).toMatchObject({ completed: true });
    await call2.hangup();
  });

  it('stops ringing the owner when the caller hangs up first', async () => {
    const p = incoming();
    const chan = pbx.inboundCall('+15125550185', '+15125550100');
    const call = await p;
    await call.answer();
    pbx.originateRingMs = 2_000;
    const n = pbx.originates.length;
    const r = call.transfer({ uri: '101', mode: 'blind' });
    await until(() => pbx.originates.length > n, 'owner leg originated');
    const leg = [...pbx.channels.values()].find((c) => c.name.startsWith('PJSIP/101'))!;
    pbx.callerHangup(chan);
    expect(await r).toMatchObject({ ok: false, status: 487 });
    pbx.originateRingMs = 100;
    expect(pbx.hungUp).toContain(leg.id);
  });

  it('records the conversation and fetches the file from Asterisk into frontdesk\'s storage when the call ends', async () => {
    const p = incoming();
    const chan = pbx.inboundCall('+15125550182', '+15125550100');
    const call = await p;
    await call.answer();
    const where = await call.startRecording!('call-123');
    expect(pbx.recordings.at(-1)).toMatchObject({ name: 'call-123', format: 'wav' });
    expect(where).toBe(join(recDir, 'call-123.wav'));
    const ended = new Promise((r) => call.once('ended', r));
    pbx.callerHangup(chan);
    await ended;
    await ari.recordings.settled();
    expect(readFileSync(where).subarray(0, 4).toString()).toBe('RIFF');
    // Asterisk's copy is removed once frontdesk has it.
    expect(pbx.stored.has('call-123')).toBe(false);
  });

  it('survives a dropped event socket: reconnects, keeps live calls, ends the ones that vanished', async () => {
    const p1 = incoming();
    const c1 = pbx.inboundCall('+15125550183', '+15125550100');
    const kept = await p1;
    await kept.answer();
    const p2 = incoming();
    const c2 = pbx.inboundCall('+15125550184', '+15125550100');
    const lost = await p2;
    await lost.answer();
    const reconnected = new Promise<void>((r) => ari.once('reconnected', () => r()));
    pbx.vanish(c2);
    pbx.dropWebSockets();
    await reconnected;
    expect(pbx.connected).toBe(1);
    expect(lost.endReason).toBe('lost_during_reconnect');
    expect(kept.state).toBe('answered');
    // Events flow again on the new socket.
    pbx.callerHangup(c1);
    await vi.waitFor(() => expect(kept.endReason).toBe('remote_hangup'));
  });

  it('keeps reconnecting while Asterisk is away longer than ari-client\'s own retries, says it is down meanwhile, and takes calls again when it is back', async () => {
    const p = incoming();
    pbx.inboundCall('+15125550186', '+15125550100');
    const call = await p;
    await call.answer();
    const down = new Promise<void>((r) => ari.once('down', () => r()));
    const ended = new Promise<string>((r) => call.once('ended', r));
    await pbx.down();
    await down;
    expect(ari.status()).toMatchObject({ up: false });
    expect(ari.status().detail).toMatch(/down for/);
    // ari-client gives up after ~45 s; the calls it had are over, and frontdesk keeps trying.
    expect(await ended).toBe('asterisk_lost');
    const up = new Promise<void>((r) => ari.once('up', () => r()));
    await pbx.up();
    await up;
    expect(ari.status().up).toBe(true);
    const p2 = incoming();
    const chan2 = pbx.inboundCall('+15125550187', '+15125550100');
    const call2 = await p2;
    await call2.answer();
    expect(await call2.play(tone(200)).done).toMatchObject({ completed: true });
    expect(loudFrames(pbx.heardBy(chan2))).toBeGreaterThan(0);
    await call2.hangup();
  }, 120_000);

  it('leaves no media channel behind when the caller hangs up while frontdesk sets up the media leg (bridging then fails)', async () => {
    const p = incoming();
    const chan = pbx.inboundCall('+15125550188', '+15125550100');
    const call = await p;
    const ended = new Promise<string>((r) => call.once('ended', r));
    pbx.onExternalMedia = () => pbx.callerHangup(chan);
    await call.answer().catch(() => {});
    pbx.onExternalMedia = undefined;
    expect(await ended).toBe('remote_hangup');
    expect(call.state).toBe('ended');
    await until(() => ![...pbx.channels.values()].some((c) => /^(UnicastRTP|WebSocket)\//.test(c.name)), 'media channel hung up');
  });

  it('places outbound calls through the trunk endpoint, only where policy allows', async () => {
    await expect(ari.dial('+19005550100')).rejects.toThrow(/premium-rate/);
    const call = await ari.dial('(512) 555-0123', { from: '+15125550100' });
    expect(call.state).toBe('answered');
    expect(pbx.originates.at(-1)).toEqual({ endpoint: 'PJSIP/+15125550123@trunk', appArgs: 'outbound' });
    await call.hangup();
  });
});

describe('Asterisk through ARI: admission control (against a fake ARI)', () => {
  const pbx = new FakeAsterisk();
  beforeAll(() => pbx.start());
  afterAll(() => pbx.stop());

  async function backend(o: { maxCalls?: number; ports: [number, number] }) {
    const ari = new AriTelephony({
      url: pbx.url, user: pbx.user, password: pbx.pass, app: pbx.app, mediaAddress: '127.0.0.1',
      rtpPortMin: o.ports[0], rtpPortMax: o.ports[1], media: 'rtp', trunkEndpoint: 'PJSIP/{number}@trunk', extensionEndpoint: 'PJSIP/{ext}', mediaTimeoutMs: 0,
      ...(o.maxCalls !== undefined ? { maxCalls: o.maxCalls } : {}),
    });
    const calls: AriCall[] = [];
    ari.on('call', (c) => calls.push(c as AriCall));
    await ari.start();
    return { ari, calls };
  }

  it('hangs up a call beyond FRONTDESK_MAX_CALLS with cause congestion (503 to the carrier), and takes the next once one ends', async () => {
    const { ari, calls } = await backend({ maxCalls: 1, ports: [48010, 48049] });
    const first = pbx.inboundCall('+15125550181', '+15125550100');
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    await calls[0]!.answer();
    const second = pbx.inboundCall('+15125550182', '+15125550100');
    await vi.waitFor(() => expect(pbx.hangupReasons.get(second)).toBe('congestion'));
    expect(calls).toHaveLength(1);
    expect(pbx.channels.get(first)?.state).toBe('Up');
    await calls[0]!.hangup();
    const third = pbx.inboundCall('+15125550183', '+15125550100');
    await vi.waitFor(() => expect(calls).toHaveLength(2));
    expect(calls[1]!.from).toBe('+15125550183');
    expect(pbx.hangupReasons.has(third)).toBe(false);
    await calls[1]!.hangup();
    await ari.stop();
  });

  it('refuses a call no RTP port is left for, instead of answering it and failing', async () => {
    const { ari, calls } = await backend({ ports: [48000, 48001] });
    pbx.inboundCall('+15125550184', '+15125550100');
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    await calls[0]!.answer();
    const second = pbx.inboundCall('+15125550185', '+15125550100');
    await vi.waitFor(() => expect(pbx.hangupReasons.get(second)).toBe('congestion'));
    expect(calls).toHaveLength(1);
    await calls[0]!.hangup();
    await ari.stop();
  });
});
