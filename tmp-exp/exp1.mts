import { readFileSync } from 'node:fs';
import { loadSphinx } from '../src/speech/stt/sphinx/ffi.js';
import { readWav } from '../src/speech/audio.js';
const s = loadSphinx();
const M = '/usr/share/pocketsphinx/model/en-us';
const mode = process.argv[2] ?? 'live';
const dec = s.init(['-hmm', '/tmp/adapt/map', '-lm', `${M}/en-us.lm.bin`, '-dict', `${M}/cmudict-en-us.dict`, '-logfn', '/dev/null', ...(mode === 'live' ? ['-cmn', 'live', '-cmninit', '46.35,32.17,-25.76,37.80,-19.04,0.22,7.93,-19.95,22.20,-12.83,-3.98,6.33,-12.93'] : [])]);
const ids = readFileSync('/tmp/adapt/test.fileids', 'utf8').trim().split('\n').slice(0, 40);
const out: string[] = [];
const t0 = Date.now();
for (const id of ids) {
  const { pcm } = readWav(readFileSync(`/tmp/adapt/${id}.wav`));
  s.startUtt(dec);
  if (mode === 'live') for (let i = 0; i < pcm.length; i += 1600) await s.processRaw(dec, pcm.subarray(i, i + 1600), false);
  else await s.processRaw(dec, pcm, true);
  s.endUtt(dec);
  out.push(`${s.hyp(dec)} (${id.split('/')[1]})`);
}
console.error(Date.now() - t0, 'ms');
console.log(out.join('\n'));
