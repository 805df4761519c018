/**
 * The synthetic vocabulary: 4,096 token ids, each a pronounceable word. Ids come in synonym groups
 * of four (id >> 2) whose words share a stem and differ in a short ending, so swapping a word for
 * a synonym is a small character-level edit and a one-word word-level edit, as a paraphrase is.
 * Texts are words joined by single spaces; the tokens are the evidence a reveal carries.
 */

export const VOCAB_SIZE = 4096;

const ONSETS = ["b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "br", "cl", "dr", "gr", "pl", "st", "tr", "sh"];
const VOWELS = ["a", "e", "i", "o", "u", "ai", "ou", "ea"];
const ENDINGS = ["", "s", "ed", "ing"];

function stem(group: number): string {
  // 1,024 groups: two or three syllables, so words run from 2 to about 11 characters.
  const a = group % ONSETS.length;
  const b = Math.floor(group / ONSETS.length) % VOWELS.length;
  const c = Math.floor(group / (ONSETS.length * VOWELS.length)) % ONSETS.length;
  const third = group % 3 === 0 ? `${VOWELS[(group >> 3) % VOWELS.length] as string}n` : "";
  return `${ONSETS[a] as string}${VOWELS[b] as string}${ONSETS[c] as string}${VOWELS[(a + c) % VOWELS.length] as string}${third}`;
}

const WORDS: readonly string[] = Array.from({ length: VOCAB_SIZE }, (_, id) => `${stem(id >> 2)}${ENDINGS[id & 3] as string}`);

/** The word of a token id. */
export function wordOf(token: number): string {
  return WORDS[token % VOCAB_SIZE] as string;
}

/** A synonym of `token`: another id in its group, chosen by `pick` in 0..2. */
export function synonymOf(token: number, pick: number): number {
  const variant = token & 3;
  return (token & ~3) | ((variant + 1 + (pick % 3)) & 3);
}

/** The text of a token sequence: words joined by single spaces. */
export function renderText(tokens: ArrayLike<number>): string {
  const words = new Array<string>(tokens.length);
  for (let i = 0; i < tokens.length; i++) words[i] = wordOf(tokens[i] as number);
  return words.join(" ");
}
