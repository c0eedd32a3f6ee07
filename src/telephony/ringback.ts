/**
 * Ringback a caller hears while phones ring (transfers, find-me, ring-first, click-to-call): North
 * American cadence (ITU-T E.180: 440 + 480 Hz, 2 s on, 4 s off). Generated here: a two-sine
 * cadence is smaller than any library.
 */

const cycles = new Map<number, Int16Array>();

/** One 6 s cycle at `rate`, computed once per rate and shared by every call (read-only). */
function ringCycle(rate: number): Int16Array {
  let c = cycles.get(rate);
  if (c) return c;
  c = new Int16Array(6 * rate);
  for (let i = 0; i < 2 * rate; i++) {
    c[i] = Math.round(3000 * (Math.sin((2 * Math.PI * 440 * i) / rate) + Math.sin((2 * Math.PI * 480 * i) / rate)));
  }
  cycles.set(rate, c);
  return c;
}

/**
 * Endless ringback at `rate` until the playback is cancelled or `signal` aborts: 200 ms pieces
 * (views of one shared cycle), at most about 1 s ahead of wall time, so a far-side playout
 * (chan_websocket) is neither sent minutes ahead nor slow to notice a cancel.
 */
export async function* ringback(rate = 8000, signal?: AbortSignal): AsyncGenerator<Int16Array> {
  const c = ringCycle(rate);
  const piece = rate / 5;
  const t0 = performance.now();
  for (let n = 0; !signal?.aborted; n++) {
    const ahead = t0 + (n - 5) * 200 - performance.now();
    if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
    const at = (n * piece) % c.length;
    yield c.subarray(at, at + piece);
  }
}
