// npm run call [-- NUMBER] ["QUESTION"]: phones the frontdesk running on this machine with Debian's
// baresip, as a desk phone would: waits for the greeting, asks a spoken question (flite), and prints
// what the agent said. baresip is driven over its ctrl_tcp socket; what it hears is dumped by its
// sndfile module into a WAV that grows as the call goes, read here turn by turn.
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { loadConfig } from '../src/config/index.js';
import { resample, writeWav } from '../src/speech/audio.js';
import { createSpeech, fliteAvailable } from '../src/speech/index.js';
import { EspeakTts } from '../src/speech/tts/espeak.js';
import { FliteTts } from '../src/speech/tts/flite.js';

const callDefaults = {
  /** Quiet that ends one of the agent's turns, ms. */
  turnEndMs: 1_000,
  /** How long to wait for the agent to say something, ms. */
  answerTimeoutMs: 30_000,
  /** How long the whole call may last before baresip quits on its own, s. */
  maxCallS: 120,
  /** Loudness (RMS of 16-bit samples) above which a 20 ms frame is speech. */
  speechRms: 250,
  /** How often the growing recording is read, ms. */
  readEveryMs: 100,
  /** This phone's RTP ports: above frontdesk's default range (20000-20999). */
  rtpPortMin: 21_000,
  rtpPortMax: 21_099,
  /** The caller ID this phone presents. */
  callerId: '+15125550142',
} as const satisfies Record<string, number | string>;

const RATE = 8000;
const FRAME = RATE / 50;

try {
  process.loadEnvFile('.env');
} catch {
  // no .env: the environment alone configures frontdesk
}

const [number = '+15125550100', question = 'What are your hours?'] = process.argv.slice(2);
const cfg = loadConfig(process.env);
const target = cfg.sip.bind === '0.0.0.0' || cfg.sip.bind === '::' ? '127.0.0.1' : cfg.sip.bind;

