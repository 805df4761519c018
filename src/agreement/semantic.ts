/**
 * semantic@1: normalized edit-distance similarity with a medoid-star decision (see similarity.ts).
 *
 * Similarity of two normalized texts a, b at unit "char" (Unicode code points) or "word" (runs of
 * non-space after whitespace collapse): with d the Levenshtein distance and len = max(|a|, |b|),
 * the pair is within theta iff (len - d) * 1,000,000 >= thetaPpm * len. Integers only; two empty
 * texts are identical.
 *
 * Speed without changing the answer: identical normalized texts collapse into one group; a pair is
 * settled by the cheapest exact argument available, in order: the length difference (a lower
 * bound), the triangle inequality over pairs already settled in this decision (bounds both ways),
 * the bag distance (a lower bound), one alignment found by an adaptive-band walk (an upper bound:
 * if it fits, the pair is within), a detour through a text known to be far from one side (a lower
 * bound), and only then an exact distance (a bounded walk that stops once the threshold is out
 * of reach, or the bit-parallel full distance when that is cheaper). Each shortcut proves the same
 * boolean the definition gives.
 *
 * Cost: honest outputs that differ by scattered edits settle by the band walk, O(len + d * 32) per
 * pair, and the medoid search usually needs one row of pairs. An output built to defeat the cheap
 * bounds (same characters, reordered) costs one exact distance, O(len^2 / 32): a few ms at 4,000
 * characters, ~0.1 s at 16,000 on this hardware; its later pairs settle by detours. The length
 * bound rejects a padded output at once, so that cost needs an output about as long as the honest
 * ones, and it grows with the square of the output size limit (64 KiB today).
 */
import { distance } from "fastest-levenshtein";
import type { PolicyParams } from "../wire/types.ts";
import {
  bagLowerBound,
  bandedUpperBound,
  boundedEditDistance,
  codePoints,
  histogram,
  isWithinTheta,
  maxDistanceWithin,
  wordSymbols,
} from "./edit-distance.ts";
import { readEnum } from "./params.ts";
import type { AgreementPolicy } from "./policy.ts";
import { decideByMedoidStar, parseSimilarityParams } from "./similarity.ts";
import type { PairOracle, SimilarityMeasure, SimilarityParams } from "./similarity.ts";

export type SemanticUnit = "char" | "word";

export interface SemanticParams extends SimilarityParams {
  unit: SemanticUnit;
}

/** Half-width (in diagonals) of the adaptive band that looks for a cheap upper bound. */
const BAND_HALF_WIDTH = 16;

function symbolsOf(unit: SemanticUnit, text: string, dictionary: Map<string, number>): Int32Array {
  return unit === "char" ? codePoints(text) : wordSymbols(text, dictionary);
}

/**
 * The exact distance, or -1 when it exceeds `maxDist` and the method stopped early. The diagonal
 * walk costs about min(d, maxDist)^2 steps; fastest-levenshtein's bit-parallel `distance` about
 * len^2 / 32 (~65x cheaper per cell here) and always gives the full distance, which then settles
 * other pairs by the triangle inequality; so it takes over when the threshold is loose.
 */
function exactWithin(a: Int32Array, b: Int32Array, maxDist: number, asString: (s: Int32Array) => string | undefined): number {
  if (64 * maxDist * maxDist > a.length * b.length) {
    const sa = asString(a);
    const sb = sa === undefined ? undefined : asString(b);
    if (sa !== undefined && sb !== undefined) return distance(sa, sb);
  }
  const d = boundedEditDistance(a, b, maxDist);
  return d <= maxDist ? d : -1;
}

/** Symbols as a string of UTF-16 code units (one per symbol), when every symbol fits in one. */
function bmpString(symbols: Int32Array): string | undefined {
  let out = "";
  const chunk = 4096;
  for (let start = 0; start < symbols.length; start += chunk) {
    const part = symbols.subarray(start, start + chunk);
    for (let i = 0; i < part.length; i++) if ((part[i] as number) > 0xffff) return undefined;
    out += String.fromCharCode(...part);
  }
  return out;
}

