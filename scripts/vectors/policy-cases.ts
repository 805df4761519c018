/**
 * Known-answer cases for the agreement policies (spec/09-policies.md), as plain data: the single
 * source of spec/vectors/policies.json (scripts/vectors/policies.ts writes them, computing the
 * output hashes and checking every expectation below against the reference code first).
 *
 * A case names the policy reference as a request carries it, how it is bound (`bind`), the
 * request's n and k, the votes (output hashes are outputHash(output)), and either the expected
 * decision (agreed: output and supporters; not agreed: each cluster's members, in the decision's
 * order) or the code binding raises. Where an expectation rests on a hash tie-break, the note says
 * so; the vector carries every hash.
 */
import type { PolicyParams } from "../../src/wire/types.ts";

export interface CaseVote {
  node: string;
  output: string;
  /** As `decide` receives it; a few seeded cases hold evidence the wire cannot carry (rule 5). */
  evidence?: { tokens: number[]; margins: number[] };
}

/**
 * How the case binds its policy (PolicyRegistry.bind): `request` as every live path does
 * (a baseline is POLICY_PARAMS, a retired policy POLICY_RETIRED); `verify-only` as verifyBundle
 * with allowRetired (archives, `concord verify`); `baseline` as the simulator binds first-wins.
 */
export type Binding = "request" | "verify-only" | "baseline";

export type CaseExpectation = { agreed: true; output: string; supporters: string[] } | { agreed: false; clusters: string[][] };

export interface PolicyCase {
  /** Stable kebab-case: vectors and reviews refer to it. */
  name: string;
  /** Why the case exists, in one sentence. */
  note: string;
  policy: { id: string; version: number; params: PolicyParams };
  bind?: Binding;
  context: { n: number; k: number };
  votes: CaseVote[];
  expected?: CaseExpectation;
  expectedError?: "POLICY_UNKNOWN" | "POLICY_PARAMS" | "POLICY_RETIRED";
}

const exact = (params: PolicyParams = {}) => ({ id: "exact", version: 1, params });
const seeded = (params: PolicyParams = {}) => ({ id: "seeded", version: 1, params });
const semantic = (params: PolicyParams = {}) => ({ id: "semantic", version: 1, params });
const semantic2 = (params: PolicyParams = {}) => ({ id: "semantic", version: 2, params });
const structured = (params: PolicyParams) => ({ id: "structured", version: 1, params });
const structured2 = (params: PolicyParams) => ({ id: "structured", version: 2, params });
const firstWins = (params: PolicyParams = {}) => ({ id: "first-wins", version: 1, params });

const agreed = (output: string, supporters: string[]): CaseExpectation => ({ agreed: true, output, supporters });
const split = (...clusters: string[][]): CaseExpectation => ({ agreed: false, clusters });

/** Votes for nodes a, b, c, … in order. */
function votes(...outputs: string[]): CaseVote[] {
  return outputs.map((output, i) => ({ node: String.fromCharCode(97 + i), output }));
}

/** A seeded vote whose text is its tokens written out ("t1 t2 t3"), unless given. */
function sv(node: string, tokens: number[], margins: number[], output?: string): CaseVote {
  return { node, output: output ?? tokens.map((t) => `t${t}`).join(" "), evidence: { tokens, margins } };
}

/** A params-only case: binding succeeds (no votes: no agreement, no clusters) or raises `error`. */
function params(
  name: string,
  note: string,
  policy: { id: string; version: number; params: PolicyParams },
  error?: "POLICY_PARAMS" | "POLICY_UNKNOWN" | "POLICY_RETIRED",
  bind: Binding = "request",
): PolicyCase {
  const base = { name, note, policy, bind, context: { n: 1, k: 1 }, votes: [] };
  return error ? { ...base, expectedError: error } : { ...base, expected: split() };
}

// ---------------------------------------------------------------------------------------------

export const exactCases: PolicyCase[] = [
  {
    name: "exact-all-agree",
    note: "k identical outputs agree; every voter with that output supports it.",
    policy: exact(),
    context: { n: 3, k: 2 },
    votes: votes("Paris", "Paris", "Paris"),
    expected: agreed("Paris", ["a", "b", "c"]),
  },
  {
    name: "exact-minority-is-not-support",
    note: "Only byte-identical outputs support: 'paris' and 'Lyon' are left out.",
    policy: exact(),
    context: { n: 5, k: 3 },
    votes: votes("Paris", "Lyon", "Paris", "paris", "Paris"),
    expected: agreed("Paris", ["a", "c", "e"]),
  },
  {
    name: "exact-fewer-than-k",
    note: "The largest cluster has k - 1 members: no agreement, one cluster.",
    policy: exact(),
    context: { n: 5, k: 3 },
    votes: votes("Paris", "Paris"),
    expected: split(["a", "b"]),
  },
  {
    name: "exact-split-clusters-by-size-then-hash",
    note: "Clusters: larger first, then the lower output hash ('Lyon' < 'Paris' by hash; the singleton last).",
    policy: exact(),
    context: { n: 5, k: 3 },
    votes: votes("Paris", "Lyon", "Paris", "Lyon", "Rome"),
    expected: split(["b", "d"], ["a", "c"], ["e"]),
  },
  {
    name: "exact-no-votes",
    note: "No votes: no agreement and no clusters.",
    policy: exact(),
    context: { n: 3, k: 2 },
    votes: [],
    expected: split(),
  },
  {
    name: "exact-nfc-and-nfd-differ",
    note: "exact compares bytes: a precomposed and a decomposed e-acute are two outputs (the decomposed one has the lower hash).",
    policy: exact(),
    context: { n: 2, k: 2 },
    votes: votes("caf\u00e9", "cafe\u0301"),
    expected: split(["b"], ["a"]),
  },
  {
    name: "exact-trailing-space-differs",
    note: "No normalization of any kind: a trailing space is another output.",
    policy: exact(),
    context: { n: 2, k: 2 },
    votes: votes("Paris", "Paris "),
    expected: split(["b"], ["a"]),
  },
  {
    name: "exact-empty-output",
    note: "The empty output is an output like any other.",
    policy: exact(),
    context: { n: 3, k: 2 },
    votes: votes("", "", "x"),
    expected: agreed("", ["a", "b"]),
  },
  params("exact-rejects-any-parameter", "exact@1 takes no parameters.", exact({ x: 1 }), "POLICY_PARAMS"),
];

