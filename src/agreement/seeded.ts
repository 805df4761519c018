/**
 * seeded@1: the spec fixes the sampler (seed from the request id, per-step uniform from
 * H(seed, step), greedy ties to the lowest token id), so honest runs differ only where
 * floating-point drift flips a near tie. Reveals carry evidence `{tokens, margins}`: the generated
 * token ids (including a terminating token, if generation stopped on one) and, per step, the
 * decision margin in 1/1,000,000 (greedy: top-1 minus top-2 logprob; sampled: distance of the
 * uniform to the nearer edge of the chosen token's CDF interval). A vote without evidence, or
 * with `tokens` and `margins` of different lengths or holding anything but non-negative safe
 * integers, supports nothing (it never throws).
 *
 * Agreement: exact duplicates, meaning the same token sequence AND the same output hash. The
 * output hash covers the text and the tokens are evidence; a verifier cannot check that the text
 * detokenizes from the tokens (it has no tokenizer), so both must match for two votes to be
 * duplicates, and a node whose text and tokens disagree only ever agrees with nodes that sent the
 * same pair.
 *
 * Canonical: the group with the most exact duplicates; ties: more total support (below), then the
 * lowest output hash, then the lexicographically smaller token sequence.
 *
 * Fork tolerance (epsPpm > 0; 0 = off, the default). A vote v whose tokens equal the canonical
 * tokens C on steps 0..d-1 and differ at step d (v has a token at d, C has a token at d) also
 * supports C iff all of:
 *   1. C was produced exactly (same tokens and hash) by at least m = max(2, n - k + 1) votes
 *      (`seededMinProducers`): more than the n - k byzantine members the threat model allows, so
 *      an honest node produced all of C;
 *   2. at least m of those producers claim a margin <= epsPpm at step d;
 *   3. v itself claims a margin <= epsPpm at step d.
 * Only C collects fork support; forks never make a group canonical (the exact-duplicate count
 * decides first; total support only breaks ties between equally large groups).
 *
 * Threat model for margins. Margins are claims: no verifier reruns the model, so any node can lie
 * about its own margins. What a liar can gain is at most to make a fork at some step d count for
 * C, and the rules bound that:
 *   - Margins never pick the canonical output: the exact-duplicate count does, and margins only
 *     break ties between equally large groups. No output agrees that was not revealed exactly by
 *     its producers.
 *   - A lone node cannot vouch for its own near tie (rules 1 and 2): one liar producing C and
 *     claiming margin 0 at every step makes no fork count for C.
 *   - A fork counts only for an output that matches C token for token before d, so the supporter
 *     and C share that prefix whatever anyone claims.
 *   - Rule 3 (an addition to "C's margin at d is small": the spec must state it) makes the forker
 *     corroborate the near tie too. An honest node claims a small margin at d only if it really
 *     measured one, i.e. if drift could have made it pick C's token at d. So lying producers of C
 *     cannot recruit honest forkers at steps that were not near ties, and a lying forker adds only
 *     its own one vote, as a Byzantine node voting for C could anyway.
 * Why m = n - k + 1 and not 2: a fork supporter vouches for C's tokens up to step d only; C's
 * tokens after d are backed by C's exact producers alone. With m = 2, two colluders that leave the
 * honest text at a real near tie and then write their own continuation recruited the honest nodes
 * that forked there (the simulator's margin-liar scenario: 52-63% false accepts at eps > 0).
 * With m = n - k + 1 at least one producer of C is honest, so C is an honest output.
 * With epsPpm = 0 the policy is exact: two different outputs never both reach k > n/2 over subsets
 * of one set of votes.
 */
import { compareBytes, bytesEqual } from "../wire/hash.ts";
import type { Cluster, Evidence, PolicyParams } from "../wire/types.ts";
import { clustersByHash, compareClusters, sortVotes } from "./clusters.ts";
import { checkKeys, readInt } from "./params.ts";
import type { AgreementPolicy, PolicyDecision, Vote } from "./policy.ts";

export interface SeededParams {
  /** Fork tolerance in 1/1,000,000 of a margin; 0 turns fork tolerance off. */
  epsPpm: number;
}

/**
 * Exact producers of C (each also claiming the near tie at the fork step) needed before a fork
 * counts: n - k + 1, at least 2. Up to n - k members may be byzantine, so this many producers
 * include an honest one: C, after the fork step too, is an output an honest node produced, and
 * colluders that leave the honest text at a real near tie cannot recruit honest forkers for a
 * continuation of their own (the simulator's margin-liar scenario measured that attack).
 */
export function seededMinProducers(n: number, k: number): number {
  return Math.max(2, n - k + 1);
}

const EPS_MAX = 1_000_000;

/** True when `evidence` is usable: equal-length arrays of non-negative safe integers. */
export function isValidSeededEvidence(evidence: Evidence | undefined): evidence is Evidence {
  if (typeof evidence !== "object" || evidence === null) return false;
  const { tokens, margins } = evidence;
  if (!Array.isArray(tokens) || !Array.isArray(margins) || tokens.length !== margins.length) return false;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    const margin = margins[i];
    if (!Number.isSafeInteger(token) || (token as number) < 0) return false;
    if (!Number.isSafeInteger(margin) || (margin as number) < 0) return false;
  }
  return true;
}