/** Levenshtein similarity at `unit`, with the batch fast path the semantic policy uses. */
export function levenshteinMeasure(unit: SemanticUnit): SimilarityMeasure {
  return {
    id: `levenshtein-${unit}`,
    withinThreshold(a, b, thetaPpm) {
      const dictionary = new Map<string, number>();
      const sa = symbolsOf(unit, a, dictionary);
      const sb = symbolsOf(unit, b, dictionary);
      const len = Math.max(sa.length, sb.length);
      const d = exactWithin(sa, sb, maxDistanceWithin(len, thetaPpm), bmpString);
      return d >= 0 && isWithinTheta(d, len, thetaPpm);
    },
    prepare(texts, thetaPpm): PairOracle {
      const dictionary = new Map<string, number>();
      const symbols = texts.map((text) => symbolsOf(unit, text, dictionary));
      const size = texts.length;
      const histograms: (Int32Array | undefined)[] = [];
      const histogramOf = (i: number): Int32Array => (histograms[i] ??= histogram(symbols[i] as Int32Array));
      // Bounds on every pair's distance, index (low * size + high); they only ever tighten.
      const lower = new Int32Array(size * size);
      const upper = new Int32Array(size * size);
      const at = (i: number, j: number): number => (i < j ? i * size + j : j * size + i);
      for (let i = 0; i < size; i++) {
        for (let j = i + 1; j < size; j++) {
          const li = (symbols[i] as Int32Array).length;
          const lj = (symbols[j] as Int32Array).length;
          lower[i * size + j] = Math.abs(li - lj);
          upper[i * size + j] = Math.max(li, lj);
        }
      }

      /**
       * Before paying for an exact distance: if x is known to be far from some w, a cheap upper
       * bound on d(w, y) may show x far from y too (d(x, y) >= d(x, w) - d(w, y)). This is how
       * one outlier costs one exact distance per decision, not one per comparison.
       */
      const farByDetour = (x: number, y: number, maxDist: number): number => {
        let tries = 0;
        for (let w = 0; w < size && tries < 3; w++) {
          if (w === x || w === y) continue;
          const far = lower[at(x, w)] as number;
          if (far <= maxDist) continue;
          const need = far - maxDist - 1;
          const wy = at(w, y);
          if ((lower[wy] as number) > need) continue; // w is far from y too: no detour through it
          if ((upper[wy] as number) > need) {
            // Only worth a walk as cheap as an ordinary check of (w, y): cut it off at that pair's
            // own threshold, so the result also settles (w, y) later if it is within.
            const wordsW = symbols[w] as Int32Array;
            const wordsY = symbols[y] as Int32Array;
            const cutoff = Math.min(need, maxDistanceWithin(Math.max(wordsW.length, wordsY.length), thetaPpm));
            if (cutoff < (lower[wy] as number)) continue;
            tries++;
            const bound = bandedUpperBound(wordsW, wordsY, cutoff, BAND_HALF_WIDTH);
            if (bound <= cutoff && bound < (upper[wy] as number)) upper[wy] = bound;
          }
          if ((upper[wy] as number) <= need) return far - (upper[wy] as number);
        }
        return 0;
      };

      return (i, j) => {
        const a = symbols[i] as Int32Array;
        const b = symbols[j] as Int32Array;
        const len = Math.max(a.length, b.length);
        const maxDist = maxDistanceWithin(len, thetaPpm);
        const pair = at(i, j);
        let lo = lower[pair] as number;
        let hi = upper[pair] as number;
        const settle = (answer: boolean): boolean => {
          lower[pair] = lo;
          upper[pair] = hi;
          return answer;
        };
        if (lo > maxDist) return settle(false);
        if (hi <= maxDist) return settle(true);
        // Triangle inequality through every other text w.
        for (let w = 0; w < size; w++) {
          if (w === i || w === j) continue;
          const iw = at(i, w);
          const wj = at(w, j);
          const loIw = lower[iw] as number;
          const hiIw = upper[iw] as number;
          const loWj = lower[wj] as number;
          const hiWj = upper[wj] as number;
          if (hiIw + hiWj < hi) hi = hiIw + hiWj;
          if (loIw - hiWj > lo) lo = loIw - hiWj;
          if (loWj - hiIw > lo) lo = loWj - hiIw;
        }
        if (lo > maxDist) return settle(false);
        if (hi <= maxDist) return settle(true);
        const bag = bagLowerBound(histogramOf(i), histogramOf(j));
        if (bag > lo) lo = bag;
        if (lo > maxDist) return settle(false);
        const banded = bandedUpperBound(a, b, maxDist, BAND_HALF_WIDTH);
        if (banded <= maxDist) {
          if (banded < hi) hi = banded;
          return settle(true);
        }
        const detour = Math.max(farByDetour(i, j, maxDist), farByDetour(j, i, maxDist));
        if (detour > lo) lo = detour;
        if (lo > maxDist) return settle(false);
        const d = exactWithin(a, b, maxDist, bmpString);
        if (d < 0) {
          lo = Math.max(lo, maxDist + 1);
          return settle(false);
        }
        lo = d;
        hi = d;
        return settle(isWithinTheta(d, len, thetaPpm));
      };
    },
  };
}

const charLevenshtein = levenshteinMeasure("char");
const wordLevenshtein = levenshteinMeasure("word");

export const semanticPolicy: AgreementPolicy<SemanticParams> = {
  id: "semantic",
  version: 1,
  description: "retired (verify-only): normalized edit-distance similarity (char or word), medoid star within thetaPpm",
  // Retired: no cost bound (reordered characters cost an exact quadratic distance per pair: seconds
  // at 64 KiB) and no guard against a changed number or "not" (95% similar). Use semantic@2.
  retired: true,
  parseParams(params: PolicyParams): SemanticParams {
    const base = parseSimilarityParams("semantic@1", params, ["unit"]);
    return { ...base, unit: readEnum("semantic@1", params, "unit", ["char", "word"] as const, "char") };
  },
  decide(votes, params, { k }) {
    return decideByMedoidStar(votes, params.unit === "word" ? wordLevenshtein : charLevenshtein, params, k);
  },
};