export const seededCases: PolicyCase[] = [
  {
    name: "seeded-exact-duplicates-agree",
    note: "Exact duplicates (same tokens, same text) agree; margins may drift.",
    policy: seeded(),
    context: { n: 4, k: 3 },
    votes: [
      sv("a", [1, 2, 3], [900_000, 5_000, 700_000]),
      sv("b", [1, 2, 3], [900_100, 4_900, 700_050]),
      sv("c", [1, 2, 3], [899_000, 5_100, 700_000]),
      sv("d", [1, 2, 3], [900_000, 5_000, 700_000]),
    ],
    expected: agreed("t1 t2 t3", ["a", "b", "c", "d"]),
  },
  {
    name: "seeded-unusable-evidence-supports-nothing",
    note: "A vote without evidence, or with tokens and margins of different lengths, supports nothing.",
    policy: seeded(),
    context: { n: 5, k: 3 },
    votes: [
      sv("a", [1, 2, 3], [10, 10, 10]),
      sv("b", [1, 2, 3], [10, 10, 10]),
      sv("c", [1, 2, 3], [10, 10, 10]),
      { node: "d", output: "t1 t2 t3" },
      sv("e", [1, 2, 3], [10, 10]),
    ],
    expected: agreed("t1 t2 t3", ["a", "b", "c"]),
  },
  {
    name: "seeded-negative-token-or-fractional-margin",
    note: "Evidence with a negative token or a fractional margin supports nothing (values the wire cannot carry; decide never throws).",
    policy: seeded(),
    context: { n: 4, k: 3 },
    votes: [sv("a", [1, 2], [10, 10]), sv("b", [1, 2], [10, 10]), sv("c", [1, -2], [10, 10], "t1 t2"), sv("d", [1, 2], [10, 10.5])],
    expected: split(["a", "b"], ["c", "d"]),
  },
  {
    name: "seeded-same-tokens-other-text",
    note: "Same tokens but different text are not duplicates (tie order: hash of 't1 t2.' < 't1 t2').",
    policy: seeded(),
    context: { n: 4, k: 3 },
    votes: [sv("a", [1, 2], [10, 10], "t1 t2"), sv("b", [1, 2], [10, 10], "t1 t2"), sv("c", [1, 2], [10, 10], "t1 t2."), sv("d", [1, 2], [10, 10], "t1 t2.")],
    expected: split(["c", "d"], ["a", "b"]),
  },
  {
    name: "seeded-fork-tolerance-off-by-default",
    note: "Without epsPpm a fork never counts, however small the margins.",
    policy: seeded(),
    context: { n: 4, k: 4 },
    votes: [
      sv("a", [1, 2, 3, 4], [800_000, 600_000, 300, 900_000]),
      sv("b", [1, 2, 3, 4], [800_000, 600_000, 350, 900_000]),
      sv("c", [1, 2, 3, 4], [800_000, 600_000, 320, 900_000]),
      sv("d", [1, 2, 9, 9], [800_000, 600_000, 400, 900_000]),
    ],
    expected: split(["a", "b", "c"], ["d"]),
  },
  {
    name: "seeded-eps-zero-ignores-zero-margins",
    note: "epsPpm 0 turns fork tolerance off even for margins of 0.",
    policy: seeded({ epsPpm: 0 }),
    context: { n: 3, k: 3 },
    votes: [sv("a", [1, 2], [0, 0]), sv("b", [1, 2], [0, 0]), sv("c", [1, 3], [0, 0])],
    expected: split(["a", "b"], ["c"]),
  },
  {
    name: "seeded-corroborated-fork-counts",
    note: "A fork at a near tie that two producers (m = max(2, n - k + 1) = 2) and the forker all claim counts as support.",
    policy: seeded({ epsPpm: 1_000 }),
    context: { n: 4, k: 4 },
    votes: [
      sv("a", [1, 2, 3, 4], [800_000, 600_000, 300, 900_000]),
      sv("b", [1, 2, 3, 4], [800_000, 600_000, 350, 900_000]),
      sv("c", [1, 2, 3, 4], [800_000, 600_000, 320, 900_000]),
      sv("d", [1, 2, 9, 9], [800_000, 600_000, 400, 900_000]),
    ],
    expected: agreed("t1 t2 t3 t4", ["a", "b", "c", "d"]),
  },
  {
    name: "seeded-margin-equal-to-eps-counts",
    note: "A margin equal to epsPpm is within it (<=), for producers and forker alike.",
    policy: seeded({ epsPpm: 1_000 }),
    context: { n: 4, k: 4 },
    votes: [
      sv("a", [1, 2, 3, 4], [800_000, 600_000, 1_000, 900_000]),
      sv("b", [1, 2, 3, 4], [800_000, 600_000, 1_000, 900_000]),
      sv("c", [1, 2, 3, 4], [800_000, 600_000, 5_000, 900_000]),
      sv("d", [1, 2, 9, 9], [800_000, 600_000, 1_000, 900_000]),
    ],
    expected: agreed("t1 t2 t3 t4", ["a", "b", "c", "d"]),
  },
  {
    name: "seeded-forker-margin-one-above-eps",
    note: "The forker's own margin at the fork one above epsPpm: the fork does not count.",
    policy: seeded({ epsPpm: 1_000 }),
    context: { n: 4, k: 4 },
    votes: [
      sv("a", [1, 2, 3, 4], [800_000, 600_000, 1_000, 900_000]),
      sv("b", [1, 2, 3, 4], [800_000, 600_000, 1_000, 900_000]),
      sv("c", [1, 2, 3, 4], [800_000, 600_000, 1_000, 900_000]),
      sv("d", [1, 2, 9, 9], [800_000, 600_000, 1_001, 900_000]),
    ],
    expected: split(["a", "b", "c"], ["d"]),
  },
  {
    name: "seeded-forker-must-claim-the-near-tie",
    note: "The forker's own margin at the fork must be within epsilon too.",
    policy: seeded({ epsPpm: 1_000 }),
    context: { n: 4, k: 4 },
    votes: [
      sv("a", [1, 2, 3, 4], [800_000, 600_000, 300, 900_000]),
      sv("b", [1, 2, 3, 4], [800_000, 600_000, 350, 900_000]),
      sv("c", [1, 2, 3, 4], [800_000, 600_000, 320, 900_000]),
      sv("d", [1, 2, 9, 9], [800_000, 600_000, 1_500, 900_000]),
    ],
    expected: split(["a", "b", "c"], ["d"]),
  },
  {
    name: "seeded-one-producer-claiming-is-not-enough",
    note: "Only one producer claims the near tie (m = 2 needed).",
    policy: seeded({ epsPpm: 1_000 }),
    context: { n: 4, k: 4 },
    votes: [
      sv("a", [1, 2, 3, 4], [800_000, 600_000, 300, 900_000]),
      sv("b", [1, 2, 3, 4], [800_000, 600_000, 5_000, 900_000]),
      sv("c", [1, 2, 3, 4], [800_000, 600_000, 1_001, 900_000]),
      sv("d", [1, 2, 9, 9], [800_000, 600_000, 400, 900_000]),
    ],
    expected: split(["a", "b", "c"], ["d"]),
  },
  {
    name: "seeded-lone-producer-cannot-vouch",
    note: "A lone producer cannot vouch for its own near tie (hash order: 't7 t8 t9' < 't1 t2 t3' < 't1 t5 t6').",
    policy: seeded({ epsPpm: 1_000 }),
    context: { n: 3, k: 2 },
    votes: [sv("a", [1, 2, 3], [0, 0, 0]), sv("b", [1, 5, 6], [0, 0, 0]), sv("c", [7, 8, 9], [0, 0, 0])],
    expected: split(["c"], ["a"], ["b"]),
  },
  {
    name: "seeded-strict-prefix-is-not-a-fork",
    note: "An output that stops early (a strict prefix of C) has no token at the fork step: not a fork.",
    policy: seeded({ epsPpm: 1_000 }),
    context: { n: 4, k: 4 },
    votes: [
      sv("a", [1, 2, 3, 4], [800_000, 600_000, 300, 900_000]),
      sv("b", [1, 2, 3, 4], [800_000, 600_000, 350, 900_000]),
      sv("c", [1, 2, 3, 4], [800_000, 600_000, 320, 900_000]),
      sv("d", [1, 2], [800_000, 600_000]),
    ],
    expected: split(["a", "b", "c"], ["d"]),
  },
  {
    name: "seeded-fork-at-step-zero",
    note: "A fork at the very first step counts like any other (n = k = 3: m = 2).",
    policy: seeded({ epsPpm: 500 }),
    context: { n: 3, k: 3 },
    votes: [sv("a", [5, 6], [100, 900_000]), sv("b", [5, 6], [200, 900_000]), sv("c", [7, 6], [500, 900_000])],
    expected: agreed("t5 t6", ["a", "b", "c"]),
  },
  {
    name: "seeded-two-producers-not-enough-at-n5-k3",
    note: "A fork counts only when n - k + 1 exact producers claim the near tie: two are not enough at n = 5, k = 3.",
    policy: seeded({ epsPpm: 1_000 }),
    context: { n: 5, k: 3 },
    votes: [
      sv("a", [1, 2, 3], [900_000, 900_000, 900_000]),
      sv("b", [1, 2, 3], [900_000, 900_000, 900_000]),
      sv("c", [4, 5, 6], [900_000, 900_000, 200]),
      sv("d", [4, 5, 6], [900_000, 900_000, 300]),
      sv("e", [4, 5, 7], [900_000, 900_000, 250]),
    ],
    expected: split(["a", "b"], ["c", "d"], ["e"]),
  },
  {
    name: "seeded-three-producers-at-n7-k5",
    note: "Three exact producers claiming the near tie (n = 7, k = 5: m = 3) let two forks count.",
    policy: seeded({ epsPpm: 1_000 }),
    context: { n: 7, k: 5 },
    votes: [
      sv("a", [1, 2, 3], [900_000, 900_000, 900_000]),
      sv("b", [1, 2, 3], [900_000, 900_000, 900_000]),
      sv("c", [4, 5, 6], [900_000, 900_000, 200]),
      sv("d", [4, 5, 6], [900_000, 900_000, 300]),
      sv("f", [4, 5, 6], [900_000, 900_000, 100]),
      sv("e", [4, 5, 7], [900_000, 900_000, 250]),
      sv("g", [4, 5, 8], [900_000, 900_000, 900]),
    ],
    expected: agreed("t4 t5 t6", ["c", "d", "e", "f", "g"]),
  },
  {
    name: "seeded-equal-groups-tie-to-lower-hash",
    note: "Two equally large groups, each with two fork supporters: the lower output hash is canonical ('t1 t3' < 't1 t2' by hash).",
    policy: seeded({ epsPpm: 1_000 }),
    context: { n: 4, k: 4 },
    votes: [sv("a", [1, 2], [900_000, 10]), sv("b", [1, 2], [900_000, 20]), sv("c", [1, 3], [900_000, 30]), sv("d", [1, 3], [900_000, 40])],
    expected: agreed("t1 t3", ["a", "b", "c", "d"]),
  },
  {
    name: "seeded-equal-groups-tie-to-more-fork-support",
    note: "Among equally large groups the one with more fork supporters is canonical, whatever the hashes; its star is the first cluster.",
    policy: seeded({ epsPpm: 1_000 }),
    context: { n: 5, k: 4 },
    votes: [
      sv("a", [1, 2, 3], [900_000, 100, 900_000]),
      sv("b", [1, 2, 3], [900_000, 100, 900_000]),
      sv("c", [1, 2, 4], [900_000, 900_000, 900_000]),
      sv("d", [1, 2, 4], [900_000, 900_000, 900_000]),
      sv("e", [1, 7, 7], [900_000, 100, 900_000]),
    ],
    expected: split(["a", "b", "e"], ["c", "d"]),
  },
  {
    name: "seeded-fork-supporter-leaves-its-group-cluster",
    note: "Without agreement a fork supporter is in the canonical star, and its own exact group's cluster lists the rest.",
    policy: seeded({ epsPpm: 1_000 }),
    context: { n: 6, k: 5 },
    votes: [
      sv("a", [1, 2, 3], [900_000, 900_000, 10]),
      sv("b", [1, 2, 3], [900_000, 900_000, 10]),
      sv("c", [1, 2, 3], [900_000, 900_000, 10]),
      sv("d", [1, 2, 4], [900_000, 900_000, 10]),
      sv("e", [1, 2, 4], [900_000, 900_000, 900_000]),
      sv("f", [9], [900_000]),
    ],
    expected: split(["a", "b", "c", "d"], ["e"], ["f"]),
  },
  {
    name: "seeded-equal-clusters-keep-listing-order",
    note: "Clusters equal in size and hash (same text: other tokens, or no evidence) keep the listing order: exact groups, then unusable votes.",
    policy: seeded(),
    context: { n: 4, k: 4 },
    votes: [sv("a", [1, 2], [10, 10], "x"), sv("b", [1, 2], [10, 10], "x"), { node: "c", output: "x" }, sv("d", [1, 3], [10, 10], "x")],
    expected: split(["a", "b"], ["d"], ["c"]),
  },
  {
    name: "seeded-empty-evidence-is-usable",
    note: "Evidence of zero steps (empty tokens and margins) is usable: the empty output agrees.",
    policy: seeded(),
    context: { n: 3, k: 2 },
    votes: [sv("a", [], [], ""), sv("b", [], [], ""), sv("c", [5], [0], "x")],
    expected: agreed("", ["a", "b"]),
  },
  {
    name: "seeded-no-usable-evidence",
    note: "With no usable evidence at all, the clusters group the votes by output hash.",
    policy: seeded(),
    context: { n: 3, k: 2 },
    votes: votes("x", "x", "y"),
    expected: split(["a", "b"], ["c"]),
  },
  params("seeded-params-default", "No parameters: epsPpm 0.", seeded()),
  params("seeded-params-eps", "epsPpm within 0..1,000,000.", seeded({ epsPpm: 50_000 })),
  params("seeded-params-eps-max", "epsPpm 1,000,000 is the largest allowed.", seeded({ epsPpm: 1_000_000 })),
  params("seeded-params-negative-eps", "A negative epsPpm is out of range.", seeded({ epsPpm: -1 }), "POLICY_PARAMS"),
  params("seeded-params-fractional-eps", "epsPpm is an integer.", seeded({ epsPpm: 1.5 }), "POLICY_PARAMS"),
  params("seeded-params-eps-above-max", "epsPpm above 1,000,000 is out of range.", seeded({ epsPpm: 1_000_001 }), "POLICY_PARAMS"),
  params("seeded-params-text-eps", "epsPpm as text is the wrong type.", seeded({ epsPpm: "1000" }), "POLICY_PARAMS"),
  params("seeded-params-unknown-key", "Any other key is POLICY_PARAMS.", seeded({ eps: 1 }), "POLICY_PARAMS"),
];

