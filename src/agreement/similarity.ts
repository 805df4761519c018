/**
 * The similarity plug point and the medoid-star decision shared by the semantic policy and any
 * policy built on another measure (an embedding cosine, say).
 *
 * Decision (spec/09-policies.md, "medoid star"): normalize every output; identical normalized
 * texts form one group. The canonical group is the one within theta of the most votes (itself
 * included); ties go to the group with more votes (exact normalized duplicates), then to the lowest
 * output hash of the group's representative. Agreed when that count reaches k; the supporters are
 * exactly the votes within theta of the canonical text, so every supporter is within theta of the
 * accepted output (not merely of some other supporter).
 *
 * The search is exact, only lazy: candidates are tried in tie-break order and a candidate stops as
 * soon as the votes it is known not to reach leave it unable to beat the best so far. The measure
 * sees each unordered pair at most once per decision.
 */
import { compareBytes } from "../wire/hash.ts";
import type { Bytes, Cluster, PolicyParams } from "../wire/types.ts";
import { compareClusters, sortVotes } from "./clusters.ts";
import { checkKeys, readBool, readInt, readMap } from "./params.ts";
import type { AgreementPolicy, PolicyDecision, Vote } from "./policy.ts";

/** Decides whether two normalized outputs are similar at threshold thetaPpm. */
export type PairOracle = (i: number, j: number) => boolean;

/**
 * A similarity measure. `withinThreshold` must be deterministic, integer-decided, symmetric and
 * true for identical texts; the decision only ever asks it about distinct normalized texts.
 */
export interface SimilarityMeasure {
  readonly id: string;
  withinThreshold(a: string, b: string, thetaPpm: number): boolean;
  /**
   * Optional fast path: prepare all distinct texts of one decision at once (shared dictionaries,
   * cached bounds) and answer pairs by index. Must agree with `withinThreshold` on every pair.
   */
  prepare?(texts: readonly string[], thetaPpm: number): PairOracle;
}

export interface NormalizeOptions {
  /** Lowercase (Unicode default, locale-independent) before comparing. */
  caseFold: boolean;
  /**
   * Remove format characters (general category Cf: soft hyphen, zero-width spaces and joiners,
   * bidi controls) first, so an invisible character cannot hide a word (semantic@2). Default false.
   */
  stripFormat?: boolean;
}

const FORMAT_CHARACTERS = /\p{Cf}/gu;

/**
 * Unicode White_Space (U+0009..U+000D, U+0020, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028,
 * U+2029, U+202F, U+205F, U+3000), listed so that other implementations match it exactly.
 */