function freePort(kind: 'udp' | 'tcp'): Promise<number> {
  return new Promise((resolve, reject) => {
    if (kind === 'tcp') {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
      return;
    }
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** baresip's ctrl_tcp: JSON commands and events, each framed as a netstring (`len:json,`). */
class BaresipControl {
  private buf = '';
  private n = 0;
  private readonly waiting = new Map<string, (r: { ok: boolean; data: string }) => void>();
  private readonly listeners = new Set<(e: { type: string; param?: string }) => void>();
  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.take(d));
    sock.on('error', () => undefined);
  }

  static async connect(port: number, deadlineMs: number): Promise<BaresipControl> {
    const until = Date.now() + deadlineMs;
    for (;;) {
      try {
        const sock = await new Promise<Socket>((resolve, reject) => {
          const s = connect(port, '127.0.0.1', () => resolve(s));
          s.once('error', reject);
        });
        return new BaresipControl(sock);
      } catch (e) {
        if (Date.now() > until) throw new Error(`baresip's control socket did not open (${(e as Error).message})`);
        await delay(100);
      }
    }
  }

  private take(d: string): void {
    this.buf += d;
    for (;;) {
      const colon = this.buf.indexOf(':');
      if (colon < 0) return;
      const len = Number(this.buf.slice(0, colon));
      if (this.buf.length < colon + 1 + len + 1) return;
      const msg = JSON.parse(this.buf.slice(colon + 1, colon + 1 + len)) as { event?: boolean; type?: string; param?: string; response?: boolean; ok?: boolean; data?: string; token?: string };
      this.buf = this.buf.slice(colon + 1 + len + 1);
      if (msg.event && msg.type) for (const l of this.listeners) l({ type: msg.type, param: msg.param });
      if (msg.response && msg.token) this.waiting.get(msg.token)?.({ ok: !!msg.ok, data: msg.data ?? '' });
    }
  }

  command(command: string, params?: string): Promise<{ ok: boolean; data: string }> {
    const token = String(++this.n);
    const body = JSON.stringify(params === undefined ? { command, token } : { command, params, token });
    return new Promise((resolve) => {
      this.waiting.set(token, resolve);
      this.sock.write(`${Buffer.byteLength(body)}:${body},`);
    });
  }

  /** Resolves with the first event of one of `types`. */
  next(types: string[]): Promise<{ type: string; param?: string }> {
    return new Promise((resolve) => {
      const l = (e: { type: string; param?: string }): void => {
        if (!types.includes(e.type)) return;
        this.listeners.delete(l);
        resolve(e);
      };
      this.listeners.add(l);
    });
  }

  close(): void {
    this.sock.destroy();
  }
}

/** What the phone hears, read from baresip's growing sndfile dump (16-bit mono at 8 kHz). */
class Heard {
  private pcm = new Int16Array(RATE * 60);
  length = 0;
  private fileOffset = -1;
  constructor(private readonly path: string) {}

  async read(): Promise<void> {
    const fh = await open(this.path, 'r');
    try {
      if (this.fileOffset < 0) {
        // libsndfile writes the header first; the samples follow the 'data' chunk's 8-byte head.
        const head = Buffer.alloc(512);
        const { bytesRead } = await fh.read(head, 0, head.length, 0);
        const at = head.subarray(0, bytesRead).indexOf('data');
        if (at < 0) return;
        this.fileOffset = at + 8;
      }
      const chunk = Buffer.alloc(RATE * 2 * 10);
      for (;;) {
        const { bytesRead } = await fh.read(chunk, 0, chunk.length, this.fileOffset + this.length * 2);
        const samples = bytesRead >> 1;
        if (!samples) return;
        if (this.length + samples > this.pcm.length) {
          const grown = new Int16Array(Math.max(this.pcm.length * 2, this.length + samples));
          grown.set(this.pcm.subarray(0, this.length));
          this.pcm = grown;
        }
        for (let i = 0; i < samples; i++) this.pcm[this.length + i] = chunk.readInt16LE(i * 2);
        this.length += samples;
      }
    } finally {
      await fh.close();
    }
  }

  /** The agent's next turn after sample `from`: speech, then `turnEndMs` of quiet. */
  async nextTurn(from: number, ended: () => boolean): Promise<{ pcm: Int16Array; end: number }> {
    const quietFrames = callDefaults.turnEndMs / 20;
    const until = Date.now() + callDefaults.answerTimeoutMs;
    let start = -1;
    let quiet = 0;
    let at = from;
    for (;;) {
      await this.read();
      for (; at + FRAME <= this.length; at += FRAME) {
        let s = 0;
        for (let i = at; i < at + FRAME; i++) s += this.pcm[i]! * this.pcm[i]!;
        const loud = Math.sqrt(s / FRAME) > callDefaults.speechRms;
        if (loud) {
          if (start < 0) start = at;
          quiet = 0;
        } else if (start >= 0 && ++quiet >= quietFrames) {
          return { pcm: this.pcm.slice(start, at), end: at };
        }
      }
      if (ended()) {
        if (start >= 0) return { pcm: this.pcm.slice(start, at), end: at };
        throw new Error('the call ended');
      }
      if (start < 0 && Date.now() > until) throw new Error(`frontdesk said nothing within ${callDefaults.answerTimeoutMs / 1000} s`);
      await delay(callDefaults.readEveryMs);
    }
  }
}

async function main(): Promise<number> {
  if (spawnSync('baresip', ['-h']).error) {
    process.stderr.write('call: needs baresip, the SIP phone it dials with (Debian: apt-get install baresip)\n');
    return 1;
  }
  const speech = createSpeech({ modelsDir: cfg.modelsDir, builtModelsDir: cfg.builtModelsDir, sttModel: cfg.sttModel });
  // The recognizer the server built on its first start; without it the call still works, unheard.
  const ready = speech.prepare().catch(() => undefined);
  const dir = mkdtempSync(join(tmpdir(), 'frontdesk-call-'));
  let phone: ReturnType<typeof spawn> | undefined;
  let control: BaresipControl | undefined;
  try {
    // The question, then quiet: baresip ends a call when its file source runs out.
    const voice = fliteAvailable() ? new FliteTts() : new EspeakTts();
    const parts: Int16Array[] = [];
    let rate = RATE;
    for await (const c of voice.synthesize(question)) (parts.push(c.pcm), (rate = c.sampleRate));
    const said = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((o, p) => (said.set(p, o), o + p.length), 0);
    const spoken = resample(said, rate, RATE);
    const asked = new Int16Array(spoken.length + RATE * callDefaults.maxCallS);
    asked.set(spoken);
    writeFileSync(join(dir, 'question.wav'), writeWav(asked, RATE));
    writeFileSync(join(dir, 'quiet.wav'), writeWav(new Int16Array(RATE * callDefaults.maxCallS), RATE));

    const sipPort = await freePort('udp');
    const ctrlPort = await freePort('tcp');
    writeFileSync(join(dir, 'config'), [
      'module_path /usr/lib/baresip/modules',
      `sip_listen 127.0.0.1:${sipPort}`,
      'module g711.so', 'module aufile.so', 'module alsa.so', 'module sndfile.so',
      'module_app account.so', 'module_app menu.so', 'module_app ctrl_tcp.so',
      `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
      `snd_path ${dir}`,
      `audio_source aufile,${join(dir, 'quiet.wav')}`,
      // Heard audio goes to the sndfile dump; the player itself is ALSA's null device.
      'audio_player alsa,null', 'audio_alert aufile,/dev/null',
      `ausrc_srate ${RATE}`, `auplay_srate ${RATE}`, 'ausrc_channels 1', 'auplay_channels 1',
      `rtp_ports ${callDefaults.rtpPortMin}-${callDefaults.rtpPortMax}`,
      '',
    ].join('\n'));
    writeFileSync(join(dir, 'accounts'), `<sip:${callDefaults.callerId}@127.0.0.1>;regint=0;audio_codecs=PCMU\n`);

    process.stdout.write(`calling ${number} at ${target}:${cfg.sip.port} with baresip ...\n`);
    phone = spawn('baresip', ['-f', dir, '-t', String(callDefaults.maxCallS)], { stdio: 'ignore' });
    let exited = false;
    phone.on('exit', () => (exited = true));
    control = await BaresipControl.connect(ctrlPort, 10_000);
    let closed: string | undefined;
    void control.next(['CALL_CLOSED']).then((e) => (closed = e.param ?? 'closed'));
    // Dialled over the control socket once it is open, so no event of the call can be missed.
    const answered = control.next(['CALL_ESTABLISHED', 'CALL_CLOSED']);
    const dialled = await control.command('dial', `sip:${number}@${target}:${cfg.sip.port}`);
    if (!dialled.ok) throw new Error(`baresip could not dial (${dialled.data})`);
    const up = await Promise.race([answered, delay(callDefaults.answerTimeoutMs).then(() => ({ type: 'timeout', param: 'no answer' }))]);
    if (up.type !== 'CALL_ESTABLISHED') throw new Error(`the call was not answered (${up.param ?? up.type})`);

    let dump: string | undefined;
    while (!dump) {
      dump = (await readdir(dir)).find((f) => f.endsWith('-dec.wav'));
      if (!dump) await delay(callDefaults.readEveryMs);
    }
    const heard = new Heard(join(dir, dump));
    const ended = () => exited || closed !== undefined;
    const hear = async (pcm: Int16Array): Promise<string> => {
      await ready;
      if (!speech.transcribe) return `(${(pcm.length / RATE).toFixed(1)} s of speech; no recognizer here to write it down)`;
      return (await speech.transcribe(pcm, RATE)) || '(not understood)';
    };

    const greeting = await heard.nextTurn(0, ended);
    // Asked at once, as a person would; the greeting is written down while the agent answers.
    await heard.read();
    const askedAt = heard.length;
    const switched = await control.command('ausrc', `aufile,${join(dir, 'question.wav')}`);
    if (!switched.ok) throw new Error(`baresip could not play the question (${switched.data})`);
    const greeted = hear(greeting.pcm);
    // The answer starts after the question has been said.
    const answer = heard.nextTurn(askedAt + spoken.length, ended);
    answer.catch(() => undefined);
    process.stdout.write(`frontdesk: ${await greeted}\n`);
    process.stdout.write(`you:       ${question}\n`);
    process.stdout.write(`frontdesk: ${await hear((await answer).pcm)}\n`);
    if (!ended()) await control.command('hangup');
    return 0;
  } catch (e) {
    process.stderr.write(`call: ${(e as Error).message} (is \`npm start\` running? \`npx frontdesk doctor\` checks the SIP port)\n`);
    return 1;
  } finally {
    if (control) {
      await Promise.race([control.command('quit'), delay(2_000)]);
      control.close();
    }
    if (phone && phone.exitCode === null) {
      const gone = new Promise((r) => phone!.once('exit', r));
      phone.kill('SIGTERM');
      await Promise.race([gone, delay(3_000)]);
    }
    rmSync(dir, { recursive: true, force: true });
    speech.close();
  }
}

process.exitCode = await main();