/** semantic@1 is retired (verify-only); the cases without a binding are bound verify-only below. */
const semanticCaseList: PolicyCase[] = [
  {
    name: "semantic1-normalization-makes-one-output",
    note: "NFC, White_Space collapse and case folding make these one output; the canonical is the lowest-hash raw text.",
    policy: semantic({ thetaPpm: 1_000_000, normalize: { caseFold: true } }),
    context: { n: 3, k: 3 },
    votes: votes("Hello,  World!", "hello, world!", "  HELLO,\tWORLD!\n"),
    expected: agreed("hello, world!", ["a", "b", "c"]),
  },
  {
    name: "semantic1-case-counts-without-folding",
    note: "Without case folding, case differences count as edits (hash order: 'hello' < 'Hello').",
    policy: semantic({ thetaPpm: 1_000_000 }),
    context: { n: 2, k: 2 },
    votes: votes("Hello", "hello"),
    expected: split(["b"], ["a"]),
  },
  {
    name: "semantic1-nfc",
    note: "NFC: a precomposed and a decomposed e-acute are the same character (the decomposed raw text has the lower hash).",
    policy: semantic({ thetaPpm: 1_000_000 }),
    context: { n: 2, k: 2 },
    votes: votes("caf\u00e9", "cafe\u0301"),
    expected: agreed("cafe\u0301", ["a", "b"]),
  },
  {
    name: "semantic1-threshold-inclusive",
    note: "The threshold is inclusive: (5 - 1) * 1e6 >= 800000 * 5.",
    policy: semantic({ thetaPpm: 800_000 }),
    context: { n: 2, k: 2 },
    votes: votes("abcde", "abcdX"),
    expected: agreed("abcde", ["a", "b"]),
  },
  {
    name: "semantic1-threshold-one-ppm-above",
    note: "One ppm above the boundary, the pair is not within theta.",
    policy: semantic({ thetaPpm: 800_001 }),
    context: { n: 2, k: 2 },
    votes: votes("abcde", "abcdX"),
    expected: split(["a"], ["b"]),
  },
  {
    name: "semantic1-default-theta",
    note: "The default theta is 900,000 at char level: 9 of 10 characters kept is within (the canonical is the lower hash).",
    policy: semantic(),
    context: { n: 2, k: 2 },
    votes: votes("abcdefghij", "abcdefghiX"),
    expected: agreed("abcdefghiX", ["a", "b"]),
  },
  {
    name: "semantic1-medoid-star-word",
    note: "Medoid star at word level: the centre reaches both neighbours, which are 2 words apart.",
    policy: semantic({ thetaPpm: 800_000, unit: "word" }),
    context: { n: 4, k: 3 },
    votes: votes("the cat sat on the mat", "the cat sat on a mat", "the dog sat on the mat", "stock prices fell sharply today"),
    expected: agreed("the cat sat on the mat", ["a", "b", "c"]),
  },
  {
    name: "semantic1-stars-peeled-greedily",
    note: "Without agreement the clusters are stars peeled greedily.",
    policy: semantic({ thetaPpm: 800_000, unit: "word" }),
    context: { n: 4, k: 4 },
    votes: votes("the cat sat on the mat", "the cat sat on a mat", "the dog sat on the mat", "stock prices fell sharply today"),
    expected: split(["a", "b", "c"], ["d"]),
  },
  {
    name: "semantic1-word-unit",
    note: "The unit matters: one changed letter is 1 of 13 characters but 1 of 3 words.",
    policy: semantic({ thetaPpm: 800_000, unit: "word" }),
    context: { n: 2, k: 2 },
    votes: votes("the colour red", "the color red"),
    expected: split(["a"], ["b"]),
  },
  {
    name: "semantic1-char-unit",
    note: "The same pair at character level agrees (tie on support and duplicates: 'the colour red' has the lower hash).",
    policy: semantic({ thetaPpm: 800_000, unit: "char" }),
    context: { n: 2, k: 2 },
    votes: votes("the colour red", "the color red"),
    expected: agreed("the colour red", ["a", "b"]),
  },
  {
    name: "semantic1-astral-character-is-one-code-point",
    note: "A character outside the BMP is one code point: 2 of 3 kept is 666,666.67 ppm, so 666,667 is not within (as UTF-16 units, 3 of 4 would be).",
    policy: semantic({ thetaPpm: 666_667 }),
    context: { n: 2, k: 2 },
    votes: votes("a\u{1F600}b", "a\u{1F600}c"),
    expected: split(["b"], ["a"]),
  },
  {
    name: "semantic1-empty-after-trim",
    note: "Two empty outputs (after trimming) are identical; the canonical raw text is the lower-hash one.",
    policy: semantic({ thetaPpm: 1_000_000 }),
    context: { n: 2, k: 2 },
    votes: votes("", " \n\t"),
    expected: agreed(" \n\t", ["a", "b"]),
  },
  {
    name: "semantic1-more-duplicates-win",
    note: "Equal support: more exact normalized duplicates win.",
    policy: semantic({ thetaPpm: 500_000 }),
    context: { n: 3, k: 3 },
    votes: votes("aaab", "aaaa", "aaaa"),
    expected: agreed("aaaa", ["a", "b", "c"]),
  },
  {
    name: "semantic1-representative-is-most-common-raw",
    note: "A group of equal normalized texts is named by its most common raw output.",
    policy: semantic({ thetaPpm: 1_000_000, normalize: { caseFold: true } }),
    context: { n: 3, k: 3 },
    votes: votes("YES", "Yes", "Yes"),
    expected: agreed("Yes", ["a", "b", "c"]),
  },
  {
    name: "semantic1-theta-zero",
    note: "theta 0: every pair is within; the canonical is the lowest-hash output.",
    policy: semantic({ thetaPpm: 0 }),
    context: { n: 3, k: 3 },
    votes: votes("abc", "xyz", "q"),
    expected: agreed("xyz", ["a", "b", "c"]),
  },
  {
    name: "semantic1-unicode-white-space",
    note: "U+00A0 and U+3000 are White_Space (collapsed to one space); U+200B is not.",
    policy: semantic({ thetaPpm: 1_000_000 }),
    context: { n: 4, k: 3 },
    votes: votes("a b", "a\u00a0b", "a\u3000\u3000b", "a\u200bb"),
    expected: agreed("a\u3000\u3000b", ["a", "b", "c"]),
  },
  {
    name: "semantic1-case-fold-is-lowercasing",
    note: "caseFold lowercases (no Unicode case folding): sharp s stays, so 'STRASSE' and 'stra\u00dfe' differ.",
    policy: semantic({ thetaPpm: 1_000_000, normalize: { caseFold: true } }),
    context: { n: 2, k: 2 },
    votes: votes("STRASSE", "stra\u00dfe"),
    expected: split(["b"], ["a"]),
  },
  {
    name: "semantic1-case-fold-dotted-capital-i",
    note: "Lowercasing U+0130 gives i + U+0307 (full mapping, no language tailoring); the canonical is the lower-hash raw text.",
    policy: semantic({ thetaPpm: 1_000_000, normalize: { caseFold: true } }),
    context: { n: 2, k: 2 },
    votes: votes("\u0130", "i\u0307"),
    expected: agreed("i\u0307", ["a", "b"]),
  },
  {
    name: "semantic1-case-fold-final-sigma",
    note: "Lowercasing applies the Final_Sigma context: capital sigma at a word's end becomes final sigma, not U+03C3 (the canonical is the lower-hash raw text).",
    policy: semantic({ thetaPpm: 1_000_000, normalize: { caseFold: true } }),
    context: { n: 3, k: 2 },
    votes: votes("\u039f\u0394\u039f\u03a3", "\u03bf\u03b4\u03bf\u03c2", "\u03bf\u03b4\u03bf\u03c3"),
    expected: agreed("\u03bf\u03b4\u03bf\u03c2", ["a", "b"]),
  },
  params("semantic1-retired-for-requests", "semantic@1 is retired: a request naming it is POLICY_RETIRED.", semantic(), "POLICY_RETIRED"),
  params(
    "semantic1-retired-before-params",
    "Binding checks retirement before the parameters.",
    semantic({ unit: "line" }),
    "POLICY_RETIRED",
  ),
  params("semantic1-params-default", "No parameters: theta 900,000, char, no case folding.", semantic(), undefined, "verify-only"),
  params("semantic1-params-all", "Every parameter.", semantic({ thetaPpm: 850_000, unit: "word", normalize: { caseFold: true } }), undefined, "verify-only"),
  params("semantic1-params-unknown-unit", "unit is char or word.", semantic({ unit: "line" }), "POLICY_PARAMS", "verify-only"),
  params("semantic1-params-theta-above-max", "thetaPpm is at most 1,000,000.", semantic({ thetaPpm: 1_000_001 }), "POLICY_PARAMS", "verify-only"),
  params("semantic1-params-case-fold-not-boolean", "caseFold is a boolean.", semantic({ normalize: { caseFold: 1 } }), "POLICY_PARAMS", "verify-only"),
  params("semantic1-params-unknown-normalize-key", "normalize takes caseFold only.", semantic({ normalize: { nfkc: true } }), "POLICY_PARAMS", "verify-only"),
  params("semantic1-params-normalize-not-a-map", "normalize is a map.", semantic({ normalize: true }), "POLICY_PARAMS", "verify-only"),
];

