import { mkdtempSync, rmSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { demoContext } from '../../src/business/context/demo.js';
import { SipEndpoint } from '../../src/telephony/sip/endpoint.js';
import type { SipCall } from '../../src/telephony/sip/call.js';
import { parseCidrList } from '../../src/util/cidr.js';
import { aroundTheClock } from '../helpers/contexts.js';
import { freePort } from '../helpers/ports.js';
import { BUILT_MODELS_DIR, MODELS_DIR } from '../helpers/audio.js';
import { TestCaller } from '../helpers/caller.js';
import { Listener, type HeardEvent } from '../../src/agent/voice/listener.js';
import { TurnTimer } from '../../src/agent/voice/latency.js';
import { SileroVad, sileroDefaults } from '../../src/speech/vad/silero.js';
import { SileroHost } from '../../src/speech/vad/host.js';
import { EnergyVad } from '../../src/speech/vad/energy.js';
import type { Vad } from '../../src/speech/types.js';
import { SILERO, concat, frames, rms, silence, sound } from '../helpers/audio.js';

/**
 * The reply time recorded for a turn starts where the caller's wait starts on the wire: at their
 * last voiced frame, not when the VAD decided (its hang-over of silence, its speech probability
 * lingering after the voice, a worker's round trip later).
 */
describe('reply latency from the end of the caller\'s speech', () => {
  const host = new SileroHost({ model: SILERO });
  afterAll(() => host.close());

  const words = sound('hello-world');
  const audio = concat([silence(600), words, silence(1500)]);
  /** When the last frame with the caller's voice in it arrives (ms into the call): read off the recording, −40 dBFS. */
  const lastVoicedFrameEnd = (() => {
    let i = 0;
    let end = 0;
    for (const f of frames(audio)) {
      i++;
      if (rms(f) > 330) end = i * 20;
    }
    return end;
  })();

  /**
   * Frames in real time on an injected clock: each frame arrives 20 ms after the last. A VAD on the
   * worker answers a turn of the event loop later, while the next frames keep arriving.
   */
  async function listen(vad: Vad, awaitEachFrame: boolean): Promise<Extract<HeardEvent, { type: 'vad_end' }>> {
    let clock = 0;
    const heard: HeardEvent[] = [];
    const ear = new Listener(vad, undefined, [], 8000, (e) => heard.push(e), () => clock);
    const end = () => heard.find((e) => e.type === 'vad_end');
    for (const f of frames(audio)) {
      clock += 20;
      ear.accept(f);
      if (awaitEachFrame) await new Promise((r) => setImmediate(r));
    }
    await vi.waitFor(() => {
      clock += 20;
      ear.accept(silence(20));
      expect(end()).toBeDefined();
    }, { timeout: 60_000, interval: 5 });
    ear.close();
    return end() as Extract<HeardEvent, { type: 'vad_end' }>;
  }

  it('the Silero VAD in-thread: speech ended at the last voiced frame, a hang-over before the decision', async () => {
    const end = await listen(new SileroVad({ model: SILERO }), false);
    // The VAD decided after its silence window (and its probability's tail); the wait began before.
    expect(end.at - end.speechEndedAt).toBeGreaterThanOrEqual(sileroDefaults.minSilenceS * 1000);
    expect(Math.abs(end.speechEndedAt - lastVoicedFrameEnd)).toBeLessThanOrEqual(60);
  });

  it('the Silero VAD on its worker thread: the decision comes back later; the speech end does not move', async () => {
    const end = await listen(host.create(), true);
    expect(end.at - end.speechEndedAt).toBeGreaterThanOrEqual(sileroDefaults.minSilenceS * 1000);
    expect(Math.abs(end.speechEndedAt - lastVoicedFrameEnd)).toBeLessThanOrEqual(60);
  });

  it('the energy VAD (no Silero model): the same', async () => {
    const end = await listen(new EnergyVad(), false);
    expect(end.at - end.speechEndedAt).toBeGreaterThanOrEqual(300);
    expect(Math.abs(end.speechEndedAt - lastVoicedFrameEnd)).toBeLessThanOrEqual(60);
  });

  it('a turn\'s record: the wire\'s wait from the last voiced frame, and the stages from the decision', () => {
    const t = new TurnTimer();
    // Voice stopped at 1000; the VAD decided at 1390; the transcript at 1450; the reply at 1600;
    // its first audio at 1700 and first packet out at 1710.
    t.speechEnded(1390, 1000);
    t.final(1450, 60);
    t.replied(1600);
    const l = t.spoken({ firstAudioAt: 1700, firstPacketAt: 1710 })!;
    expect(l).toEqual({ vadHangoverMs: 390, sttMs: 60, thinkMs: 150, ttsMs: 100, sendMs: 10, totalMs: 320, fromSpeechEndMs: 710 });
    // Once per caller turn.
    expect(t.spoken({ firstAudioAt: 1800, firstPacketAt: 1810 })).toBeUndefined();
  });
});

/**
 * Over SIP, the caller's side measures what it waits: from its last voiced packet to the first
 * voiced packet of the agent's answer. The reply time the product records for each turn is that
 * wait (before, it read about 0.39 s short: the VAD's hang-over was 460 ms, not the 300 ms of
 * silence it is set to, and the voice's own leading silence was not counted).
 */
describe('reply latency on the wire', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-latency-'));
  let app: App;
  let phone: SipEndpoint;

  beforeAll(async () => {
    const sipPort = await freePort();
    const phonePort = await freePort();
    app = await createApp(loadConfig({
      FRONTDESK_DATA_DIR: join(dir, 'data'), FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR, FRONTDESK_HTTP_HOST: '127.0.0.1',
      FRONTDESK_HTTP_PORT: String(await freePort()), FRONTDESK_SIP_BIND: '127.0.0.1', FRONTDESK_SIP_PORT: String(sipPort),
      FRONTDESK_MODELS_DIR: MODELS_DIR, FRONTDESK_RTP_PORT_MIN: '36400', FRONTDESK_RTP_PORT_MAX: '36499',
    }), silentLogger);
    await app.contexts.save({ ...demoContext, hours: aroundTheClock, holidays: [] }, 'test');
    await app.start();
    await app.speechReady;
    phone = new SipEndpoint({
      bind: '127.0.0.1', port: phonePort, trusted: parseCidrList([]), rtpPortMin: 36500, rtpPortMax: 36599,
      trunk: { host: '127.0.0.1', port: sipPort, transport: 'UDP', register: false, callerId: '+15125550177' },
    });
    await phone.start();
  }, 120_000);
  afterAll(async () => {
    await phone?.stop();
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records, for each turn, the silence between the caller\'s last word and the agent\'s first word as the caller hears it', async () => {
    const call = (await phone.dial('+15125550100')) as SipCall;
    // The agent's voice: frames above -40 dBFS, as for the caller's.
    const caller = new TestCaller(call, 330);
    await caller.nextTurn();
    // Caller and agent share this process: a late event loop stamps both ends' packets late by up to its delay.
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const waits: number[] = [];
    for (const line of ['How much is a deep cleaning?', 'What are your hours?']) {
      const pcm = await caller.synthesize(line);
      // The caller's voice ends at its last frame above -40 dBFS; the rest of the buffer is the voice's own trailing quiet.
      let lastVoiced = 0;
      for (let i = 0; i + 160 <= pcm.length; i += 160) if (rms(pcm.subarray(i, i + 160)) > 330) lastVoiced = i + 160;
      const heardSoFar = caller.timeline.length;
      await call.play(pcm).done;
      // play() resolves as the last packet goes out, one packet per 20 ms.
      const voiceEndedAt = caller.heardMs - Math.ceil((pcm.length - lastVoiced) / 160) * 20;
      await caller.nextTurn();
      const answer = caller.timeline.slice(heardSoFar).find((f) => f.loud && f.at > voiceEndedAt)!;
      waits.push(answer.at - voiceEndedAt);
    }
    loop.disable();
    const slack = 60 + loop.max / 1e6;
    await call.hangup();
    const rec = await app.store.db.selectFrom('calls').select('id').orderBy('started_at', 'desc').limit(1).executeTakeFirstOrThrow();
    const recorded = await vi.waitFor(async () => {
      const l = (await app.business.calls.events(rec.id)).filter((e) => e.kind === 'latency').map((e) => e.data as { fromSpeechEndMs: number; totalMs: number; vadHangoverMs: number });
      expect(l.length).toBe(waits.length);
      return l;
    }, { timeout: 10_000, interval: 50 });
    for (const [i, wait] of waits.entries()) {
      const r = recorded[i]!;
      // The same silence, measured at both ends of the line: within a packet or two either way (and
      // what the event loop was late by, on a loaded machine).
      expect(r.fromSpeechEndMs, `turn ${i + 1}: the caller waited ${wait} ms (slack ${slack} ms)`).toBeGreaterThanOrEqual(wait - slack);
      expect(r.fromSpeechEndMs, `turn ${i + 1}: the caller waited ${wait} ms (slack ${slack} ms)`).toBeLessThanOrEqual(wait + slack);
    }
    // The same waits on /metrics.
    expect(await app.metrics.registry.metrics()).toMatch(new RegExp(`^frontdesk_turn_latency_seconds_count ${waits.length}$`, 'm'));
  }, 120_000);
});
