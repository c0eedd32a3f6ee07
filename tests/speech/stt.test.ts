import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SphinxStt } from '../../src/speech/stt/sphinx/index.js';
import { ALLISON, SPHINX_DICT, SPHINX_GENERAL_LM, prompts } from '../../src/speech/stt/sphinx/adapt.js';
import { telephoneModelDir } from '../../src/speech/index.js';
import { FliteTts } from '../../src/speech/tts/flite.js';
import { readWav } from '../../src/speech/audio.js';
import { encodeG711, decodeG711 } from '../../src/telephony/rtp/g711.js';
import { contextPhrases, questionPhrases } from '../../src/agent/voice/phrases.js';
import { dialogueDefaults } from '../../src/agent/guided/options.js';
import type { SttStreamOptions } from '../../src/speech/types.js';
import { spokenToText } from '../../src/agent/voice/transcript.js';
import { contextSchema } from '../../src/business/context/schema.js';
import { demoContext } from '../../src/business/context/demo.js';
import { BUILT_MODELS_DIR, concat, frames, silence, sound } from '../helpers/audio.js';
import { wordErrorRate } from '../helpers/wer.js';

const MODEL = telephoneModelDir(BUILT_MODELS_DIR);
const hints = contextPhrases(contextSchema.parse(demoContext));

async function transcribe(stt: SphinxStt, pcm: Int16Array, h: readonly string[] = hints): Promise<string> {
  const s = stt.stream(h);
  for (const f of frames(pcm)) s.accept(f, 8000);
  return (await s.finish()).text;
}

/** What a phone line does to a voice: 8 kHz, μ-law there and back. */
function telephone(pcm: Int16Array): Int16Array {
  const enc = new Uint8Array(pcm.length);
  encodeG711('PCMU', pcm, 0, pcm.length, enc, 0);
  const out = new Int16Array(pcm.length);
  decodeG711('PCMU', enc, 0, enc.length, out);
  return out;
}

async function say(text: string, voice = 'slt'): Promise<Int16Array> {
  const parts: Int16Array[] = [];
  for await (const c of new FliteTts({ voice }).synthesize(text)) parts.push(c.pcm);
  return telephone(concat(parts));
}