/** semantic@1 decisions bound verify-only, as verifyBundle binds an archived bundle's. */
export const semanticCases: PolicyCase[] = semanticCaseList.map((c) => (c.bind ? c : { ...c, bind: "verify-only" }));

const wordRun = (word: string, count: number) => Array.from({ length: count }, () => word).join(" ");

export const semantic2Cases: PolicyCase[] = [
  {
    name: "semantic2-reordered-with-same-numbers",
    note: "Reordered clauses with the same numbers agree (order ignored; a number is one normalized word: 5 of 6 words shared).",
    policy: semantic2({ thetaPpm: 800_000 }),
    context: { n: 3, k: 3 },
    votes: votes("Pay 1,200 USDC to Alice now.", "Now pay Alice 1200 USDC.", "Pay Alice $1.2k USDC now"),
    expected: agreed("Now pay Alice 1200 USDC.", ["a", "b", "c"]),
  },
  {
    name: "semantic2-changed-number-never-supports",
    note: "A changed number is never support, however similar (numbers 1200 vs 1300).",
    policy: semantic2({ thetaPpm: 0 }),
    context: { n: 3, k: 3 },
    votes: votes("Pay 1,200 USDC to Alice.", "Pay 1,200 USDC to Alice.", "Pay 1,300 USDC to Alice."),
    expected: split(["a", "b"], ["c"]),
  },
  {
    name: "semantic2-inserted-not",
    note: "An inserted not (or n't) is never support; the two negated outputs share the guard (hash order: the n't text first).",
    policy: semantic2({ thetaPpm: 0 }),
    context: { n: 3, k: 2 },
    votes: votes("The claim is eligible for payout.", "The claim isn't eligible for payout.", "The claim is not eligible for payout."),
    expected: agreed("The claim isn't eligible for payout.", ["b", "c"]),
  },
  {
    name: "semantic2-terms-guard-labels",
    note: "Request terms guard labels: approve and reject never support each other.",
    policy: semantic2({ thetaPpm: 0, terms: ["approve", "reject"] }),
    context: { n: 2, k: 2 },
    votes: votes("Decision: APPROVE", "Decision: REJECT"),
    expected: split(["a"], ["b"]),
  },
  {
    name: "semantic2-term-phrase-in-order",
    note: "A term of several words is found only as consecutive whole words in order.",
    policy: semantic2({ thetaPpm: 0, terms: ["net profit"] }),
    context: { n: 2, k: 2 },
    votes: votes("net profit was reported", "profit net was reported"),
    expected: split(["a"], ["b"]),
  },
  {
    name: "semantic2-threshold-inclusive-3-of-4",
    note: "The threshold is inclusive: 3 of 4 words shared at theta 750,000.",
    policy: semantic2({ thetaPpm: 750_000 }),
    context: { n: 2, k: 2 },
    votes: votes("alpha beta gamma delta", "alpha beta gamma epsilon"),
    expected: agreed("alpha beta gamma delta", ["a", "b"]),
  },
  {
    name: "semantic2-threshold-one-ppm-above",
    note: "One ppm above: 3 of 4 words is not within 750,001.",
    policy: semantic2({ thetaPpm: 750_001 }),
    context: { n: 2, k: 2 },
    votes: votes("alpha beta gamma delta", "alpha beta gamma epsilon"),
    expected: split(["a"], ["b"]),
  },
  {
    name: "semantic2-default-theta-3-of-5",
    note: "The default theta is 600,000: 3 common words of 5 is exactly within (the canonical is the lower hash).",
    policy: semantic2(),
    context: { n: 2, k: 2 },
    votes: votes("alpha beta gamma delta epsilon", "alpha beta gamma zeta eta"),
    expected: agreed("alpha beta gamma zeta eta", ["a", "b"]),
  },
  {
    name: "semantic2-divides-by-the-longer",
    note: "Overlap is measured against the longer output: 3 common words of 3 and 6 is 500,000.",
    policy: semantic2({ thetaPpm: 500_001 }),
    context: { n: 2, k: 2 },
    votes: votes("alpha beta gamma", "alpha beta gamma delta epsilon zeta"),
    expected: split(["b"], ["a"]),
  },
  {
    name: "semantic2-direction-words",
    note: "upward and higher are one direction (up); lower is the other (down).",
    policy: semantic2({ thetaPpm: 0 }),
    context: { n: 3, k: 2 },
    votes: votes("the fee moves upward", "the fee moves higher", "the fee moves lower"),
    expected: agreed("the fee moves upward", ["a", "b"]),
  },
  {
    name: "semantic2-soft-hyphen-cannot-hide-not",
    note: "Format characters are removed before reading: a soft hyphen cannot hide a not (one group, named by its lowest-hash raw output).",
    policy: semantic2({ thetaPpm: 0 }),
    context: { n: 3, k: 2 },
    votes: votes("the claim is eligible", "the claim is n\u00adot eligible", "the claim is not eligible"),
    expected: agreed("the claim is not eligible", ["b", "c"]),
  },
  {
    name: "semantic2-zero-width-space-inside-a-number",
    note: "A zero-width space (format character) inside a number is removed: 1\u200b200 reads 1200.",
    policy: semantic2(),
    context: { n: 2, k: 2 },
    votes: votes("pay 1\u200b200 now", "pay 1200 now"),
    expected: agreed("pay 1200 now", ["a", "b"]),
  },
  {
    name: "semantic2-currency-and-multipliers",
    note: "$250,000, 250k and 250 thousand are one number token (250000) and one word (the canonical is the lowest hash).",
    policy: semantic2(),
    context: { n: 3, k: 3 },
    votes: votes("cost $250,000", "cost 250k", "cost 250 thousand"),
    expected: agreed("cost 250 thousand", ["a", "b", "c"]),
  },
  {
    name: "semantic2-percent-is-not-a-fraction",
    note: "5% and 0.05 are two number tokens.",
    policy: semantic2({ thetaPpm: 0 }),
    context: { n: 2, k: 2 },
    votes: votes("fee 5%", "fee 0.05"),
    expected: split(["b"], ["a"]),
  },
  {
    name: "semantic2-guard-subset",
    note: "With guards [numbers] only, a not is no guard token: the two texts are within at theta 0.",
    policy: semantic2({ thetaPpm: 0, guards: ["numbers"] }),
    context: { n: 2, k: 2 },
    votes: votes("the claim is eligible", "the claim is not eligible"),
    expected: agreed("the claim is not eligible", ["a", "b"]),
  },
  {
    name: "semantic2-outputs-without-words",
    note: "Outputs without words are identical to each other at any theta ('' and '  ' normalize alike and form the medoid group, named by its lower-hash raw output).",
    policy: semantic2({ thetaPpm: 1_000_000 }),
    context: { n: 3, k: 3 },
    votes: votes("", "  ", "!!!"),
    expected: agreed("  ", ["a", "b", "c"]),
  },
  {
    name: "semantic2-empty-and-nonempty-at-theta-zero",
    note: "An empty output and a non-empty one are within at theta 0 (no guard tokens on either side).",
    policy: semantic2({ thetaPpm: 0 }),
    context: { n: 2, k: 2 },
    votes: votes("", "hello"),
    expected: agreed("", ["a", "b"]),
  },
  {
    name: "semantic2-empty-and-nonempty-at-theta-one",
    note: "At theta 1 ppm one common word is needed: an empty output and a non-empty one are not within.",
    policy: semantic2({ thetaPpm: 1 }),
    context: { n: 2, k: 2 },
    votes: votes("", "hello"),
    expected: split(["a"], ["b"]),
  },
  {
    name: "semantic2-byte-limit-on-the-raw-output",
    note: "MAX_SEMANTIC_BYTES applies to the raw output: 8,192 bytes count, 8,193 (the same text and a trailing space) support nothing and get their own cluster.",
    policy: semantic2({ thetaPpm: 0 }),
    context: { n: 3, k: 3 },
    votes: votes("\u00e9".repeat(4_096), "\u00e9".repeat(4_096), `${"\u00e9".repeat(4_096)} `),
    expected: split(["a", "b"], ["c"]),
  },
  {
    name: "semantic2-word-limit",
    note: "512 words count; 513 support nothing.",
    policy: semantic2({ thetaPpm: 0 }),
    context: { n: 3, k: 3 },
    votes: votes(wordRun("w", 512), wordRun("w", 512), wordRun("w", 513)),
    expected: split(["a", "b"], ["c"]),
  },
  params("semantic2-params-default", "No parameters: theta 600,000, every guard, no terms.", semantic2()),
  params("semantic2-params-no-guards", "An empty guard list is allowed (word overlap only).", semantic2({ guards: [] })),
  params("semantic2-params-unknown-guard", "Guards are numbers, polarity, direction, terms.", semantic2({ guards: ["dates"] }), "POLICY_PARAMS"),
  params("semantic2-params-repeated-guard", "A guard listed twice is POLICY_PARAMS.", semantic2({ guards: ["numbers", "numbers"] }), "POLICY_PARAMS"),
  params("semantic2-params-term-without-words", "Every term has at least one word.", semantic2({ terms: ["!!!"] }), "POLICY_PARAMS"),
  params("semantic2-params-65-terms", "At most 64 terms.", semantic2({ terms: Array.from({ length: 65 }, (_, i) => `term${i}`) }), "POLICY_PARAMS"),
  params("semantic2-params-negative-theta", "thetaPpm is 0..1,000,000.", semantic2({ thetaPpm: -1 }), "POLICY_PARAMS"),
  params("semantic2-params-unit-is-unknown", "semantic@1's unit is not a semantic@2 parameter.", semantic2({ unit: "word" }), "POLICY_PARAMS"),
];

