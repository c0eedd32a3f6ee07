// Hand-written: no maintained JS answering-machine detector exists; this follows Asterisk's app_amd
// (its word/silence rules and defaults) and adds a Goertzel beep finder for the "after the tone" moment.

/**
 * Answering-machine detection for calls the agent places. A person answers with a short "Hello?"
 * and waits; a machine talks for seconds ("Hi, you've reached…"), often in many words, then beeps.
 * Fed the far end's audio frame by frame (audio keeps wall-clock time, so frames are the clock),
 * it gives a verdict within `totalAnalysisMs`; after a machine verdict, `BeepFinder` says when to
 * start talking: at the beep, or when the greeting has plainly ended without one.
 */

export const amdDefaults = {
  /** Nobody speaks this long after the answer: not sure (a person waiting for us to talk), ms. */
  initialSilenceMs: 2500,
  /** Speech running longer than this without a pause is a recorded greeting, ms. */
  greetingMs: 1500,
  /** Quiet this long after a short greeting means a person waiting for an answer, ms. */
  afterGreetingSilenceMs: 800,
  /** No verdict by then: not sure, ms. */
  totalAnalysisMs: 5000,
  /** Shorter bursts of sound are clicks and line noise, not words, ms. */
  minWordMs: 100,
  /** A quiet gap this long ends a word, ms. */
  betweenWordsSilenceMs: 50,
  /** More words than this before a pause is a recorded greeting ("Hello, this is Pat speaking" is five). */
  maximumWords: 5,
  /** Mean absolute sample value (16-bit) above which a frame carries sound. */
  silenceThreshold: 256,
} as const satisfies Record<string, number>;

export type AmdOptions = { [K in keyof typeof amdDefaults]: number };

export type AmdVerdict =
  | { answeredBy: 'human'; reason: string; atMs: number }
  | { answeredBy: 'machine'; reason: string; atMs: number }
  | { answeredBy: 'unknown'; reason: string; atMs: number };

function meanAbs(pcm: Int16Array): number {
  let s = 0;
  for (let i = 0; i < pcm.length; i++) s += Math.abs(pcm[i]!);
  return pcm.length ? s / pcm.length : 0;
}

/** Asterisk app_amd's state machine over 20 ms frames (any frame length works). */
export class AnsweringMachineDetector {
  private readonly o: AmdOptions;
  private elapsedMs = 0;
  private heardSpeech = false;
  private inWord = false;
  /** Sound since the last gap (a word in progress), and all the greeting's sound so far, ms. */
  private wordMs = 0;
  private greetingMs = 0;
  private silentMs = 0;
  private words = 0;
  private verdict: AmdVerdict | undefined;

  constructor(options: Partial<AmdOptions> = {}) {
    this.o = { ...amdDefaults, ...options };
  }

  /** The verdict once there is one. */
  get result(): AmdVerdict | undefined {
    return this.verdict;
  }

  /** Feeds one frame; returns the verdict once reached (and every time after). */
  accept(pcm: Int16Array, sampleRate: number): AmdVerdict | undefined {
    if (this.verdict) return this.verdict;
    const ms = (pcm.length / sampleRate) * 1000;
    this.elapsedMs += ms;
    const o = this.o;
    if (meanAbs(pcm) > o.silenceThreshold) {
      this.silentMs = 0;
      this.wordMs += ms;
      if (this.heardSpeech) this.greetingMs += ms;
      if (!this.inWord && this.wordMs >= o.minWordMs) {
        this.inWord = true;
        if (!this.heardSpeech) this.greetingMs = this.wordMs;
        this.heardSpeech = true;
        this.words++;
        if (this.words > o.maximumWords) return this.decide('machine', `${this.words} words without a pause`);
      }
      if (this.heardSpeech && this.greetingMs >= o.greetingMs) return this.decide('machine', `a greeting of ${Math.round(this.greetingMs)} ms of speech`);
    } else {
      this.silentMs += ms;
      if (this.silentMs >= o.betweenWordsSilenceMs) {
        // The word is over; a burst too short to be one (a click) is forgotten.
        this.inWord = false;
        this.wordMs = 0;
      }
      if (!this.heardSpeech && this.elapsedMs >= o.initialSilenceMs) return this.decide('unknown', `silent for ${Math.round(this.elapsedMs)} ms after the answer`);
      if (this.heardSpeech && this.silentMs >= o.afterGreetingSilenceMs) return this.decide('human', `a short greeting (${this.words} word${this.words === 1 ? '' : 's'}), then waited`);
    }
    if (this.elapsedMs >= o.totalAnalysisMs) return this.decide('unknown', `no verdict in ${o.totalAnalysisMs} ms`);
    return undefined;
  }

  private decide(answeredBy: AmdVerdict['answeredBy'], reason: string): AmdVerdict {
    this.verdict = { answeredBy, reason, atMs: Math.round(this.elapsedMs) } as AmdVerdict;
    return this.verdict;
  }
}

export const beepDefaults = {
  /** The tone must hold this long, ms (answering machines beep for 200–1000 ms; a vowel can hold one pitch for ~140). */
  minToneMs: 180,
  /** Lowest and highest beep frequency searched, Hz, and the step between Goertzel bins (a 20 ms frame resolves 50 Hz). */
  lowHz: 400,
  highHz: 2500,
  stepHz: 50,
  /** Share of a frame's energy in its strongest bin for the frame to count as a pure tone (a beep: ~1; vowels: up to ~0.95). */
  purity: 0.9,
  /** Quiet after the greeting that means "no beep is coming": talk anyway, ms. */
  noBeepSilenceMs: 2500,
  /** Give up waiting for the greeting to end: talk anyway, ms. */
  maxWaitMs: 30_000,
} as const satisfies Record<string, number>;

