/** Console settings with units, importable by tests without a browser. */

export const CALENDAR_DEFAULTS = {
  /** Seconds a cancellation can be undone before it is made and the customer is told. */
  undoSeconds: 10,
} as const satisfies Record<string, number>;