const WHITESPACE_RUN = /[\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g;

/**
 * The text a similarity policy compares: NFC, then (optionally) lowercase and NFC again, then every
 * run of White_Space replaced by one U+0020 and the ends trimmed. NFC and lowercasing use the
 * runtime's Unicode tables (Node 24.21: Unicode 17.0); they are stable for assigned characters, so the
 * spec pins a Unicode version only for code points assigned after it.
 *
 * @example normalizeText("  Hello\u00a0\n World ", { caseFold: true }) // "hello world"
 */
/**
 * The Unicode version the spec's similarity normalization is pinned to (spec/09-policies.md). A
 * runtime with other tables agrees on text whose characters are assigned in both; nodes warn at
 * start when theirs differs.
 */
export const SIMILARITY_UNICODE_VERSION = "17.0";

export function normalizeText(text: string, options: NormalizeOptions): string {
  let out = (options.stripFormat ? text.replace(FORMAT_CHARACTERS, "") : text).normalize("NFC");
  if (options.caseFold) out = out.toLowerCase().normalize("NFC");
  out = out.replace(WHITESPACE_RUN, " ");
  const start = out.startsWith(" ") ? 1 : 0;
  const end = out.endsWith(" ") && out.length > start ? out.length - 1 : out.length;
  return out.slice(start, end);
}

export interface SimilarityParams {
  /** Similarity threshold in 1/1,000,000. */
  thetaPpm: number;
  normalize: NormalizeOptions;
}

export const DEFAULT_THETA_PPM = 900_000;

/** Parses `{thetaPpm?, normalize?: {caseFold?}}` plus the `extraKeys` a wrapping policy reads itself. */
export function parseSimilarityParams(
  policy: string,
  params: PolicyParams,
  extraKeys: readonly string[] = [],
): SimilarityParams {
  checkKeys(policy, "", params, ["thetaPpm", "normalize", ...extraKeys]);
  const thetaPpm = readInt(policy, params, "thetaPpm", { min: 0, max: 1_000_000, fallback: DEFAULT_THETA_PPM });
  const normalize = readMap(policy, params, "normalize");
  checkKeys(policy, "normalize", normalize, ["caseFold"]);
  return { thetaPpm, normalize: { caseFold: readBool(policy, normalize, "caseFold", false, "normalize") } };
}

/** Votes sharing one normalized text. */
interface Group {
  text: string;
  votes: Vote[];
  /** The raw output the group is named by: its most common raw output, then the lowest hash. */
  output: string;
  outputHash: Bytes;
}

function groupByNormalizedText(votes: readonly Vote[], options: NormalizeOptions, normalizedOf: Map<string, string>): Group[] {
  const groups = new Map<string, Group>();
  for (const vote of sortVotes(votes)) {
    let text = normalizedOf.get(vote.output);
    if (text === undefined) {
      text = normalizeText(vote.output, options);
      normalizedOf.set(vote.output, text);
    }
    const group = groups.get(text);
    if (group) group.votes.push(vote);
    else groups.set(text, { text, votes: [vote], output: vote.output, outputHash: vote.outputHash });
  }
  for (const group of groups.values()) {
    if (group.votes.length === 1) continue;
    const counts = new Map<string, { count: number; vote: Vote }>();
    for (const vote of group.votes) {
      const entry = counts.get(vote.output);
      if (entry) entry.count++;
      else counts.set(vote.output, { count: 1, vote });
    }
    let best: { count: number; vote: Vote } | undefined;
    for (const entry of counts.values()) {
      if (
        !best ||
        entry.count > best.count ||
        (entry.count === best.count && compareBytes(entry.vote.outputHash, best.vote.outputHash) < 0)
      ) {
        best = entry;
      }
    }
    if (best) {
      group.output = best.vote.output;
      group.outputHash = best.vote.outputHash;
    }
  }
  // Tie-break order: more votes first, then the lowest representative hash.
  return [...groups.values()].sort(
    (a, b) => b.votes.length - a.votes.length || compareBytes(a.outputHash, b.outputHash),
  );
}

/** Pairwise "within theta" over the groups of one decision, asked at most once per pair. */
interface Relation {
  /** The answer if already computed, else undefined. */
  known(i: number, j: number): boolean | undefined;
  within(i: number, j: number): boolean;
}

function cachedRelation(size: number, oracle: PairOracle): Relation {
  // 0 = unknown, 1 = within, 2 = not within; indexed by the ordered pair (lower, higher).
  const cache = new Uint8Array(size * size);
  return {
    known(i, j) {
      const state = cache[i < j ? i * size + j : j * size + i];
      return state === 0 ? undefined : state === 1;
    },
    within(i, j) {
      if (i === j) return true;
      const lo = i < j ? i : j;
      const hi = i < j ? j : i;
      const at = lo * size + hi;
      const state = cache[at];
      if (state !== 0) return state === 1;
      const answer = oracle(lo, hi);
      cache[at] = answer ? 1 : 2;
      return answer;
    },
  };
}

/**
 * The medoid among `candidates` (group indices in tie-break order): the candidate with the most
 * weight within theta (itself included, counting candidates only), the earliest one on ties.
 * Exact, but lazy: a candidate is abandoned once the weight it is known to miss means it cannot
 * beat the best so far, and the search ends once some candidate reaches every vote.
 */
function findMedoid(
  candidates: readonly number[],
  weights: readonly number[],
  relation: Relation,
): { medoid: number; support: number } {
  let total = 0;
  for (const c of candidates) total += weights[c] as number;
  let medoid = -1;
  let best = 0;
  for (const c of candidates) {
    let bound = total;
    for (const other of candidates) {
      if (other !== c && relation.known(c, other) === false) bound -= weights[other] as number;
    }
    if (bound <= best) continue;
    let support = weights[c] as number;
    for (const other of candidates) {
      if (other === c) continue;
      const answer = relation.known(c, other);
      if (answer === false) continue; // already left out of the bound
      if (answer === true || relation.within(c, other)) {
        support += weights[other] as number;
      } else {
        bound -= weights[other] as number;
        if (bound <= best) break;
      }
    }
    if (bound > best) {
      // Every pair was settled, so bound === support.
      best = support;
      medoid = c;
      if (best === total) break;
    }
  }
  return { medoid, support: best };
}

/**
 * The medoid-star decision over any measure (see the module comment). Votes are sorted first, so
 * the decision does not depend on their order.
 */
export function decideByMedoidStar(
  votes: readonly Vote[],
  measure: SimilarityMeasure,
  params: SimilarityParams,
  k: number,
  /** Normalized texts by raw output, when the caller has some already (filled as a cache). */
  normalizedOf: Map<string, string> = new Map(),
): PolicyDecision {
  const groups = groupByNormalizedText(votes, params.normalize, normalizedOf);
  const texts = groups.map((group) => group.text);
  const weights = groups.map((group) => group.votes.length);
  const oracle: PairOracle = measure.prepare
    ? measure.prepare(texts, params.thetaPpm)
    : (i, j) => measure.withinThreshold(texts[i] as string, texts[j] as string, params.thetaPpm);
  const relation = cachedRelation(groups.length, oracle);
  const all = groups.map((_, index) => index);

  const { medoid, support } = findMedoid(all, weights, relation);
  const canonical = groups[medoid];
  if (canonical && support >= k) {
    const supporters: string[] = [];
    for (const index of all) {
      if (relation.within(medoid, index)) for (const vote of (groups[index] as Group).votes) supporters.push(vote.node);
    }
    supporters.sort();
    return { agreed: true, output: canonical.output, outputHash: canonical.outputHash, supporters };
  }

  // No agreement: peel stars greedily (medoid of what is left, then its star) so a caller sees
  // how the votes group; every vote lands in exactly one cluster.
  const clusters: Cluster[] = [];
  let remaining = all;
  while (remaining.length > 0) {
    const found = findMedoid(remaining, weights, relation);
    const centre = groups[found.medoid] as Group;
    const members: string[] = [];
    const rest: number[] = [];
    for (const index of remaining) {
      if (relation.within(found.medoid, index)) for (const vote of (groups[index] as Group).votes) members.push(vote.node);
      else rest.push(index);
    }
    members.sort();
    clusters.push({ outputHash: centre.outputHash, members });
    remaining = rest;
  }
  return { agreed: false, clusters: clusters.sort(compareClusters) };
}

export interface SimilarityPolicyOptions {
  id: string;
  version: number;
  description: string;
  measure: SimilarityMeasure;
}

/**
 * Builds a medoid-star policy over `measure`, with parameters `{thetaPpm?, normalize?: {caseFold?}}`
 * (theta defaults to 900,000 ppm).
 *
 * @example
 * const cosine: SimilarityMeasure = { id: "cosine", withinThreshold: (a, b, theta) => ... };
 * registry.register(createSimilarityPolicy({ id: "embedding", version: 1, description: "...", measure: cosine }));
 */
export function createSimilarityPolicy(options: SimilarityPolicyOptions): AgreementPolicy<SimilarityParams> {
  const name = `${options.id}@${options.version}`;
  return {
    id: options.id,
    version: options.version,
    description: options.description,
    parseParams: (params) => parseSimilarityParams(name, params),
    decide: (votes, params, { k }) => decideByMedoidStar(votes, options.measure, params, k),
  };
}
