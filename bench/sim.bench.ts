/**
 * Simulator throughput on one core: 10,000 requests x 4 policies at n = 7 (exact, seeded with fork
 * tolerance, semantic@2 and structured@2, each run through the whole protocol with real
 * signatures and the real collector; first-wins on the same draws of every run). Requests: 40%
 * greedy text and 20% seeded text at temperature 0.7 (the fork model), 20% free-sampled text in a
 * pinned template and 20% free-sampled JSON (both drawn from the decisions corpus). exact runs on
 * every request, seeded on seeded text, semantic@2 on the pinned text, structured@2 (each
 * request's corpus schema) on the JSON. verifyBundle checks every 50th agreed bundle. The bench
 * reads the clock; the simulation itself does not.
 * Run alone: `npx node bench/sim.bench.ts` (add a request count to change the 10,000).
 */
import { createDefaultPolicyRegistry } from "../src/agreement/registry.ts";
import { parseScenario } from "../src/sim/scenario.ts";
import { simulate } from "../src/sim/simulate.ts";

export const BENCH_SCENARIO = {
  name: "bench",
  seed: 2025,
  requests: 10_000,
  committee: { n: 7, k: 5 },
  registry: { size: 128 },
  requestMix: [
    { share: 0.4, kind: "text", temperature: 0, tokens: { min: 64, max: 256 } },
    { share: 0.2, kind: "text", temperature: 0.7, tokens: { min: 64, max: 256 } },
    { share: 0.2, kind: "text", temperature: 0.7, sampler: "free", format: "pinned" },
    { share: 0.2, kind: "json", temperature: 0.7, sampler: "free" },
  ],
  classes: [
    { name: "h100", share: 0.75, divergence: "vllm-default" },
    { name: "a100", share: 0.25, divergence: "mixed-hardware" },
  ],
  adversaries: [{ type: "lazy", share: 0.1 }],
  policies: [
    { id: "exact" },
    { id: "seeded", params: { epsPpm: 20000 }, kinds: ["text/seeded"] },
    { id: "semantic", version: 2, corpus: "terms", kinds: ["text/pinned"] },
    { id: "structured", version: 2, corpus: "schema" },
  ],
  checks: { verifyBundles: { every: 50 } },
};

export async function run(requests = BENCH_SCENARIO.requests): Promise<Record<string, number>> {
  const scenario = parseScenario({ ...BENCH_SCENARIO, requests }, createDefaultPolicyRegistry());
  const start = performance.now();
  const cpu = process.cpuUsage();
  const result = simulate(scenario);
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  const verified = result.summaries.reduce((sum, s) => sum + s.verifiedBundles, 0);
  const failed = result.summaries.reduce((sum, s) => sum + s.verifyFailures, 0);
  if (failed > 0) throw new Error(`${failed} agreed bundles failed verifyBundle`);
  return {
    "sim.requests": requests,
    "sim.policy_runs": result.runs.length,
    "sim.first_wins_runs": result.runs.length,
    "sim.seconds": Math.round(seconds * 100) / 100,
    // The simulation is single-threaded: CPU time is its time on one core, whatever else runs.
    "sim.cpu_seconds": Math.round(cpuSeconds * 100) / 100,
    "sim.requests_per_s": Math.round(requests / seconds),
    "sim.policy_runs_per_s": Math.round(result.runs.length / seconds),
    "sim.requests_per_cpu_s": Math.round(requests / cpuSeconds),
    "sim.bundles_verified": verified,
  };
}

if (import.meta.main) {
  const arg = process.argv[2];
  console.log(JSON.stringify(await run(arg === undefined ? undefined : Number(arg)), null, 2));
}
