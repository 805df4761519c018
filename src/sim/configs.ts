/**
 * Run configurations: the (policy and parameters, n, k, mode) combinations a scenario asks for.
 * The base grid is every policy in every mode at the scenario's n, k and close grace; each sweep
 * adds points along one parameter, n, k or the grace (in the first mode). Identical combinations run once and are shared.
 */
import type { AttestationMode, PolicyParamValue, PolicyRef } from "../wire/types.ts";
import { policyLabel, thresholdFor, withParam, type CorpusParams, type PolicyKind, type PolicySpec, type Scenario } from "./scenario.ts";

export interface RunConfig {
  index: number;
  /** Human-readable and unique: "seeded epsPpm=5000 | n=7 k=5 | commit-reveal". */
  label: string;
  /** The policy part of the label. */
  policyLabel: string;
  /** The policy as the scenario gives it; a request may add corpus parameters (`corpus`). */
  policy: PolicyRef;
  kinds: readonly PolicyKind[];
  /** Parameters each request takes from its corpus prompt (scenario.ts corpusPolicyParams). */
  corpus: CorpusParams | undefined;
  n: number;
  k: number;
  mode: AttestationMode;
  /** The sequencer's close grace period, ms. */
  graceMs: number;
  /** In the base grid (policies x modes at the scenario's n and k). */
  base: boolean;
}

export interface SweepSeries {
  /** The policy label this series follows. */
  policy: string;
  points: { value: PolicyParamValue; config: number }[];
}

export interface SweepPlan {
  name: string;
  /** What varies: a parameter path, "n", "k" or "graceMs". */
  over: string;
  series: SweepSeries[];
}

export interface RunPlan {
  configs: RunConfig[];
  sweeps: SweepPlan[];
}

function configKey(policy: PolicyRef, corpus: CorpusParams | undefined, kinds: readonly PolicyKind[], n: number, k: number, mode: AttestationMode, graceMs: number): string {
  return JSON.stringify([policy.id, policy.version, canonicalParams(policy.params), corpus ?? null, [...kinds].sort(), n, k, mode, graceMs]);
}

function canonicalParams(value: PolicyParamValue): PolicyParamValue {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map(canonicalParams);
  const out: { [key: string]: PolicyParamValue } = {};
  for (const key of Object.keys(value).sort()) out[key] = canonicalParams(value[key] as PolicyParamValue);
  return out;
}

/** Expands a scenario into its run configurations and sweep series. */
export function planRuns(scenario: Scenario): RunPlan {
  const configs: RunConfig[] = [];
  const byKey = new Map<string, RunConfig>();
  const add = (spec: PolicySpec, policy: PolicyRef, label: string, n: number, k: number, mode: AttestationMode, base: boolean, graceMs = scenario.timing.graceMs): RunConfig => {
    const key = configKey(policy, spec.corpus, spec.kinds, n, k, mode, graceMs);
    const existing = byKey.get(key);
    if (existing) {
      if (base) existing.base = true;
      return existing;
    }
    const config: RunConfig = {
      index: configs.length,
      label: `${label} | n=${n} k=${k} | ${mode}${graceMs === scenario.timing.graceMs ? "" : ` | grace=${graceMs}ms`}`,
      policyLabel: label,
      policy,
      kinds: spec.kinds,
      corpus: spec.corpus,
      n,
      k,
      mode,
      graceMs,
      base,
    };
    configs.push(config);
    byKey.set(key, config);
    return config;
  };
  const { n, k } = scenario.committee;
  for (const mode of scenario.modes) {
    for (const spec of scenario.policies) add(spec, { id: spec.id, version: spec.version, params: spec.params }, spec.label, n, k, mode, true);
  }
  const mode = scenario.modes[0] ?? "commit-reveal";
  const sweeps: SweepPlan[] = scenario.sweeps.map((sweep) => {
    if (sweep.type === "param") {
      const spec = scenario.policies.find((p) => p.label === sweep.policy) as PolicySpec;
      const points = sweep.values.map((value) => {
        const params = withParam(spec.params, sweep.param, value);
        const label = `${policyLabel(spec.id, spec.version, params)}${spec.corpus ? ` ${spec.corpus}=corpus` : ""}`;
        return { value, config: add(spec, { id: spec.id, version: spec.version, params }, label, n, k, mode, false).index };
      });
      return { name: sweep.name, over: sweep.param, series: [{ policy: spec.label, points }] };
    }
    if (sweep.type === "grace") {
      const series = sweep.policies.map((name) => {
        const spec = scenario.policies.find((p) => p.label === name) as PolicySpec;
        const points = sweep.values.map((value) => ({ value, config: add(spec, { id: spec.id, version: spec.version, params: spec.params }, spec.label, n, k, mode, false, value).index }));
        return { policy: spec.label, points };
      });
      return { name: sweep.name, over: "graceMs", series };
    }
    const series = sweep.policies.map((name) => {
      const spec = scenario.policies.find((p) => p.label === name) as PolicySpec;
      const points = sweep.values.map((value) => {
        const sn = sweep.over === "n" ? value : n;
        const sk = sweep.over === "k" ? value : thresholdFor(sn, sweep.k);
        return { value, config: add(spec, { id: spec.id, version: spec.version, params: spec.params }, spec.label, sn, sk, mode, false).index };
      });
      return { policy: spec.label, points };
    });
    return { name: sweep.name, over: sweep.over, series };
  });
  return { configs, sweeps };
}
