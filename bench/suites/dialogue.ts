import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { aroundTheClock } from '../../tests/helpers/contexts.js';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { demoContext } from '../../src/business/context/demo.js';
import { SipEndpoint } from '../../src/telephony/sip/endpoint.js';
import type { Call } from '../../src/telephony/call.js';
import { parseCidrList } from '../../src/util/cidr.js';
import { CliTts } from '../../src/speech/tts/cli.js';
import { EspeakTts } from '../../src/speech/tts/espeak.js';
import { FliteTts } from '../../src/speech/tts/flite.js';
import type { Tts } from '../../src/speech/types.js';
import { freePort } from '../../tests/helpers/ports.js';
import { BUILT_MODELS_DIR, MODELS_DIR, concat } from '../../tests/helpers/audio.js';
import { TestCaller } from '../../tests/helpers/caller.js';
import { percentile, trailingSilenceMs, type Metrics, type Suite } from '../lib.js';

/**
 * Task success over SIP on the offline floor: scripted callers who want something (book, a price,
 * move or cancel a visit, leave a message, reach the owner) call in real time in three synthetic
 * voices (flite, espeak-ng, festival), clean and with line noise, and answer what the agent asks
 * (a day, an address, a name, a yes) from the agent's own transcript, the way a person answers
 * what they heard. A task succeeds when the business shows it (a booking, a moved or cancelled
 * visit, a message, a transfer, a quoted price); turns count the caller's utterances until then.
 * Reply latency is timed on the wire: the caller's last loud packet to the agent's first.
 * BENCH_DIALOGUE_TASKS, BENCH_DIALOGUE_VOICES and BENCH_DIALOGUE_NOISE ("clean,noisy") narrow it.
 */

type TaskName = 'book' | 'quote' | 'move' | 'cancel' | 'message' | 'owner';

interface Task {
  name: TaskName;
  opener: string;
  when?: string;
  message?: string;
}

const TASKS: Task[] = [
  { name: 'book', opener: "Hi, I'd like to book a standard cleaning for next Tuesday at ten in the morning.", when: 'Next Tuesday at ten in the morning.' },
  { name: 'quote', opener: 'How much would a deep cleaning be for a three bedroom house?' },
  { name: 'move', opener: 'I need to move my cleaning to next Thursday at two in the afternoon.', when: 'Next Thursday at two in the afternoon.' },
  { name: 'cancel', opener: 'I need to cancel my cleaning appointment.' },
  { name: 'message', opener: 'Can I leave a message for Maria?', message: 'Please call me back about my invoice. Thank you.' },
  { name: 'owner', opener: 'Can I talk to Maria please?' },
];

const ADDRESS = 'Twelve Oak Street.';
const NAME = 'Pat Morgan.';
const MAX_TURNS = 10;

/** festival's text2wave (Debian package festival): a third, diphone voice. */
class FestivalTts extends CliTts {
  readonly name = 'festival (kal diphone)';
  protected readonly binary = 'sh';
  protected readonly installHint = 'install the Debian package festival';
  protected override readonly viaFile = true;
  protected args(text: string, file: string | undefined): string[] {
    return ['-c', 'printf %s "$1" | text2wave -o "$2"', 'sh', text, file ?? '/dev/stdout'];
  }
}

const VOICES: Record<string, () => Tts> = { flite: () => new FliteTts(), espeak: () => new EspeakTts(), festival: () => new FestivalTts() };

/** Line noise at about -32 dBFS (an old handset on a busy street is worse), deterministic. */
function withNoise(pcm: Int16Array, seed: number): Int16Array {
  let s = seed | 1;
  return pcm.map((x) => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return Math.max(-32768, Math.min(32767, x + ((s % 1600) - 800)));
  });
}

