// npm run call [-- NUMBER] ["QUESTION"]: places a phone call to the frontdesk running on this machine,
// over SIP and RTP like any desk phone, asks a spoken question and prints what the agent said.
import { createSocket } from 'node:dgram';
import { loadConfig } from '../src/config/index.js';
import { SipEndpoint } from '../src/telephony/sip/endpoint.js';
import { parseCidrList } from '../src/util/cidr.js';
import { FliteTts } from '../src/speech/tts/flite.js';
import { EspeakTts } from '../src/speech/tts/espeak.js';
import { createSpeech, fliteAvailable } from '../src/speech/index.js';
import type { Call } from '../src/telephony/call.js';

const callDefaults = {
  /** Quiet that ends one of the agent's turns, ms. */
  turnEndMs: 1_000,
  /** How long to wait for the agent to say something, ms. */
  answerTimeoutMs: 30_000,
  /** Loudness (RMS of 16-bit samples) above which a frame is speech. */
  speechRms: 250,
  /** This phone's RTP ports: above frontdesk's default range (20000-20999). */
  rtpPortMin: 21_000,
  rtpPortMax: 21_099,
} as const satisfies Record<string, number>;

try {
  process.loadEnvFile('.env');
} catch {
  // no .env: the environment alone configures frontdesk
}

const [number = '+15125550100', question = 'What are your hours?'] = process.argv.slice(2);
const cfg = loadConfig(process.env);
const target = cfg.sip.bind === '0.0.0.0' || cfg.sip.bind === '::' ? '127.0.0.1' : cfg.sip.bind;

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function rms(pcm: Int16Array): number {
  let s = 0;
  for (const v of pcm) s += v * v;
  return Math.sqrt(s / Math.max(1, pcm.length));
}

/** Resolves with the agent's next turn: speech, then `turnEndMs` of quiet. */
function nextTurn(call: Call): Promise<Int16Array> {
  return new Promise((resolve, reject) => {
    const parts: Int16Array[] = [];
    let heard = false;
    let quietMs = 0;
    const done = (err?: Error) => {
      clearTimeout(timer);
      call.off('audio', onAudio);
      call.off('ended', onEnded);
      if (err && !heard) return reject(err);
      const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) (out.set(p, o), (o += p.length));
      resolve(out);
    };
    const onAudio = (f: { pcm: Int16Array; sampleRate?: number }) => {
      const loud = rms(f.pcm) > callDefaults.speechRms;
      if (loud) heard = true;
      if (!heard) return;
      parts.push(Int16Array.from(f.pcm));
      quietMs = loud ? 0 : quietMs + (f.pcm.length / 8000) * 1000;
      if (quietMs >= callDefaults.turnEndMs) done();
    };
    const onEnded = () => done(new Error('the call ended'));
    const timer = setTimeout(() => done(new Error(`frontdesk said nothing within ${callDefaults.answerTimeoutMs / 1000} s`)), callDefaults.answerTimeoutMs);
    call.on('audio', onAudio);
    call.on('ended', onEnded);
  });
}

async function main(): Promise<number> {
  const speech = createSpeech({ modelsDir: cfg.modelsDir, builtModelsDir: cfg.builtModelsDir, sttModel: cfg.sttModel });
  // The recognizer the server built on its first start; without it the call still works, unheard.
  const ready = speech.prepare().catch(() => undefined);
  const voice = fliteAvailable() ? new FliteTts() : new EspeakTts();
  const phone = new SipEndpoint({
    bind: '127.0.0.1', port: await freeUdpPort(), trusted: parseCidrList([]), rtpPortMin: callDefaults.rtpPortMin, rtpPortMax: callDefaults.rtpPortMax,
    trunk: { host: target, port: cfg.sip.port, transport: 'UDP', register: false, callerId: '+15125550142' },
  });
  await phone.start();
  const hear = async (pcm: Int16Array): Promise<string> => {
    await ready;
    if (!speech.transcribe) return `(${(pcm.length / 8000).toFixed(1)} s of speech; no recognizer here to write it down)`;
    return (await speech.transcribe(pcm, 8000)) || '(not understood)';
  };
  try {
    process.stdout.write(`calling ${number} at ${target}:${cfg.sip.port} ...\n`);
    const call = await phone.dial(number);
    process.stdout.write(`frontdesk: ${await hear(await nextTurn(call))}\n`);
    process.stdout.write(`you:       ${question}\n`);
    const answer = nextTurn(call);
    await call.play((async function* () {
      for await (const c of voice.synthesize(question)) yield c.pcm;
    })()).done;
    process.stdout.write(`frontdesk: ${await hear(await answer)}\n`);
    await call.hangup();
    return 0;
  } catch (e) {
    process.stderr.write(`call: ${(e as Error).message} (is \`npm start\` running? \`npx frontdesk doctor\` checks the SIP port)\n`);
    return 1;
  } finally {
    await phone.stop();
    speech.close();
  }
}

process.exitCode = await main();
