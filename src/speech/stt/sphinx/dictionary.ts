import { readFile } from 'node:fs/promises';

/** The CMU pronouncing dictionary as pocketsphinx reads it: word → its pronunciation lines. */
export type Dictionary = Map<string, string[]>;

const cache = new Map<string, Promise<Dictionary>>();

export function readDictionary(path: string): Promise<Dictionary> {
  let p = cache.get(path);
  if (!p) {
    p = readFile(path, 'utf8').then((text) => {
      const dict: Dictionary = new Map();
      for (const line of text.split('\n')) {
        const sp = line.indexOf(' ');
        if (sp <= 0) continue;
        const word = line.slice(0, sp).replace(/\(\d+\)$/, '');
        const lines = dict.get(word);
        if (lines) lines.push(line);
        else dict.set(word, [line]);
      }
      return dict;
    });
    cache.set(path, p);
  }
  return p;
}

/** The dictionary lines for `words` only: a small dictionary loads in milliseconds. */
export function subset(dict: Dictionary, words: Iterable<string>): string {
  const out: string[] = [];
  for (const w of words) for (const l of dict.get(w) ?? []) out.push(l);
  return out.join('\n') + '\n';
}
