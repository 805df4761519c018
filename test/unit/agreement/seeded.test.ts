import { describe, expect, it } from "vitest";
import type { Vote } from "../../../src/agreement/policy.ts";
import { isValidSeededEvidence, seededPolicy } from "../../../src/agreement/seeded.ts";
import { outputHash, utf8 } from "../../../src/wire/hash.ts";
import type { Evidence } from "../../../src/wire/types.ts";

const context = (n: number, k: number) => ({ n, k, requestId: utf8("seeded-test") });
const vote = (node: string, tokens: number[], margins: number[], output = tokens.join(" ")): Vote => ({
  node,
  output,
  outputHash: outputHash(output),
  evidence: { tokens, margins },
});

describe("seeded@1 evidence", () => {
  it("accepts equal-length arrays of non-negative safe integers only", () => {
    expect(isValidSeededEvidence({ tokens: [], margins: [] })).toBe(true);
    expect(isValidSeededEvidence({ tokens: [0, 5], margins: [0, 1_000_000_000] })).toBe(true);
    expect(isValidSeededEvidence(undefined)).toBe(false);
    for (const bad of [
      { tokens: [1], margins: [] },
      { tokens: [-1], margins: [0] },
      { tokens: [1.5], margins: [0] },
      { tokens: [1], margins: [Number.NaN] },
      { tokens: [2 ** 53], margins: [0] },
      { tokens: "1", margins: [0] },
      { tokens: [1], margins: null },
      { tokens: [[1]], margins: [0] },
    ]) {
      expect(isValidSeededEvidence(bad as unknown as Evidence)).toBe(false);
    }
  });

  it("never throws on garbage evidence: such a vote only supports nothing", () => {
    const garbage = [null, 5, "x", { tokens: {}, margins: {} }, { tokens: [1, 2] }, { margins: [1] }];
    const votes: Vote[] = [
      vote("a", [1, 2], [0, 0]),
      vote("b", [1, 2], [0, 0]),
      ...garbage.map((evidence, i) => ({ ...vote(`g${i}`, [1, 2], [0, 0]), evidence: evidence as unknown as Evidence })),
    ];
    const decision = seededPolicy.decide(votes, seededPolicy.parseParams({ epsPpm: 1_000 }), context(8, 2));
    expect(decision).toMatchObject({ agreed: true, supporters: ["a", "b"] });
  });
});

describe("seeded@1 decisions", () => {
  it("every vote lands in exactly one cluster when there is no agreement", () => {
    const votes = [
      vote("a", [1, 2, 3], [900_000, 500, 500]),
      vote("b", [1, 2, 3], [900_000, 500, 500]),
      vote("c", [1, 2, 9], [900_000, 600, 600]),
      vote("d", [4], [0]), // forks at step 0, where the producers claim no near tie
      { node: "e", output: "no evidence", outputHash: outputHash("no evidence") },
    ];
    const decision = seededPolicy.decide(votes, seededPolicy.parseParams({ epsPpm: 1_000 }), context(5, 4));
    expect(decision.agreed).toBe(false);
    if (decision.agreed) return;
    expect(decision.clusters[0]?.members).toEqual(["a", "b", "c"]); // the canonical star, fork included
    expect(decision.clusters.flatMap((cluster) => cluster.members).sort()).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("a fork at the very first step still needs corroborated near ties on both sides", () => {
    const votes = [vote("a", [1, 2], [800, 0]), vote("b", [1, 2], [900, 0]), vote("c", [7, 8], [700, 0])];
    expect(seededPolicy.decide(votes, seededPolicy.parseParams({ epsPpm: 1_000 }), context(3, 3))).toMatchObject({
      agreed: true,
      supporters: ["a", "b", "c"],
    });
    expect(seededPolicy.decide(votes, seededPolicy.parseParams({ epsPpm: 799 }), context(3, 3)).agreed).toBe(false);
  });

  it("epsPpm 0 turns fork tolerance off even for zero margins", () => {
    const votes = [vote("a", [1, 2], [0, 0]), vote("b", [1, 2], [0, 0]), vote("c", [1, 3], [0, 0])];
    expect(seededPolicy.decide(votes, seededPolicy.parseParams({}), context(3, 3)).agreed).toBe(false);
    expect(seededPolicy.decide(votes, seededPolicy.parseParams({ epsPpm: 1 }), context(3, 3)).agreed).toBe(true);
  });

  it("512-token outputs decide in microseconds (no string keys over tokens)", () => {
    const tokens = Array.from({ length: 512 }, (_, i) => (i * 7919) % 32_000);
    const margins = tokens.map(() => 100_000);
    const votes = Array.from({ length: 7 }, (_, i) => vote(`n${i}`, tokens, margins));
    const params = seededPolicy.parseParams({});
    const start = performance.now();
    for (let i = 0; i < 1_000; i++) seededPolicy.decide(votes, params, context(7, 5));
    expect((performance.now() - start) / 1_000).toBeLessThan(1); // ms per decision, generous for CI
  });
});
