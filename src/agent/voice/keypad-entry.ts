// Hand-written: collecting DTMF digits into one answer is a few lines of state over the call's key events; no library fits a live call's turn machine.
import type { Pending } from '../guided/engine.js';

/** How keyed numbers are collected, with their units in the names. */
export interface KeypadOptions {
  /** A number being keyed is complete when the caller has pressed nothing for this long. */
  interDigitTimeoutMs: number;
}

export const keypadDefaults = {
  interDigitTimeoutMs: 3_000,
} as const satisfies KeypadOptions;

/** A question answered by a number keyed digit by digit, and its longest answer. */
export interface DigitsWanted {
  maxLength: number;
}

/**
 * The questions that take a number on the keypad. Menu questions (a choice, yes or no) are not
 * here: their single key answers at once.
 */
export function digitsWanted(pending: Pending | undefined): DigitsWanted | undefined {
  switch (pending?.kind) {
    // A home size: 1 to 50 (the quote's limit).
    case 'ask_size': return { maxLength: 2 };
    default: return undefined;
  }
}

/** What a key press means now. `keys`: the answer to take as one turn ("2", "12", or a menu key). */
export type KeyOutcome = { kind: 'transfer' } | { kind: 'answer'; keys: string } | { kind: 'wait' };

/**
 * Digits keyed for a question that takes a number, until '#', the longest answer, or a pause of
 * `interDigitTimeoutMs` (`tick`, on the session's clock); '*' clears what was keyed. For any other
 * question a key answers at once, as before.
 */
export class KeypadEntry {
  private digits = '';
  private lastAt = 0;

  constructor(private readonly transferDigit: string, private readonly o: KeypadOptions = keypadDefaults) {}

  /** A number is being keyed. */
  get active(): boolean {
    return this.digits !== '';
  }

  press(key: string, at: number, wanted: DigitsWanted | undefined): KeyOutcome {
    if (!wanted) {
      this.digits = '';
      return key === this.transferDigit ? { kind: 'transfer' } : { kind: 'answer', keys: key };
    }
    if (key === '*') {
      this.digits = '';
      return { kind: 'wait' };
    }
    if (key === '#') return this.digits ? this.take() : { kind: 'wait' };
    if (!/^[0-9]$/.test(key)) return { kind: 'wait' };
    // The transfer key still reaches the owner when nothing has been keyed yet (the menu's promise,
    // and no number starts with it here); once the caller is keying a number it is a digit ("10").
    if (!this.digits && key === this.transferDigit) return { kind: 'transfer' };
    this.digits += key;
    this.lastAt = at;
    return this.digits.length >= wanted.maxLength ? this.take() : { kind: 'wait' };
  }

  /** The number keyed so far, once the caller has paused long enough after its last digit. */
  tick(at: number): string | undefined {
    if (!this.digits || at - this.lastAt < this.o.interDigitTimeoutMs) return undefined;
    const d = this.digits;
    this.digits = '';
    return d;
  }

  /** The caller answered otherwise (spoke): what was keyed is dropped. */
  clear(): void {
    this.digits = '';
  }

  private take(): KeyOutcome {
    const keys = this.digits;
    this.digits = '';
    return { kind: 'answer', keys };
  }
}
