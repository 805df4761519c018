/**
 * The fork model measured on the real engine: the `llama-cpu` model and divergence presets are
 * what `engineProfile` derives from the committed divergence-engine results, and the fork model
 * with them gives back the figures the engine measured.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ENGINE_PATHS, engineProfile, readEngineFigures, sampledMarginCdf, simulateEngineBench } from "../../../src/sim/calibrate.ts";
import { renderReport } from "../../../src/sim/report.ts";
import { DEFAULT_MODEL, DIVERGENCE_PRESETS, MODEL_PRESETS, parseScenario, parseScenarioText } from "../../../src/sim/scenario.ts";
import { simulate } from "../../../src/sim/simulate.ts";
import { policies, scenarioJson } from "./helpers.ts";

const figures = readEngineFigures();
const profile = engineProfile(figures);

describe("the llama-cpu profile", () => {
  it("ships exactly what engineProfile derives from bench/results/divergence-engine.json", () => {
    expect(MODEL_PRESETS["llama-cpu"]).toEqual(profile.model);
    expect(Object.keys(profile.presets).sort()).toEqual(["llama-cpu", ...ENGINE_PATHS.map((p) => p.preset)].sort());
    for (const [name, preset] of Object.entries(profile.presets)) expect(DIVERGENCE_PRESETS[name], name).toEqual(preset);
  });

  it("is derived from the figures, not fixed: other measurements give other parameters", () => {
    const other = engineProfile({ ...figures, "engine.t0.fp32-accumulate.margin_drift_max_ppm": 9200, "engine.t0.7.fp32-accumulate.flip_pct": 0.5 });
    expect(other.presets["llama-cpu-f32kv"]?.hardwareDriftPpm).toBeGreaterThan(2 * (profile.presets["llama-cpu-f32kv"]?.hardwareDriftPpm ?? 0) - 2);
    expect(other.model.sampledDriftScale).not.toBe(profile.model.sampledDriftScale);
  });

  it("puts the sampled margins' median and 1st percentile where the engine measured them", () => {
    const model = MODEL_PRESETS["llama-cpu"] ?? DEFAULT_MODEL;
    expect(sampledMarginCdf(model, 0.7, figures["engine.t0.7.margin_median_ppm"] as number)).toBeCloseTo(0.5, 2);
    expect(sampledMarginCdf(model, 0.7, figures["engine.t0.7.margin_p1_ppm"] as number)).toBeCloseTo(0.01, 3);
  });

  it("replays the bench on the fork model close to what the engine measured", () => {
    const sampled = simulateEngineBench({ requests: 1500, tokens: 26, temperature: 0.7 }).all;
    const measuredFlips = 100 - (figures["engine.t0.7.forced_token_agreement_pct"] as number);
    expect(sampled.flipPct).toBeGreaterThan(measuredFlips / 2);
    expect(sampled.flipPct).toBeLessThan(measuredFlips * 2);
    expect(Math.abs(sampled.pairMatchRate - (figures["engine.t0.7.pair_match_rate"] as number))).toBeLessThan(0.01);
    // Forks only at near ties, as on the engine (median 31 ppm against 29,034 over all steps).
    expect(sampled.forkMarginMedianPpm).toBeLessThan(100);
    expect(sampled.marginMedianPpm).toBeGreaterThan(20_000);
    expect(sampled.perPath["batch-4"]?.flipPct).toBe(0);
    expect(sampled.perPath["slots-2"]?.flipPct).toBe(0);
    const greedy = simulateEngineBench({ requests: 1500, tokens: 22, temperature: 0 }).all;
    // The engine flipped no greedy token in ~10,900 steps.
    expect(greedy.flipPct).toBeLessThan(0.03);
    expect(greedy.exactMatchRate).toBeGreaterThan(0.98);
  });
});

describe("model presets in scenarios", () => {
  it("reads a model preset by name or as the base of overrides", () => {
    expect(parseScenario(scenarioJson({ model: "llama-cpu" }), policies).model).toEqual(MODEL_PRESETS["llama-cpu"]);
    const tuned = parseScenario(scenarioJson({ model: { preset: "llama-cpu", sampledDriftScale: 0.5, nearTieRate: 0.01 } }), policies).model;
    expect(tuned).toEqual({ ...MODEL_PRESETS["llama-cpu"], sampledDriftScale: 0.5, nearTieRate: 0.01 });
    expect(() => parseScenario(scenarioJson({ model: "gpt" }), policies)).toThrow(/model: must be one of "default", "llama-cpu"/);
    expect(() => parseScenario(scenarioJson({ model: { sampledDriftScale: 2 } }), policies)).toThrow(/model\.sampledDriftScale: must be a number > 0 and <= 1/);
  });

  it("leaves scenarios without the sampled-margin constants as they were (no new keys)", () => {
    expect(parseScenario(scenarioJson(), policies).model).toEqual(DEFAULT_MODEL);
    expect(Object.keys(parseScenario(scenarioJson({ model: { nearTieRate: 0.02 } }), policies).model)).toEqual(Object.keys(DEFAULT_MODEL));
  });

  it("examples/scenarios/engine-cpu.json runs the engine's fleet on the llama-cpu profile, reproducibly", () => {
    const text = readFileSync(join(import.meta.dirname, "../../../examples/scenarios/engine-cpu.json"), "utf8");
    const scenario = parseScenarioText(text, policies);
    expect(scenario.model).toEqual(MODEL_PRESETS["llama-cpu"]);
    expect(scenario.classes.map((c) => c.divergence.preset)).toEqual(["llama-cpu", ...ENGINE_PATHS.map((p) => p.preset)]);
    const small = { ...scenario, requests: 30, sweeps: [] };
    const a = renderReport(simulate(small));
    const b = renderReport(simulate(small));
    expect(b.csv).toBe(a.csv);
    expect(b.summaryJson).toBe(a.summaryJson);
    expect(b.html).toBe(a.html);
  });
});