const priceSchema: PolicyParams = { fields: { label: { type: "label" }, price: { type: "number", absTol: 10_000 } } };
const intField = (extra: PolicyParams = {}): PolicyParams => ({ fields: { p: { type: "number", decimals: 0, ...extra } } });

export const structuredCases: PolicyCase[] = [
  {
    name: "structured-labels-exact-numbers-near-median",
    note: "Labels exact, numbers within absTol of the supporters' lower median.",
    policy: structured(priceSchema),
    context: { n: 4, k: 3 },
    votes: votes('{"label":"buy","price":100.001}', '{"price": 100.004, "label": "buy"}', '{"label":"buy","price":1.00002e2}', '{"label":"sell","price":100.002}'),
    expected: agreed('{"label":"buy","price":100.002}', ["a", "b", "c"]),
  },
  {
    name: "structured-lower-median",
    note: "An even count takes the lower median.",
    policy: structured({ fields: { price: { type: "number", decimals: 0, absTol: 5 } } }),
    context: { n: 4, k: 4 },
    votes: votes('{"price":4}', '{"price":1}', '{"price":3}', '{"price":2}'),
    expected: agreed('{"price":2}', ["a", "b", "c", "d"]),
  },
  {
    name: "structured-outlier-trimmed",
    note: "An outlier is trimmed and the median recomputed over the rest.",
    policy: structured({ fields: { price: { type: "number", decimals: 0, absTol: 2 } } }),
    context: { n: 4, k: 3 },
    votes: votes('{"price":10}', '{"price":11}', '{"price":12}', '{"price":50}'),
    expected: agreed('{"price":11}', ["a", "b", "c"]),
  },
  {
    name: "structured-trim-pulls-median-back",
    note: "Median of all five is 13; 20 and 21 fall out; the median of the rest (10, 12, 13) is 12.",
    policy: structured({ fields: { x: { type: "number", decimals: 0, absTol: 3 } } }),
    context: { n: 5, k: 3 },
    votes: votes('{"x":10}', '{"x":12}', '{"x":13}', '{"x":20}', '{"x":21}'),
    expected: agreed('{"x":12}', ["a", "b", "c"]),
  },
  {
    name: "structured-abs-tol-inclusive",
    note: "|v - c| = absTol is within.",
    policy: structured(intField({ absTol: 5 })),
    context: { n: 3, k: 3 },
    votes: votes('{"p":100}', '{"p":105}', '{"p":95}'),
    expected: agreed('{"p":100}', ["a", "b", "c"]),
  },
  {
    name: "structured-abs-tol-one-unit-beyond",
    note: "|v - c| = absTol + 1 is not: both neighbours are trimmed and each is its own cluster.",
    policy: structured(intField({ absTol: 5 })),
    context: { n: 3, k: 3 },
    votes: votes('{"p":100}', '{"p":106}', '{"p":94}'),
    expected: split(["a"], ["b"], ["c"]),
  },
  {
    name: "structured-rel-tol-boundary",
    note: "relTolPpm 1,000 of the median 1000 is 1 unit: 999 and 1001 are within, 1002 is trimmed.",
    policy: structured(intField({ relTolPpm: 1_000 })),
    context: { n: 4, k: 3 },
    votes: votes('{"p":999}', '{"p":1000}', '{"p":1001}', '{"p":1002}'),
    expected: agreed('{"p":1000}', ["a", "b", "c"]),
  },
  {
    name: "structured-rel-tol-against-the-median",
    note: "Relative tolerance is measured against the canonical (median) value.",
    policy: structured({ fields: { price: { type: "number", relTolPpm: 1_000 } } }),
    context: { n: 4, k: 3 },
    votes: votes('{"price":1000}', '{"price":1000.9}', '{"price":1001.5}', '{"price":1003}'),
    expected: agreed('{"price":1000.9}', ["a", "b", "c"]),
  },
  {
    name: "structured-unusable-votes",
    note: "Invalid JSON, duplicate keys, wrong types, missing fields and non-objects support nothing.",
    policy: structured(priceSchema),
    context: { n: 8, k: 3 },
    votes: votes(
      '{"label":"buy","price":1}',
      '{"label":"buy","price":1}',
      '{"label":"buy","price":1}',
      '{"label":"buy","price":1,}',
      '{"label":"buy","label":"buy","price":1}',
      '{"label":"buy","price":"1"}',
      '{"label":"buy"}',
      "[1]",
    ),
    expected: agreed('{"label":"buy","price":1}', ["a", "b", "c"]),
  },
  {
    name: "structured-null-is-no-value",
    note: "null is not a value of any declared type.",
    policy: structured({ fields: { l: { type: "label" } } }),
    context: { n: 3, k: 2 },
    votes: votes('{"l":"x"}', '{"l":"x"}', '{"l":null}'),
    expected: agreed('{"l":"x"}', ["a", "b"]),
  },
  {
    name: "structured-strict-json-numbers",
    note: "Leading zeros, a leading +, '.5' and '1.' are not JSON: those votes support nothing.",
    policy: structured(intField()),
    context: { n: 6, k: 2 },
    votes: votes('{"p":1}', '{"p":01}', '{"p":+1}', '{"p":.5}', '{"p":1.}', '{"p":1E0}'),
    expected: agreed('{"p":1}', ["a", "f"]),
  },
  {
    name: "structured-json-whitespace-only",
    note: "Only space, tab, LF and CR are JSON whitespace: a leading U+00A0 makes a vote unusable.",
    policy: structured(intField()),
    context: { n: 3, k: 2 },
    votes: votes(' \t\r\n{"p":1}\n', '{"p":1}', '\u00a0{"p":1}'),
    expected: agreed('{"p":1}', ["a", "b"]),
  },
  {
    name: "structured-undeclared-keys-rejected-by-default",
    note: "Undeclared keys make a vote unusable by default (singleton clusters in hash order).",
    policy: structured(priceSchema),
    context: { n: 3, k: 2 },
    votes: votes('{"label":"buy","price":1,"note":"x"}', '{"label":"buy","price":1,"note":"y"}', '{"label":"buy","price":1}'),
    expected: split(["c"], ["a"], ["b"]),
  },
  {
    name: "structured-extra-ignore",
    note: "extra: ignore drops undeclared keys from the comparison and the canonical text.",
    policy: structured({ ...priceSchema, extra: "ignore" }),
    context: { n: 3, k: 3 },
    votes: votes('{"label":"buy","price":1,"note":"x"}', '{"label":"buy","price":1,"note":{"deep":[1,2]}}', '{"label":"buy","price":1}'),
    expected: agreed('{"label":"buy","price":1}', ["a", "b", "c"]),
  },
  {
    name: "structured-depth-limit-applies-to-ignored-values",
    note: "Depth counts every array and object, ignored ones included: 15 nested arrays reach depth 16 (allowed), 16 reach 17 (unusable).",
    policy: structured({ fields: { x: { type: "bool" } }, extra: "ignore" }),
    context: { n: 3, k: 3 },
    votes: votes('{"x":true}', `{"x":true,"z":${"[".repeat(15)}${"]".repeat(15)}}`, `{"x":true,"z":${"[".repeat(16)}${"]".repeat(16)}}`),
    expected: split(["a", "b"], ["c"]),
  },
  {
    name: "structured-round-half-even",
    note: "Numbers are read exactly from their digits and rounded half to even at the declared decimals.",
    policy: structured({ fields: { price: { type: "number", decimals: 6 } } }),
    context: { n: 4, k: 3 },
    votes: votes('{"price":1.0000005}', '{"price":1.000000}', '{"price":1e0}', '{"price":1.0000015}'),
    expected: agreed('{"price":1}', ["a", "b", "c"]),
  },
  {
    name: "structured-round-half-even-at-zero-decimals",
    note: "2.5 and 1.5 both read 2 at 0 decimals (half to even), and so does 2.",
    policy: structured(intField()),
    context: { n: 3, k: 3 },
    votes: votes('{"p":2.5}', '{"p":2}', '{"p":1.5}'),
    expected: agreed('{"p":2}', ["a", "b", "c"]),
  },
  {
    name: "structured-negative-zero",
    note: "-0, -0.0 and -0.4 (at 0 decimals) read as 0, written 0.",
    policy: structured(intField()),
    context: { n: 4, k: 4 },
    votes: votes('{"p":-0}', '{"p":0}', '{"p":-0.0}', '{"p":-0.4}'),
    expected: agreed('{"p":0}', ["a", "b", "c", "d"]),
  },
  {
    name: "structured-exponent-forms",
    note: "1E2, 1e+2, 100.0 and 10000e-2 are all 100.",
    policy: structured(intField()),
    context: { n: 4, k: 4 },
    votes: votes('{"p":1E2}', '{"p":1e+2}', '{"p":100.0}', '{"p":10000e-2}'),
    expected: agreed('{"p":100}', ["a", "b", "c", "d"]),
  },
  {
    name: "structured-38-digit-limit",
    note: "A value needing 38 digits is in range; 1e38 (39 digits) is out of range and supports nothing.",
    policy: structured(intField()),
    context: { n: 3, k: 3 },
    votes: votes(`{"p":${"9".repeat(38)}}`, `{"p":${"9".repeat(38)}}`, '{"p":1e38}'),
    expected: split(["a", "b"], ["c"]),
  },
  {
    name: "structured-18-decimals-exact",
    note: "18-decimal amounts are read and written exactly (no float anywhere).",
    policy: structured({ fields: { amount: { type: "number", decimals: 18, absTol: 1_000 } } }),
    context: { n: 3, k: 3 },
    votes: votes('{"amount":1.000000000000000001}', '{"amount":1.000000000000000500}', '{"amount":1.0000000000000009}'),
    expected: agreed('{"amount":1.0000000000000005}', ["a", "b", "c"]),
  },
  {
    name: "structured-optional-present-in-all-or-none",
    note: "An optional field must be present in both outputs or absent in both.",
    policy: structured({ fields: { label: { type: "label" }, note: { type: "string", optional: true } } }),
    context: { n: 3, k: 2 },
    votes: votes('{"label":"x"}', '{"label":"x"}', '{"label":"x","note":"n"}'),
    expected: agreed('{"label":"x"}', ["a", "b"]),
  },
  {
    name: "structured-canonical-text",
    note: "Canonical text: sorted keys, no whitespace, exact decimals, JSON string escapes.",
    policy: structured({ fields: { zeta: { type: "number", decimals: 2 }, alpha: { type: "label" }, mid: { type: "bool" } } }),
    context: { n: 3, k: 3 },
    votes: votes(
      '{"zeta": 1.50, "alpha": "a\\"b\\u00e9", "mid": true}',
      '{"alpha":"a\\"b\u00e9","mid":true,"zeta":15e-1}',
      ' {"mid" : true , "zeta" : 1.5 , "alpha" : "a\\"b\u00e9"} ',
    ),
    expected: agreed('{"alpha":"a\\"b\u00e9","mid":true,"zeta":1.5}', ["a", "b", "c"]),
  },
  {
    name: "structured-canonical-escapes",
    note: "Written as JSON.stringify writes: U+001F as \\u001f (lowercase), '/' (escaped or not), U+007F and U+2028 as themselves.",
    policy: structured({ fields: { l: { type: "label" } } }),
    context: { n: 2, k: 2 },
    votes: votes('{"l":"a\\u001Fb\\/c\u2028d\u007f"}', '{"l":"a\\u001fb/c\\u2028d\\u007F"}'),
    expected: agreed('{"l":"a\\u001fb/c\u2028d\u007f"}', ["a", "b"]),
  },
  {
    name: "structured-surrogates",
    note: "An escaped surrogate pair equals the character; a lone surrogate escape makes the vote unusable.",
    policy: structured({ fields: { l: { type: "label" } } }),
    context: { n: 3, k: 2 },
    votes: votes('{"l":"\\ud83d\\ude00"}', '{"l":"\u{1F600}"}', '{"l":"\\ud800"}'),
    expected: agreed('{"l":"\u{1F600}"}', ["a", "b"]),
  },
  {
    name: "structured-equal-support-larger-group-wins",
    note: "Groups 'a' (3 votes, one trimmed: support 2) and 'b' (2 votes, support 2): the larger group wins.",
    policy: structured({ fields: { l: { type: "label" }, x: { type: "number", decimals: 0, absTol: 1 } } }),
    context: { n: 5, k: 2 },
    votes: votes('{"l":"a","x":1}', '{"l":"a","x":1}', '{"l":"a","x":9}', '{"l":"b","x":5}', '{"l":"b","x":5}'),
    expected: agreed('{"l":"a","x":1}', ["a", "b"]),
  },
  {
    name: "structured-labels-split",
    note: "Labels split the committee (cluster order: hash of the buy text < the sell text).",
    policy: structured(priceSchema),
    context: { n: 4, k: 3 },
    votes: votes('{"label":"buy","price":1}', '{"label":"sell","price":1}', '{"label":"buy","price":1.000001}', '{"label":"sell","price":1}'),
    expected: split(["a", "c"], ["b", "d"]),
  },
  params("structured-params-fields-required", "fields is required.", structured({}), "POLICY_PARAMS"),
  params("structured-params-no-fields", "At least one field.", structured({ fields: {} }), "POLICY_PARAMS"),
  params("structured-params-one-label", "One label field.", structured({ fields: { a: { type: "label" } } })),
  params(
    "structured-params-every-option",
    "Every option.",
    structured({
      fields: {
        a: { type: "label", optional: true },
        b: { type: "string" },
        c: { type: "bool" },
        d: { type: "number", decimals: 18, absTol: 5, relTolPpm: 1_000, optional: false },
      },
      extra: "ignore",
    }),
  ),
  params("structured-params-tolerance-on-a-label", "Tolerances belong to number fields.", structured({ fields: { a: { type: "label", absTol: 1 } } }), "POLICY_PARAMS"),
  params("structured-params-decimals-above-18", "decimals is 0..18.", structured({ fields: { a: { type: "number", decimals: 19 } } }), "POLICY_PARAMS"),
  params("structured-params-type-missing", "Every field has a type.", structured({ fields: { a: {} } }), "POLICY_PARAMS"),
  params("structured-params-unknown-type", "Types are label, string, bool, number.", structured({ fields: { a: { type: "float" } } }), "POLICY_PARAMS"),
  params("structured-params-unknown-extra", "extra is reject or ignore.", structured({ fields: { a: { type: "bool" } }, extra: "drop" }), "POLICY_PARAMS"),
  params("structured-params-unknown-key", "Any other top-level key.", structured({ fields: { a: { type: "bool" } }, other: 1 }), "POLICY_PARAMS"),
  params("structured-params-negative-abs-tol", "absTol is 0..2^53-1.", structured({ fields: { a: { type: "number", absTol: -1 } } }), "POLICY_PARAMS"),
];

