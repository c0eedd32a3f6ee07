// Plain JS on purpose: a worker thread starts without the tsx loader. It runs every call's Silero VAD
// through one ONNX Runtime session: a call is only its own state (the model's 2×128 LSTM state, its
// unread samples, the start/end bookkeeping), so a new call costs nothing to set up, and each round
// decides one 32 ms window for every call that has one, in a single batched run. (sherpa-onnx's Vad
// holds a session per detector, about a quarter of a second of CPU each: a burst of fifty calls
// waited seconds for theirs.) The decisions follow sherpa-onnx's SileroVadModel::IsSpeech and
// VoiceActivityDetector (v5/v6 models: 576-sample windows every 512), so a call hears the same
// starts and ends, at the same points of its audio, as the in-process SileroVad.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');

let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  parentPort.postMessage({ type: 'fatal', message: String((e && e.message) || e) });
  process.exit(0);
}

const cfg = workerData.config.sileroVad;
const RATE = 16000;
const SHIFT = 512;
const WINDOW = SHIFT + 64;
const STATE = 2 * 128;
const minSpeechSamples = Math.trunc(RATE * cfg.minSpeechDuration);
const minSilenceSamples = Math.trunc(RATE * cfg.minSilenceDuration);
const maxUtterance = RATE * cfg.maxSpeechDuration;
/** sherpa-onnx's values once an utterance has run past its maximum: end it at the next short pause. */
const LONG_THRESHOLD = 0.9;
const LONG_MIN_SILENCE = Math.trunc(RATE * 0.1);

/** id -> per-call state */
const calls = new Map();
let session;
let running = false;
let closing = false;

function newCall() {
  return {
    state: new Float32Array(STATE),
    buf: new Float32Array(4 * WINDOW),
    len: 0,
    /** Samples of this call fed so far (never reset: event times are from the call's start). */
    fed: 0,
    /** Where the end of each frame fed and not yet decided lies, in `fed` terms (events are dated at a frame's end). */
    ends: [],
    endAt: 0,
    current: 0,
    tempStart: 0,
    tempEnd: 0,
    triggered: false,
    /** The detector's start_ != -1: a speech segment is open. */
    detected: false,
    detectedSince: 0,
  };
}

function append(c, pcm) {
  if (c.len + pcm.length > c.buf.length) {
    const b = new Float32Array((c.len + pcm.length) * 2);
    b.set(c.buf.subarray(0, c.len));
    c.buf = b;
  }
  for (let i = 0; i < pcm.length; i++) c.buf[c.len + i] = pcm[i] / 32768;
  c.len += pcm.length;
  c.fed += pcm.length;
  c.ends.push(c.fed);
}

/** SileroVadModel::IsSpeech on one window's probability. */
function isSpeech(c, prob, threshold, minSilence) {
  c.current += SHIFT;
  if (prob > threshold && c.tempEnd !== 0) c.tempEnd = 0;
  if (prob > threshold && c.tempStart === 0) {
    c.tempStart = c.current;
    return false;
  }
  if (prob > threshold && c.tempStart !== 0 && !c.triggered) {
    if (c.current - c.tempStart < minSpeechSamples) return false;
    c.triggered = true;
    return true;
  }
  if (prob < threshold && !c.triggered) {
    c.tempStart = 0;
    c.tempEnd = 0;
    return false;
  }
  if (prob > threshold - 0.15 && c.triggered) return true;
  if (prob > threshold && !c.triggered) {
    c.triggered = true;
    return true;
  }
  if (prob < threshold && c.triggered) {
    if (c.tempEnd === 0) c.tempEnd = c.current;
    if (c.current - c.tempEnd < minSilence) return true;
    c.tempStart = 0;
    c.tempEnd = 0;
    c.triggered = false;
    return false;
  }
  return false;
}