/** What a caller with `task` says to the agent's last words, as a person would answer them. */
function answer(task: Task, agent: string, last: string): { say: string } | { dtmf: string } | { done: true } {
  // People answer the question at the end ("… for 1 bedroom at 10 AM. Shall I book it?" wants a yes).
  const sentences = agent.toLowerCase().split(/(?<=[.?!])\s+/);
  const a = [...sentences].reverse().find((x) => x.includes('?')) ?? sentences.at(-1) ?? '';
  const all = agent.toLowerCase();
  // A keypad menu lists "press 1 to book …, 2 for a price, 3 to change a visit, … or 0 for Maria".
  const keypad = all.includes('press') ? all.match(/\b(\d) (?:to|for) (book|schedul|a price|price|quote|move|reschedul|change|cancel|leave a message|a message|message|talk|speak|reach|maria)/g) : null;
  if (keypad) {
    const want: Record<TaskName, RegExp> = { book: /book|schedul/, quote: /price|quote/, move: /move|reschedul|change/, cancel: /cancel|change/, message: /message/, owner: /talk|speak|reach|maria/ };
    const hit = keypad.find((k) => want[task.name].test(k));
    if (hit) return { dtmf: hit.match(/\d/)![0] };
  }
  if (/anything else|something else|else i can help|else can i help/.test(a)) return { done: true };
  if (/did(?:n't| not) (?:catch|get|understand)|say that again|repeat that|sorry, i/.test(a)) return { say: last };
  if (/\b(address|where (?:is|should|do))\b/.test(a)) return { say: ADDRESS };
  if (/\byour name\b|who am i speaking|name for|what name/.test(a)) return { say: NAME };
  // The agent checks what it heard ("Did you say Tuesday at 10 AM?"): the caller who said it agrees.
  if (/^did you say|was that a yes/.test(a)) return { say: 'Yes.' };
  if (/are you calling to book/.test(a)) return { say: task.name === 'book' ? 'Yes.' : 'No.' };
  if (/bedroom|how big|size of/.test(a)) return { say: 'Three bedrooms.' };
  if (task.message && /message|what would you like|go ahead|after the tone/.test(a)) return { say: task.message };
  if (/is that (?:right|correct)|shall i|should i|would you like (?:me )?to|do you want (?:me )?to|want to go ahead|sound good|is that ok|okay\?|confirm/.test(a)) return { say: 'Yes, please.' };
  if (task.when && /what day|which day|what time|which time|when would|when works|when do you|what date/.test(a)) return { say: task.when };
  if (/i have|i can do|available|openings|one of those|how about|which (?:one |time |day )?(?:works|suits|would you like)/.test(a)) return { say: 'The first one works for me.' };
  // A statement, not a question: say again what you want, in other words the second time.
  return { say: last === task.opener ? task.when ?? 'Yes.' : task.opener };
}

interface Outcome {
  task: TaskName;
  voice: string;
  noisy: boolean;
  success: boolean;
  turns: number;
  latencies: number[];
}

const suite: Suite = {
  description: 'scripted callers over SIP on the offline floor (pocketsphinx, guided flow, flite): book, quote, move, cancel, message, owner × flite/espeak-ng/festival voices × clean/noisy; task success, turns, reply latency on the wire',
  models: () => ['silero-vad v5.1.2', 'pocketsphinx en-us (telephone-adapted)', 'guided-flow engine', 'flite slt (agent)', 'callers: flite slt, espeak-ng en-us, festival kal'],
  async run(): Promise<Metrics> {
    const tasks = (process.env.BENCH_DIALOGUE_TASKS ?? TASKS.map((t) => t.name).join(',')).split(',');
    const voices = (process.env.BENCH_DIALOGUE_VOICES ?? 'flite,espeak,festival').split(',');
    const noises = (process.env.BENCH_DIALOGUE_NOISE ?? 'clean,noisy').split(',');
    const dir = mkdtempSync(join(tmpdir(), 'fd-bench-dialogue-'));
    const sipPort = await freePort();
    const ownerPort = await freePort();
    const app = await createApp(loadConfig({
      FRONTDESK_DATA_DIR: join(dir, 'data'), FRONTDESK_BUILT_MODELS_DIR: BUILT_MODELS_DIR, FRONTDESK_HTTP_HOST: '127.0.0.1',
      FRONTDESK_HTTP_PORT: String(await freePort()), FRONTDESK_SIP_BIND: '127.0.0.1', FRONTDESK_SIP_PORT: String(sipPort),
      FRONTDESK_MODELS_DIR: MODELS_DIR, FRONTDESK_RTP_PORT_MIN: '38200', FRONTDESK_RTP_PORT_MAX: '38299',
    }), silentLogger);
    await app.contexts.save({
      ...demoContext, hours: aroundTheClock, holidays: [],
      owner: { ...demoContext.owner, transferMode: 'blind', targets: [{ label: 'Desk', kind: 'sip', value: `sip:maria@127.0.0.1:${ownerPort}`, ringSeconds: 10 }] },
    }, 'bench');
    await app.start();
    await app.speechReady;
    const phone = new SipEndpoint({
      bind: '127.0.0.1', port: await freePort(), trusted: parseCidrList([]), rtpPortMin: 38300, rtpPortMax: 38399,
      trunk: { host: '127.0.0.1', port: sipPort, transport: 'UDP', register: false, callerId: '+15125550123' },
    });
    await phone.start();
    const outcomes: Outcome[] = [];
    let n = 0;
    try {
      for (const noise of noises) for (const voice of voices) for (const name of tasks) {
        const task = TASKS.find((t) => t.name === name);
        if (!task) throw new Error(`unknown task ${name}`);
        const from = `+1512555${String(2000 + n++).padStart(4, '0')}`;
        outcomes.push(await runOne(app, phone, task, from, VOICES[voice]!(), voice, noise === 'noisy'));
      }
    } finally {
      await phone.stop();
      await app.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    const m: Metrics = {};
    const rate = (os: Outcome[]) => (os.length ? os.filter((o) => o.success).length / os.length : NaN);
    m.calls = outcomes.length;
    m.task_success_rate = rate(outcomes);
    for (const name of tasks) {
      const os = outcomes.filter((o) => o.task === name);
      m[`${name}_success_rate`] = rate(os);
      const won = os.filter((o) => o.success);
      m[`${name}_turns_to_success_mean`] = won.length ? won.reduce((a, o) => a + o.turns, 0) / won.length : NaN;
    }
    for (const voice of voices) m[`voice_${voice}_success_rate`] = rate(outcomes.filter((o) => o.voice === voice));
    for (const noise of noises) m[`${noise}_success_rate`] = rate(outcomes.filter((o) => o.noisy === (noise === 'noisy')));
    const lat = outcomes.flatMap((o) => o.latencies).sort((a, b) => a - b);
    m.reply_on_wire_p50_ms = percentile(lat, 50);
    m.reply_on_wire_p95_ms = percentile(lat, 95);
    for (const o of outcomes) console.log(`${o.success ? 'ok  ' : 'FAIL'} ${o.task.padEnd(8)} ${o.voice.padEnd(9)} ${o.noisy ? 'noisy' : 'clean'} turns ${o.turns}`);
    return m;
  },
};
export default suite;

async function runOne(app: App, phone: SipEndpoint, task: Task, from: string, voice: Tts, voiceName: string, noisy: boolean): Promise<Outcome> {
  const ctx = await app.contexts.get(demoContext.name);
  const { customer } = (await app.business.customers.findOrCreateByPhone(from))!;
  // Move and cancel need a visit to act on: one booked for this caller, three days out.
  let visitId: string | undefined;
  let visitStart: number | undefined;
  if (task.name === 'move' || task.name === 'cancel') {
    // The first free time from three days out (earlier callers' bookings and moves take times too).
    const from = DateTime.now().setZone(ctx.document.timezone).plus({ days: 3 }).startOf('day');
    const { slots } = await app.business.scheduling.available({ context: demoContext.name, service: 'standard', from: from.toJSDate(), to: from.plus({ days: 14 }).toJSDate(), limit: 1 });
    const b = await app.business.scheduling.book({ context: demoContext.name, service: 'standard', start: slots[0]!.start.toJSDate(), customerId: customer.id, source: 'admin' });
    visitId = b.appointment.id;
    visitStart = b.appointment.start.getTime();
  }
  let transferred = false;
  const onRefer = () => (transferred = true);
  phone.on('refer', onRefer);
  const call = await phone.dial('+15125550100', { from });
  const ear = new TestCaller(call);
  const latencies: number[] = [];
  let turns = 0;
  let success = false;
  const startedAt = new Date(Date.now() - 1000);
  const record = async () => (await app.store.db.selectFrom('calls').select('id').where('from_number', '=', from).where('started_at', '>=', startedAt).orderBy('started_at', 'desc').executeTakeFirst())?.id;
  const lastAgentWords = async () => {
    const id = await record();
    const evs = id ? await app.business.calls.events(id) : [];
    return evs.filter((e) => e.kind === 'turn' && e.role === 'agent').at(-1)?.text ?? '';
  };
  const done = async (): Promise<boolean> => {
    switch (task.name) {
      case 'book': return (await app.business.scheduling.list({ customerId: customer.id })).length > 0;
      case 'move': return (await app.business.scheduling.get(visitId!)).start.getTime() !== visitStart;
      case 'cancel': return (await app.business.scheduling.get(visitId!)).status === 'cancelled';
      // The owner gets the words as heard and the recording: a message from this caller is the task done.
      case 'message': return (await app.business.messages.list({ limit: 50 })).some((mm) => mm.caller_number === from);
      case 'owner': return transferred;
      case 'quote': return /\$\s?\d/.test(await lastAgentWords());
    }
  };
  const speak = async (text: string) => {
    const parts: Int16Array[] = [];
    for await (const c of voice.synthesize(text)) parts.push(c.pcm);
    const pcm = noisy ? withNoise(concat(parts), turns + 7) : concat(parts);
    ear.reset();
    await call.play(pcm).done;
    const saidAt = ear.heardMs - trailingSilenceMs(pcm);
    turns++;
    return saidAt;
  };
  try {
    await ear.nextTurn(900, 30_000);
    let last = task.opener;
    let saidAt = await speak(last);
    while ((call as Call).state !== 'ended') {
      const heard = await ear.nextTurn(900, 30_000).then(() => true, () => false);
      if (!heard) break;
      const first = ear.timeline.find((f) => f.at >= saidAt && f.loud);
      if (first) latencies.push(first.at - saidAt);
      if ((success = await done())) break;
      if (turns >= MAX_TURNS || (call as Call).state === 'ended') break;
      const next = answer(task, await lastAgentWords(), last);
      if ('done' in next) break;
      if ('dtmf' in next) {
        await call.sendDtmf(next.dtmf);
        turns++;
        saidAt = ear.heardMs;
        continue;
      }
      last = next.say;
      saidAt = await speak(last);
    }
    success ||= await done();
  } finally {
    phone.off('refer', onRefer);
    if ((call as Call).state !== 'ended') await call.hangup().catch(() => {});
  }
  console.log(`${success ? 'ok  ' : 'FAIL'} ${task.name} (${voiceName}${noisy ? ', noisy' : ''}) in ${turns} turns`);
  // A failed task shows its conversation as the agent heard and answered it: where it went wrong.
  if (!success || process.env.BENCH_DIALOGUE_VERBOSE) {
    const id = await record();
    for (const e of id ? await app.business.calls.events(id) : []) if (e.kind === 'turn' || e.kind === 'dtmf') console.log(`    ${e.role === 'caller' ? 'heard' : e.role}: ${e.text}`);
  }
  return { task: task.name, voice: voiceName, noisy, success, turns, latencies };
}