describe('offline speech recognition (pocketsphinx adapted to telephone audio)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-stt-'));
  let stt: SphinxStt;
  beforeAll(() => {
    stt = new SphinxStt({ model: MODEL, workDir: dir });
  });
  afterAll(() => {
    stt.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('transcribes held-out human recordings (never used to adapt the model) below 40% word errors with general English', async () => {
    const general = new SphinxStt({ model: MODEL, languageModel: { lm: SPHINX_GENERAL_LM, dictionary: SPHINX_DICT } });
    const { heldOut, train } = await prompts();
    expect(heldOut.length).toBeGreaterThan(80);
    expect(train.some((t) => heldOut.some((h) => h.name === t.name))).toBe(false);
    let errors = 0;
    let words = 0;
    for (const p of heldOut.slice(0, 30)) {
      const { pcm } = readWav(readFileSync(`${ALLISON}/${p.name}.wav`));
      const hyp = await transcribe(general, pcm, []);
      errors += wordErrorRate(p.words.join(' '), hyp) * p.words.length;
      words += p.words.length;
    }
    general.close();
    // Measured 30% here; Debian's wideband model unadapted scores about 77% on the same prompts.
    expect(errors / words).toBeLessThan(0.4);
  }, 120_000);

  it("hears what callers say to the business through a phone line, in four synthetic voices, below 15% word errors", async () => {
    const lines = [
      'I would like a standard cleaning next tuesday at ten in the morning.', 'Twelve main street.', 'Yes please.',
      "That's all, goodbye.", 'What services do you offer?', 'How much is a deep cleaning for three bedrooms?',
      'Can I leave a message for Maria?', 'I need to cancel my appointment.', 'Do you have anything on friday afternoon?',
      'What are your hours?', 'Can you come tomorrow at two p.m.?',
    ];
    let errors = 0;
    let words = 0;
    for (const voice of ['slt', 'kal', 'awb', 'rms']) {
      for (const line of lines) {
        const w = line.split(/\s+/).length;
        errors += wordErrorRate(line, await transcribe(stt, await say(line, voice))) * w;
        words += w;
      }
    }
    expect(errors / words).toBeLessThan(0.15);
  }, 120_000);

  it('the agent hears a time of day the way the date parser reads it', async () => {
    const heard = await transcribe(stt, await say('Can you come tomorrow at two p.m.?'));
    expect(spokenToText(heard)).toMatch(/\b2 pm\b/);
  });

  it('streams: partial words while the caller is still talking, then a final with timing', async () => {
    const pcm = concat([silence(300), await say('I would like a standard cleaning next tuesday'), silence(300)]);
    const s = stt.stream(hints);
    const partials: string[] = [];
    for (const f of frames(pcm)) {
      s.accept(f, 8000);
      // Real time would be 20 ms a frame; a few ms lets the decoder's worker keep up.
      await new Promise((r) => setTimeout(r, 4));
      if (s.partial()) partials.push(s.partial());
    }
    const final = await s.finish();
    expect(partials.length).toBeGreaterThan(0);
    expect(partials[0]!.split(' ').length).toBeLessThan(final.text.split(' ').length);
    expect(final.final).toBe(true);
    expect(final.text).toContain('standard cleaning');
    expect(final.startMs).toBeGreaterThanOrEqual(200);
    expect(final.endMs).toBeGreaterThan(final.startMs + 1000);
  });

  it('a stream abandoned mid-sentence frees its decoder for the next caller', async () => {
    const a = stt.stream(hints);
    for (const f of frames(await say('How much is a deep'))) a.accept(f, 8000);
    a.close();
    expect(await transcribe(stt, await say('Yes please.'))).toBe('yes please');
  });

  async function hear(pcm: Int16Array, question?: SttStreamOptions['question']) {
    const s = stt.stream(hints, { question });
    for (const f of frames(pcm)) s.accept(f, 8000);
    return s.finish();
  }

  it('says how sure it is: clear speech above what the dialogue acts on, a recording of other words below what it confirms; other readings come along', async () => {
    const clear = await hear(await say('I would like a standard cleaning next tuesday at ten in the morning.'));
    // Measured: 0.94 (the mean of the content words' lattice posteriors).
    expect(clear.confidence).toBeGreaterThan(dialogueDefaults.actAtConfidence);
    expect(clear.nbest?.length).toBeGreaterThan(0);
    expect(clear.nbest).not.toContain(clear.text);
    // Words the business's model was never meant for ("you are the only person in this conference"): measured 0.46.
    const other = await hear(sound('conf-onlyperson'));
    expect(other.text).not.toBe('');
    expect(other.confidence).toBeLessThan(dialogueDefaults.confirmAtConfidence);
    // Nothing said, nothing to be sure of.
    expect((await hear(silence(1000))).confidence).toBeUndefined();
  });

  it("after a yes-or-no question, hears the answer with that question's model: the right word, and surer of it", async () => {
    const yn = { name: 'yes_no' as const, phrases: questionPhrases(contextSchema.parse(demoContext), 'yes_no') };
    // A phone-line "yes" the general model hears as "just".
    const yes = await say('Yes.', 'rms');
    expect((await hear(yes)).text).toBe('just');
    expect((await hear(yes, yn)).text).toBe('yes');
    // Measured: 0.69 with the general model, 0.97 with the question's.
    const please = await say('Yes please.', 'awb');
    const [plain, asked] = [await hear(please), await hear(please, yn)];
    expect(asked.text).toBe('yes please');
    expect(asked.confidence!).toBeGreaterThan(plain.confidence!);
    expect(asked.confidence!).toBeGreaterThan(dialogueDefaults.actAtConfidence);
    // The question's model still hears an answer that is no yes or no.
    expect((await hear(await say('I need to cancel my appointment.'), yn)).text).toBe('i need to cancel my appointment');
  });

  it('hears phone numbers read digit by digit (62% word errors when its language model lacked the digit words)', async () => {
    const ref = 'my number is five one two five five five zero one four two';
    let errors = 0;
    for (const voice of ['slt', 'kal']) {
      const text = await transcribe(stt, await say('My number is five one two, five five five, zero one four two.', voice));
      errors += wordErrorRate(ref, text.replace(/\boh\b/g, 'zero'));
    }
    expect(errors / 2).toBeLessThan(1 / 3);
  });

  it('hears the same audio the same way whoever called before (no channel carried between callers)', async () => {
    // One pooled decoder for every call: what one caller's line did to the cepstral mean must not
    // change how the next caller is heard.
    const own = new SphinxStt({ model: MODEL, workDir: join(dir, 'own') });
    try {
      const question = await say('Can you come next Tuesday at ten a.m.?');
      const hear = async (pcm: Int16Array) => {
        const s = own.stream(hints);
        for (const f of frames(pcm)) s.accept(f, 8000);
        const h = await s.finish();
        return `${h.text} @${h.startMs}-${h.endMs}`;
      };
      const first = await hear(question);
      // A caller on a quiet, muffled line: a very different channel.
      const quiet = (await say('I would like a quote for a deep cleaning please', 'kal')).map((v) => Math.round(v * 0.04));
      for (let i = 0; i < 3; i++) await hear(Int16Array.from(quiet));
      expect(await hear(question)).toBe(first);
    } finally {
      own.close();
    }
  });

  it('refuses a missing model with a message that says how to get it', () => {
    expect(() => new SphinxStt({ model: join(dir, 'nope') })).toThrow(/missing.*first start.*apt-get install/);
  });
});

describe('spoken times for the date parser', () => {
  it.each([
    ['at ten thirty a.m.', 'at 10:30 am'],
    ['two in the afternoon', '2 pm'],
    ["at four o'clock", 'at 4:00'],
    ['next tuesday at ten in the morning', 'next tuesday at 10 am'],
    ['a three bedroom house', 'a three bedroom house'],
    ['three bedrooms at nine forty five', 'three bedrooms at 9:45'],
  ])('%s → %s', (spoken, text) => {
    expect(spokenToText(spoken)).toBe(text);
  });
});
