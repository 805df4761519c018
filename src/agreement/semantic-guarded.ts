/**
 * semantic@2: similarity with guards (spec/09-policies.md). Two outputs may support each other
 * only when they carry the same decision-bearing tokens (guards.ts: numbers, polarity words,
 * direction words, the request's terms) and their words overlap by at least theta:
 *
 *   common * 1,000,000 >= thetaPpm * max(|A|, |B|)
 *
 * where A and B are the two outputs' word lists after the normalization below and `common` is
 * the size of their multiset intersection (word order does not matter: honest samples reorder
 * clauses; what changes an answer is what the guards see). Two empty outputs are identical. The
 * decision is the medoid star of similarity.ts over this relation, so every supporter carries
 * exactly the canonical output's guard tokens and is within theta of it.
 *
 * Normalization (normalizeText with stripFormat and caseFold): format characters removed, then NFC, lowercase, NFC, whitespace
 * runs to one space (similarity.ts normalizeText
 * with caseFold). An output over MAX_SEMANTIC_BYTES (8 KiB) or MAX_SEMANTIC_WORDS (512) words supports nothing, which bounds
 * a decision's cost: every pair costs at most a merge of two sorted lists of that length.
 *
 * Parameters: { thetaPpm?: 0..1,000,000 (default 600,000), guards?: [classes] (default all four),
 * terms?: [strings] (1..64 of them, default none) }.
 */
import { utf8Length } from "../wire/cbor.ts";
import type { PolicyParams } from "../wire/types.ts";
import { clustersByHash, compareClusters } from "./clusters.ts";
import { GUARD_CLASSES, TOKEN, guardSignature, words } from "./guards.ts";
import type { GuardClass, GuardOptions } from "./guards.ts";
import { checkKeys, paramsError, readInt } from "./params.ts";
import type { AgreementPolicy, PolicyDecision, Vote } from "./policy.ts";
import { decideByMedoidStar, normalizeText } from "./similarity.ts";
import type { NormalizeOptions } from "./similarity.ts";
import type { PairOracle, SimilarityMeasure, SimilarityParams } from "./similarity.ts";

const POLICY = "semantic@2";
/** Longest output, in words, that can support anything under semantic@2. */
export const MAX_SEMANTIC_WORDS = 512;
/** Longest output, in UTF-8 bytes of the raw text, that can support anything (checked first: it costs nothing). */
export const MAX_SEMANTIC_BYTES = 8 * 1024;
export const SEMANTIC2_DEFAULT_THETA_PPM = 600_000;
const MAX_TERMS = 64;

export interface GuardedParams extends SimilarityParams {
  guards: GuardOptions;
}

function readStringList(params: PolicyParams, key: string, max: number): string[] {
  const value = params[key];
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > max) throw paramsError(POLICY, key, `must be a list of at most ${max} strings`);
  return value.map((item) => {
    if (typeof item !== "string") throw paramsError(POLICY, key, "must list strings");
    return item;
  });
}

export function parseGuardedParams(params: PolicyParams): GuardedParams {
  checkKeys(POLICY, "", params, ["thetaPpm", "guards", "terms"]);
  const thetaPpm = readInt(POLICY, params, "thetaPpm", { min: 0, max: 1_000_000, fallback: SEMANTIC2_DEFAULT_THETA_PPM });
  const classes = new Set<GuardClass>();
  const listed = params["guards"] === undefined ? [...GUARD_CLASSES] : readStringList(params, "guards", GUARD_CLASSES.length);
  for (const name of listed) {
    const guard = GUARD_CLASSES.find((g) => g === name);
    if (!guard || classes.has(guard)) throw paramsError(POLICY, "guards", `unknown or repeated guard: ${name}`);
    classes.add(guard);
  }
  const terms = readStringList(params, "terms", MAX_TERMS).map((term) => {
    const split = words(normalizeText(term, GUARDED_NORMALIZE));
    if (split.length === 0) throw paramsError(POLICY, "terms", `a term has no words: ${JSON.stringify(term)}`);
    return split;
  });
  return { thetaPpm, normalize: GUARDED_NORMALIZE, guards: { classes, terms } };
}