/** One window decided for a call: a start or an end goes into `out` as [id, 1|0, atMs]. */
function decided(id, c, prob, out) {
  // Samples of the call decided through the end of this window, and the frame that completed it.
  const windowEnd = c.fed - c.len + WINDOW;
  while (c.endAt < c.ends.length - 1 && c.ends[c.endAt] < windowEnd) c.endAt++;
  const atMs = (c.ends[c.endAt] / RATE) * 1000;
  const long = c.detected && c.fed - c.detectedSince > maxUtterance;
  const speech = isSpeech(c, prob, long ? LONG_THRESHOLD : cfg.threshold, long ? LONG_MIN_SILENCE : minSilenceSamples);
  if (speech && !c.detected) {
    c.detected = true;
    c.detectedSince = Math.max(0, windowEnd - 2 * WINDOW - minSpeechSamples);
    out.push(id, 1, atMs);
  } else if (!speech && c.detected) {
    c.detected = false;
    out.push(id, 0, atMs);
  }
  c.buf.copyWithin(0, SHIFT, c.len);
  c.len -= SHIFT;
  if (c.endAt > 64) {
    c.ends.splice(0, c.endAt);
    c.endAt = 0;
  }
}

/** Rounds until no call has a whole window waiting: each round one batched run for all of them. */
async function drain() {
  if (running || !session) return;
  running = true;
  const sr = new ort.Tensor('int64', BigInt64Array.from([BigInt(RATE)]), []);
  try {
    for (;;) {
      if (closing) break;
      const batch = [];
      for (const [id, c] of calls) if (c.len >= WINDOW) batch.push([id, c]);
      if (!batch.length) break;
      const n = batch.length;
      const input = new Float32Array(n * WINDOW);
      const state = new Float32Array(n * STATE);
      batch.forEach(([, c], i) => {
        input.set(c.buf.subarray(0, WINDOW), i * WINDOW);
        // [2 layers][batch][128]
        state.set(c.state.subarray(0, 128), i * 128);
        state.set(c.state.subarray(128), (n + i) * 128);
      });
      const res = await session.run({
        input: new ort.Tensor('float32', input, [n, WINDOW]),
        state: new ort.Tensor('float32', state, [2, n, 128]),
        sr,
      });
      const prob = res.output.data;
      const next = res.stateN.data;
      const out = [];
      batch.forEach(([id, c], i) => {
        // Released or reset while the window was being decided: that result is not the call's any more.
        if (calls.get(id) !== c || c.len < WINDOW) return;
        c.state.set(next.subarray(i * 128, i * 128 + 128), 0);
        c.state.set(next.subarray((n + i) * 128, (n + i) * 128 + 128), 128);
        decided(id, c, prob[i], out);
      });
      if (out.length) parentPort.postMessage({ type: 'events', ev: out });
    }
  } catch (e) {
    parentPort.postMessage({ type: 'fatal', message: String((e && e.message) || e) });
  } finally {
    running = false;
  }
  // Exits between runs, never inside one.
  if (closing) process.exit(0);
}

parentPort.on('message', (m) => {
  if (m.type === 'frames') {
    // hdr: [id, offset, length] per frame into pcm (16 kHz), in arrival order.
    const h = m.hdr;
    for (let at = 0; at + 3 <= h.length; at += 3) {
      const id = h[at];
      let c = calls.get(id);
      if (!c) calls.set(id, (c = newCall()));
      append(c, m.pcm.subarray(h[at + 1], h[at + 1] + h[at + 2]));
    }
    void drain();
  } else if (m.type === 'release') {
    calls.delete(m.id);
  } else if (m.type === 'reset') {
    const c = calls.get(m.id);
    // A fresh object, so a run in flight does not write its result into the reset state.
    if (c) {
      const fresh = newCall();
      fresh.fed = c.fed;
      calls.set(m.id, fresh);
    }
  } else if (m.type === 'close') {
    closing = true;
    if (!running) process.exit(0);
  }
});

ort.InferenceSession.create(cfg.model, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' }).then((s) => {
  // Silero v5 and v6 (input, state, sr → output, stateN); the older v4 has separate h and c.
  const io = `${s.inputNames.join(',')} -> ${s.outputNames.join(',')}`;
  if (io !== 'input,state,sr -> output,stateN') throw new Error(`${cfg.model} is not a Silero v5/v6 VAD model (${io})`);
  session = s;
  parentPort.postMessage({ type: 'ready' });
  void drain();
}).catch((e) => {
  parentPort.postMessage({ type: 'fatal', message: String((e && e.message) || e) });
});
