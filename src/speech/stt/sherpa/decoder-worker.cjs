// Plain JS on purpose: a worker thread starts without the tsx loader. It owns one sherpa-onnx
// OnlineRecognizer, whose decode() is synchronous, so the main thread's 20 ms media clock never
// waits on it. Streams of all calls that are ready are decoded together in one batch.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');

let sherpa;
let recognizer;
try {
  sherpa = require('sherpa-onnx-node');
  recognizer = new sherpa.OnlineRecognizer(workerData.config);
} catch (e) {
  parentPort.postMessage({ type: 'error', message: String((e && e.message) || e) });
  process.exit(0);
}

/** id -> { stream, text, samples, finishing } */
const streams = new Map();
let pumping = false;

function pump() {
  pumping = false;
  // Only streams that decoded something (or are ending) can have a new result to read.
  const touched = new Set();
  for (;;) {
    const ready = [];
    for (const s of streams.values()) if (recognizer.isReady(s.stream)) ready.push(s);
    if (ready.length === 0) break;
    if (ready.length === 1) recognizer.decode(ready[0].stream);
    else recognizer.decodeStreams(ready.map((s) => s.stream));
    for (const s of ready) touched.add(s);
  }
  for (const [id, s] of streams) {
    if (!s.finishing && !touched.has(s)) continue;
    const result = recognizer.getResult(s.stream);
    const text = result.text;
    if (s.finishing) {
      // Per-token log probabilities, where this sherpa-onnx build reports them (transducers: ys_probs).
      const probs = Array.isArray(result.ys_probs) ? result.ys_probs.filter((p) => typeof p === 'number' && Number.isFinite(p)) : [];
      parentPort.postMessage({ type: 'final', id, text, samples: s.samples, probs });
      streams.delete(id);
    } else if (text !== s.text) {
      s.text = text;
      parentPort.postMessage({ type: 'partial', id, text });
    }
  }
}

function schedule() {
  if (!pumping) {
    pumping = true;
    setImmediate(pump);
  }
}

parentPort.on('message', (m) => {
  if (m.op === 'open') {
    streams.set(m.id, { stream: recognizer.createStream(), text: '', samples: 0, finishing: false });
  } else if (m.op === 'audio') {
    const s = streams.get(m.id);
    if (!s) return;
    s.stream.acceptWaveform({ samples: m.samples, sampleRate: m.sampleRate });
    s.samples += m.samples.length;
    schedule();
  } else if (m.op === 'finish') {
    const s = streams.get(m.id);
    if (!s) return parentPort.postMessage({ type: 'final', id: m.id, text: '', samples: 0 });
    // Tail padding lets the last chunk (with its right context) be decoded.
    s.stream.acceptWaveform({ samples: new Float32Array(m.tailSamples), sampleRate: m.sampleRate });
    s.stream.inputFinished();
    s.finishing = true;
    schedule();
  } else if (m.op === 'drop') {
    streams.delete(m.id);
  }
});

parentPort.postMessage({ type: 'ready' });
