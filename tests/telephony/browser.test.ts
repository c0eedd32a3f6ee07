import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { BrowserLine } from '../../src/telephony/browser/index.js';
import type { BrowserCall } from '../../src/telephony/browser/call.js';
import type { AudioFrame } from '../../src/telephony/call.js';

/** The browser test line's wire, as a browser (or something pretending to be one) speaks it. */
describe('browser call backend', () => {
  const line = new BrowserLine();
  let server: Server;
  let url = '';
  const incoming: ((c: BrowserCall) => void)[] = [];

  beforeAll(async () => {
    server = createServer((_req, res) => res.writeHead(404).end());
    server.on('upgrade', (req, sock, head) => {
      const rate = new URL(req.url ?? '/', 'http://x').searchParams.get('rate') === '8000' ? 8000 : 16000;
      void line.accept(req, sock, head, { from: 'browser:maria', to: '+15125550100', sampleRate: rate }).then((c) => c && incoming.shift()?.(c));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `ws://127.0.0.1:${(server.address() as { port: number }).port}/api/test-call`;
  });
  afterAll(async () => {
    await line.stop();
    await new Promise((r) => server.close(r));
  });

  async function connect(rate = 16000) {
    const got = new Promise<BrowserCall>((r) => incoming.push(r));
    const ws = new WebSocket(`${url}?rate=${rate}`);
    const messages: (Buffer | Record<string, unknown>)[] = [];
    const waiters: { match: (m: Buffer | Record<string, unknown>) => boolean; resolve: (m: Buffer | Record<string, unknown>) => void }[] = [];
    ws.on('message', (data, binary) => {
      const m = binary ? (data as Buffer) : (JSON.parse(String(data)) as Record<string, unknown>);
      messages.push(m);
      for (const w of [...waiters]) if (w.match(m)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(m); }
    });
    await new Promise((r) => ws.once('open', r));
    const next = (match: (m: Buffer | Record<string, unknown>) => boolean) => {
      const seen = messages.find(match);
      return seen ? Promise.resolve(seen) : new Promise<Buffer | Record<string, unknown>>((resolve) => waiters.push({ match, resolve }));
    };
    return { ws, call: await got, messages, next };
  }

  it('carries the microphone in and the agent out as 16-bit PCM, with DTMF, barge-in and hang-up', async () => {
    const { ws, call, next } = await connect();
    expect(call.sampleRate).toBe(16000);
    await call.answer();
    await next((m) => !Buffer.isBuffer(m) && m.type === 'answered');
    // A frame of speech in: delivered as the same samples at the call's rate.
    const frame = new Int16Array(320).map((_, i) => (i % 2 ? 1000 : -1000));
    const heard = new Promise<AudioFrame>((r) => {
      const on = (f: AudioFrame) => { if (f.pcm.some((s) => s !== 0)) { call.off('audio', on); r({ pcm: f.pcm.slice(), sampleRate: f.sampleRate }); } };
      call.on('audio', on);
    });
    ws.send(Buffer.from(frame.buffer));
    expect(await heard).toEqual({ pcm: frame, sampleRate: 16000 });
    // When the browser sends nothing, audio in keeps wall-clock time with silence.
    await new Promise<void>((r) => {
      let quiet = 0;
      const on = (f: AudioFrame) => { if (f.pcm.every((s) => s === 0) && ++quiet === 5) { call.off('audio', on); r(); } };
      call.on('audio', on);
    });
    const digit = new Promise<string>((r) => call.once('dtmf', r));
    ws.send(JSON.stringify({ type: 'dtmf', digit: '5' }));
    expect(await digit).toBe('5');
    // The agent's voice out, in 20 ms frames.
    const voice = new Int16Array(16000 * 0.1).map((_, i) => i);
    const played = await call.play(voice).done;
    expect(played).toEqual({ completed: true, playedMs: 100 });
    const first = (await next((m) => Buffer.isBuffer(m))) as Buffer;
    expect(first.length).toBe(640);
    expect(first.readInt16LE(2)).toBe(1);
    // Barge-in: a long reply cut off; the browser is told to drop what it holds.
    const long = call.play(new Int16Array(16000 * 5).fill(500));
    await next((m) => Buffer.isBuffer(m) && m.readInt16LE(0) === 500);
    call.stopPlayback();
    expect((await long.done).completed).toBe(false);
    await next((m) => !Buffer.isBuffer(m) && m.type === 'clear');
    const ended = new Promise<string>((r) => call.once('ended', r));
    ws.close();
    expect(await ended).toBe('remote_hangup');
    expect(line.activeCalls()).toBe(0);
  });

  it('shrugs off what a broken or hostile page sends: odd bytes, huge frames, junk JSON', async () => {
    const { ws, call, next } = await connect(8000);
    await call.answer();
    await next((m) => !Buffer.isBuffer(m) && m.type === 'answered');
    const loud: AudioFrame[] = [];
    call.on('audio', (f) => { if (f.pcm.some((s) => s !== 0)) loud.push(f); });
    ws.send(Buffer.from([1, 2, 3])); // not whole samples
    ws.send(Buffer.alloc(8000 * 2 * 2, 1)); // two seconds in one message
    ws.send('not json');
    ws.send(JSON.stringify({ type: 'dtmf', digit: 'x; DROP TABLE' }));
    ws.send(JSON.stringify([1, 2, 3]));
    // Still up, and a good frame still goes through.
    const good = new Promise<AudioFrame>((r) => call.on('audio', (f) => { if (f.pcm[0] === 7) r(f); }));
    ws.send(Buffer.from(new Int16Array(160).fill(7).buffer));
    expect((await good).pcm.length).toBe(160);
    expect(loud.every((f) => f.pcm[0] === 7)).toBe(true);
    expect(call.state).toBe('answered');
    // A message too big for the socket closes it; the call ends, nothing else does.
    const ended = new Promise<string>((r) => call.once('ended', r));
    ws.send(Buffer.alloc(200 * 1024));
    expect(await ended).toBe('network_error');
  });

  it('hangs up from our side with the reason, and the browser is told', async () => {
    const { call, next } = await connect();
    await call.answer();
    await call.hangup('test_over');
    expect(await next((m) => !Buffer.isBuffer(m) && m.type === 'ended')).toEqual({ type: 'ended', reason: 'test_over' });
    expect(call.state).toBe('ended');
    expect((await call.play(new Int16Array(160)).done).completed).toBe(false);
  });
});
