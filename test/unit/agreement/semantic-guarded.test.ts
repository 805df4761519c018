import { describe, expect, it } from "vitest";
import { GUARD_CLASSES } from "../../../src/agreement/guards.ts";
import type { PolicyDecision, Vote } from "../../../src/agreement/policy.ts";
import { createDefaultPolicyRegistry } from "../../../src/agreement/registry.ts";
import {
  MAX_SEMANTIC_WORDS,
  SEMANTIC2_DEFAULT_THETA_PPM,
  guardedMeasure,
  semanticGuardedPolicy,
} from "../../../src/agreement/semantic-guarded.ts";
import { normalizeText } from "../../../src/agreement/similarity.ts";
import { isConcordError } from "../../../src/errors.ts";
import { compareBytes, outputHash, utf8 } from "../../../src/wire/hash.ts";
import type { PolicyParams } from "../../../src/wire/types.ts";

const context = (n: number, k: number) => ({ n, k, requestId: utf8("semantic-guarded-test") });
const vote = (node: string, output: string): Vote => ({ node, output, outputHash: outputHash(output) });
const votesOf = (outputs: readonly string[]) => outputs.map((output, i) => vote(`n${i}`, output));
const decideVotes = (params: PolicyParams, votes: readonly Vote[], k: number): PolicyDecision =>
  semanticGuardedPolicy.decide(votes, semanticGuardedPolicy.parseParams(params), context(votes.length, k));
const decide = (params: PolicyParams, outputs: readonly string[], k: number) => decideVotes(params, votesOf(outputs), k);

