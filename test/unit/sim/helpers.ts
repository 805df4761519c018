/** Small scenarios for the simulator's tests. */
import { createDefaultPolicyRegistry } from "../../../src/agreement/registry.ts";
import { parseScenario, type Scenario } from "../../../src/sim/scenario.ts";

export const policies = createDefaultPolicyRegistry();

export const STRUCTURED = {
  id: "structured",
  label: "structured",
  kinds: ["json"],
  params: {
    fields: {
      action: { type: "label" },
      asset: { type: "label" },
      confidence: { type: "number", decimals: 3, absTol: 20 },
      price: { type: "number", decimals: 2, relTolPpm: 2000 },
    },
  },
};

/** A scenario JSON value: a small honest fleet, overridable key by key. */
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
      { id: "semantic", params: { thetaPpm: 900000 }, kinds: ["text"] },
      STRUCTURED,
    ],
    ...overrides,
  };
}

export function scenarioOf(overrides: Record<string, unknown> = {}): Scenario {
  return parseScenario(scenarioJson(overrides), policies);
}
