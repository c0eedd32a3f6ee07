import { h } from '../dom.js';
import { onLive } from '../live.js';

/**
 * "Talk to your receptionist": the microphone streams to the agent over a WebSocket
 * (/api/test-call, 16-bit PCM at 16 kHz) and its voice plays back, so the owner hears a change
 * to the greeting or prices before any phone line exists. The transcript arrives as for any call.
 */

const RATE = 16000;
const FRAME = RATE / 50; // 20 ms

// The microphone's samples as 20 ms frames of 16-bit PCM, posted to the page (an AudioWorklet:
// ScriptProcessorNode is deprecated and runs on the main thread).
const WORKLET = `
class FdMic extends AudioWorkletProcessor {
  constructor(o) { super(); this.size = o.processorOptions.frame; this.buf = new Int16Array(this.size); this.n = 0; }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) for (let i = 0; i < ch.length; i++) {
      const s = Math.max(-1, Math.min(1, ch[i]));
      this.buf[this.n++] = s < 0 ? s * 0x8000 : s * 0x7fff;
      if (this.n === this.size) { this.port.postMessage(this.buf.buffer, [this.buf.buffer]); this.buf = new Int16Array(this.size); this.n = 0; }
    }
    return true;
  }
}
registerProcessor('fd-mic', FdMic);
`;

interface Session { ws: WebSocket; ctx: AudioContext; stream: MediaStream; callId: string | undefined; end(): void }
let current: Session | undefined;

async function open(onState: (text: string, live: boolean) => void, onCall: (id: string) => void): Promise<Session> {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
  const ctx = new AudioContext({ sampleRate: RATE });
  const url = URL.createObjectURL(new Blob([WORKLET], { type: 'text/javascript' }));
  await ctx.audioWorklet.addModule(url);
  URL.revokeObjectURL(url);
  const mic = new AudioWorkletNode(ctx, 'fd-mic', { processorOptions: { frame: FRAME } });
  const mute = ctx.createGain();
  mute.gain.value = 0;
  const source = ctx.createMediaStreamSource(stream);
  source.connect(mic).connect(mute).connect(ctx.destination);
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/test-call?rate=${RATE}`);
  ws.binaryType = 'arraybuffer';
  // What the receptionist says: played in order, a little ahead; dropped at once when it is cut off.
  const playing = new Set<AudioBufferSourceNode>();
  let next = 0;
  const s: Session = {
    ws, ctx, stream, callId: undefined,
    end() {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'hangup' }));
      ws.close();
      stream.getTracks().forEach((t) => t.stop());
      void ctx.close().catch(() => {});
    },
  };
  mic.port.onmessage = (m) => { if (ws.readyState === WebSocket.OPEN) ws.send(m.data as ArrayBuffer); };
  ws.onmessage = (m) => {
    if (typeof m.data !== 'string') {
      const pcm = new Int16Array(m.data as ArrayBuffer);
      const buf = ctx.createBuffer(1, pcm.length, RATE);
      const ch = buf.getChannelData(0);
      for (let i = 0; i < pcm.length; i++) ch[i] = pcm[i]! / 0x8000;
      const node = ctx.createBufferSource();
      node.buffer = buf;
      node.connect(ctx.destination);
      const at = Math.max(ctx.currentTime + 0.04, next);
      node.start(at);
      next = at + buf.duration;
      playing.add(node);
      node.onended = () => playing.delete(node);
      return;
    }
    const msg = JSON.parse(m.data) as { type: string; id?: string; reason?: string };
    if (msg.type === 'call' && msg.id) {
      s.callId = msg.id;
      onCall(msg.id);
    } else if (msg.type === 'answered') {
      answered = true;
      onState('Connected: say hello.', true);
    }
    else if (msg.type === 'clear') {
      for (const n of playing) n.stop();
      playing.clear();
      next = 0;
    } else if (msg.type === 'ended') {
      said = true;
      onState(`The call ended (${msg.reason ?? 'hung up'}).`, false);
    }
  };
  let answered = false;
  let said = false;
  ws.onclose = () => {
    stream.getTracks().forEach((t) => t.stop());
    void ctx.close().catch(() => {});
    if (current === s) current = undefined;
    if (!said) onState(answered ? 'The call ended.' : 'The call could not be connected: signed out, or the server has no voice or speech recognition installed (see frontdesk doctor).', false);
  };
  return s;
}

export async function testCallPage(app: HTMLElement): Promise<void> {
  const status = h('p#test-status', { role: 'status' });
  const transcript = h('div.card#test-transcript', { 'aria-live': 'polite' }, h('h2', {}, 'Transcript'));
  const hangup = h('button.secondary#test-hangup', { type: 'button', hidden: true, onclick: () => current?.end() }, 'Hang up');
  const start = h('button#test-call', { type: 'button' }, 'Talk to your receptionist');
  const show = (text: string, live: boolean) => {
    status.textContent = text;
    hangup.hidden = !live;
    start.hidden = live;
  };
  start.onclick = async () => {
    current?.end();
    transcript.replaceChildren(h('h2', {}, 'Transcript'));
    show('Connecting… allow the microphone if the browser asks.', true);
    try {
      current = await open(show, () => {});
    } catch (e) {
      show(`The microphone could not be opened: ${(e as Error).message}`, false);
    }
  };
  // The conversation's lines, as the receptionist logs them.
  onLive((e) => {
    if (e.type !== 'call_event' || !current?.callId || e.call !== current.callId || e.kind !== 'turn' || !e.text) return;
    transcript.append(h('div', { class: e.role === 'caller' ? 'turn-caller' : 'turn-agent' }, h('b', {}, e.role === 'caller' ? 'You: ' : 'Receptionist: '), e.text));
  });
  // Leaving the page ends the call.
  window.addEventListener('hashchange', () => current?.end(), { once: true });
  app.replaceChildren(
    h('h1', {}, 'Test call'),
    h('p', {}, 'Talk to your receptionist from this browser, as a caller would hear it now: the greeting, your prices and hours. Use headphones so it does not hear itself.'),
    h('div.card', {}, h('p.actions', {}, start, hangup), status),
    transcript,
  );
}
