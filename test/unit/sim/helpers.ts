/** Small scenarios for the simulator's tests. */
import { createDefaultPolicyRegistry } from "../../../src/agreement/registry.ts";
import { parseScenario, type AdversarySpec, type Scenario } from "../../../src/sim/scenario.ts";

export const policies = createDefaultPolicyRegistry();

/** structured@2 with each request's corpus schema, on JSON requests. */
export const STRUCTURED = { id: "structured", version: 2, label: "structured", corpus: "schema" };

/** semantic@2 with the corpus prompt's labels as terms. */
export const SEMANTIC = { id: "semantic", version: 2, label: "semantic", corpus: "terms", params: { thetaPpm: 600000 } };

/** A request mix with every kind of request: seeded text (fork model), free-sampled corpus text in both formats, JSON seeded and free. */
export const FULL_MIX = [
  { share: 0.3, kind: "text", temperature: 0, tokens: { min: 32, max: 96 } },
  { share: 0.15, kind: "text", temperature: 0.7, tokens: { min: 32, max: 96 } },
  { share: 0.15, kind: "text", temperature: 0.7, sampler: "free" },
  { share: 0.15, kind: "text", temperature: 0.7, sampler: "free", format: "pinned" },
  { share: 0.1, kind: "json" },
  { share: 0.15, kind: "json", temperature: 0.7, sampler: "free" },
];

/** A scenario JSON value: a small honest fleet, seeded text and greedy JSON, overridable key by key. */
export function scenarioJson(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: "test",
    seed: 5,
    requests: 40,
    committee: { n: 7, k: 5 },
    registry: { size: 24 },
    requestMix: [
      { share: 0.6, kind: "text", temperature: 0, tokens: { min: 32, max: 96 } },
      { share: 0.2, kind: "text", temperature: 0.7, tokens: { min: 32, max: 96 } },
      { share: 0.2, kind: "json" },
    ],
    classes: [{ name: "h100", divergence: "vllm-default" }],
    policies: [
      { id: "exact" },
      { id: "seeded", params: { epsPpm: 20000 }, kinds: ["text"] },
      { ...SEMANTIC, kinds: ["text"] },
      STRUCTURED,
    ],
    ...overrides,
  };
}

export function scenarioOf(overrides: Record<string, unknown> = {}): Scenario {
  return parseScenario(scenarioJson(overrides), policies);
}

/** An adversary spec with test defaults (1 ms fixed latency, no per-token cost), overridden by `extra`. */
export function adversarySpec(type: AdversarySpec["type"], extra: Partial<AdversarySpec> = {}): AdversarySpec {
  return {
    type,
    name: type,
    share: 0.1,
    latency: { dist: "fixed", ms: 1 },
    perTokenMs: 0,
    weight: 1,
    latencyFactor: 1,
    editRate: 0.3,
    wrong: "blatant",
    strategy: "near-tie",
    ...extra,
  };
}
