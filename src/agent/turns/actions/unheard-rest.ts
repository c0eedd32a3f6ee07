/**
 * What is left to say of `full` after the caller heard `heard` of it (the speaker's words heard, a
 * cut-off sentence ending in "…"): from the start of the sentence they stopped hearing in, since
 * a reply re-synthesized mid-sentence sounds broken. Nothing heard, or all of it: the whole reply.
 */
export function unheardRest(full: string, heard: string): string {
  const heardWords = heard.replace(/…/g, ' ').trim().split(/\s+/).filter(Boolean).length;
  if (!heardWords) return full;
  const sentences = full.match(/[^.!?]+(?:[.!?]+|$)\s*/g) ?? [full];
  let words = 0;
  for (let i = 0; i < sentences.length; i++) {
    const n = sentences[i]!.trim().split(/\s+/).filter(Boolean).length;
    // The caller heard this sentence to its last word: the rest starts with the next one.
    if (words + n > heardWords) return sentences.slice(i).join('').trim();
    words += n;
  }
  return full;
}
