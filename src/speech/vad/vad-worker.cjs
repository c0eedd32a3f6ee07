// Plain JS on purpose: a worker thread starts without the tsx loader. It owns every call's Silero
// VAD (sherpa-onnx), so neither loading one (about a quarter of a second: an ONNX session each) nor
// running them every frame happens on the thread that paces RTP. Idle detectors are reset and
// reused; a new one is made at most once per turn of this thread's loop, so calls already up keep
// getting their events while a burst of new calls is served.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');

let sherpa;
try {
  sherpa = require('sherpa-onnx-node');
} catch (e) {
  parentPort.postMessage({ type: 'fatal', message: String((e && e.message) || e) });
  process.exit(0);
}

const cfg = workerData.config;
const maxIdle = workerData.maxIdle;
/** Detectors ready for a call. */
const idle = [];
/** id -> { vad, fed, inSpeech } */
const live = new Map();
/** Calls waiting for a detector: id -> queued 16 kHz frames (copies). */
const waiting = new Map();
let making = false;
let f32 = new Float32Array(640);

function make() {
  return new sherpa.Vad(cfg, 60);
}

function feed(id, st, pcm, out) {
  if (f32.length < pcm.length) f32 = new Float32Array(pcm.length);
  const buf = f32.subarray(0, pcm.length);
  for (let i = 0; i < pcm.length; i++) buf[i] = pcm[i] / 32768;
  if (pcm.length) st.vad.acceptWaveform(buf);
  st.fed += pcm.length;
  const atMs = (st.fed / 16000) * 1000;
  if (st.vad.isDetected() && !st.inSpeech) {
    st.inSpeech = true;
    out.push(id, 1, atMs);
  }
  while (!st.vad.isEmpty()) {
    st.vad.pop();
    if (st.inSpeech) {
      st.inSpeech = false;
      out.push(id, 0, atMs);
    }
  }
}

function attach(id) {
  const vad = idle.pop();
  if (!vad) return undefined;
  const st = { vad, fed: 0, inSpeech: false };
  live.set(id, st);
  return st;
}

/** Idle detectors to keep made ahead of calls (the 'warm' message). */
let warmTarget = 0;

/** One new detector per turn: for the call that has waited longest, else towards the warm target. */
function makeNext() {
  making = false;
  let vad;
  try {
    vad = make();
  } catch (e) {
    parentPort.postMessage({ type: 'fatal', message: String((e && e.message) || e) });
    return;
  }
  idle.push(vad);
  const first = waiting.keys().next();
  if (!first.done) {
    const id = first.value;
    const frames = waiting.get(id);
    waiting.delete(id);
    const st = attach(id);
    const out = [];
    for (const pcm of frames) feed(id, st, pcm, out);
    if (out.length) parentPort.postMessage({ type: 'events', ev: out });
  } else if (idle.length >= warmTarget) parentPort.postMessage({ type: 'warm', n: idle.length });
  schedule();
}

function schedule() {
  if (!making && (waiting.size || idle.length < warmTarget)) {
    making = true;
    setImmediate(makeNext);
  }
}

parentPort.on('message', (m) => {
  if (m.type === 'frames') {
    // hdr: [id, offset, length] per frame into pcm (16 kHz), in arrival order.
    const h = m.hdr;
    const out = [];
    for (let at = 0; at + 3 <= h.length; at += 3) {
      const id = h[at];
      const pcm = m.pcm.subarray(h[at + 1], h[at + 1] + h[at + 2]);
      let st = live.get(id);
      if (!st && !waiting.has(id)) st = attach(id);
      if (st) feed(id, st, pcm, out);
      else {
        const q = waiting.get(id);
        if (q) q.push(pcm.slice());
        else waiting.set(id, [pcm.slice()]);
      }
    }
    if (out.length) parentPort.postMessage({ type: 'events', ev: out });
    schedule();
  } else if (m.type === 'release') {
    waiting.delete(m.id);
    const st = live.get(m.id);
    if (!st) return;
    live.delete(m.id);
    st.vad.reset();
    if (idle.length < maxIdle) idle.push(st.vad);
  } else if (m.type === 'reset') {
    const st = live.get(m.id);
    if (st) {
      st.vad.reset();
      st.inSpeech = false;
    }
  } else if (m.type === 'close') {
    // Exits between messages, never inside a sherpa-onnx call (terminate() there aborts the process).
    process.exit(0);
  } else if (m.type === 'warm') {
    warmTarget = m.n;
    if (idle.length >= warmTarget) parentPort.postMessage({ type: 'warm', n: idle.length });
    schedule();
  }
});