/** Whether two sorted id lists overlap by enough: the merge stops once the answer is settled. */
function bagWithin(a: Int32Array, b: Int32Array, thetaPpm: number): boolean {
  const longer = Math.max(a.length, b.length);
  if (longer === 0) return true;
  const need = Math.ceil((thetaPpm * longer) / 1_000_000);
  if (Math.min(a.length, b.length) < need) return false;
  let common = 0;
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as number;
    const y = b[j] as number;
    if (x === y) {
      common++;
      i++;
      j++;
      if (common >= need) return true;
    } else if (x < y) i++;
    else j++;
    // Even if every remaining element matched, too few.
    if (common + Math.min(a.length - i, b.length - j) < need) return false;
  }
  return common >= need;
}

/** The semantic@2 relation over one decision's normalized texts. */
export function guardedMeasure(guards: GuardOptions): SimilarityMeasure {
  const prepare = (texts: readonly string[], thetaPpm: number): PairOracle => {
    const dictionary = new Map<string, number>();
    const signatures: string[] = [];
    const bags: Int32Array[] = [];
    for (const text of texts) {
      const list = words(text);
      signatures.push(guardSignature(text, guards, list));
      const ids = new Int32Array(list.length);
      list.forEach((word, index) => {
        let id = dictionary.get(word);
        if (id === undefined) {
          id = dictionary.size;
          dictionary.set(word, id);
        }
        ids[index] = id;
      });
      bags.push(ids.sort());
    }
    return (i, j) => signatures[i] === signatures[j] && bagWithin(bags[i] as Int32Array, bags[j] as Int32Array, thetaPpm);
  };
  return {
    id: "semantic-guarded",
    withinThreshold: (a, b, thetaPpm) => prepare([a, b], thetaPpm)(0, 1),
    prepare,
  };
}

export const semanticGuardedPolicy: AgreementPolicy<GuardedParams> = {
  id: "semantic",
  version: 2,
  description: "word-overlap similarity within thetaPpm, and every supporter carries the canonical output's numbers, negations, directions and terms exactly",
  parseParams: parseGuardedParams,
  decide(votes, params, { k }): PolicyDecision {
    const eligible: Vote[] = [];
    const tooLong: Vote[] = [];
    const normalizedOf = new Map<string, string>();
    for (const vote of votes) {
      if (utf8Length(vote.output) > MAX_SEMANTIC_BYTES) {
        tooLong.push(vote);
        continue;
      }
      let text = normalizedOf.get(vote.output);
      if (text === undefined) {
        text = normalizeText(vote.output, params.normalize);
        normalizedOf.set(vote.output, text);
      }
      (countWordsUpTo(text, MAX_SEMANTIC_WORDS + 1) > MAX_SEMANTIC_WORDS ? tooLong : eligible).push(vote);
    }
    // The texts are normalized already: the medoid search reuses them.
    const decision = decideByMedoidStar(eligible, guardedMeasure(params.guards), params, k, normalizedOf);
    if (decision.agreed || tooLong.length === 0) return decision;
    return { agreed: false, clusters: [...decision.clusters, ...clustersByHash(tooLong)].sort(compareClusters) };
  },
};

/**
 * The semantic@2 normalization: format characters removed, so an
 * invisible character cannot hide a "not" or split a number; then case folded, as semantic@1's.
 */
const GUARDED_NORMALIZE: NormalizeOptions = { caseFold: true, stripFormat: true };

/** Words of a normalized text; counting stops at `limit`. */
function countWordsUpTo(text: string, limit: number): number {
  let count = 0;
  for (const _ of text.matchAll(TOKEN)) {
    if (++count >= limit) break;
  }
  return count;
}
