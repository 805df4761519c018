/**
 * Runs the exported known-answer cases (test/fixtures/agreement/cases.ts) through the default
 * registry, as a vector runner in another implementation would.
 */
import { describe, expect, it } from "vitest";
import { createDefaultPolicyRegistry } from "../../../src/agreement/registry.ts";
import type { Vote } from "../../../src/agreement/policy.ts";
import { isConcordError } from "../../../src/errors.ts";
import { bytesEqual, compareBytes, outputHash, utf8 } from "../../../src/wire/hash.ts";
import {
  firstWinsCases,
  hashOrder,
  paramsCases,
  seededCases,
  semanticCases,
  semantic2Cases,
  structuredCases,
  structured2Cases,
  type PolicyCase,
} from "../../fixtures/agreement/cases.ts";

const registry = createDefaultPolicyRegistry();

function votesOf(c: PolicyCase): Vote[] {
  return c.votes.map((v) => ({
    node: v.node,
    output: v.output,
    outputHash: outputHash(v.output),
    ...(v.evidence ? { evidence: v.evidence } : {}),
  }));
}

function runCase(c: PolicyCase): void {
  const bound = registry.bind({ id: c.policy.id, version: c.policy.version, params: c.policy.params }, { allowBaseline: true, allowRetired: true });
  const decision = bound.decide(votesOf(c), { ...c.context, requestId: utf8(`case/${c.name}`) });
  if (c.expected.agreed) {
    expect(decision).toMatchObject({ agreed: true, output: c.expected.output, supporters: c.expected.supporters });
    if (decision.agreed) {
      expect(bytesEqual(decision.outputHash, outputHash(decision.output))).toBe(true);
      if (c.policy.id !== "first-wins") expect(decision.supporters.length).toBeGreaterThanOrEqual(c.context.k);
    }
  } else {
    expect(decision.agreed).toBe(false);
    if (!decision.agreed) {
      expect(decision.clusters.map((cluster) => cluster.members)).toEqual(c.expected.clusters);
      // Largest first, then lowest hash: checked independently of the policy's own sort.
      for (let i = 1; i < decision.clusters.length; i++) {
        const a = decision.clusters[i - 1];
        const b = decision.clusters[i];
        if (!a || !b) continue;
        expect(a.members.length > b.members.length || (a.members.length === b.members.length && compareBytes(a.outputHash, b.outputHash) <= 0)).toBe(true);
      }
    }
  }
}

for (const [policy, cases] of [
  ["seeded@1", seededCases],
  ["semantic@1", semanticCases],
  ["semantic@2", semantic2Cases],
  ["structured@1", structuredCases],
  ["structured@2", structured2Cases],
  ["first-wins@1", firstWinsCases],
] as const) {
  describe(`${policy} known answers`, () => {
    for (const c of cases) it(c.name, () => runCase(c));
  });
}

describe("policy parameters", () => {
  for (const c of paramsCases) {
    it(c.name, () => {
      const policy = registry.get(c.policy.id, c.policy.version);
      let code: string | undefined;
      try {
        policy.parseParams(c.params);
      } catch (error) {
        if (!isConcordError(error)) throw error;
        code = error.code;
      }
      expect(code).toBe(c.expectedError);
    });
  }
});

describe("hash tie-breaks the cases rely on", () => {
  for (const [lower, higher] of hashOrder) {
    it(`${JSON.stringify(lower)} < ${JSON.stringify(higher)}`, () => {
      expect(compareBytes(outputHash(lower), outputHash(higher))).toBeLessThan(0);
    });
  }
});