/** The POLICY_PARAMS details parsing `params` throws. */
function paramsProblem(params: PolicyParams): string {
  try {
    semanticGuardedPolicy.parseParams(params);
  } catch (error) {
    if (isConcordError(error, "POLICY_PARAMS")) {
      expect(error.message).toContain("semantic@2");
      return error.details ?? "";
    }
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(params)}`);
}

describe("semantic@2 parameters", () => {
  it("is registered as semantic@2 and fills defaults: theta 600,000 ppm, every guard, no terms, case folded and format characters stripped", () => {
    expect(createDefaultPolicyRegistry().get("semantic", 2)).toBe(semanticGuardedPolicy);
    expect(SEMANTIC2_DEFAULT_THETA_PPM).toBe(600_000);
    expect(semanticGuardedPolicy.parseParams({})).toEqual({
      thetaPpm: 600_000,
      normalize: { caseFold: true, stripFormat: true },
      guards: { classes: new Set(GUARD_CLASSES), terms: [] },
    });
  });

  it("normalizes terms into lowercased word lists, and takes a subset of the guards", () => {
    const parsed = semanticGuardedPolicy.parseParams({ thetaPpm: 0, guards: ["terms", "numbers"], terms: ["New  York", "APPROVE", "Don't"] });
    expect(parsed.thetaPpm).toBe(0);
    expect([...parsed.guards.classes].sort()).toEqual(["numbers", "terms"]);
    expect(parsed.guards.terms).toEqual([["new", "york"], ["approve"], ["don't"]]);
    expect(semanticGuardedPolicy.parseParams({ guards: [] }).guards.classes.size).toBe(0);
    expect(semanticGuardedPolicy.parseParams({ thetaPpm: 1_000_000 }).thetaPpm).toBe(1_000_000);
    expect(semanticGuardedPolicy.parseParams({ terms: Array.from({ length: 64 }, (_, i) => `t${i}`) }).guards.terms).toHaveLength(64);
  });

  it("rejects unknown keys, bad thresholds, bad guard lists and bad terms (POLICY_PARAMS)", () => {
    const cases: [PolicyParams, RegExp][] = [
      [{ unit: "word" }, /^unit: unknown key/],
      [{ normalize: { caseFold: false } }, /^normalize: unknown key/], // semantic@2 always folds case
      [{ thetaPpm: -1 }, /^thetaPpm: not in/],
      [{ thetaPpm: 1_000_001 }, /^thetaPpm: not in/],
      [{ thetaPpm: 600_000.5 }, /^thetaPpm: not an integer/],
      [{ thetaPpm: "600000" }, /^thetaPpm: not an integer/],
      [{ guards: "numbers" }, /^guards: must be a list/],
      [{ guards: ["numbers", "signs"] }, /^guards: unknown or repeated guard: signs/],
      [{ guards: ["numbers", "numbers"] }, /^guards: unknown or repeated guard: numbers/],
      [{ guards: ["Numbers"] }, /^guards: unknown or repeated guard/],
      [{ guards: [1] }, /^guards: must list strings/],
      [{ guards: ["numbers", "polarity", "direction", "terms", "numbers"] }, /^guards: must be a list of at most 4/],
      [{ terms: "approve" }, /^terms: must be a list/],
      [{ terms: [true] }, /^terms: must list strings/],
      [{ terms: Array.from({ length: 65 }, (_, i) => `t${i}`) }, /^terms: must be a list of at most 64/],
      [{ terms: [""] }, /^terms: a term has no words/],
      [{ terms: ["ok", " \u2014 "] }, /^terms: a term has no words/],
    ];
    for (const [params, problem] of cases) expect(paramsProblem(params), JSON.stringify(params)).toMatch(problem);
  });
});

describe("semantic@2 agrees on honest paraphrases", () => {
  const paraphrases = [
    "No. The fee is $1,200 and it does not exceed the cap.",
    "The fee is 1200 dollars; it does not exceed the cap, so no.",
    "No: at $1,200 the fee does not exceed the cap.",
    "No, a fee of 1.2k does not exceed the cap.",
  ];

  it("carrying the same numbers, negations and directions, at a low theta", () => {
    const decision = decide({ thetaPpm: 500_000 }, paraphrases, 4);
    expect(decision).toMatchObject({ agreed: true, supporters: ["n0", "n1", "n2", "n3"] });
    if (decision.agreed) expect(paraphrases).toContain(decision.output);
  });

  it("in any case and spacing, and in any word order", () => {
    const outputs = ["The answer is YES, 42.", "the   answer\nis yes, 42", "yes: 42 is the answer"];
    expect(decide({ thetaPpm: 1_000_000 }, outputs, 3)).toMatchObject({ agreed: true, supporters: ["n0", "n1", "n2"] });
  });
});

/**
 * An honest majority (distinct paraphrases, so no group outweighs another) and one flipped output
 * whose words stay close to all of them. The flipped text is padded with punctuation (no words) to
 * the lowest output hash, as an attacker grinding the hash tie-break would: without guards it is
 * then the canonical output even at theta 0; with the guards it supports nothing and is never
 * canonical.
 */
describe("semantic@2 never counts a flipped answer", () => {
  const attacks: { name: string; honest: string[]; flipped: string; params?: PolicyParams }[] = [
    {
      name: "a changed number",
      honest: ["The fee is $1,200 in total.", "In total the fee is 1200 dollars.", "The total fee is $1.2k."],
      flipped: "The fee is $1,300 in total.",
    },
    {
      name: "a changed digit in a dotted version",
      honest: ["Upgrade the node to version 1.2.3 before the fork.", "Before the fork, upgrade the node to version 1.2.3.", "Upgrade each node to version 1.2.3 before the fork."],
      flipped: "Upgrade the node to version 1.2.4 before the fork.",
    },
    {
      name: "an inserted not",
      honest: ["The contract is valid and can be executed.", "The contract is valid, and it can be executed.", "This contract is valid and can be executed."],
      flipped: "The contract is not valid and can be executed.",
    },
    {
      name: "an n't contraction",
      honest: ["The bridge has enough collateral today.", "Today the bridge has enough collateral.", "The bridge has enough collateral at present."],
      flipped: "The bridge hasn't enough collateral today.",
    },
    {
      name: "YES turned into NO",
      honest: ["YES, the transfer is allowed by the policy.", "Yes: the policy allows the transfer.", "Yes, the transfer is allowed under the policy."],
      flipped: "NO, the transfer is allowed by the policy.",
    },
    {
      name: "increase turned into decrease",
      honest: ["Rates will increase next quarter, says the report.", "The report says rates will increase next quarter.", "Next quarter rates will increase, the report says."],
      flipped: "Rates will decrease next quarter, says the report.",
    },
    {
      // "shrinking" is no direction word: the missing "up" of "growing" is what tells them apart.
      name: "growing turned into shrinking",
      honest: ["Demand for the token is growing this week.", "This week demand for the token is growing.", "Demand for this token is growing this week."],
      flipped: "Demand for the token is shrinking this week.",
    },
    {
      name: "a swapped label term",
      honest: ["The committee should approve the proposal now.", "Now the committee should approve the proposal.", "The committee should approve this proposal now."],
      flipped: "The committee should reject the proposal now.",
      params: { terms: ["approve", "reject"] },
    },
    {
      name: "a swapped party name",
      honest: ["Pay the deposit back to Alice today.", "Today, pay the deposit back to Alice.", "Pay the deposit back to Alice, today."],
      flipped: "Pay the deposit back to Bob today.",
      params: { terms: ["Alice", "Bob"] },
    },
  ];

  /** `flipped` plus punctuation, with an output hash below every honest output's. */
  const ground = (flipped: string, honest: readonly string[]) => {
    const lowest = honest.map(outputHash).sort(compareBytes)[0] as Uint8Array;
    for (let i = 0; i < 4096; i++) {
      const text = `${flipped}${".".repeat(i % 64)}${"!".repeat(i >> 6)}`;
      if (compareBytes(outputHash(text), lowest) < 0) return text;
    }
    throw new Error("no padding ground a low enough hash");
  };

  for (const { name, honest, flipped, params = {} } of attacks) {
    it(name, () => {
      const attacker = ground(flipped, honest);
      const outputs = [...honest, attacker];
      const attackerNode = `n${honest.length}`;
      // The premise: the words alone do not tell the flip apart.
      const unguarded = decide({ ...params, thetaPpm: 0, guards: [] }, outputs, 3);
      expect(unguarded).toMatchObject({ agreed: true, output: attacker });
      for (const thetaPpm of [0, 300_000, 600_000]) {
        const decision = decide({ ...params, thetaPpm }, outputs, 3);
        expect(decision.agreed, `theta ${thetaPpm}`).toBe(true);
        if (!decision.agreed) continue;
        expect(decision.output).not.toBe(attacker);
        expect(honest).toContain(decision.output);
        expect(decision.supporters).not.toContain(attackerNode);
      }
      // Even as a majority of copies the flip never joins an honest star: two separate clusters.
      const split = decide({ ...params, thetaPpm: 0 }, [...honest, attacker, attacker, attacker], 4);
      expect(split.agreed).toBe(false);
      if (split.agreed) return;
      expect(split.clusters.map((c) => c.members).sort()).toEqual([["n0", "n1", "n2"], ["n3", "n4", "n5"]]);
    });
  }
});

describe("semantic@2 bounds the length of an output", () => {
  const text = (count: number, word = "lorem") => Array.from({ length: count }, () => word).join(" ");

  it(`an output of ${MAX_SEMANTIC_WORDS} words still counts`, () => {
    expect(MAX_SEMANTIC_WORDS).toBe(512); // spec/09-policies.md
    const long = text(MAX_SEMANTIC_WORDS);
    expect(decide({}, [long, `${long}.`], 2)).toMatchObject({ agreed: true, supporters: ["n0", "n1"] });
  });

  it(`an output of ${MAX_SEMANTIC_WORDS + 1} words supports nothing, not even an identical one, at theta 0 and without guards`, () => {
    const tooLong = text(MAX_SEMANTIC_WORDS + 1);
    for (const params of [{}, { thetaPpm: 0, guards: [] }]) {
      const decision = decide(params, [tooLong, tooLong, tooLong], 1);
      expect(decision).toEqual({ agreed: false, clusters: [{ outputHash: outputHash(tooLong), members: ["n0", "n1", "n2"] }] });
    }
  });

  it("counts words after normalization: punctuation and whitespace are no words, a contraction is one", () => {
    const eligible = Array.from({ length: MAX_SEMANTIC_WORDS }, () => "don't").join(" ,\u00a0\n ");
    expect(decide({}, [eligible, eligible], 2).agreed).toBe(true);
    expect(decide({}, [`${eligible} x`, `${eligible} x`], 2).agreed).toBe(false);
    // A number is one word, however it is written.
    const amounts = Array.from({ length: MAX_SEMANTIC_WORDS }, () => "$1,000,000.00").join(" ");
    expect(decide({}, [amounts, amounts.replaceAll("$1,000,000.00", "1m")], 2).agreed).toBe(true);
    expect(decide({}, [`${amounts} 5`, `${amounts} 5`], 2).agreed).toBe(false);
  });

  it("a too-long vote is left out of the agreement and of the honest clusters, and gets its own", () => {
    const honest = ["The price is 5 dollars.", "The price is 5 dollars!", "The price: 5 dollars."];
    const padded = `The price is 5 dollars. ${text(MAX_SEMANTIC_WORDS)}`;
    const agreed = decide({ thetaPpm: 0, guards: [] }, [...honest, padded], 3);
    expect(agreed).toMatchObject({ agreed: true, supporters: ["n0", "n1", "n2"] });
    const none = decide({ thetaPpm: 0, guards: [] }, [...honest, padded], 4);
    expect(none.agreed).toBe(false);
    if (none.agreed) return;
    expect(none.clusters.map((c) => c.members)).toEqual([["n0", "n1", "n2"], ["n3"]]);
    expect(none.clusters[1]?.outputHash).toEqual(outputHash(padded));
  });
});

describe("semantic@2 threshold: common * 1,000,000 >= thetaPpm * max(|A|, |B|), exactly", () => {
  /** Whether two outputs support each other at `thetaPpm`, by their words alone. */
  const within = (a: string, b: string, thetaPpm: number) => decide({ thetaPpm, guards: [] }, [a, b], 2).agreed;

  it("3 of 5 words: agrees at 600,000 ppm, not at 600,001", () => {
    expect(within("alpha beta gamma delta epsilon", "alpha beta gamma zeta eta", 600_000)).toBe(true);
    expect(within("alpha beta gamma delta epsilon", "alpha beta gamma zeta eta", 600_001)).toBe(false);
  });

  it("4 of 7 words (571,428.57... ppm): agrees at 571,428, not at 571,429", () => {
    const a = "a b c d e f g";
    const b = "a b c d h i j";
    expect(within(a, b, 571_428)).toBe(true);
    expect(within(a, b, 571_429)).toBe(false);
  });

  it("divides by the longer text: 3 common words of 3 and 6", () => {
    expect(within("red green blue", "red green blue cyan magenta yellow", 500_000)).toBe(true);
    expect(within("red green blue", "red green blue cyan magenta yellow", 500_001)).toBe(false);
  });

  it("with guards, the same arithmetic once the guard tokens match", () => {
    expect(decide({ thetaPpm: 600_000 }, ["no, 5 more apples", "no, 5 more pears"], 2).agreed).toBe(true); // 3 of 4
    expect(decide({ thetaPpm: 750_000 }, ["no, 5 more apples", "no, 5 more pears"], 2).agreed).toBe(true);
    expect(decide({ thetaPpm: 750_001 }, ["no, 5 more apples", "no, 5 more pears"], 2).agreed).toBe(false);
  });

  it("308 of 512 words (601,562.5 ppm): agrees at 601,562, not at 601,563", () => {
    const a = Array.from({ length: 512 }, (_, i) => `w${i}`).join(" ");
    const b = Array.from({ length: 512 }, (_, i) => (i < 308 ? `w${i}` : `v${i}`)).join(" ");
    expect(within(a, b, 601_562)).toBe(true);
    expect(within(a, b, 601_563)).toBe(false);
  });

  it("counts a multiset intersection, in any order", () => {
    // "a a b" and "a b b" share one a and one b: 2 of 3.
    expect(within("a a b", "a b b", 666_666)).toBe(true);
    expect(within("a a b", "a b b", 666_667)).toBe(false);
    expect(within("one two three four", "four three two one", 1_000_000)).toBe(true);
  });

  it("guardedMeasure answers the same pair the same way both ways round", () => {
    const measure = guardedMeasure(semanticGuardedPolicy.parseParams({}).guards);
    const norm = (s: string) => normalizeText(s, { caseFold: true });
    const a = norm("alpha beta gamma delta epsilon");
    const b = norm("alpha beta gamma zeta eta");
    for (const theta of [0, 599_999, 600_000, 600_001, 1_000_000]) {
      expect(measure.withinThreshold(a, b, theta)).toBe(measure.withinThreshold(b, a, theta));
      expect(measure.prepare?.([a, b], theta)(0, 1)).toBe(measure.withinThreshold(a, b, theta));
    }
    expect(measure.withinThreshold(norm("no 5"), norm("5"), 0)).toBe(false); // guards first
  });
});

describe("semantic@2 on empty outputs", () => {
  it("outputs without words are identical to each other, at any theta", () => {
    const outputs = ["", "   ", "\n\t", "...", "!"];
    const decision = decide({ thetaPpm: 1_000_000 }, outputs, 5);
    expect(decision).toMatchObject({ agreed: true, supporters: ["n0", "n1", "n2", "n3", "n4"] });
    // "", "   " and "\n\t" share one normalized text, the largest group: its lowest raw output hash names it.
    const lowest = ["", "   ", "\n\t"].sort((a, b) => compareBytes(outputHash(a), outputHash(b)))[0];
    if (decision.agreed) expect(decision.output).toBe(lowest);
  });

  it("an empty output and a non-empty one agree only at theta 0 (and only without guard tokens)", () => {
    expect(decide({ thetaPpm: 0 }, ["", "hello there"], 2).agreed).toBe(true);
    expect(decide({ thetaPpm: 1 }, ["", "hello there"], 2).agreed).toBe(false);
    expect(decide({ thetaPpm: 0 }, ["", "no"], 2).agreed).toBe(false);
  });

  it("no votes, no agreement", () => {
    expect(decide({}, [], 1)).toEqual({ agreed: false, clusters: [] });
  });
});

describe("semantic@2 does not depend on vote order", () => {
  it("same decision for every rotation and the reverse, agreed or not", () => {
    const outputs = [
      "The fee is $1,200 and does not exceed the cap.",
      "the fee is 1200 and does not exceed the cap",
      "The fee is $1,300 and does not exceed the cap.",
      "The fee is $1,200 and does exceed the cap.",
      "fee: $1,200, not above the cap",
      Array.from({ length: MAX_SEMANTIC_WORDS + 1 }, () => "fee").join(" "),
      "",
    ];
    const votes = votesOf(outputs);
    for (const k of [2, 3, 6]) {
      const reference = decideVotes({ thetaPpm: 500_000 }, votes, k);
      for (let shift = 1; shift < votes.length; shift++) {
        expect(decideVotes({ thetaPpm: 500_000 }, [...votes.slice(shift), ...votes.slice(0, shift)], k)).toEqual(reference);
      }
      expect(decideVotes({ thetaPpm: 500_000 }, [...votes].reverse(), k)).toEqual(reference);
    }
  });

  it("without agreement, every vote lands in exactly one cluster", () => {
    const outputs = ["yes 5", "yes 5!", "no 5", "yes 6", Array.from({ length: MAX_SEMANTIC_WORDS + 1 }, () => "yes").join(" ")];
    const decision = decide({ thetaPpm: 0 }, outputs, 5);
    expect(decision.agreed).toBe(false);
    if (decision.agreed) return;
    expect(decision.clusters.flatMap((c) => c.members).sort()).toEqual(["n0", "n1", "n2", "n3", "n4"]);
    expect(decision.clusters[0]?.members).toEqual(["n0", "n1"]);
  });
});