const verdictSchema: PolicyParams = {
  properties: {
    verdict: { enum: ["approve", "reject"] },
    amount: { type: "number", decimals: 2, absTol: 100 },
    rationale: { type: "string", commentary: true },
  },
  required: ["verdict", "amount"],
};

export const structured2Cases: PolicyCase[] = [
  {
    name: "structured2-commentary-never-compared",
    note: "Commentary differs, decision fields agree; the canonical output has no commentary and the median amount.",
    policy: structured2(verdictSchema),
    context: { n: 3, k: 3 },
    votes: votes(
      '{"verdict":"approve","amount":1200,"rationale":"Milestone met."}',
      '{"rationale":"All deliverables shipped on time.","amount":1200.5,"verdict":"approve"}',
      '{"verdict": "approve", "amount": 1199.75, "rationale": "ok"}',
    ),
    expected: agreed('{"amount":1200,"verdict":"approve"}', ["a", "b", "c"]),
  },
  {
    name: "structured2-commentary-type-is-checked",
    note: "Commentary is never compared, but a value of the wrong type breaks the schema.",
    policy: structured2(verdictSchema),
    context: { n: 3, k: 2 },
    votes: votes('{"verdict":"reject","amount":5}', '{"verdict":"reject","amount":5,"rationale":"no"}', '{"verdict":"reject","amount":5,"rationale":7}'),
    expected: agreed('{"amount":5,"verdict":"reject"}', ["a", "b"]),
  },
  {
    name: "structured2-outside-the-enum",
    note: "A value outside the enum breaks the schema and supports nothing (three singleton clusters in hash order).",
    policy: structured2(verdictSchema),
    context: { n: 3, k: 2 },
    votes: votes('{"verdict":"approve","amount":10}', '{"verdict":"APPROVE","amount":10}', '{"verdict":"maybe","amount":10}'),
    expected: split(["b"], ["c"], ["a"]),
  },
  {
    name: "structured2-integer-takes-integral-numbers",
    note: "Integer fields take integral JSON numbers only (1.0 is 1; 12e-1 is not integral).",
    policy: structured2({ properties: { votes: { type: "integer" } }, required: ["votes"] }),
    context: { n: 3, k: 2 },
    votes: votes('{"votes":1}', '{"votes":1.0}', '{"votes":12e-1}'),
    expected: agreed('{"votes":1}', ["a", "b"]),
  },
  {
    name: "structured2-integer-spellings",
    note: "One integer, five spellings: one group.",
    policy: structured2({ properties: { n: { type: "integer" } }, required: ["n"] }),
    context: { n: 5, k: 5 },
    votes: votes('{"n":12}', '{"n":1.2e1}', '{"n":1200e-2}', '{"n":12.000}', '{"n":0.12E+2}'),
    expected: agreed('{"n":12}', ["a", "b", "c", "d", "e"]),
  },
  {
    name: "structured2-additional-properties-false",
    note: "additionalProperties false: a vote with an undeclared key supports nothing.",
    policy: structured2({ properties: { v: { enum: ["a", "b"] } }, required: ["v"], additionalProperties: false }),
    context: { n: 3, k: 2 },
    votes: votes('{"v":"a"}', '{"v":"a"}', '{"v":"a","x":1}'),
    expected: agreed('{"v":"a"}', ["a", "b"]),
  },
  {
    name: "structured2-additional-properties-ignored-by-default",
    note: "By default undeclared keys are read and ignored (never certified).",
    policy: structured2({ properties: { v: { enum: ["a", "b"] } }, required: ["v"] }),
    context: { n: 2, k: 2 },
    votes: votes('{"v":"a"}', '{"v":"a","x":[1,{"y":2}]}'),
    expected: agreed('{"v":"a"}', ["a", "b"]),
  },
  {
    name: "structured2-max-length-in-code-points",
    note: "maxLength counts code points: two astral characters fit maxLength 2, three letters do not.",
    policy: structured2({ properties: { s: { type: "string", maxLength: 2 } }, required: ["s"] }),
    context: { n: 3, k: 2 },
    votes: votes('{"s":"\u{1F600}\u{1F600}"}', '{"s":"\\ud83d\\ude00\\ud83d\\ude00"}', '{"s":"abc"}'),
    expected: agreed('{"s":"\u{1F600}\u{1F600}"}', ["a", "b"]),
  },
  {
    name: "structured2-required-field-missing",
    note: "A required field absent: the vote supports nothing.",
    policy: structured2(verdictSchema),
    context: { n: 3, k: 2 },
    votes: votes('{"verdict":"approve","amount":1}', '{"verdict":"approve","amount":1}', '{"verdict":"approve"}'),
    expected: agreed('{"amount":1,"verdict":"approve"}', ["a", "b"]),
  },
  {
    name: "structured2-optional-field-splits",
    note: "A field absent from required is optional: present in some votes and absent in others, it splits them.",
    policy: structured2({ properties: { v: { enum: ["a", "b"] }, n: { type: "integer" } }, required: ["v"] }),
    context: { n: 3, k: 2 },
    votes: votes('{"v":"a","n":1}', '{"v":"a"}', '{"v":"a","n":1}'),
    expected: agreed('{"n":1,"v":"a"}', ["a", "c"]),
  },
  params("structured2-params-typed-enum-and-object", "type: object at the top and type: string on an enum are allowed.", structured2({ type: "object", description: "d", properties: { v: { type: "string", enum: ["x"] } } })),
  params("structured2-params-only-commentary", "A schema whose every field is commentary has nothing to agree on.", structured2({ properties: { c: { type: "string", commentary: true } } }), "POLICY_PARAMS"),
  params("structured2-params-required-undeclared", "required names only declared fields.", structured2({ properties: { v: { type: "boolean" } }, required: ["w"] }), "POLICY_PARAMS"),
  params("structured2-params-enum-repeated", "Enum strings are distinct.", structured2({ properties: { v: { enum: ["x", "x"] } } }), "POLICY_PARAMS"),
  params("structured2-params-integer-with-decimals", "An integer field takes no decimals.", structured2({ properties: { n: { type: "integer", decimals: 2 } } }), "POLICY_PARAMS"),
  params("structured2-params-max-length-zero", "maxLength is 1..65,536.", structured2({ properties: { s: { type: "string", maxLength: 0 } } }), "POLICY_PARAMS"),
  params("structured2-params-array-type", "Arrays are not a field type.", structured2({ properties: { a: { type: "array" } } }), "POLICY_PARAMS"),
];

