/**
 * Aggregates run records into the per-configuration metrics the report shows. Every figure is
 * rounded to a fixed number of decimals, so the JSON is byte-identical run to run.
 *
 *   acceptance rate      agreed runs / runs
 *   false-accept rate    runs agreed on an output no honest run gives / runs
 *   below k              the same among runs with fewer than k adversarial members (what the
 *                        policy let through, beyond what k colluding members can always force)
 *   false-reject rate    NoAgreement runs in which at least k honest votes were counted (honest
 *                        variance kept agreement out) / runs with at least k honest members
 *   stall rate           NoAgreement runs with at least k honest members but fewer than k honest
 *                        votes counted (the close or the deadline left them out) / the same runs
 *   latency              simulated ms from publishing the request to the decision
 *   vs first-wins        per run, latency minus first-wins' latency on the same draws
 *   bytes                encoded bytes of every message published for the request, once each
 */
import type { RunConfig } from "./configs.ts";
import type { RunRecord } from "./engine.ts";

export interface Quantiles {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface BaselineSummary {
  runs: number;
  accepted: number;
  acceptanceRate: number;
  falseAccepts: number;
  falseAcceptRate: number;
  latencyMs: Quantiles | null;
  bytesPerRequest: number;
}

export interface ConfigSummary {
  config: number;
  label: string;
  policy: string;
  n: number;
  k: number;
  mode: string;
  base: boolean;
  runs: number;
  accepted: number;
  acceptanceRate: number;
  falseAccepts: number;
  falseAcceptRate: number;
  /** Runs with fewer than k adversarial members, and the false accepts among them. */
  belowKRuns: number;
  falseAcceptsBelowK: number;
  falseAcceptBelowKRate: number;
  /** Of the accepted runs, the share that were false accepts. */
  falseAcceptShareOfAccepted: number;
  /** Runs with at least k honest members: the false-reject denominator. */
  rejectEligible: number;
  falseRejects: number;
  falseRejectRate: number;
  stalls: number;
  stallRate: number;
  noAgreementExhausted: number;
  noAgreementDeadline: number;
  /** Decision latency of agreed runs. */
  latencyMs: Quantiles | null;
  /** Latency minus first-wins' latency on the same draws, agreed runs. */
  overBaselineMs: Quantiles | null;
  baseline: BaselineSummary;
  bytesPerRequest: number;
  messagesPerRequest: number;
  /** Share of all supporters that were not honest members. */
  adversarialSupportShare: number;
  /** Runs where at least one copycat was counted as a supporter / runs with a copycat member. */
  copycatSupportRuns: number;
  copycatMemberRuns: number;
  equivocationsDetected: number;
  verifiedBundles: number;
  verifyFailures: number;
  rejected: Record<string, number>;
}

export function round(value: number, decimals = 6): number {
  const factor = 10 ** decimals;
  const rounded = Math.round(value * factor) / factor;
  return Object.is(rounded, -0) ? 0 : rounded;
}

function rate(part: number, whole: number): number {
  return whole === 0 ? 0 : round(part / whole);
}

/** Nearest-rank quantiles (values need not be sorted). */
export function quantiles(values: readonly number[]): Quantiles | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] as number;
  const mean = sorted.reduce((sum, v) => sum + v, 0) / sorted.length;
  return { count: sorted.length, mean: round(mean, 3), p50: round(at(0.5), 3), p90: round(at(0.9), 3), p99: round(at(0.99), 3), max: round(sorted[sorted.length - 1] as number, 3) };
}

export function summarizeBaseline(runs: readonly RunRecord[]): BaselineSummary {
  const accepted = runs.filter((run) => run.baselineMs !== null);
  const falseAccepts = accepted.filter((run) => run.baselineFalseAccept).length;
  return {
    runs: runs.length,
    accepted: accepted.length,
    acceptanceRate: rate(accepted.length, runs.length),
    falseAccepts,
    falseAcceptRate: rate(falseAccepts, runs.length),
    latencyMs: quantiles(accepted.map((run) => run.baselineMs as number)),
    bytesPerRequest: runs.length === 0 ? 0 : round(runs.reduce((sum, run) => sum + run.baselineBytes, 0) / runs.length, 1),
  };
}

export function summarizeConfig(config: RunConfig, runs: readonly RunRecord[]): ConfigSummary {
  const agreed = runs.filter((run) => run.outcome === "agreed");
  const falseAccepts = agreed.filter((run) => run.falseAccept).length;
  const eligible = runs.filter((run) => run.honestMembers >= config.k);
  const belowK = runs.filter((run) => run.adversarialMembers < config.k);
  const falseAcceptsBelowK = belowK.filter((run) => run.outcome === "agreed" && run.falseAccept).length;
  const falseRejects = runs.filter((run) => run.falseReject).length;
  const supporters = agreed.reduce((sum, run) => sum + run.supporters, 0);
  const adversarialSupporters = agreed.reduce((sum, run) => sum + run.adversarialSupporters, 0);
  const rejected: Record<string, number> = {};
  for (const run of runs) {
    if (!run.rejected) continue;
    for (const part of run.rejected.split(";")) {
      const [code, count] = part.split(":");
      rejected[code as string] = (rejected[code as string] ?? 0) + Number(count);
    }
  }
  const sortedRejected: Record<string, number> = {};
  for (const code of Object.keys(rejected).sort()) sortedRejected[code] = rejected[code] as number;
  return {
    config: config.index,
    label: config.label,
    policy: config.policyLabel,
    n: config.n,
    k: config.k,
    mode: config.mode,
    base: config.base,
    runs: runs.length,
    accepted: agreed.length,
    acceptanceRate: rate(agreed.length, runs.length),
    falseAccepts,
    falseAcceptRate: rate(falseAccepts, runs.length),
    belowKRuns: belowK.length,
    falseAcceptsBelowK,
    falseAcceptBelowKRate: rate(falseAcceptsBelowK, belowK.length),
    falseAcceptShareOfAccepted: rate(falseAccepts, agreed.length),
    rejectEligible: eligible.length,
    falseRejects,
    falseRejectRate: rate(falseRejects, eligible.length),
    stalls: runs.filter((run) => run.stalled).length,
    stallRate: rate(runs.filter((run) => run.stalled).length, eligible.length),
    noAgreementExhausted: runs.filter((run) => run.outcome === "exhausted").length,
    noAgreementDeadline: runs.filter((run) => run.outcome === "deadline").length,
    latencyMs: quantiles(agreed.map((run) => run.decisionMs)),
    overBaselineMs: quantiles(agreed.filter((run) => run.baselineMs !== null).map((run) => run.decisionMs - (run.baselineMs as number))),
    baseline: summarizeBaseline(runs),
    bytesPerRequest: runs.length === 0 ? 0 : round(runs.reduce((sum, run) => sum + run.bytes, 0) / runs.length, 1),
    messagesPerRequest: runs.length === 0 ? 0 : round(runs.reduce((sum, run) => sum + run.messages, 0) / runs.length, 3),
    adversarialSupportShare: rate(adversarialSupporters, supporters),
    copycatSupportRuns: agreed.filter((run) => run.copycatSupporters > 0).length,
    copycatMemberRuns: runs.filter((run) => run.copycatMembers > 0).length,
    equivocationsDetected: runs.reduce((sum, run) => sum + run.equivocations, 0),
    verifiedBundles: runs.filter((run) => run.verified !== "").length,
    verifyFailures: runs.filter((run) => run.verified.startsWith("failed")).length,
    rejected: sortedRejected,
  };
}
