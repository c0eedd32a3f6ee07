import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import ipaddr from 'ipaddr.js';
import { SipEndpoint } from '../../src/telephony/sip/endpoint.js';
import type { SipCall } from '../../src/telephony/sip/call.js';
import type { SipMessage } from '../../src/telephony/sip/message.js';
import { parseCidrList } from '../../src/util/cidr.js';
import { freePort } from '../helpers/ports.js';
import type { OutboundAttempt } from '../../src/telephony/dial-guard.js';
import { runSipp, startSippUas } from '../helpers/sipp.js';
import { RawPeer, request, toTagOf } from '../helpers/raw-sip.js';

/** The built-in SIP endpoint against SIPp, a real SIP peer, over loopback. */
describe('built-in SIP endpoint with SIPp', () => {
  let ep: SipEndpoint;
  let target = '';
  const outbound: OutboundAttempt[] = [];
  let onCall: (call: SipCall) => void = () => {};

  beforeAll(async () => {
    ep = new SipEndpoint({
      bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]),
      rtpPortMin: 31000, rtpPortMax: 31999, mediaTimeoutMs: 10_000,
      onOutbound: (e) => outbound.push(e),
    });
    ep.on('call', (c) => onCall(c as SipCall));
    await ep.start();
    target = `127.0.0.1:${ep.port}`;
  });
  afterAll(async () => ep.stop());

  const nextCall = () => new Promise<SipCall>((resolve) => (onCall = resolve));
  /** Resolves when the caller's ACK for `call` reaches the endpoint (the dialog is confirmed). */
  const acked = (endpoint: SipEndpoint, call: SipCall) => new Promise<void>((resolve) => {
    const on = (m: SipMessage) => {
      if (m.kind === 'request' && m.method === 'ACK' && m.headers.get('call-id') === call.dialog.callId) {
        endpoint.stack.transport.off('message', on);
        resolve();
      }
    };
    endpoint.stack.transport.on('message', on);
  });

  it('answers a call with RTP both ways and hears RFC 4733 DTMF from the shipped pcaps', async () => {
    const callP = nextCall();
    const sipp = runSipp({ scenario: 'uac-media.xml', target });
    const call = await callP;
    expect(call.from).toBe('+15125550177');
    expect(call.to).toBe('+15125550100');
    let frames = 0;
    let energy = 0;
    const digits: string[] = [];
    call.on('audio', (f) => {
      frames++;
      for (let i = 0; i < f.pcm.length; i++) energy += Math.abs(f.pcm[i]!);
    });
    call.on('dtmf', (d) => digits.push(d));
    const ended = new Promise<string>((r) => call.on('ended', r));
    await call.answer();
    const tone = new Int16Array(8000).map((_, i) => Math.round(6000 * Math.sin((2 * Math.PI * 440 * i) / 8000)));
    const played = await call.play(tone).done;
    expect(played).toEqual({ completed: true, playedMs: 1000 });
    expect(await ended).toBe('remote_hangup');
    const run = await sipp;
    expect(run.code, run.output).toBe(0);
    // SIPp played its recorded speech (PCMA) to us: decoded frames with real signal in them.
    expect(frames).toBeGreaterThan(50);
    expect(energy / (frames * 160)).toBeGreaterThan(200);
    expect(digits).toEqual(['1']);
    // Our tone went out as paced RTP to the address SIPp offered.
    expect(call.rtp.stats.packetsOut).toBeGreaterThan(100);
    expect(call.rtp.stats.malformed).toBe(0);
    expect(ep.activeCalls()).toBe(0);
  }, 30_000);

  it('ends a ringing call when the caller cancels (487), leaving nothing behind', async () => {
    const callP = nextCall();
    const sipp = runSipp({ scenario: 'uac-cancel.xml', target });
    const call = await callP;
    const reason = await new Promise<string>((r) => call.on('ended', r));
    expect(reason).toBe('cancelled');
    const run = await sipp;
    expect(run.code, run.output).toBe(0);
    expect(ep.activeCalls()).toBe(0);
  });

  it('hangs up from our side with a BYE the caller accepts', async () => {
    const callP = nextCall();
    const sipp = runSipp({ scenario: 'uac-remote-bye.xml', target });
    const call = await callP;
    const confirmed = acked(ep, call);
    await call.answer();
    await confirmed;
    await call.hangup();
    expect(call.state).toBe('ended');
    const run = await sipp;
    expect(run.code, run.output).toBe(0);
  });

  it('answers OPTIONS keepalives', async () => {
    const run = await runSipp({ scenario: 'options.xml', target });
    expect(run.code, run.output).toBe(0);
  });

  it('refuses an offer with no codec in common with 488', async () => {
    let rang = false;
    onCall = () => (rang = true);
    const run = await runSipp({ scenario: 'uac-488.xml', target });
    expect(run.code, run.output).toBe(0);
    expect(rang).toBe(false);
  });

  it('rejects INVITEs from sources outside the trusted networks with 403', async () => {
    const strict = new SipEndpoint({
      bind: '127.0.0.1', port: await freePort(), trusted: [ipaddr.parseCIDR('10.0.0.0/8')], rtpPortMin: 32000, rtpPortMax: 32099,
    });
    let rang = false;
    strict.on('call', () => (rang = true));
    await strict.start();
    const run = await runSipp({ scenario: 'uac-403.xml', target: `127.0.0.1:${strict.port}` });
    await strict.stop();
    expect(run.code, run.output).toBe(0);
    expect(rang).toBe(false);
  });

  it('places an outbound call through a trunk that demands digest auth, and only where policy allows', async () => {
    const uas = await startSippUas('uas-digest.xml');
    const caller = new SipEndpoint({
      bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]), rtpPortMin: 33000, rtpPortMax: 33099,
      trunk: { host: '127.0.0.1', port: uas.port, transport: 'UDP', username: 'frontdesk', password: 's3cret-trunk', register: false, callerId: '+15125550100' },
      onOutbound: (e) => outbound.push(e),
    });
    await caller.start();
    try {
      await expect(caller.dial('+19005551234')).rejects.toThrow(/premium-rate/);
      await expect(caller.dial('+442079460958')).rejects.toThrow(/international/);
      const call = await caller.dial('(512) 555-0123');
      expect(call.state).toBe('answered');
      expect(call.to).toBe('+15125550123');
      // Our ACK went out before dial() resolved, so the BYE follows it on the wire.
      await call.hangup();
      const run = await uas.done;
      expect(run.code, run.output).toBe(0);
      expect(outbound).toEqual([
        expect.objectContaining({ to: '+19005551234', allowed: false, kind: 'premium', leg: 'outbound', requestedBy: 'agent' }),
        expect.objectContaining({ to: '+442079460958', allowed: false, kind: 'international' }),
        expect.objectContaining({ to: '+15125550123', allowed: true, kind: 'domestic' }),
      ]);
    } finally {
      await caller.stop();
    }
  }, 30_000);

  it('takes SIP INFO DTMF, follows hold and unhold, and answers a session refresh', async () => {
    const callP = nextCall();
    const sipp = runSipp({ scenario: 'uac-info-hold.xml', target });
    const call = await callP;
    const digits: string[] = [];
    const holds: boolean[] = [];
    call.on('dtmf', (d) => digits.push(d));
    call.on('hold', (h) => holds.push(h));
    await call.answer();
    const run = await sipp;
    expect(run.code, run.output).toBe(0);
    expect(digits).toEqual(['5']);
    expect(holds).toEqual([true, false]);
    expect(call.state).toBe('ended');
  });

  it('stops sending while the caller holds us (sendonly, inactive), keeps sending to a recvonly caller, and resumes', async () => {
    const callP = nextCall();
    const sipp = runSipp({ scenario: 'uac-hold-media.xml', target });
    const call = await callP;
    // Packets we sent by the time of each re-INVITE: on hold, inactive, listening only, resumed, hung up.
    const marks: number[] = [];
    call.on('hold', () => marks.push(call.rtp.stats.packetsOut));
    const ended = new Promise<void>((r) => call.on('ended', () => (marks.push(call.rtp.stats.packetsOut), r())));
    await call.answer();
    // The agent keeps talking the whole time: only the hold may silence it.
    const speech = new Int16Array(8000 * 8).map((_, i) => Math.round(4000 * Math.sin((2 * Math.PI * 440 * i) / 8000)));
    call.play(speech);
    await ended;
    const run = await sipp;
    expect(run.code, run.output).toBe(0);
    expect(marks).toHaveLength(5);
    const [held, inactive, listening, resumed, hungUp] = marks as [number, number, number, number, number];
    // How many packets fit in each of SIPp's pauses depends on how busy the machine is (pacing is
    // `npm run bench`'s): what the caller notices is silence on hold and speech otherwise.
    expect(held).toBeGreaterThan(5); // 600 ms of talk before the hold
    expect(inactive - held).toBe(0); // 800 ms on hold: nothing sent
    expect(listening - inactive).toBe(0); // 600 ms inactive: nothing sent
    expect(resumed - listening).toBeGreaterThan(5); // 800 ms recvonly: they listen, we talk
    expect(hungUp - resumed).toBeGreaterThan(5); // 600 ms after resuming
  });

  it('answers an INVITE without SDP: offers in the 200 and takes the answer from the ACK (delayed offer)', async () => {
    const callP = nextCall();
    const sipp = runSipp({ scenario: 'uac-delayed-offer.xml', target });
    const call = await callP;
    let energy = 0;
    let frames = 0;
    call.on('audio', (f) => {
      frames++;
      for (let i = 0; i < f.pcm.length; i++) energy += Math.abs(f.pcm[i]!);
    });
    await call.answer();
    const run = await sipp;
    expect(run.code, run.output).toBe(0);
    // The ACK's answer chose PCMA, and SIPp's recorded speech came through it.
    expect(call.rtp.codecInUse.codec).toBe('PCMA');
    expect(frames).toBeGreaterThan(50);
    expect(energy / (frames * 160)).toBeGreaterThan(100);
    expect(call.endReason).toBe('remote_hangup');
  });

  it('answers an offer of video, audio and text with three m= lines, the unused ones refused with port 0', async () => {
    const callP = nextCall();
    const sipp = runSipp({ scenario: 'uac-multistream.xml', target });
    const call = await callP;
    await call.answer();
    const run = await sipp;
    expect(run.code, run.output).toBe(0);
    expect(call.endReason).toBe('remote_hangup');
  });

  it('refuses an INVITE that Requires an extension we lack with 420 and Unsupported', async () => {
    let rang = false;
    onCall = () => (rang = true);
    const run = await runSipp({ scenario: 'uac-420.xml', target });
    expect(run.code, run.output).toBe(0);
    expect(rang).toBe(false);
  });

  it('puts ;transport=tcp in the Contact of a call over TCP', async () => {
    const callP = nextCall();
    const sipp = runSipp({ scenario: 'uac-tcp-contact.xml', target, extra: ['-t', 't1'] });
    const call = await callP;
    await call.answer();
    const run = await sipp;
    expect(run.code, run.output).toBe(0);
    expect(call.endReason).toBe('remote_hangup');
  });

  it("resends a re-INVITE's 200 until the ACK comes, and answers a retransmitted re-INVITE with the same 200", async () => {
    const phone = await RawPeer.open(ep.port);
    const callP = nextCall();
    const d = { callId: 'reinvite-retrans@test', fromTag: 'phone1' };
    await phone.send(request(phone, ep.port, { ...d, branch: 'z9hG4bKri1' }));
    const call = await callP;
    await call.answer();
    const ok = await phone.next(/^SIP\/2\.0 200[^]*CSeq: 1 INVITE/);
    const toTag = toTagOf(ok);
    await phone.send(request(phone, ep.port, { ...d, toTag, method: 'ACK', sdp: false, branch: 'z9hG4bKri1ack' }));
    // Hold: a re-INVITE we answer, whose ACK is "lost".
    const reinvite = request(phone, ep.port, { ...d, toTag, cseq: 2, branch: 'z9hG4bKri2' });
    await phone.send(reinvite);
    const first = await phone.next(/^SIP\/2\.0 200[^]*CSeq: 2 INVITE/);
    const again = await phone.next(/^SIP\/2\.0 200[^]*CSeq: 2 INVITE/);
    expect(again).toBe(first);
    // The phone, not hearing back, retransmits its re-INVITE: the same answer, not a new one.
    await phone.send(reinvite);
    expect(await phone.next(/^SIP\/2\.0 200[^]*CSeq: 2 INVITE/)).toBe(first);
    await phone.send(request(phone, ep.port, { ...d, toTag, cseq: 2, method: 'ACK', sdp: false, branch: 'z9hG4bKri2ack' }));
    expect(call.sdpVersion).toBe(2);
    await phone.send(request(phone, ep.port, { ...d, toTag, cseq: 3, method: 'BYE', sdp: false, branch: 'z9hG4bKri3' }));
    await phone.next(/^SIP\/2\.0 200[^]*CSeq: 3 BYE/);
    expect(call.state).toBe('ended');
    phone.close();
  });

  describe('session timers (RFC 4028), with intervals of seconds to keep the test short', () => {
    let st: SipEndpoint;
    let next: (c: SipCall) => void = () => {};
    beforeAll(async () => {
      st = new SipEndpoint({
        bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]), rtpPortMin: 33100, rtpPortMax: 33199,
        sessionTimer: { minSeconds: 2 },
        trunk: { host: '127.0.0.1', port: 9, transport: 'UDP', register: false, callerId: '+15125550100' },
      });
      st.on('call', (c) => next(c as SipCall));
      await st.start();
    });
    afterAll(async () => st.stop());

    it('refuses a too-short interval with 422 and Min-SE, then refreshes the session every half interval', async () => {
      const callP = new Promise<SipCall>((r) => (next = r));
      const sipp = runSipp({ scenario: 'uac-session-timer.xml', target: `127.0.0.1:${st.port}` });
      const call = await callP;
      await call.answer();
      const run = await sipp;
      expect(run.code, run.output).toBe(0);
      expect(call.endReason).toBe('remote_hangup');
    });

    it('ends a session the caller promised to refresh and did not', async () => {
      const callP = new Promise<SipCall>((r) => (next = r));
      const sipp = runSipp({ scenario: 'uac-session-expire.xml', target: `127.0.0.1:${st.port}` });
      const call = await callP;
      await call.answer();
      const ended = await new Promise<string>((r) => call.on('ended', r));
      expect(ended).toBe('session_expired');
      const run = await sipp;
      expect(run.code, run.output).toBe(0);
    });

    it('as the caller: asks for a timer, takes the trunk\'s Min-SE after a 422, and refreshes when made the refresher', async () => {
      const uas = await startSippUas('uas-session-timer.xml');
      const caller = new SipEndpoint({
        bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]), rtpPortMin: 33200, rtpPortMax: 33299,
        sessionTimer: { minSeconds: 2 },
        trunk: { host: '127.0.0.1', port: uas.port, transport: 'UDP', register: false, callerId: '+15125550100' },
      });
      await caller.start();
      try {
        const call = (await Promise.race([caller.dial('+15125550123'), uas.done.then((r) => { throw new Error(r.output); })])) as SipCall;
        expect(call.timer.seconds).toBe(3);
        expect(call.timer.weRefresh).toBe(true);
        // The trunk hangs up once our refresh arrived; without one it would have had to wait for expiry.
        const ended = new Promise<string>((r) => call.on('ended', r));
        const run = await uas.done;
        expect(run.code, run.output).toBe(0);
        expect(await ended).toBe('remote_hangup');
        expect(run.code, run.output).toBe(0);
      } finally {
        await caller.stop();
      }
    });
  });

  describe('our own outbound legs', () => {
    async function caller(port: number) {
      const ep2 = new SipEndpoint({
        bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList(['127.0.0.0/8']), rtpPortMin: 33300, rtpPortMax: 33399,
        trunk: { host: '127.0.0.1', port, transport: 'UDP', register: false, callerId: '+15125550100' },
      });
      await ep2.start();
      return ep2;
    }

    it('CANCELs a leg nobody picks up, so the phone stops ringing', async () => {
      const owner = await startSippUas('uas-cancelled.xml');
      const ep2 = await caller(owner.port);
      try {
        await expect(ep2.dial('+15125550123', { timeoutSeconds: 1 })).rejects.toMatchObject({ status: 487 });
        const run = await owner.done;
        expect(run.code, run.output).toBe(0);
        expect(ep2.activeCalls()).toBe(0);
      } finally {
        await ep2.stop();
      }
    });

    it('ACKs and hangs up a leg answered just as we CANCELled it', async () => {
      const owner = await startSippUas('uas-answer-after-cancel.xml');
      const ep2 = await caller(owner.port);
      try {
        await expect(ep2.dial('+15125550123', { timeoutSeconds: 1 })).rejects.toThrow(/answered after we gave up/);
        const run = await owner.done;
        expect(run.code, run.output).toBe(0);
        expect(ep2.activeCalls()).toBe(0);
      } finally {
        await ep2.stop();
      }
    });
  });

  it('transfers a caller blind with REFER and follows the NOTIFY sipfrag to the final answer', async () => {
    const callP = nextCall();
    const sipp = runSipp({ scenario: 'uac-transferee.xml', target });
    const call = await callP;
    const confirmed = acked(ep, call);
    await call.answer();
    await confirmed;
    const result = await call.transfer({ uri: '101', mode: 'blind' });
    expect(result).toEqual({ ok: true, status: 200, reason: 'OK' });
    const run = await sipp;
    expect(run.code, run.output).toBe(0);
  });

  it('transfers warm: calls the owner, whispers, then hands the caller over with REFER/Replaces', async () => {
    const owner = await startSippUas('uas-owner.xml');
    const callP = nextCall();
    const sipp = runSipp({ scenario: 'uac-transferee-warm.xml', target });
    const call = await callP;
    await call.answer();
    const whisper = new Int16Array(4000).map((_, i) => Math.round(3000 * Math.sin((2 * Math.PI * 660 * i) / 8000)));
    const result = await call.transfer({ uri: `sip:owner@127.0.0.1:${owner.port}`, mode: 'warm', whisper });
    expect(result).toEqual({ ok: true, status: 200, reason: 'OK' });
    const run = await sipp;
    expect(run.code, run.output).toBe(0);
    const ownerRun = await owner.done;
    expect(ownerRun.code, ownerRun.output).toBe(0);
  }, 30_000);

  it('tells the agent when the owner does not pick up for a warm transfer', async () => {
    const callP = nextCall();
    const sipp = runSipp({ scenario: 'uac-remote-bye.xml', target });
    const call = await callP;
    await call.answer();
    // Nobody listens on this port: the INVITE times out or is refused.
    const result = await call.transfer({ uri: `sip:owner@127.0.0.1:${await freePort()}`, mode: 'warm', ringSeconds: 2 });
    expect(result.ok).toBe(false);
    expect(call.state).toBe('answered');
    await call.hangup();
    expect((await sipp).code).toBe(0);
  }, 60_000);

  it('accepts a REFER from a desk phone, tells the app, and reports a target the dial policy refuses (NOTIFY 403)', async () => {
    const callP = nextCall();
    const referred = new Promise<string>((r) => ep.once('refer', (_c, t) => r(t)));
    const sipp = runSipp({ scenario: 'uac-refer-in.xml', target });
    const call = await callP;
    await call.answer();
    expect(await referred).toBe('tel:+19005551234');
    const run = await sipp;
    expect(run.code, run.output).toBe(0);
  });

  it('carries out a desk phone\'s blind transfer (REFER): calls the target, reports the outcome, and the call goes on there', async () => {
    const lan = new SipEndpoint({
      bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList(['127.0.0.0/8']), rtpPortMin: 33400, rtpPortMax: 33499,
    });
    await lan.start();
    try {
      const owner = await startSippUas('uas-owner.xml');
      const callP = new Promise<SipCall>((r) => lan.once('call', (c) => r(c as SipCall)));
      const desk = runSipp({ scenario: 'uac-refer-deskphone.xml', target: `127.0.0.1:${lan.port}`, extra: ['-key', 'refer_to', `sip:owner@127.0.0.1:${owner.port}`] });
      const call = await callP;
      await call.answer();
      const deskRun = await desk;
      expect(deskRun.code, deskRun.output).toBe(0);
      // The agent's call now talks to the owner's phone.
      expect(call.state).toBe('answered');
      const leg = call.continuedOn!;
      expect(leg.state).toBe('answered');
      const before = leg.rtp.stats.packetsOut;
      const beep = new Int16Array(1600).map((_, i) => Math.round(3000 * Math.sin((2 * Math.PI * 440 * i) / 8000)));
      expect((await call.play(beep).done).completed).toBe(true);
      expect(leg.rtp.stats.packetsOut - before).toBeGreaterThanOrEqual(10);
      await call.hangup();
      expect(call.state).toBe('ended');
      const ownerRun = await owner.done;
      expect(ownerRun.code, ownerRun.output).toBe(0);
      expect(lan.activeCalls()).toBe(0);
    } finally {
      await lan.stop();
    }
  });

  it('serves calls over TCP as well as UDP', async () => {
    const callP = nextCall();
    const sipp = runSipp({ scenario: 'uac-remote-bye.xml', target, extra: ['-t', 't1'] });
    const call = await callP;
    const confirmed = acked(ep, call);
    await call.answer();
    await confirmed;
    await call.hangup();
    const run = await sipp;
    expect(run.code, run.output).toBe(0);
  });

  it('challenges a desk phone outside the trusted networks and admits it with the right password', async () => {
    const desk = new SipEndpoint({
      bind: '127.0.0.1', port: await freePort(), trusted: [ipaddr.parseCIDR('10.0.0.0/8')], users: { '101': 'desk-phone-pw' },
      rtpPortMin: 34000, rtpPortMax: 34099,
    });
    await desk.start();
    const callP = new Promise<SipCall>((r) => desk.once('call', (c) => r(c as SipCall)));
    const sipp = runSipp({ scenario: 'uac-deskphone-auth.xml', target: `127.0.0.1:${desk.port}` });
    const call = await callP;
    expect(call.from).toBe('101');
    await call.answer();
    const run = await sipp;
    await desk.stop();
    expect(run.code, run.output).toBe(0);
  });

  it('registers with a credential trunk through a digest challenge', async () => {
    const uas = await startSippUas('uas-register.xml');
    const reg = new SipEndpoint({
      bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]), rtpPortMin: 35000, rtpPortMax: 35099,
      trunk: { host: '127.0.0.1', port: uas.port, transport: 'UDP', username: 'frontdesk', password: 's3cret-trunk', register: true },
    });
    const registered = new Promise<boolean>((r) => reg.once('registered', r));
    await reg.start();
    expect(await registered).toBe(true);
    expect(reg.registered).toBe(true);
    await reg.stop();
    const run = await uas.done;
    expect(run.code, run.output).toBe(0);
  });

  it('answers malformed SIP with 400 or drops it, and keeps serving', async () => {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const replies: string[] = [];
    sock.on('message', (m) => replies.push(m.toString('latin1')));
    const send = (s: string | Buffer) => new Promise<void>((r) => sock.send(s, ep.port, '127.0.0.1', () => r()));
    const base = 'Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKbad1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: bad1\r\n';
    await send(`INVITE sip:x@y SIP/2.0\r\n${base}CSeq: notanumber INVITE\r\nContent-Length: 0\r\n\r\n`);
    await send(`OPTIONS sip:x@y SIP/2.0\r\n${base}CSeq: 1 OPTIONS\r\nContent-Length: 500\r\n\r\nshort`);
    await send(Buffer.from([0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3]));
    await send(`INVITE sip:x@y SIP/2.0\r\n${base}CSeq: 1 INVITE\r\nX-Huge: ${'a'.repeat(9000)}\r\n\r\n`);
    await send('INVITE sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP');
    // A good request after them: its answer comes after any answer to the garbage before it.
    await send(`OPTIONS sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKgood1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: good1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`);
    await vi.waitFor(() => expect(replies.some((r) => r.startsWith('SIP/2.0 200') && r.includes('good1'))).toBe(true));
    expect(replies.filter((r) => r.startsWith('SIP/2.0 400'))).toHaveLength(3);
    expect(replies[0]).toMatch(/^SIP\/2\.0 400 Bad Request \(bad CSeq\)/);
    sock.close();
    const run = await runSipp({ scenario: 'options.xml', target });
    expect(run.code, run.output).toBe(0);
    expect(ep.activeCalls()).toBe(0);
  });
});