export const firstWinsCases: PolicyCase[] = [
  {
    name: "first-wins-first-vote-alone",
    note: "The first vote in the given order wins alone; k is ignored (the one exception to order independence).",
    policy: firstWins(),
    bind: "baseline",
    context: { n: 3, k: 3 },
    votes: [
      { node: "c", output: "fast and wrong" },
      { node: "a", output: "right" },
      { node: "b", output: "right" },
    ],
    expected: agreed("fast and wrong", ["c"]),
  },
  {
    name: "first-wins-no-votes",
    note: "No votes, no agreement.",
    policy: firstWins(),
    bind: "baseline",
    context: { n: 3, k: 2 },
    votes: [],
    expected: split(),
  },
  params("first-wins-cannot-be-requested", "A baseline policy bound as a request is POLICY_PARAMS.", firstWins(), "POLICY_PARAMS"),
  params("first-wins-params", "first-wins@1 takes no parameters.", firstWins({ k: 1 }), "POLICY_PARAMS", "baseline"),
];

export const bindingCases: PolicyCase[] = [
  params("binding-unknown-id", "An unregistered id is POLICY_UNKNOWN.", { id: "majority", version: 1, params: {} }, "POLICY_UNKNOWN"),
  params("binding-unknown-version", "An unregistered version of a known id is POLICY_UNKNOWN.", { id: "exact", version: 2, params: {} }, "POLICY_UNKNOWN"),
  params("binding-unknown-before-params", "The id@version is checked before the parameters.", { id: "exact", version: 2, params: { x: 1 } }, "POLICY_UNKNOWN"),
];

/** Every case, in the order policies.json lists them. */
export const policyCases: PolicyCase[] = [
  ...exactCases,
  ...seededCases,
  ...semanticCases,
  ...semantic2Cases,
  ...structuredCases,
  ...structured2Cases,
  ...firstWinsCases,
  ...bindingCases,
];
