import { describe, expect, it } from 'vitest';
import { adaptationProgress } from '../../src/speech/stt/sphinx/adapt.js';

describe('the one-time recognizer adaptation', () => {
  it('says after each step how far along it is and how long the rest should take, from the time taken so far', () => {
    const lines: string[] = [];
    let t = 0;
    const step = adaptationProgress((m) => lines.push(m), () => t);
    t = 6_000; // a busy machine: the audio step alone took 6 s
    step('audio');
    t = 12_000;
    step('features');
    t = 40_000;
    step('statistics');
    t = 42_000;
    step('adaptation');
    expect(lines).toEqual([
      'adapting the recognizer: step 1/5 (audio) done, 15%, about 34 s left',
      'adapting the recognizer: step 2/5 (features) done, 30%, about 28 s left',
      'adapting the recognizer: step 3/5 (statistics) done, 85%, about 7 s left',
      'adapting the recognizer: step 4/5 (adaptation) done, 90%, about 5 s left',
    ]);
  });
});
