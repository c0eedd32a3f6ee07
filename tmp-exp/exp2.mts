import { readFileSync } from 'node:fs';
import { adaptTelephoneModel } from '../src/speech/stt/sphinx/adapt.js';
import { SphinxStt } from '../src/speech/stt/sphinx/index.js';
import { readWav } from '../src/speech/audio.js';
const t0 = Date.now();
const model = await adaptTelephoneModel('/tmp/fd-floor/sphinx-telephone', console.log);
console.log('adapt ms', Date.now() - t0);
const stt = new SphinxStt({ model });
const hints = ['standard cleaning', 'deep cleaning', 'move out cleaning', 'pet hair', 'inside fridge', 'maria', 'sparkle cleaning', 'i would like a standard cleaning', 'how much is a deep cleaning'];
await stt.prepare(hints);
for (const f of process.argv.slice(2)) {
  const { pcm, sampleRate } = readWav(readFileSync(f));
  const s = stt.stream(hints);
  const t1 = Date.now();
  for (let i = 0; i < pcm.length; i += sampleRate / 50) s.accept(pcm.subarray(i, i + sampleRate / 50), sampleRate);
  const t2 = Date.now();
  const h = await s.finish();
  console.log(f, JSON.stringify(h.text), 'finish ms', Date.now() - t2, 'feed ms', t2 - t1);
}
stt.close();
