/**
 * Decision-bearing tokens of a text (spec/09-policies.md, "semantic@2 guards"): the small words
 * and numbers that flip an answer while leaving it 95% similar to the honest one. semantic@2
 * requires every supporter to carry exactly the canonical output's guard tokens.
 *
 * The text is read after the semantic@2 normalization (NFC, lowercase, whitespace runs to one
 * space). Words are maximal runs of Unicode letters, marks and digits, joined across an inner
 * apostrophe (' or ’). Classes:
 *   numbers   `\d+(,\d{3})*(\.\d+)?` (each `,` group exactly three digits) not preceded by a
 *             digit, so no digit of the text is skipped (`1.2.3` reads as 1.2 and 3, `1,23,456`
 *             as 1 and 23456), with an optional sign (- or U+2212, right before the digits, at
 *             the start or after a space or `(`), an optional multiplier word (k, m, b, bn
 *             attached; or thousand, million, billion after one space) and an optional percent
 *             (`%` attached or after one space, or the word `percent`). Normalized: separators
 *             removed, leading zeros and trailing fractional zeros dropped, the multiplier applied
 *             exactly, `%` appended. So `$250,000` = `250000` = `250k` = `250 thousand`, `5%` =
 *             `5 percent`, but `5%` is not `0.05`.
 *   polarity  yes, no, not, never, none, nothing, nobody, nowhere, neither, nor, cannot (as not),
 *             true, false, and every word ending in n't (as not).
 *   direction one symbol per sense: up (increase, raise, rise, higher, above, exceed, more,
 *             greater, gain, grow, ... in the forms listed below), down (decrease, reduce, lower,
 *             fall, below, less, fewer, drop, decline, cut, loss, ...), buy, sell, long, short.
 *   terms     the request's own vocabulary (labels, party names): each term, lowercased, found as
 *             whole words.
 * Each class is compared as a set: which tokens occur, not how often or in what order.
 */
export type GuardClass = "numbers" | "polarity" | "direction" | "terms";
export const GUARD_CLASSES: readonly GuardClass[] = ["numbers", "polarity", "direction", "terms"];

/** A word: letters, marks and digits, joined across an inner apostrophe. */
const WORD = /[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}\p{N}]+)*/gu;

const POLARITY: ReadonlyMap<string, string> = new Map(
  ["yes", "no", "not", "never", "none", "nothing", "nobody", "nowhere", "neither", "nor", "true", "false"].map((w) => [w, w] as const),
).set("cannot", "not");

const DIRECTION_WORDS: Record<string, readonly string[]> = {
  up: [
    "increase", "increases", "increased", "increasing", "raise", "raises", "raised", "raising", "rise", "rises",
    "rose", "risen", "rising", "higher", "highest", "above", "exceed", "exceeds", "exceeded", "exceeding", "more",
    "greater", "gain", "gains", "gained", "gaining", "grow", "grows", "grew", "grown", "growing", "upward", "upwards", "up",
  ],
  down: [
    "decrease", "decreases", "decreased", "decreasing", "reduce", "reduces", "reduced", "reducing", "lower", "lowers",
    "lowered", "lowering", "lowest", "fall", "falls", "fell", "fallen", "falling", "below", "less", "fewer", "drop",
    "drops", "dropped", "dropping", "decline", "declines", "declined", "declining", "cut", "cuts", "cutting", "loss",
    "losses", "downward", "downwards", "down", "shrink", "shrinks", "shrank", "shrunk", "shrinking", "lose", "loses",
    "lost", "losing",
  ],
  buy: ["buy", "buys", "bought", "buying"],
  sell: ["sell", "sells", "sold", "selling"],
  long: ["long"],
  short: ["short"],
};
const DIRECTION: ReadonlyMap<string, string> = new Map(
  Object.entries(DIRECTION_WORDS).flatMap(([sense, words]) => words.map((word) => [word, sense] as const)),
);

const MULTIPLIER: Record<string, number> = { k: 3, thousand: 3, m: 6, million: 6, b: 9, bn: 9, billion: 9 };
const NUMBER =
  /(?<![\d])([-\u2212]?)(\d+(?:,\d{3}(?!\d))*(?:\.\d+)?)(?:(k|m|bn|b)(?![\p{L}\p{N}])| (thousand|million|billion)(?![\p{L}\p{N}]))?( ?%| percent(?![\p{L}\p{N}]))?/gu;