interface SeededVote extends Vote {
  evidence: Evidence;
}

interface ExactGroup {
  tokens: readonly number[];
  votes: SeededVote[];
}

function sameTokens(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function compareTokens(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length - b.length;
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** Votes outside `group` that support it by fork tolerance (rules 1-3 above), in vote order. */
function forkSupporters(group: ExactGroup, valid: readonly SeededVote[], epsPpm: number, minProducers: number): SeededVote[] {
  if (epsPpm === 0 || group.votes.length < minProducers) return [];
  const canonical = group.tokens;
  const forkers: SeededVote[] = [];
  for (const vote of valid) {
    if (group.votes.includes(vote)) continue;
    const tokens = vote.evidence.tokens;
    const step = commonPrefix(canonical, tokens);
    // A fork needs a token on both sides at the step (equal tokens with another text, or one
    // sequence a prefix of the other, is not a fork).
    if (step >= canonical.length || step >= tokens.length) continue;
    if ((vote.evidence.margins[step] as number) > epsPpm) continue;
    let corroborating = 0;
    for (const producer of group.votes) {
      if ((producer.evidence.margins[step] as number) <= epsPpm) corroborating++;
    }
    if (corroborating >= minProducers) forkers.push(vote);
  }
  return forkers;
}

export const seededPolicy: AgreementPolicy<SeededParams> = {
  id: "seeded",
  version: 1,
  description: "identical token sequences under the spec's sampler; optional fork tolerance at corroborated near ties",
  usesEvidence: true,
  parseParams(params: PolicyParams): SeededParams {
    checkKeys("seeded@1", "", params, ["epsPpm"]);
    return { epsPpm: readInt("seeded@1", params, "epsPpm", { min: 0, max: EPS_MAX, fallback: 0 }) };
  },
  decide(votes, { epsPpm }, { n, k }): PolicyDecision {
    const minProducers = seededMinProducers(n, k);
    const valid: SeededVote[] = [];
    const invalid: Vote[] = [];
    for (const vote of sortVotes(votes)) {
      if (isValidSeededEvidence(vote.evidence)) valid.push(vote as SeededVote);
      else invalid.push(vote);
    }

    const groups: ExactGroup[] = [];
    for (const vote of valid) {
      const tokens = vote.evidence.tokens;
      const group = groups.find(
        (g) => bytesEqual((g.votes[0] as SeededVote).outputHash, vote.outputHash) && sameTokens(g.tokens, tokens),
      );
      if (group) group.votes.push(vote);
      else groups.push({ tokens, votes: [vote] });
    }

    // Canonical: most exact duplicates, then most total support, then lowest hash, then tokens.
    // Fork support only matters among the groups tied on the exact count.
    let mostExact = 0;
    for (const group of groups) if (group.votes.length > mostExact) mostExact = group.votes.length;
    let canonical: { group: ExactGroup; forkers: SeededVote[] } | undefined;
    for (const group of groups) {
      if (group.votes.length !== mostExact) continue;
      const forkers = forkSupporters(group, valid, epsPpm, minProducers);
      if (!canonical) {
        canonical = { group, forkers };
        continue;
      }
      const bySupport = forkers.length - canonical.forkers.length;
      const byHash = compareBytes((group.votes[0] as SeededVote).outputHash, (canonical.group.votes[0] as SeededVote).outputHash);
      if (bySupport > 0 || (bySupport === 0 && (byHash < 0 || (byHash === 0 && compareTokens(group.tokens, canonical.group.tokens) < 0)))) {
        canonical = { group, forkers };
      }
    }

    if (canonical) {
      const first = canonical.group.votes[0] as SeededVote;
      const star = [...canonical.group.votes, ...canonical.forkers];
      if (star.length >= k) {
        return {
          agreed: true,
          output: first.output,
          outputHash: first.outputHash,
          supporters: star.map((vote) => vote.node).sort(),
        };
      }
    }

    // No agreement: the canonical star, the other exact groups (less the canonical's forkers),
    // and the votes without usable evidence grouped by output hash.
    const clusters: Cluster[] = [];
    const inStar = new Set<Vote>();
    if (canonical) {
      const first = canonical.group.votes[0] as SeededVote;
      for (const vote of [...canonical.group.votes, ...canonical.forkers]) inStar.add(vote);
      clusters.push({ outputHash: first.outputHash, members: [...inStar].map((vote) => vote.node).sort() });
    }
    for (const group of groups) {
      if (canonical && group === canonical.group) continue;
      const members = group.votes.filter((vote) => !inStar.has(vote));
      const first = members[0];
      if (first) clusters.push({ outputHash: first.outputHash, members: members.map((vote) => vote.node) });
    }
    clusters.push(...clustersByHash(invalid));
    return { agreed: false, clusters: clusters.sort(compareClusters) };
  },
};