export type BeepOptions = { [K in keyof typeof beepDefaults]: number };

/**
 * Finds the end of a recorded greeting: a pure tone held for `minToneMs` that then stops (the
 * beep), or a long silence (machines without a beep), or the wait running out.
 */
export class BeepFinder {
  private readonly o: BeepOptions;
  private elapsedMs = 0;
  private silentMs = 0;
  private toneMs = 0;
  private toneBin = -1;
  private heardBeep = false;
  private done: { why: 'beep' | 'silence' | 'timeout'; atMs: number } | undefined;
  private readonly meter: ToneMeter;

  constructor(options: Partial<BeepOptions> = {}, private readonly silenceThreshold: number = amdDefaults.silenceThreshold) {
    this.o = { ...beepDefaults, ...options };
    this.meter = new ToneMeter(this.o);
  }

  /** Returns why and when to start talking, once it is time. */
  accept(pcm: Int16Array, sampleRate: number): { why: 'beep' | 'silence' | 'timeout'; atMs: number } | undefined {
    if (this.done) return this.done;
    const ms = (pcm.length / sampleRate) * 1000;
    this.elapsedMs += ms;
    const loud = meanAbs(pcm) > this.silenceThreshold;
    const bin = loud ? this.meter.bin(pcm, sampleRate) : -1;
    if (bin >= 0 && (this.toneBin < 0 || Math.abs(bin - this.toneBin) <= 1)) {
      this.toneMs += ms;
      this.toneBin = bin;
      if (this.toneMs >= this.o.minToneMs) this.heardBeep = true;
    } else {
      // The beep is over when the tone stops: that is the moment to talk.
      if (this.heardBeep) return (this.done = { why: 'beep', atMs: Math.round(this.elapsedMs) });
      this.toneMs = bin >= 0 ? ms : 0;
      this.toneBin = bin;
    }
    this.silentMs = loud ? 0 : this.silentMs + ms;
    if (!this.heardBeep && this.silentMs >= this.o.noBeepSilenceMs) return (this.done = { why: 'silence', atMs: Math.round(this.elapsedMs) });
    if (this.elapsedMs >= this.o.maxWaitMs) return (this.done = { why: 'timeout', atMs: Math.round(this.elapsedMs) });
    return undefined;
  }

}

/** Goertzel filters over the beep band: which bin, if any, holds nearly all of a frame's energy. */
export class ToneMeter {
  private readonly freqs: number[] = [];
  private readonly coeffs = new Map<number, Float64Array>();

  constructor(private readonly o: Pick<BeepOptions, 'lowHz' | 'highHz' | 'stepHz' | 'purity'> = beepDefaults) {
    for (let f = o.lowHz; f <= o.highHz; f += o.stepHz) this.freqs.push(f);
  }

  /** The bin holding at least `purity` of the frame's energy, or -1. */
  bin(pcm: Int16Array, sampleRate: number): number {
    const n = pcm.length;
    let energy = 0;
    for (let i = 0; i < n; i++) energy += pcm[i]! * pcm[i]!;
    if (energy === 0) return -1;
    const c = this.coefficients(sampleRate);
    let best = -1;
    let bestPower = 0;
    for (let b = 0; b < c.length; b++) {
      let s1 = 0;
      let s2 = 0;
      const k = c[b]!;
      for (let i = 0; i < n; i++) {
        const s0 = pcm[i]! + k * s1 - s2;
        s2 = s1;
        s1 = s0;
      }
      const power = s1 * s1 + s2 * s2 - k * s1 * s2;
      if (power > bestPower) {
        bestPower = power;
        best = b;
      }
    }
    // A pure tone puts (N/2)·energy into its bin (Parseval); speech spreads it over harmonics.
    return bestPower / ((n / 2) * energy) >= this.o.purity ? best : -1;
  }

  private coefficients(sampleRate: number): Float64Array {
    let c = this.coeffs.get(sampleRate);
    if (!c) {
      c = Float64Array.from(this.freqs, (f) => 2 * Math.cos((2 * Math.PI * f) / sampleRate));
      this.coeffs.set(sampleRate, c);
    }
    return c;
  }
}

/**
 * A person talking over the message the agent leaves: a machine records in silence, so speech
 * from the far end (not a tone) for `talkOverMs` means somebody is there after all.
 */
export class TalkOverDetector {
  private voicedMs = 0;
  private gapMs = 0;
  private readonly meter = new ToneMeter();

  constructor(private readonly talkOverMs = 600, private readonly silenceThreshold: number = amdDefaults.silenceThreshold) {}

  /** True once the far end has talked long enough. */
  accept(pcm: Int16Array, sampleRate: number): true | undefined {
    const ms = (pcm.length / sampleRate) * 1000;
    if (meanAbs(pcm) > this.silenceThreshold && this.meter.bin(pcm, sampleRate) < 0) {
      this.voicedMs += ms;
      this.gapMs = 0;
    } else if ((this.gapMs += ms) > 300) this.voicedMs = 0;
    return this.voicedMs >= this.talkOverMs ? true : undefined;
  }
}
