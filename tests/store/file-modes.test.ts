import { EventEmitter } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openStore } from '../../src/store/db.js';
import { CallRecorder } from '../../src/agent/voice/call-recorder.js';
import { recordMessage } from '../../src/agent/call/recorder.js';
import type { Call } from '../../src/telephony/call.js';
import type { Vad } from '../../src/speech/types.js';
import { PGLITE_TEST_MS } from '../helpers/stores.js';

/** Another user on the box (a web server, a shell account) must not read callers' voices or the customer list. */

const root = mkdtempSync(join(tmpdir(), 'fd-modes-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const mode = (p: string) => statSync(p).mode & 0o777;
const umask = process.umask(0o002); // a permissive umask, as many hosts have
afterAll(() => void process.umask(umask));

it('creates the embedded database owner-only, and tightens a data directory that was not', async () => {
  const data = join(root, 'data');
  mkdirSync(data, { mode: 0o775 });
  chmodSync(data, 0o775);
  const store = await openStore({ dataDir: data });
  await store.close();
  expect([mode(data), mode(join(data, 'pgdata'))]).toEqual([0o700, 0o700]);
}, PGLITE_TEST_MS);

it('writes call recordings and voicemail audio 0600 in 0700 folders', async () => {
  const rec = new CallRecorder(8000, () => 0);
  rec.addCaller(new Int16Array(160));
  const call = await rec.save(join(root, 'data', 'recordings', 'call-1.wav'));
  expect([mode(call.path), mode(join(root, 'data', 'recordings'))]).toEqual([0o600, 0o700]);

  const ended = Object.assign(new EventEmitter(), { sampleRate: 8000, state: 'ended' }) as unknown as Call;
  const vad = { accept: () => 0, reset: () => {} } as unknown as Vad;
  const vm = await recordMessage(ended, vad, join(root, 'data', 'voicemail', 'vm-1.wav'));
  expect([mode(vm.path), mode(join(root, 'data', 'voicemail'))]).toEqual([0o600, 0o700]);
});
