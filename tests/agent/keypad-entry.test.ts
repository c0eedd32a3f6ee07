import { describe, expect, it } from 'vitest';
import { KeypadEntry, digitsWanted } from '../../src/agent/voice/keypad-entry.js';

/** Keys as a caller presses them, on an injected clock (ms since the question was asked). */
describe('a number keyed on the keypad', () => {
  const size = digitsWanted({ kind: 'ask_size', start: '2026-12-03T09:00:00.000-06:00' });
  const entry = () => new KeypadEntry('0', { interDigitTimeoutMs: 3_000 });

  it('is one answer when the caller presses pound', () => {
    const k = entry();
    expect(k.press('1', 0, size)).toEqual({ kind: 'wait' });
    expect(k.press('#', 800, size)).toEqual({ kind: 'answer', keys: '1' });
    expect(k.active).toBe(false);
  });

  it('is one answer as soon as it has as many digits as the question takes', () => {
    const k = entry();
    expect(k.press('1', 0, size)).toEqual({ kind: 'wait' });
    expect(k.press('2', 500, size)).toEqual({ kind: 'answer', keys: '12' });
  });

  it('is taken as keyed once the caller pauses after the last digit', () => {
    const k = entry();
    k.press('4', 1_000, size);
    expect(k.tick(3_999)).toBeUndefined();
    expect(k.tick(4_000)).toBe('4');
    // Taken once.
    expect(k.tick(9_000)).toBeUndefined();
  });

  it('each digit restarts the pause', () => {
    const k = new KeypadEntry('0', { interDigitTimeoutMs: 3_000 });
    k.press('1', 0, { maxLength: 10 });
    k.press('2', 2_500, { maxLength: 10 });
    expect(k.tick(5_000)).toBeUndefined();
    expect(k.tick(5_500)).toBe('12');
  });

  it('star clears what was keyed; the caller starts again', () => {
    const k = entry();
    k.press('9', 0, size);
    expect(k.press('*', 300, size)).toEqual({ kind: 'wait' });
    expect(k.tick(10_000)).toBeUndefined();
    k.press('3', 11_000, size);
    expect(k.press('#', 11_500, size)).toEqual({ kind: 'answer', keys: '3' });
  });

  it('the transfer key reaches the owner before a number is started, and is a digit inside one', () => {
    const k = entry();
    expect(k.press('0', 0, size)).toEqual({ kind: 'transfer' });
    k.press('1', 100, size);
    expect(k.press('0', 200, size)).toEqual({ kind: 'answer', keys: '10' });
  });

  it('pound with nothing keyed answers nothing', () => {
    const k = entry();
    expect(k.press('#', 0, size)).toEqual({ kind: 'wait' });
  });

  it('a menu question takes one key at once, and its transfer key transfers', () => {
    const k = entry();
    const menu = digitsWanted({ kind: 'keypad' });
    expect(menu).toBeUndefined();
    expect(k.press('2', 0, menu)).toEqual({ kind: 'answer', keys: '2' });
    expect(k.press('0', 100, menu)).toEqual({ kind: 'transfer' });
    expect(k.tick(10_000)).toBeUndefined();
  });

  it('a spoken answer drops a half-keyed number', () => {
    const k = entry();
    k.press('2', 0, size);
    k.clear();
    expect(k.tick(10_000)).toBeUndefined();
  });
});
