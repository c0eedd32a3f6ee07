/**
 * Ringback the caller hears while a transfer or find-me leg rings (North American cadence:
 * 440 + 480 Hz, 2 s on, 4 s off). Generated here: a two-sine cadence is smaller than any library.
 */

const RATE = 8000;
let cycle: Int16Array | undefined;

/** One 6 s cycle, computed once and shared by every call (read-only). */
function ringCycle(): Int16Array {
  if (cycle) return cycle;
  cycle = new Int16Array(6 * RATE);
  for (let i = 0; i < 2 * RATE; i++) {
    cycle[i] = Math.round(3000 * (Math.sin((2 * Math.PI * 440 * i) / RATE) + Math.sin((2 * Math.PI * 480 * i) / RATE)));
  }
  return cycle;
}

/**
 * Endless ringback at 8 kHz, until the playback is cancelled: 200 ms pieces (views of one shared
 * cycle), at most about 1 s ahead of wall time, so a far-side playout (chan_websocket) is neither
 * sent minutes ahead nor slow to notice a cancel.
 */
export async function* ringback(): AsyncGenerator<Int16Array> {
  const c = ringCycle();
  const piece = RATE / 5;
  const t0 = performance.now();
  for (let n = 0; ; n++) {
    const ahead = t0 + (n - 5) * 200 - performance.now();
    if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
    const at = (n * piece) % c.length;
    yield c.subarray(at, at + piece);
  }
}
