import { execSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FsTelephony, type FsCall } from '../../src/telephony/freeswitch/index.js';
import { ForkServer } from '../../src/telephony/freeswitch/fork-server.js';
import { DrachtioLibSeam } from '../../src/telephony/freeswitch/drachtio.js';
import { SipEndpoint } from '../../src/telephony/sip/endpoint.js';
import type { Call } from '../../src/telephony/call.js';
import { Esl } from '../../src/cli/doctor-freeswitch.js';
import { parseCidrList } from '../../src/util/cidr.js';
import { BUILT_MODELS_DIR, MODELS_DIR, concat, rms, tone } from '../helpers/audio.js';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { demoContext } from '../../src/business/context/demo.js';
import { aroundTheClock } from '../helpers/contexts.js';
import { TestCaller } from '../helpers/caller.js';
import { freePort } from '../helpers/ports.js';
import { wordErrorRate } from '../helpers/wer.js';
import { FliteTts } from '../../src/speech/tts/flite.js';
import { readWav } from '../../src/speech/audio.js';

/**
 * Opt-in: real drachtio-server and FreeSWITCH (with jambonz's mod_audio_fork) running the shipped
 * freeswitch/ files, only addresses and secrets changed. Runs when DRACHTIO_HOST (admin host:port),
 * DRACHTIO_SECRET, FREESWITCH_ESL (host:port), FREESWITCH_ESL_SECRET, DRACHTIO_SIP (host:port of
 * drachtio's SIP) and FS_TRUNK_PEER (host:port for the "carrier") are set. The carrier is
 * frontdesk's own SIP endpoint on FS_TRUNK_PEER: callers dial the DID through drachtio from it, and
 * frontdesk's owner legs and outbound calls reach it (FRONTDESK_FREESWITCH_TRUNK_URI points there).
 * What the caller hears is its endpoint's decoded RTP. FORK_HOST: how FreeSWITCH reaches this
 * machine (default 127.0.0.1). DRACHTIO_STOP_CMD/_START_CMD and FREESWITCH_STOP_CMD/_START_CMD
 * (shell) enable the restart cases, down PBX_DOWN_S seconds (default 120). The second describe
 * runs frontdesk as `frontdesk start` wires it (PGlite, the real speech models) for what goes through
 * the app: transcript turns, voicemail, recording, find-me; owner targets are numbers on the carrier.
 */
const env = process.env;
const live = !!(env.DRACHTIO_HOST && env.DRACHTIO_SECRET && env.FREESWITCH_ESL && env.FREESWITCH_ESL_SECRET && env.DRACHTIO_SIP && env.FS_TRUNK_PEER);
const DID = '+15125550100';
const OWNER = '+15125550199';
/** The tones the tests play: a frame counts as heard when it is loud and mostly one of them. */
const TONES = [440, 500, 550, 600, 660];
function toneShare(pcm: Int16Array, hz: number): number {
  // Goertzel power at hz against the frame's total power (1: a pure tone; noise: a few percent).
  const w = (2 * Math.PI * hz) / 8000;
  const c = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  let total = 0;
  for (const x of pcm) {
    const s0 = x + c * s1 - s2;
    s2 = s1;
    s1 = s0;
    total += x * x;
  }
  const power = s1 * s1 + s2 * s2 - c * s1 * s2;
  return total ? (2 * power) / (pcm.length * total) : 0;
}
const loud = (pcm: Int16Array) => rms(pcm) > 500 && Math.max(...TONES.map((hz) => toneShare(pcm, hz))) > 0.5;

