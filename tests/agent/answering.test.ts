import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { demoContext } from '../../src/business/context/demo.js';
import { SipEndpoint } from '../../src/telephony/sip/endpoint.js';
import type { SipCall } from '../../src/telephony/sip/call.js';
import { FliteTts } from '../../src/speech/tts/flite.js';
import { parseCidrList } from '../../src/util/cidr.js';
import { freePort } from '../helpers/ports.js';
import { TestCaller } from '../helpers/caller.js';
import { MODELS_DIR, concat, BUILT_MODELS_DIR } from '../helpers/audio.js';

/** Goertzel power of `hz` in a frame, relative to the frame's energy: finds the beep. */
function toneRatio(pcm: Int16Array, hz: number, rate = 8000): number {
  const k = 2 * Math.cos((2 * Math.PI * hz) / rate);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (let i = 0; i < pcm.length; i++) {
    const s0 = pcm[i]! + k * s1 - s2;
    s2 = s1;
    s1 = s0;
    energy += pcm[i]! * pcm[i]!;
  }
  const power = s1 * s1 + s2 * s2 - k * s1 * s2;
  return energy ? power / (energy * pcm.length) : 0;
}

/** A caller on the built-in SIP endpoint, end to end through `frontdesk`'s own process wiring. */
describe('answering a call', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-answer-'));
  let app: App;
  let caller: SipEndpoint;
  let ownerPort = 0;

  beforeAll(async () => {
    const sipPort = await freePort();
    ownerPort = await freePort();
    app = await createApp(loadConfig({
      FRONTDESK_DATA_DIR: join(dir, 'data'), FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR, FRONTDESK_HTTP_HOST: '127.0.0.1', FRONTDESK_HTTP_PORT: String(await freePort()),
      FRONTDESK_SIP_BIND: '127.0.0.1', FRONTDESK_SIP_PORT: String(sipPort), FRONTDESK_MODELS_DIR: MODELS_DIR,
      FRONTDESK_RTP_PORT_MIN: '36000', FRONTDESK_RTP_PORT_MAX: '36099',
    }), silentLogger);
    // Always closed with voicemail after hours (the keypad flow; conversations are in voice.test.ts),
    // a short greeting and a blind transfer to a desk phone, so the test hears the whole flow quickly.
    await app.contexts.save({
      ...demoContext, greeting: 'Hi there.',
      hours: Object.fromEntries(Object.keys(demoContext.hours).map((d) => [d, []])),
      afterHours: { action: 'voicemail', greeting: 'Hi there.' },
      holidays: [],
      owner: { ...demoContext.owner, transferMode: 'blind', targets: [{ label: 'Desk', kind: 'sip', value: `sip:maria@127.0.0.1:${ownerPort}`, ringSeconds: 10 }] },
    }, 'test');
    await app.start();
    await app.speechReady;
    caller = new SipEndpoint({
      bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]), rtpPortMin: 36100, rtpPortMax: 36199,
      trunk: { host: '127.0.0.1', port: sipPort, transport: 'UDP', register: false, callerId: '+15125550177' },
    });
    await caller.start();
  });
  afterAll(async () => {
    await caller.stop();
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('greets the caller, takes a voicemail after the tone, stores it and alerts the owner', async () => {
    const call = (await caller.dial('+15125550100')) as SipCall;
    const heard: Int16Array[] = [];
    const toneHeard = new Promise<void>((resolve) => {
      call.on('audio', (f) => {
        heard.push(Int16Array.from(f.pcm));
        if (toneRatio(f.pcm, 440) > 0.3) resolve();
      });
    });
    const ended = new Promise<string>((r) => call.on('ended', r));
    await toneHeard;
    // The agent spoke before the beep: real speech energy in what we received.
    const before = concat(heard);
    expect(before.length / 8000).toBeGreaterThan(2);
    const message: Int16Array[] = [];
    for await (const c of new FliteTts().synthesize('Hi, this is Ann. Please call me back about Friday.')) message.push(c.pcm);
    await call.play(concat(message)).done;
    // Trailing silence ends the recording; the agent thanks the caller and hangs up.
    expect(await ended).toBe('remote_hangup');

    const db = app.store.db;
    // The caller is let go first; the message is stored once it is transcribed.
    const voicemail = () => db.selectFrom('owner_messages').selectAll().where('kind', '=', 'voicemail').executeTakeFirst();
    // Transcription runs after the hang-up and takes what the machine gives it: wait for the row, not a fixed time.
    const vm = await vi.waitFor(async () => {
      const row = await voicemail();
      expect(row).toBeDefined();
      return row!;
    }, { timeout: 25_000, interval: 100 });
    expect(vm.caller_number).toBe('+15125550177');
    expect(vm.duration_ms).toBeGreaterThan(2500);
    // Transcribed for the owner (general English, so the words are not the business's vocabulary).
    expect(vm.body).toMatch(/call me back/);
    expect(existsSync(vm.recording_path!)).toBe(true);
    const alert = await db.selectFrom('outbox').select(['recipient', 'purpose', 'payload']).where('dedupe_key', 'like', `alert:voicemail:${vm.id}%`).executeTakeFirstOrThrow();
    expect(alert).toMatchObject({ recipient: '+15125550199', purpose: 'owner_alert' });
    // The owner's alert carries the transcript, not just "a recording".
    expect(JSON.stringify(alert.payload)).toMatch(/call me back/);
    // The call record is closed just after the hang-up.
    const rec = await vi.waitFor(async () => {
      const r = await db.selectFrom('calls').selectAll().where('id', '=', vm.call_id!).executeTakeFirstOrThrow();
      expect(r.state).toBe('ended');
      expect(r.quality).toBeTruthy();
      return r;
    }, { timeout: 10_000, interval: 50 });
    expect(rec).toMatchObject({ direction: 'inbound', state: 'ended', disposition: 'voicemail', from_number: '+15125550177', to_number: '+15125550100' });
    expect(rec.answered_at).not.toBeNull();
    // The media quality the endpoint measured is kept with the call (and served by GET /api/calls/:id).
    expect(rec.quality).toMatchObject({ packetsIn: expect.any(Number), lost: 0, discarded: 0 });
    expect((rec.quality as { packetsIn: number }).packetsIn).toBeGreaterThan(100);
  }, 40_000);

  it('hands the caller to the owner when they press 0', async () => {
    const call = (await caller.dial('+15125550100')) as SipCall;
    const referred = new Promise<string>((r) => caller.once('refer', (_c, target) => r(target)));
    // The caller presses 0 once the greeting has started.
    await new TestCaller(call).agentStartsTalking();
    await call.sendDtmf('0');
    expect(await referred).toBe(`sip:maria@127.0.0.1:${ownerPort}`);
    await call.hangup();
    const db = app.store.db;
    const rec = await db.selectFrom('calls').select('id').where('external_id', 'is not', null).orderBy('started_at', 'desc').executeTakeFirstOrThrow();
    const events = await app.business.calls.events(rec.id);
    expect(events.map((e) => e.kind)).toContain('dtmf');
    expect(events.find((e) => e.kind === 'transfer')?.text).toBe('trying Desk');
  }, 30_000);

  it('records the whole call when the context says so (consent first), caller and agent on their own channels', async () => {
    const stored = await app.contexts.get(demoContext.name);
    await app.contexts.save({ ...stored.document, recording: { enabled: true, consentMessage: 'This call is recorded.' } }, 'test');
    try {
      const call = (await caller.dial('+15125550100')) as SipCall;
      const beep = new Promise<void>((resolve) => call.on('audio', (f) => toneRatio(f.pcm, 440) > 0.3 && resolve()));
      const ended = new Promise<string>((r) => call.on('ended', r));
      await beep;
      const message: Int16Array[] = [];
      for await (const c of new FliteTts().synthesize('Hi, this is Ann. Please call me back about Friday.')) message.push(c.pcm);
      await call.play(concat(message)).done;
      expect(await ended).toBe('remote_hangup');
      const db = app.store.db;
      const rec = await vi.waitFor(async () => {
        const r = await db.selectFrom('calls').selectAll().where('disposition', '=', 'voicemail').where('recording_path', 'is not', null).orderBy('started_at', 'desc').executeTakeFirst();
        expect(r?.recording_path).toBeTruthy();
        return r!;
      }, { timeout: 25_000, interval: 100 });
      expect(rec.recording_path).toMatch(/recordings\/.+\.wav$/);
      const wav = readFileSync(rec.recording_path!);
      expect(wav.readUInt16LE(22)).toBe(2); // stereo
      const samples = new Int16Array(wav.buffer, wav.byteOffset + 44, (wav.length - 44) / 2);
      const speechMs = (channel: 0 | 1) => {
        let loud = 0;
        for (let i = channel; i + 320 < samples.length; i += 320) {
          let e = 0;
          for (let k = i; k < i + 320; k += 2) e += Math.abs(samples[k]!);
          if (e / 160 > 300) loud++;
        }
        return loud * 20;
      };
      // The caller's message on the left; the agent's greeting, prompt, beep and goodbye on the right.
      expect(speechMs(0)).toBeGreaterThan(1500);
      expect(speechMs(1)).toBeGreaterThan(2000);
    } finally {
      await app.contexts.save(stored.document, 'test');
    }
  }, 60_000);
});
