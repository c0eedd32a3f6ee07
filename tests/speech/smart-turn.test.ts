import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatedTurnModel } from '../../scripts/model-writers/speech.js';
import { Fft } from '../../src/speech/turn/fft.js';
import { SmartTurnDetector } from '../../src/speech/turn/smart-turn.js';
import { melFilters, WhisperFeatures } from '../../src/speech/turn/whisper-features.js';
import { GENERATED_MODELS_DIR, concat, silence, sound } from '../helpers/audio.js';

const tone = (hz: number, seconds: number, rate = 16000, amp = 0.3) => Float32Array.from({ length: rate * seconds }, (_, i) => amp * Math.sin((2 * Math.PI * hz * i) / rate));

describe("Smart Turn's features: Whisper's log-mel", () => {
  it('the 400-point FFT is the DFT', () => {
    const n = 400;
    const re = Float64Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) + ((i * 7919) % 13) / 13);
    const im = new Float64Array(n);
    const oRe = new Float64Array(n);
    const oIm = new Float64Array(n);
    new Fft(n).transform(re, im, oRe, oIm);
    let worst = 0;
    for (const k of [0, 1, 7, 50, 123, 200, 399]) {
      let r = 0;
      let m = 0;
      for (let t = 0; t < n; t++) {
        r += re[t]! * Math.cos((-2 * Math.PI * k * t) / n);
        m += re[t]! * Math.sin((-2 * Math.PI * k * t) / n);
      }
      worst = Math.max(worst, Math.abs(r - oRe[k]!), Math.abs(m - oIm[k]!));
    }
    expect(worst).toBeLessThan(1e-9);
  });

  it('Slaney mel bands: 80 triangles that tile 0–8 kHz, narrow and tall at the bottom', () => {
    const f = melFilters();
    expect(f).toHaveLength(80);
    const peakBin = f.map((row) => row.indexOf(Math.max(...row)));
    for (let i = 1; i < 80; i++) expect(peakBin[i]!).toBeGreaterThanOrEqual(peakBin[i - 1]!);
    // Area-normalised: a low band (few bins) is taller than a high one (many bins).
    expect(Math.max(...f[2]!)).toBeGreaterThan(Math.max(...f[75]!));
    // 81 equal steps of Slaney mel up to 8 kHz (45.2 mel): band 26 peaks at 15.1 mel, just above 1 kHz (bin 25, 40 Hz a bin).
    expect(peakBin[26]).toBe(25);
    expect(peakBin[79]).toBe(192); // 7.68 kHz
  });

  it('puts a tone in the band that holds its frequency, for the frames where it sounds', async () => {
    const features = new WhisperFeatures();
    // 2 s of 1 kHz, the newest audio: it lands in the last quarter of the 8 s window.
    const out = await features.compute(tone(1000, 2));
    expect(out).toHaveLength(80 * 800);
    const at = (mel: number, frame: number) => out[mel * 800 + frame]!;
    const frame = 700;
    const loudest = Array.from({ length: 80 }, (_, m) => at(m, frame)).reduce((best, v, m, a) => (v > a[best]! ? m : best), 0);
    expect(melFilters()[loudest]!.indexOf(Math.max(...melFilters()[loudest]!))).toBe(25);
    // Before the tone: the zero padding, clamped to 8 below the peak, (x + 4) / 4.
    const peak = Math.max(...out);
    expect(at(loudest, 100)).toBeCloseTo(peak - 2, 5);
  });
});

describe('Smart Turn v3 on a generated model (Whisper-tiny encoder geometry, random weights)', () => {
  let turn: SmartTurnDetector;
  beforeAll(async () => {
    turn = await SmartTurnDetector.load(generatedTurnModel(GENERATED_MODELS_DIR));
  });
  afterAll(() => turn.close());

  it('judges a caller turn at 8 kHz: a probability, the same for the same audio', async () => {
    const said = concat([sound('demo-thanks'), silence(300)]);
    const a = await turn.decide(said, 8000);
    expect(a.probability).toBeGreaterThanOrEqual(0);
    expect(a.probability).toBeLessThanOrEqual(1);
    expect(a.complete).toBe(a.probability >= 0.5);
    expect((await turn.decide(said, 8000)).probability).toBeCloseTo(a.probability, 6);
    // Only the last 8 s count: older audio before them changes nothing.
    const longer = concat([sound('demo-congrats'), sound('demo-congrats'), said]);
    const tail = longer.subarray(longer.length - 8 * 8000);
    expect((await turn.decide(longer, 8000)).probability).toBeCloseTo((await turn.decide(tail, 8000)).probability, 6);
  });

  it('takes several calls at once without mixing their audio', async () => {
    const x = concat([sound('demo-thanks'), silence(200)]);
    const y = concat([sound('demo-congrats'), silence(200)]);
    const alone = [(await turn.decide(x, 8000)).probability, (await turn.decide(y, 8000)).probability];
    const together = await Promise.all([turn.decide(x, 8000), turn.decide(y, 8000), turn.decide(x, 8000)]);
    expect(together.map((v) => v.probability)).toEqual([alone[0], alone[1], alone[0]].map((p) => expect.closeTo(p!, 6)));
  });

  it('refuses a model that is not Smart Turn with a clear error', async () => {
    const silero = new URL('../../node_modules/@ricky0123/vad-web/dist/silero_vad_v6.onnx', import.meta.url).pathname;
    await expect(SmartTurnDetector.load(silero)).rejects.toThrow(/is not a Smart Turn v3 model/);
  });
});
