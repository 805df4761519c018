/**
 * spec/vectors/policies.json and sampler.json, read only from the committed files and run through
 * the public functions (PolicyRegistry.bind and decide; deriveDecodeSeed, stepUniformBits,
 * weightTable, candidateWeight, sampleNext), as another implementation's runner would. That the
 * files are exactly what the generator writes is checked in vectors.test.ts.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { policyKey, type PolicyDecision, type Vote } from "../../src/agreement/policy.ts";
import { createDefaultPolicyRegistry } from "../../src/agreement/registry.ts";
import { candidateWeight, deriveDecodeSeed, sampleNext, stepUniformBits, weightTable } from "../../src/agreement/sampler.ts";
import { isConcordError } from "../../src/errors.ts";
import { fromHex, outputHash, sha256, toHex } from "../../src/wire/hash.ts";
import type { PolicyParams, SamplingParams } from "../../src/wire/types.ts";

interface Case {
  name: string;
  note?: string;
  input: Record<string, unknown>;
  expected?: unknown;
  expectedError?: string;
}

const load = (name: string): Case[] => (JSON.parse(readFileSync(new URL(`../../spec/vectors/${name}`, import.meta.url), "utf8")) as { cases: Case[] }).cases;
const outcomeOf = (c: Case) => (c.expectedError !== undefined ? { expectedError: c.expectedError } : { expected: c.expected });

function run(fn: () => unknown): { expected: unknown } | { expectedError: string } {
  try {
    return { expected: fn() };
  } catch (error) {
    if (isConcordError(error)) return { expectedError: error.code };
    throw error;
  }
}

const TIMEOUT = 60_000;

// ---------------------------------------------------------------------------------------------

interface PolicyInput {
  policy: { id: string; version: number; params: PolicyParams };
  bind: "request" | "verify-only" | "baseline";
  n: number;
  k: number;
  requestId: string;
  votes: { node: string; output: string; evidence?: { tokens: number[]; margins: number[] } }[];
}

const BIND = { request: {}, "verify-only": { allowRetired: true }, baseline: { allowBaseline: true } } as const;

function asJson(decision: PolicyDecision): unknown {
  return decision.agreed
    ? { agreed: true, output: decision.output, outputHash: toHex(decision.outputHash), supporters: decision.supporters }
    : { agreed: false, clusters: decision.clusters.map((c) => ({ outputHash: toHex(c.outputHash), members: c.members })) };
}

function decideCase(input: PolicyInput, order: (votes: Vote[]) => Vote[] = (v) => v): { expected: unknown } | { expectedError: string } {
  return run(() => {
    const bound = createDefaultPolicyRegistry().bind(input.policy, BIND[input.bind]);
    const votes: Vote[] = input.votes.map((v) => ({ node: v.node, output: v.output, outputHash: outputHash(v.output), ...(v.evidence ? { evidence: v.evidence } : {}) }));
    return asJson(bound.decide(order(votes), { n: input.n, k: input.k, requestId: fromHex(input.requestId) }));
  });
}

describe("policies.json: every policy in src/agreement agrees with the committed decisions", () => {
  const cases = load("policies.json");

  it("runs every case through PolicyRegistry.bind and decide, in the given order and in others", () => {
    for (const c of cases) {
      const input = c.input as unknown as PolicyInput;
      expect(decideCase(input), c.name).toEqual(outcomeOf(c));
      if (input.policy.id === "first-wins" || c.expectedError !== undefined) continue;
      // Order independence (spec/09 rule 2): reversed, rotated, and by output.
      for (const order of [(v: Vote[]) => [...v].reverse(), (v: Vote[]) => [...v.slice(2), ...v.slice(0, 2)], (v: Vote[]) => [...v].sort((a, b) => (a.output > b.output ? -1 : 1))]) {
        expect(decideCase(input, order), `${c.name} (reordered)`).toEqual(outcomeOf(c));
      }
    }
  }, TIMEOUT);

  it("covers every registered policy, agreed and not, and each binding error", () => {
    const seen = new Map<string, Set<string>>();
    const note = (key: string, what: string) => seen.set(key, (seen.get(key) ?? new Set()).add(what));
    for (const c of cases) {
      const { policy } = c.input as unknown as PolicyInput;
      const key = policyKey(policy.id, policy.version);
      if (c.expectedError !== undefined) note("errors", c.expectedError);
      else if ((c.expected as { agreed: boolean }).agreed) note(key, "agreed");
      // Not agreed on votes (first-wins@1 has none to disagree on: its only no-agreement is no votes).
      else if ((c.input as unknown as PolicyInput).votes.length > 0 || policy.id === "first-wins") note(key, "not agreed");
      if (key === "seeded@1" && c.expected !== undefined) note(key, (policy.params.epsPpm ?? 0) === 0 ? "eps 0" : "eps > 0");
      if (key === "semantic@1" && c.expected !== undefined) note(key, `unit ${String(policy.params.unit ?? "char")}`);
    }
    for (const policy of createDefaultPolicyRegistry().list()) {
      expect([...(seen.get(policyKey(policy.id, policy.version)) ?? [])], policyKey(policy.id, policy.version)).toEqual(expect.arrayContaining(["agreed", "not agreed"]));
    }
    expect([...(seen.get("seeded@1") ?? [])]).toEqual(expect.arrayContaining(["eps 0", "eps > 0"]));
    expect([...(seen.get("semantic@1") ?? [])]).toEqual(expect.arrayContaining(["unit char", "unit word"]));
    expect([...(seen.get("errors") ?? [])].sort()).toEqual(["POLICY_PARAMS", "POLICY_RETIRED", "POLICY_UNKNOWN"]);
  });

  it("agreed decisions name the hash of their output and at least k supporters; clusters are in compareClusters order", () => {
    for (const c of cases) {
      if (c.expected === undefined) continue;
      const input = c.input as unknown as PolicyInput;
      const decision = c.expected as { agreed: boolean; output?: string; outputHash?: string; supporters?: string[]; clusters?: { outputHash: string; members: string[] }[] };
      if (decision.agreed) {
        expect(decision.outputHash, c.name).toBe(toHex(outputHash(decision.output as string)));
        if (input.policy.id !== "first-wins") expect((decision.supporters ?? []).length, c.name).toBeGreaterThanOrEqual(input.k);
        continue;
      }
      const clusters = decision.clusters ?? [];
      for (let i = 1; i < clusters.length; i++) {
        const [a, b] = [clusters[i - 1], clusters[i]];
        if (!a || !b) continue;
        expect(a.members.length > b.members.length || (a.members.length === b.members.length && a.outputHash <= b.outputHash), c.name).toBe(true);
      }
      expect(clusters.flatMap((cluster) => cluster.members).sort(), c.name).toEqual(input.votes.map((v) => v.node).sort());
    }
  });
});

// ---------------------------------------------------------------------------------------------

const logit = (value: number | string): number => (value === "-inf" ? -Infinity : value === "+inf" ? Infinity : value === "nan" ? Number.NaN : (value as number));

describe("sampler.json: the sampler in src/agreement agrees with the committed answers", () => {
  const cases = load("sampler.json");

  it("runs every op through the public functions", () => {
    const ops = new Set<string>();
    for (const c of cases) {
      const input = c.input;
      ops.add(input.op as string);
      const result = run(() => {
        switch (input.op) {
          case "seed":
            return { seed: toHex(deriveDecodeSeed(fromHex(input.requestId as string))) };
          case "uniform":
            return { bits: Number(stepUniformBits(fromHex(input.seed as string), input.step as number)) };
          case "table": {
            const table = weightTable();
            const bits = (j: number) => {
              const view = new DataView(new ArrayBuffer(8));
              view.setFloat64(0, table[j] as number, false);
              return toHex(new Uint8Array(view.buffer));
            };
            const entries = (c.expected as { entries: [number, string][] }).entries.map(([j]) => [j, bits(j)]);
            return { sha256: toHex(sha256(new Uint8Array(table.buffer, table.byteOffset, table.byteLength))), entries };
          }
          case "weight":
            return { weight: candidateWeight(logit(input.x as number | string)) };
          case "sample": {
            const logits = (input.logits as (number | string)[]).map(logit);
            return sampleNext(logits, input.sampling as SamplingParams, fromHex(input.seed as string), input.step as number);
          }
          default:
            throw new Error(`unknown op ${String(input.op)}`);
        }
      });
      expect(result, c.name).toEqual(outcomeOf(c));
    }
    expect(ops).toEqual(new Set(["seed", "uniform", "table", "weight", "sample"]));
  }, TIMEOUT);

  it("covers greedy ties, top-k and top-p boundaries, temperature extremes and bad logits", () => {
    const names = cases.map((c) => c.name);
    for (const prefix of ["greedy-tie", "sampled-top-k-ties", "sampled-top-p-exactly", "sampled-top-p-one-ppm-more", "sampled-top-p-need-rounds-up", "sampled-temperature-one-milli", "sampled-temperature-wire-max", "error-nan", "error-plus-inf", "error-all-masked"]) {
      expect(names.some((name) => name.startsWith(prefix)), prefix).toBe(true);
    }
  });
});
