import { describe, expect, it } from 'vitest';
import { pieces } from '../../src/agent/voice/speaker.js';

async function* tokens(text: string, size = 3): AsyncGenerator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

async function all(src: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const p of src) out.push(p);
  return out;
}

describe('cutting a streamed reply into pieces for the voice', () => {
  it('speaks the first clause as soon as it is complete, then whole sentences', async () => {
    expect(await all(pieces(tokens('Yes, we bring all our own supplies. They are eco-friendly too. Anything else?'))))
      .toEqual(['Yes,', 'we bring all our own supplies.', 'They are eco-friendly too.', 'Anything else?']);
    expect(await all(pieces(tokens('Sure thing, we can come on Friday. Does ten work?'))))
      .toEqual(['Sure thing,', 'we can come on Friday.', 'Does ten work?']);
  });

  it('does not wait for punctuation that never comes: a few words go ahead, whole words only', async () => {
    const p = await all(pieces(tokens(' marco bonham slag fogler marco fop ursie gildon emry fogler gruppo carats', 2)));
    expect(p[0]!.split(' ').length).toBeLessThanOrEqual(5);
    expect(p.join(' ')).toBe('marco bonham slag fogler marco fop ursie gildon emry fogler gruppo carats');
  });
});
