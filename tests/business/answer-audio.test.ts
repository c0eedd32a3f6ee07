import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createBusiness } from '../../src/business/index.js';
import { pruneAnswerAudio } from '../../src/business/answer-audio.js';
import { describeStores } from '../helpers/stores.js';

const NOW = new Date('2026-11-20T18:00:00Z');

describeStores('kept answer audio', ({ store }) => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-answer-audio-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A call on record that started at `at`. */
  async function callAt(at: string): Promise<string> {
    const biz = createBusiness(store().db, () => NOW);
    const id = await biz.calls.start({ direction: 'inbound', backend: 'sip', from: '+15125550177', to: '+15125550100' });
    await store().db.updateTable('calls').set({ started_at: new Date(at) }).where('id', '=', id).execute();
    return id;
  }

  it('is deleted once its call is older than the retention, or no longer on record; the rest stays', async () => {
    const rec = join(dir, `recordings-${Math.random().toString(36).slice(2)}`);
    mkdirSync(rec);
    const old = await callAt('2026-10-20T17:59:00Z');
    const recent = await callAt('2026-10-21T18:00:00Z');
    const gone = '5d0c7e1e-8a53-4c7e-9a55-2f1f3f0f6a11';
    const files = [
      `${old}-address-3.wav`, `${old}-name-4.wav`, `${recent}-address-2.wav`, `${gone}-address-1.wav`,
      // The call's own recording and anything else is not this retention's.
      `${old}.wav`, 'notes.txt',
    ];
    for (const f of files) writeFileSync(join(rec, f), 'RIFF');
    expect(await pruneAnswerAudio(store().db, rec, 30, NOW)).toBe(3);
    expect(readdirSync(rec).sort()).toEqual([`${recent}-address-2.wav`, `${old}.wav`, 'notes.txt'].sort());
    // A day later the recent call's audio is past it too.
    expect(await pruneAnswerAudio(store().db, rec, 30, new Date('2026-11-21T18:00:01Z'))).toBe(1);
    expect(existsSync(join(rec, `${recent}-address-2.wav`))).toBe(false);
  });

  it('a data folder without recordings is nothing to do', async () => {
    expect(await pruneAnswerAudio(store().db, join(dir, 'none'), 30, NOW)).toBe(0);
  });
});