/** `digits` (with `,` separators and an optional `.` fraction) times 10^shift, as canonical text. */
function normalizeNumber(text: string, shift: number): string {
  // Plain digits, no multiplier: only leading zeros to drop (the common case, and the cheap one).
  if (shift === 0 && /^\d+$/.test(text)) return text.length > 1 && text.charCodeAt(0) === 0x30 ? text.replace(/^0+(?=\d)/, "") : text;
  const plain = text.replaceAll(",", "");
  const dot = plain.indexOf(".");
  let whole = dot < 0 ? plain : plain.slice(0, dot);
  let fraction = dot < 0 ? "" : plain.slice(dot + 1);
  const moved = fraction.slice(0, shift).padEnd(shift, "0");
  whole += moved;
  fraction = fraction.slice(shift);
  whole = whole.replace(/^0+(?=\d)/, "");
  fraction = fraction.replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : whole;
}

/** The number tokens of a normalized text, normalized (see the module comment). */
export function numberTokens(text: string): string[] {
  const out: string[] = [];
  for (const match of text.matchAll(NUMBER)) out.push(numberToken(match, text, match.index));
  return out;
}

/** One number match (its whole text, then sign, digits, attached and word multipliers, percent) as its token. */
function numberToken(match: readonly (string | undefined)[], text: string, index: number): string {
  const [, sign, digits, attached, word, percent] = match;
  const before = index > 0 ? text[index - 1] : undefined;
  const signed = sign !== "" && sign !== undefined && (before === undefined || before === " " || before === "(");
  const shift = MULTIPLIER[(attached ?? word ?? "") as string] ?? 0;
  let value = normalizeNumber(digits as string, shift);
  if (signed && value !== "0") value = `-${value}`;
  if (percent) value += "%";
  return value;
}

/** A number (first) or a word: what semantic@2 counts and compares. */
export const TOKEN = new RegExp(`(${NUMBER.source})|${WORD.source}`, "gu");

/**
 * The words of a normalized text, left to right: at each position a number (as the numbers guard
 * reads it, normalized: `$1,200` and `1200` are one word) is taken first, else a word.
 */
export function words(text: string): string[] {
  const out: string[] = [];
  for (const match of text.matchAll(TOKEN)) out.push(match[1] === undefined ? match[0] : numberToken(match.slice(1), text, match.index));
  return out;
}

export interface GuardOptions {
  classes: ReadonlySet<GuardClass>;
  /** The request's vocabulary, each term lowercased and split into words. */
  terms: readonly (readonly string[])[];
}

/**
 * The guard signature of a normalized text: per active class, its sorted distinct tokens. Two
 * texts may support each other only when their signatures are equal.
 *
 * @example guardSignature("no, the fee does not exceed $1,200.", { classes: new Set(GUARD_CLASSES), terms: [] })
 * // "numbers:1200|polarity:no,not|direction:up|terms:"
 */
export function guardSignature(text: string, options: GuardOptions, wordList: readonly string[] = words(text)): string {
  const parts: string[] = [];
  for (const guard of GUARD_CLASSES) {
    if (!options.classes.has(guard)) continue;
    const found = new Set<string>();
    switch (guard) {
      case "numbers":
        for (const token of numberTokens(text)) found.add(token);
        break;
      case "polarity":
        for (const word of wordList) {
          const symbol = POLARITY.get(word) ?? (word.endsWith("n't") || word.endsWith("n’t") ? "not" : undefined);
          if (symbol) found.add(symbol);
        }
        break;
      case "direction":
        for (const word of wordList) {
          const sense = DIRECTION.get(word);
          if (sense) found.add(sense);
        }
        break;
      case "terms":
        options.terms.forEach((term, index) => {
          if (containsPhrase(wordList, term)) found.add(String(index));
        });
        break;
    }
    parts.push(`${guard}:${[...found].sort().join(",")}`);
  }
  return parts.join("|");
}

function containsPhrase(wordList: readonly string[], phrase: readonly string[]): boolean {
  if (phrase.length === 0) return false;
  outer: for (let i = 0; i + phrase.length <= wordList.length; i++) {
    for (let j = 0; j < phrase.length; j++) if (wordList[i + j] !== phrase[j]) continue outer;
    return true;
  }
  return false;
}
