/**
 * Retries a write a few times with growing pauses, for writes made on behalf of a call in
 * progress: the call must go on while the database blips, and the record should still land.
 */

export const retryDefaults = {
  /** Pauses before the 2nd, 3rd, ... attempt, in ms. */
  delaysMs: [250, 1_000, 4_000],
} as const satisfies Record<string, readonly number[]>;

export async function retrying<T>(op: () => Promise<T>, delaysMs: readonly number[] = retryDefaults.delaysMs): Promise<T> {
  let attempt = 0;
  for (;;) {
    try {
      return await op();
    } catch (err) {
      const pause = delaysMs[attempt++];
      if (pause === undefined) throw err;
      await new Promise((r) => setTimeout(r, pause).unref());
    }
  }
}