/** Counts what one side of a call hears: loud 20 ms frames, all frames, and its energy. */
function ears(call: Call) {
  const e = { loud: 0, frames: 0, energy: 0, waiters: [] as { until: () => boolean; resolve: () => void }[] };
  call.on('audio', (f) => {
    e.frames++;
    if (loud(f.pcm)) {
      e.loud++;
      e.energy += rms(f.pcm);
    }
    for (const w of [...e.waiters]) if (w.until()) {
      e.waiters.splice(e.waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  /** Resolves when `until` holds, checked on each frame heard. */
  const when = (until: () => boolean, what: string, ms = 15_000) => new Promise<void>((resolve, reject) => {
    if (until()) return resolve();
    const t = setTimeout(() => reject(new Error(`never heard: ${what} (loud ${e.loud}, frames ${e.frames})`)), ms);
    e.waiters.push({ until, resolve: () => { clearTimeout(t); resolve(); } });
  });
  return Object.assign(e, { when });
}

/** Seconds of 20 ms frames with speech-like energy. */
function speechSeconds(pcm: Int16Array, rate: number): number {
  const n = Math.round(rate / 50);
  let loudFrames = 0;
  for (let i = 0; i + n <= pcm.length; i += n) if (rms(pcm.subarray(i, i + n)) > 300) loudFrames++;
  return loudFrames / 50;
}

/** The call recording: a 16-bit stereo WAV, caller left and agent right (agent/voice/call-recorder.ts). */
function readStereoWav(buf: Buffer): { left: Int16Array; right: Int16Array; sampleRate: number } {
  let off = 12;
  let rate = 0;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ') {
      expect(buf.readUInt16LE(off + 10)).toBe(2);
      rate = buf.readUInt32LE(off + 12);
    } else if (id === 'data') {
      const n = Math.floor(Math.min(size, buf.length - off - 8) / 4);
      const left = new Int16Array(n);
      const right = new Int16Array(n);
      for (let i = 0; i < n; i++) {
        left[i] = buf.readInt16LE(off + 8 + 4 * i);
        right[i] = buf.readInt16LE(off + 10 + 4 * i);
      }
      return { left, right, sampleRate: rate };
    }
    off += 8 + size + (size & 1);
  }
  throw new Error('WAV without data');
}

/** FreeSWITCH's channels (show channels over ESL): none should be left once calls are over. */
async function channels(): Promise<number> {
  const esl = await Esl.open(env.FREESWITCH_ESL!, env.FREESWITCH_ESL_SECRET!, 5_000);
  try {
    const out = await esl.api('show channels count');
    return Number(/(\d+) total/.exec(out)?.[1] ?? NaN);
  } finally {
    esl.close();
  }
}
/** FreeSWITCH tears down after the last BYE: look again until clean or out of patience. */
async function expectNoChannels(): Promise<void> {
  let n = await channels();
  for (let i = 0; i < 50 && n !== 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    n = await channels();
  }
  expect(n).toBe(0);
}

describe.runIf(live)('live drachtio + FreeSWITCH (shipped freeswitch/ conf)', () => {
  const [peerHost, peerPort] = (env.FS_TRUNK_PEER ?? ':').split(':');
  const [sipHost, sipPort] = (env.DRACHTIO_SIP ?? ':').split(':');
  const [dh, dp] = (env.DRACHTIO_HOST ?? ':').split(':');
  const [eh, ep] = (env.FREESWITCH_ESL ?? ':').split(':');
  let http: Server;
  let fs: FsTelephony;
  let pstn: SipEndpoint;
  const arrived: FsCall[] = [];
  const takers: ((c: FsCall) => void)[] = [];
  const takeCall = () => new Promise<FsCall>((r) => (arrived.length ? r(arrived.shift()!) : takers.push(r)));
  let ownerCall: (c: Call) => void = (c) => void c.reject(480);

  beforeAll(async () => {
    const forks = new ForkServer();
    http = createServer();
    http.on('upgrade', (req, sock, head) => forks.handleUpgrade(req, sock, head));
    await new Promise<void>((r) => http.listen(0, '0.0.0.0', r));
    const port = (http.address() as { port: number }).port;
    fs = new FsTelephony({
      seam: new DrachtioLibSeam({ drachtio: { host: dh!, port: Number(dp), secret: env.DRACHTIO_SECRET! }, freeswitch: { address: eh!, port: Number(ep), secret: env.FREESWITCH_ESL_SECRET! } }),
      forks, forkUrl: `ws://${env.FORK_HOST ?? '127.0.0.1'}:${port}/audio-fork`,
      trunkUri: `sip:{number}@${env.FS_TRUNK_PEER}`, extensionUri: `sip:{ext}@${env.FS_TRUNK_PEER}`, reconnectMaxMs: 5_000,
    });
    fs.on('call', (c) => (takers.length ? takers.shift()!(c as FsCall) : arrived.push(c as FsCall)));
    await fs.start();
    pstn = new SipEndpoint({
      bind: peerHost!, port: Number(peerPort), trusted: parseCidrList([`${sipHost}/32`]), rtpPortMin: 21000, rtpPortMax: 21999, mediaTimeoutMs: 0,
      trunk: { host: sipHost!, port: Number(sipPort), transport: 'UDP', register: false, callerId: '+15125550177' },
    });
    pstn.on('call', (c) => ownerCall(c));
    await pstn.start();
    // Right after FreeSWITCH starts, its profile may not be up yet: frontdesk connects when it is.
    if (!fs.status().up) await new Promise<void>((r) => fs.once('up', () => r()));
  });
  afterAll(async () => {
    await fs?.stop();
    await pstn?.stop();
    await new Promise((r) => http?.close(r));
  });

  /** A caller on the "PSTN" calls the DID through drachtio; frontdesk answers. */
  async function placeCall(): Promise<{ call: FsCall; caller: Call }> {
    const got = takeCall();
    const callerP = pstn.dial(DID, { from: '+15125550177', timeoutSeconds: 20 });
    const call = await got;
    await call.answer();
    return { call, caller: await callerP };
  }

  it('answers; the greeting reaches the caller whole and is marked played; the caller\'s speech and DTMF reach frontdesk; barge-in stops what the caller hears', async () => {
    const { call, caller } = await placeCall();
    const callerEars = ears(caller);
    const ours = ears(call);
    // A 2 s greeting: done (FreeSWITCH's mark) only once the caller has heard all of it.
    const greeting = await call.play(tone(2000)).done;
    expect(greeting).toEqual({ completed: true, playedMs: 2000 });
    expect(callerEars.loud).toBeGreaterThanOrEqual(95);
    expect(callerEars.energy / callerEars.loud).toBeGreaterThan(3000);
    // The caller speaks for 1.5 s (a message, as for voicemail): all of it reaches frontdesk.
    await caller.play(tone(1500, 600)).done;
    await ours.when(() => ours.loud >= 70, 'the caller speaking, 1.5 s');
    const dtmf = new Promise<string>((r, j) => {
      call.once('dtmf', r);
      setTimeout(() => j(new Error('DTMF 5 never reached frontdesk')), 10_000);
    });
    await caller.sendDtmf('5');
    expect(await dtmf).toBe('5');
    // Barge-in: a 6 s reply cut after ~1 s must stop at the caller's ear.
    const h = call.play(tone(6000));
    const startLoud = callerEars.loud;
    await callerEars.when(() => callerEars.loud - startLoud >= 50, 'the long reply starting');
    h.cancel();
    const r = await h.done;
    expect(r.completed).toBe(false);
    const atCut = callerEars.loud;
    const framesAtCut = callerEars.frames;
    await callerEars.when(() => callerEars.frames - framesAtCut >= 150, '3 s after the cut');
    expect(callerEars.loud - atCut).toBeLessThanOrEqual(15);
    // After the barge-in the next reply is heard and marked as such.
    const next = callerEars.loud;
    expect(await call.play(tone(800, 500)).done).toEqual({ completed: true, playedMs: 800 });
    expect(callerEars.loud - next).toBeGreaterThanOrEqual(35);
    const ended = new Promise<string>((r2) => call.once('ended', r2));
    await caller.hangup();
    expect(await ended).toBe('remote_hangup');
    await expectNoChannels();
  }, 60_000);

  it('blind transfer: REFER to the owner, the caller\'s side carries it out, frontdesk lets go', async () => {
    const { call, caller } = await placeCall();
    const owner = new Promise<Call>((resolve) => (ownerCall = (c) => void c.answer().then(() => resolve(c))));
    const result = await call.transfer({ uri: OWNER, mode: 'blind', ringSeconds: 15 });
    expect(result).toMatchObject({ ok: true, status: 200 });
    expect(call.endReason).toBe('transferred');
    const o = await owner;
    const callerEars = ears(caller);
    await o.play(tone(600, 500)).done;
    await callerEars.when(() => callerEars.loud >= 20, 'the owner\'s voice');
    await o.hangup();
    ownerCall = (c) => void c.reject(480);
    await expectNoChannels();
  }, 60_000);

  it('warm transfer: whisper to the owner, then caller and owner talk through FreeSWITCH; the owner hangs up → the caller\'s call ends', async () => {
    const { call, caller } = await placeCall();
    const callerEars = ears(caller);
    let ownerEars: ReturnType<typeof ears> | undefined;
    const owner = new Promise<Call>((resolve) => {
      ownerCall = (c) => {
        ownerEars = ears(c);
        setTimeout(() => void c.answer().then(() => resolve(c)), 1_000);
      };
    });
    const result = await call.transfer({ uri: OWNER, mode: 'warm', ringSeconds: 15, whisper: tone(800) });
    expect(result).toMatchObject({ ok: true, status: 200 });
    const o = await owner;
    expect(ownerEars!.loud).toBeGreaterThanOrEqual(35);
    const heard = callerEars.loud;
    await o.play(tone(600, 500)).done;
    await callerEars.when(() => callerEars.loud - heard >= 20, 'the owner\'s voice');
    const callerGone = new Promise<string>((r) => caller.once('ended', r));
    await o.hangup();
    expect(await callerGone).toBe('remote_hangup');
    expect(fs.handoverCount()).toBe(0);
    ownerCall = (c) => void c.reject(480);
    await expectNoChannels();
  }, 60_000);

  it('warm transfer nobody answers: the leg is cancelled after its ring time and the caller is still with frontdesk; refused targets never leave it', async () => {
    const { call, caller } = await placeCall();
    const callerEars = ears(caller);
    const rang: string[] = [];
    const cancelled = new Promise<void>((r) => (ownerCall = (c) => {
      rang.push(c.to);
      c.once('ended', () => r());
    }));
    const result = await call.transfer({ uri: OWNER, mode: 'warm', ringSeconds: 5, whisper: tone(800) });
    expect(result.ok).toBe(false);
    await cancelled;
    // The dial policy on each kind of leg: a premium-rate warm leg and an international REFER are refused here.
    expect(await call.transfer({ uri: '+19005550100', mode: 'warm', ringSeconds: 5 })).toMatchObject({ ok: false, status: 403 });
    expect(await call.transfer({ uri: '+442071234567', mode: 'blind', ringSeconds: 5 })).toMatchObject({ ok: false, status: 403 });
    expect(rang).toEqual([OWNER]);
    expect(call.state).toBe('answered');
    // Still frontdesk's call: the caller hears what it plays next (the agent's fallback prompt).
    const before = callerEars.loud;
    expect(await call.play(tone(800)).done).toEqual({ completed: true, playedMs: 800 });
    await callerEars.when(() => callerEars.loud - before >= 35, 'frontdesk after the failed transfer');
    const ended = new Promise<string>((r) => call.once('ended', r));
    await caller.hangup();
    expect(await ended).toBe('remote_hangup');
    ownerCall = (c) => void c.reject(480);
    await expectNoChannels();
  }, 60_000);

  it('the caller hangs up while the owner\'s phone rings for a warm transfer: the owner\'s leg is cancelled at once', async () => {
    const { call, caller } = await placeCall();
    let ringing!: Call;
    const rings = new Promise<void>((r) => (ownerCall = (c) => {
      ringing = c;
      r();
    }));
    const result = call.transfer({ uri: OWNER, mode: 'warm', ringSeconds: 30, whisper: tone(800) });
    await rings;
    const ownerGone = new Promise<string>((r) => ringing.once('ended', r));
    await caller.hangup();
    // Before its 30 s ring time is up (the test's limit is 20 s): nobody's phone rings on for a caller who has gone.
    expect(await ownerGone).toBe('cancelled');
    expect(await result).toMatchObject({ ok: false, status: 487 });
    ownerCall = (c) => void c.reject(480);
    await expectNoChannels();
  }, 20_000);

  it('places an outbound call through the trunk: the far end hears frontdesk', async () => {
    const answered = new Promise<Call>((resolve) => (ownerCall = (c) => void c.answer().then(() => resolve(c))));
    const call = await fs.dial('+15125550123', { from: DID });
    const far = await answered;
    const farEars = ears(far);
    expect(await call.play(tone(800)).done).toEqual({ completed: true, playedMs: 800 });
    await farEars.when(() => farEars.loud >= 35, 'frontdesk on the outbound call');
    // And the other way: the far end's voice reaches frontdesk.
    const ours = ears(call);
    await far.play(tone(800, 500)).done;
    await ours.when(() => ours.loud >= 30, 'the far end on the outbound call');
    const gone = new Promise((r) => far.once('ended', r));
    await call.hangup();
    await gone;
    ownerCall = (c) => void c.reject(480);
    await expectNoChannels();
  }, 60_000);

  it('takes 10 calls in a row, leaving no channel behind', async () => {
    for (let i = 0; i < 10; i++) {
      const { call, caller } = await placeCall();
      expect(await call.play(tone(200)).done).toMatchObject({ completed: true });
      const ended = new Promise((r) => call.once('ended', r));
      await (i % 2 ? caller.hangup() : call.hangup());
      if (i % 2) await ended;
    }
    expect(fs.activeCalls()).toBe(0);
    await expectNoChannels();
  }, 180_000);

  for (const which of ['drachtio', 'FreeSWITCH'] as const) {
    const stop = which === 'drachtio' ? env.DRACHTIO_STOP_CMD : env.FREESWITCH_STOP_CMD;
    const start = which === 'drachtio' ? env.DRACHTIO_START_CMD : env.FREESWITCH_START_CMD;
    it.runIf(!!(stop && start))(`${which} stopped for a while and started again: down meanwhile, calls again after`, async () => {
      const down = new Promise<void>((r) => fs.once('down', () => r()));
      execSync(stop!, { stdio: 'inherit' });
      await down;
      // Down for a while (the point of the case: what two minutes of attempts leave behind).
      await new Promise((r) => setTimeout(r, Number(env.PBX_DOWN_S ?? 120) * 1000));
      expect(fs.status().up).toBe(false);
      const up = new Promise<void>((r) => fs.once('up', () => r()));
      execSync(start!, { stdio: 'inherit' });
      await up;
      const { call, caller } = await placeCall();
      const callerEars = ears(caller);
      expect(await call.play(tone(800)).done).toEqual({ completed: true, playedMs: 800 });
      await callerEars.when(() => callerEars.loud >= 35, 'the greeting after the restart');
      await caller.hangup();
      await expectNoChannels();
    }, 400_000);
  }
});

describe.runIf(live)('live drachtio + FreeSWITCH: frontdesk as `frontdesk start` wires it', () => {
  const [peerHost, peerPort] = (env.FS_TRUNK_PEER ?? ':').split(':');
  const [sipHost, sipPort] = (env.DRACHTIO_SIP ?? ':').split(':');
  const dir = mkdtempSync(join(tmpdir(), 'fd-fs-live-app-'));
  let app: App;
  let phone: SipEndpoint;
  /** Owner legs (find-me targets dialled through the trunk) arrive here. */
  let ownerCall: (c: Call) => void = (c) => void c.reject(480);
  const closed = Object.fromEntries(Object.keys(demoContext.hours).map((d) => [d, []]));
  const owners = [{ label: 'Cell', kind: 'phone' as const, value: '+15125550198', ringSeconds: 5 }, { label: 'Desk', kind: 'phone' as const, value: OWNER, ringSeconds: 5 }];

  /** The caller dials, waits for the beep after the agent's prompt and leaves a message; the agent hangs up. */
  async function leaveMessage(call: Call): Promise<void> {
    const beep = new Promise<void>((r) => call.on('audio', (f) => toneShare(f.pcm, 440) > 0.3 && r()));
    const ended = new Promise<string>((r) => call.once('ended', r));
    await beep;
    const message: Int16Array[] = [];
    for await (const c of new FliteTts().synthesize('Hi, this is Ann. Please call me back about Friday.')) message.push(c.pcm);
    await call.play(concat(message)).done;
    // Trailing silence ends the recording; the agent thanks the caller and hangs up.
    expect(await ended).toBe('remote_hangup');
  }
  /** The stored voicemail for the newest call: transcribed, with a recording holding the caller's words. */
  async function storedVoicemail() {
    const db = app.store.db;
    const vm = await vi.waitFor(async () => {
      const row = await db.selectFrom('owner_messages').selectAll().where('kind', '=', 'voicemail').orderBy('created_at', 'desc').executeTakeFirst();
      expect(row).toBeDefined();
      return row!;
    }, { timeout: 30_000, interval: 100 });
    expect(vm.caller_number).toBe('+15125550142');
    expect(vm.duration_ms).toBeGreaterThan(2500);
    expect(vm.body).toMatch(/call me back/);
    expect(existsSync(vm.recording_path!)).toBe(true);
    const { pcm, sampleRate } = readWav(readFileSync(vm.recording_path!));
    // The caller's voice in the file (Flite speech at the fork's 8 kHz), not silence or the beep.
    expect(pcm.length / sampleRate).toBeGreaterThan(2.5);
    expect(speechSeconds(pcm, sampleRate)).toBeGreaterThan(1.5);
    return vm;
  }
  /** Dial-policy verdicts the app wrote to the audit log for owner legs since `since`. */
  async function legsDialled(since: Date) {
    const rows = await app.store.db.selectFrom('audit_log').selectAll().where('at', '>=', since).where('action', 'in', ['call.outbound', 'call.outbound_refused']).orderBy('id').execute();
    return rows.map((r) => {
      const d = (typeof r.details === 'string' ? JSON.parse(r.details) : r.details) as { to: string; leg: string; allowed: boolean };
      return { to: d.to, leg: d.leg, allowed: d.allowed };
    });
  }

  beforeAll(async () => {
    const httpPort = await freePort();
    app = await createApp(loadConfig({
      FRONTDESK_DATA_DIR: join(dir, 'data'), FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR, FRONTDESK_MODELS_DIR: MODELS_DIR,
      FRONTDESK_HTTP_HOST: '0.0.0.0', FRONTDESK_HTTP_PORT: String(httpPort),
      FRONTDESK_TELEPHONY: 'freeswitch', FRONTDESK_DRACHTIO_URL: env.DRACHTIO_HOST!, FRONTDESK_DRACHTIO_SECRET: env.DRACHTIO_SECRET!,
      FRONTDESK_FREESWITCH_ESL: env.FREESWITCH_ESL!, FRONTDESK_FREESWITCH_ESL_SECRET: env.FREESWITCH_ESL_SECRET!,
      FRONTDESK_FORK_URL: `ws://${env.FORK_HOST ?? '127.0.0.1'}:${httpPort}/audio-fork`,
      FRONTDESK_FREESWITCH_TRUNK_URI: `sip:{number}@${env.FS_TRUNK_PEER}`,
    }), silentLogger);
    await app.contexts.save({ ...demoContext, hours: aroundTheClock, holidays: [] }, 'test');
    await app.start();
    await app.speechReady;
    phone = new SipEndpoint({
      bind: peerHost!, port: Number(peerPort), trusted: parseCidrList([`${sipHost}/32`]), rtpPortMin: 21000, rtpPortMax: 21999,
      trunk: { host: sipHost!, port: Number(sipPort), transport: 'UDP', register: false, callerId: '+15125550142' },
    });
    phone.on('call', (c) => ownerCall(c));
    await phone.start();
  }, 120_000);
  afterAll(async () => {
    await phone?.stop();
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the greeting reaches the caller; what the caller says becomes a transcript turn', async () => {
    const call = await phone.dial('+15125550100');
    const caller = new TestCaller(call);
    const greeting = await caller.nextTurn();
    expect(greeting.length / 8000).toBeGreaterThan(1.5);
    await caller.say('What services do you offer?');
    const reply = await caller.nextTurn();
    expect(reply.length / 8000).toBeGreaterThan(1);
    const rec = await app.store.db.selectFrom('calls').selectAll().orderBy('started_at', 'desc').limit(1).executeTakeFirstOrThrow();
    const turns = (await app.business.calls.events(rec.id)).filter((e) => e.kind === 'turn' && e.role === 'caller');
    expect(turns.length).toBeGreaterThanOrEqual(1);
    // The recognizer's reading of it (the words came through FreeSWITCH's fork at 8 kHz).
    expect(wordErrorRate('what services do you offer', turns[0]!.text ?? '')).toBeLessThan(0.5);
    await call.hangup();
  }, 120_000);

  it('after hours: voicemail through drachtio + FreeSWITCH — the caller leaves a message, it is stored with its recording and transcript; the whole call is recorded', async () => {
    await app.contexts.save({
      ...demoContext, greeting: 'Hi there.', hours: closed, holidays: [], afterHours: { action: 'voicemail', greeting: 'Hi there.' },
      recording: { enabled: true, consentMessage: 'This call is recorded.' },
    }, 'test');
    const call = await phone.dial('+15125550100');
    await leaveMessage(call);
    const vm = await storedVoicemail();
    const rec = await vi.waitFor(async () => {
      const r = await app.store.db.selectFrom('calls').selectAll().where('id', '=', vm.call_id!).executeTakeFirstOrThrow();
      expect(r.state).toBe('ended');
      return r;
    }, { timeout: 10_000, interval: 50 });
    expect(rec).toMatchObject({ direction: 'inbound', disposition: 'voicemail', from_number: '+15125550142' });
    // The keypad flow records the call itself too (FreeSWITCH calls have no startRecording): both sides.
    const whole = await vi.waitFor(async () => {
      const r = await app.store.db.selectFrom('calls').select('recording_path').where('id', '=', vm.call_id!).executeTakeFirstOrThrow();
      expect(r.recording_path).toBeTruthy();
      return r.recording_path!;
    }, { timeout: 10_000, interval: 50 });
    const { left, right, sampleRate } = readStereoWav(readFileSync(whole));
    expect(speechSeconds(left, sampleRate)).toBeGreaterThan(1.5);
    expect(speechSeconds(right, sampleRate)).toBeGreaterThan(2);
    await expectNoChannels();
  }, 90_000);

  it('a recorded conversation (context recording.enabled): consent, then the whole call stored with both sides', async () => {
    await app.contexts.save({ ...demoContext, hours: aroundTheClock, holidays: [], recording: { enabled: true, consentMessage: 'This call may be recorded for quality.' } }, 'test');
    const call = await phone.dial('+15125550100');
    const caller = new TestCaller(call);
    // Consent and greeting, then a question and its answer.
    const first = await caller.nextTurn();
    expect(first.length / 8000).toBeGreaterThan(1.5);
    await caller.say('What services do you offer?');
    const reply = await caller.nextTurn();
    expect(reply.length / 8000).toBeGreaterThan(1);
    const started = await app.store.db.selectFrom('calls').select(['id']).orderBy('started_at', 'desc').limit(1).executeTakeFirstOrThrow();
    await call.hangup();
    const rec = await vi.waitFor(async () => {
      const r = await app.store.db.selectFrom('calls').selectAll().where('id', '=', started.id).executeTakeFirstOrThrow();
      expect(r.recording_path).toBeTruthy();
      return r;
    }, { timeout: 15_000, interval: 100 });
    const { left, right, sampleRate } = readStereoWav(readFileSync(rec.recording_path!));
    // Caller left, agent right (the app records from the forked audio: FreeSWITCH calls have no startRecording).
    expect(speechSeconds(left, sampleRate)).toBeGreaterThan(1);
    expect(speechSeconds(right, sampleRate)).toBeGreaterThan(2);
    await expectNoChannels();
  }, 120_000);

  it('warm transfer nobody answers (find-me: one busy, one rings out): every leg through the dial policy, then the caller leaves a voicemail', async () => {
    await app.contexts.save({
      ...demoContext, greeting: 'Hi there.', hours: closed, holidays: [], afterHours: { action: 'forward', greeting: 'Hi there.' },
      owner: { ...demoContext.owner, transferMode: 'warm', targets: owners },
    }, 'test');
    const since = new Date(Date.now() - 1000);
    const rang: string[] = [];
    // The cell is busy; the desk phone rings until frontdesk gives up on it (and cancels it).
    const cancelled = new Promise<void>((r) => (ownerCall = (c) => {
      rang.push(c.to);
      if (c.to.endsWith('0198')) void c.reject(486, 'Busy Here');
      else c.once('ended', () => r());
    }));
    const call = await phone.dial('+15125550100');
    await leaveMessage(call);
    await cancelled;
    expect(rang).toEqual(['+15125550198', OWNER]);
    await storedVoicemail();
    expect(await legsDialled(since)).toEqual([
      { to: '+15125550198', leg: 'warm', allowed: true },
      { to: OWNER, leg: 'warm', allowed: true },
    ]);
    ownerCall = (c) => void c.reject(480);
    await expectNoChannels();
  }, 120_000);

  it('find-me/follow-me: the first target rings out, the second answers, hears the whisper and talks with the caller', async () => {
    await app.contexts.save({
      ...demoContext, greeting: 'Hi there.', hours: closed, holidays: [], afterHours: { action: 'forward', greeting: 'Hi there.' },
      owner: { ...demoContext.owner, transferMode: 'warm', targets: owners },
    }, 'test');
    const since = new Date(Date.now() - 1000);
    const owner = new Promise<Call>((resolve) => (ownerCall = (c) => {
      if (c.to !== OWNER) return; // the cell rings out
      void c.answer().then(() => resolve(c));
    }));
    const call = await phone.dial('+15125550100');
    const callerEars = ears(call);
    const o = await owner;
    // The whisper (TTS) reaches the owner before the bridge.
    const whisper = new TestCaller(o);
    expect((await whisper.nextTurn(600, 30_000)).length / 8000).toBeGreaterThan(1);
    const heard = callerEars.loud;
    await o.play(tone(1000, 600)).done;
    await callerEars.when(() => callerEars.loud - heard >= 25, 'the owner\'s voice', 20_000);
    const callerGone = new Promise<string>((r) => call.once('ended', r));
    await o.hangup();
    expect(await callerGone).toBe('remote_hangup');
    expect(await legsDialled(since)).toEqual([
      { to: '+15125550198', leg: 'warm', allowed: true },
      { to: OWNER, leg: 'warm', allowed: true },
    ]);
    const rec = await vi.waitFor(async () => {
      const r = await app.store.db.selectFrom('calls').selectAll().where('from_number', '=', '+15125550142').orderBy('started_at', 'desc').limit(1).executeTakeFirstOrThrow();
      expect(r.state).toBe('ended');
      return r;
    }, { timeout: 10_000, interval: 50 });
    expect(rec.disposition).toBe('transferred');
    ownerCall = (c) => void c.reject(480);
    await expectNoChannels();
  }, 120_000);
});
