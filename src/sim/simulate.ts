/**
 * The simulator's entry point: a validated scenario in, every run and the per-configuration
 * metrics out. Pure but for CPU time: no clock, no Math.random, no I/O; the same scenario gives
 * the same result, byte for byte once rendered (report.ts).
 *
 * @example
 * const scenario = parseScenario(json, createDefaultPolicyRegistry());
 * const result = simulate(scenario);
 * result.summaries[0].acceptanceRate;
 */
import type { AgreementPolicy, PolicyRegistry } from "../agreement/policy.ts";
import { createDefaultPolicyRegistry } from "../agreement/registry.ts";
import { isConcordError } from "../errors.ts";
import { planRuns, type RunConfig, type RunPlan } from "./configs.ts";
import { SizeCache, simulateRun, type RunRecord } from "./engine.ts";
import { summarizeBaseline, summarizeConfig, type BaselineSummary, type ConfigSummary } from "./metrics.ts";
import type { Scenario } from "./scenario.ts";
import { RequestWorld, createFleet, worldConstants, type Behavior } from "./world.ts";

export interface FleetSummary {
  name: string;
  behavior: Behavior;
  nodes: number;
  weight: number;
}

export interface SimulationResult {
  scenario: Scenario;
  plan: RunPlan;
  fleet: FleetSummary[];
  runs: RunRecord[];
  summaries: ConfigSummary[];
  /** First-wins over the base configurations of the first mode (each run's own committee). */
  baseline: BaselineSummary;
}

export interface SimulateOptions {
  policies?: PolicyRegistry;
  /** Called after each run with the number done and the total (for a progress bar). */
  onProgress?: (done: number, total: number) => void;
}

function firstWinsPolicy(policies: PolicyRegistry): AgreementPolicy | undefined {
  try {
    return policies.get("first-wins", 1);
  } catch (error) {
    if (isConcordError(error, "POLICY_UNKNOWN")) return undefined;
    throw error;
  }
}

/** Runs every request of `scenario` under every run configuration. */
export function simulate(scenario: Scenario, options: SimulateOptions = {}): SimulationResult {
  const policies = options.policies ?? createDefaultPolicyRegistry();
  const plan = planRuns(scenario);
  const fleet = createFleet(scenario);
  const constants = worldConstants(scenario);
  const firstWins = firstWinsPolicy(policies);
  const runs: RunRecord[] = [];
  const total = scenario.requests * plan.configs.length;
  let done = 0;
  let agreedSeen = 0;
  const sizes = new SizeCache();
  for (let index = 0; index < scenario.requests; index++) {
    const world = new RequestWorld(scenario, constants, index);
    for (const config of plan.configs) {
      done++;
      if (!world.appliesTo(config.kinds)) continue;
      // verifyBundle a deterministic sample of the runs (every Nth; "all" is every 1st).
      const every = scenario.checks.verifyEvery;
      const verify = every > 0 && agreedSeen % every === 0;
      const record = simulateRun({ scenario, fleet, policies, firstWins, verify, sizes }, world, config);
      if (record.outcome === "agreed") agreedSeen++;
      runs.push(record);
      options.onProgress?.(done, total);
    }
  }
  const byConfig = new Map<number, RunRecord[]>(plan.configs.map((config) => [config.index, []]));
  for (const run of runs) byConfig.get(run.config)?.push(run);
  const summaries = plan.configs.map((config: RunConfig) => summarizeConfig(config, byConfig.get(config.index) ?? []));
  const firstMode = scenario.modes[0];
  const baseRuns = runs.filter((run) => {
    const config = plan.configs[run.config] as RunConfig;
    return config.base && config.mode === firstMode;
  });
  return {
    scenario,
    plan,
    fleet: fleet.classes.map((cls) => ({
      name: cls.name,
      behavior: cls.behavior,
      nodes: cls.count,
      weight: fleet.nodes.filter((node) => node.cls === cls).reduce((sum, node) => sum + node.weight, 0),
    })),
    runs,
    summaries,
    baseline: summarizeBaseline(baseRuns),
  };
}
