import { describe, expect, it } from "vitest";
import { isConcordError } from "../../../src/errors.ts";
import { parseScenario, parseScenarioText } from "../../../src/sim/scenario.ts";
import { planRuns } from "../../../src/sim/configs.ts";
import { policies, scenarioJson, scenarioOf } from "./helpers.ts";

function errorOf(value: unknown): string {
  try {
    parseScenario(value, policies);
  } catch (error) {
    if (isConcordError(error, "SCENARIO")) return error.message;
    throw error;
  }
  throw new Error("expected a SCENARIO error");
}

describe("scenario validation", () => {
  it("accepts the test scenario and fills in defaults", () => {
    const scenario = scenarioOf();
    expect(scenario.modes).toEqual(["commit-reveal"]);
    expect(scenario.timing.deadlineMs).toBe(30_000);
    expect(scenario.classes[0]?.divergence.preset).toBe("vllm-default");
    expect(scenario.checks).toEqual({ collectorSignatures: false, verifyEvery: 1 });
  });

  it("names the path of the bad field", () => {
    expect(errorOf(scenarioJson({ classes: [{ name: "a", latency: { dist: "lognormal", medianMs: 10, sigma: -1 } }] }))).toMatch(
      /classes\[0\]\.latency\.sigma: must be a number >= 0/,
    );
    expect(errorOf(scenarioJson({ requestMix: [{ kind: "text", tokens: { min: 32, max: 8 } }] }))).toMatch(/requestMix\[0\]\.tokens\.max/);
    expect(errorOf(scenarioJson({ committee: { n: 7, k: 3 } }))).toMatch(/committee: n=7, k=3/);
    expect(errorOf(scenarioJson({ committee: { n: 30, k: 20 } }))).toMatch(/exceeds registry\.size=24/);
    expect(errorOf({ ...scenarioJson(), requests: 0 })).toMatch(/requests: must be an integer >= 1/);
    expect(errorOf({ ...scenarioJson(), requests: undefined })).toMatch(/requests: is required/);
  });

  it("rejects unknown keys (typos never fall back to a default)", () => {
    expect(errorOf({ ...scenarioJson(), comittee: {} })).toMatch(/comittee: unknown key/);
    expect(errorOf(scenarioJson({ adversaries: [{ type: "lazy", share: 0.1, editrate: 0.2 }] }))).toMatch(/adversaries\[0\]\.editrate: unknown key/);
  });

  it("checks policies against the registry and their own parameter parser", () => {
    expect(errorOf(scenarioJson({ policies: [{ id: "nope" }] }))).toMatch(/policies\[0\]\.id: unknown agreement policy "nope@1"/);
    expect(errorOf(scenarioJson({ policies: [{ id: "first-wins" }] }))).toMatch(/policies\[0\]\.id: first-wins is the baseline/);
    expect(errorOf(scenarioJson({ policies: [{ id: "semantic", params: { thetaPpm: 2_000_000 } }] }))).toMatch(/policies\[0\]\.params: .*thetaPpm/);
    expect(errorOf(scenarioJson({ policies: [{ id: "semantic", params: { thetaPpm: 0.9 } }] }))).toMatch(/policies\[0\]\.params\.thetaPpm: policy parameters are integers/);
  });

  it("checks sweeps", () => {
    expect(errorOf(scenarioJson({ sweeps: [{ policy: "missing", param: "epsPpm", values: [1] }] }))).toMatch(/sweeps\[0\]\.policy: names no policy/);
    expect(errorOf(scenarioJson({ sweeps: [{ policy: "seeded", param: "epsPpm", values: [1, -5] }] }))).toMatch(/sweeps\[0\]\.values\[1\]\.params/);
    expect(errorOf(scenarioJson({ sweeps: [{ committee: "k", values: [5, 3] }] }))).toMatch(/sweeps\[0\]\.values\[1\]: n=7, k=3/);
  });

  it("checks adversaries and sampling", () => {
    expect(errorOf(scenarioJson({ adversaries: [{ type: "lazy", share: 0.6 }, { type: "random", share: 0.5 }] }))).toMatch(/adversaries: shares add up to 1.1/);
    expect(errorOf(scenarioJson({ adversaries: [{ type: "sneaky", share: 0.1 }] }))).toMatch(/adversaries\[0\]\.type: must be one of/);
    expect(errorOf(scenarioJson({ requestMix: [{ kind: "text", temperature: 0, sampler: "free" }] }))).toMatch(/requestMix\[0\]\.sampler: "free" sampling needs a temperature/);
    expect(errorOf(scenarioJson({ classes: [{ name: "a" }], adversaries: [{ type: "lazy", name: "a", share: 0.1 }] }))).toMatch(/adversaries\[0\]\.name: "a" names two classes/);
  });

  it("checks corpus requests and corpus parameters", () => {
    expect(errorOf(scenarioJson({ requestMix: [{ kind: "text", temperature: 0.7, sampler: "free", tokens: { min: 32, max: 64 } }] }))).toMatch(
      /requestMix\[0\]\.tokens: only seeded text has a drawn length/,
    );
    expect(errorOf(scenarioJson({ requestMix: [{ kind: "json", tokens: { min: 32, max: 64 } }] }))).toMatch(/requestMix\[0\]\.tokens/);
    expect(errorOf(scenarioJson({ requestMix: [{ kind: "text", format: "pinned" }] }))).toMatch(/requestMix\[0\]\.format: only free-sampled text has a format/);
    expect(errorOf(scenarioJson({ requestMix: [{ kind: "text", temperature: 0.7, sampler: "free", format: "json" }] }))).toMatch(/requestMix\[0\]\.format: must be one of/);
    expect(errorOf(scenarioJson({ policies: [{ id: "structured", version: 2, corpus: "schema", kinds: ["text"] }] }))).toMatch(/policies\[0\]\.kinds: .*JSON requests only/);
    expect(errorOf(scenarioJson({ policies: [{ id: "structured", version: 2, corpus: "labels" }] }))).toMatch(/policies\[0\]\.corpus: must be one of "schema", "terms"/);
    expect(errorOf(scenarioJson({ policies: [{ id: "exact", kinds: ["text/json"] }] }))).toMatch(/policies\[0\]\.kinds\[0\]: must be one of/);
    // Every corpus schema is checked under the policy: structured@1 does not take one.
    expect(errorOf(scenarioJson({ policies: [{ id: "structured", corpus: "schema" }] }))).toMatch(/policies\[0\]\.params/);
    const scenario = scenarioOf({ policies: [{ id: "structured", version: 2, corpus: "schema" }, { id: "semantic", version: 2, corpus: "terms", kinds: ["text/pinned"] }] });
    expect(scenario.policies.map((p) => [p.label, p.kinds, p.corpus])).toEqual([
      ["structured@2 schema=corpus", ["json"], "schema"],
      ["semantic@2 terms=corpus", ["text/pinned"], "terms"],
    ]);
  });

  it("reports JSON syntax errors as scenario errors", () => {
    expect(() => parseScenarioText("{", policies)).toThrow(/invalid scenario: \(top level\): not valid JSON/);
  });

  it("expands policies, modes and sweeps into run configurations, sharing identical ones", () => {
    const scenario = scenarioOf({
      modes: ["commit-reveal", "direct"],
      sweeps: [
        { policy: "seeded", param: "epsPpm", values: [0, 20000] },
        { committee: "n", values: [5, 7], k: "default", policies: ["exact"] },
      ],
    });
    const plan = planRuns(scenario);
    // 4 policies x 2 modes, seeded eps=0 is new (eps=20000 is the base one), exact n=5 is new.
    expect(plan.configs).toHaveLength(10);
    expect(plan.sweeps[0]?.series[0]?.points.map((p) => p.config)).toEqual([8, 1]);
    expect(plan.configs[9]?.label).toBe("exact | n=5 k=4 | commit-reveal");
  });

  it("sweeps the close grace period", () => {
    const plan = planRuns(scenarioOf({ sweeps: [{ timing: "graceMs", values: [0, 50, 500], policies: ["exact"] }] }));
    expect(plan.configs.map((c) => c.graceMs)).toEqual([50, 50, 50, 50, 0, 500]);
    expect(plan.configs[5]?.label).toBe("exact | n=7 k=5 | commit-reveal | grace=500ms");
    expect(errorOf(scenarioJson({ sweeps: [{ timing: "deadlineMs", values: [1] }] }))).toMatch(/sweeps\[0\]\.timing: must be one of "graceMs"/);
  });
});
