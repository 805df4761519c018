import { describe, expect, it } from "vitest";
import { encodeMessage } from "../../../src/wire/messages.ts";
import type { OutputReveal, SignedOutput } from "../../../src/wire/types.ts";
import { SizeCache, bundleSize } from "../../../src/sim/engine.ts";
import { simulate } from "../../../src/sim/simulate.ts";
import type { ConfigSummary } from "../../../src/sim/metrics.ts";
import { runRequest, testNetwork, testRequest } from "../../helpers/fixtures.ts";
import { STRUCTURED, scenarioOf } from "./helpers.ts";

const net = testNetwork(9);

function byPolicy(summaries: readonly ConfigSummary[], label: string, mode = "commit-reveal"): ConfigSummary {
  const found = summaries.find((s) => s.policy === label && s.mode === mode && s.base);
  if (!found) throw new Error(`no summary for ${label} ${mode}`);
  return found;
}

describe("message sizes", () => {
  it("bundleSize equals encodeMessage(bundle).length, in both modes", () => {
    for (const mode of ["commit-reveal", "direct"] as const) {
      for (const length of [1, 30, 300]) {
        const request = testRequest(net, { mode });
        const output = "word ".repeat(length).trim();
        const { collector } = runRequest(net, request, (_node, i) => ({ output, evidence: { tokens: [i, 2, 3], margins: [0, 1, 2] } }));
        const bundle = collector.bundle;
        expect(bundle).toBeDefined();
        if (!bundle) continue;
        expect(bundleSize(bundle, (vote: OutputReveal | SignedOutput) => encodeMessage(vote).length)).toBe(encodeMessage(bundle).length);
      }
    }
  });

  it("SizeCache gives the encoded size of any vote with the same lengths", () => {
    const cache = new SizeCache();
    const request = testRequest(net);
    const { reveals } = runRequest(net, request, (_node, i) => ({ output: `out-${"x".repeat(i * 37)}`, evidence: { tokens: Array(i * 11).fill(7 * i), margins: Array(i * 11).fill(0xffffffff) } }));
    for (const reveal of reveals) {
      expect(cache.of(reveal)).toBe(encodeMessage(reveal).length);
      const other = { ...reveal, output: reveal.output.replace(/x/g, "y"), evidence: { tokens: reveal.evidence?.tokens.map(() => 1) ?? [], margins: reveal.evidence?.margins.map(() => 3) ?? [] } };
      expect(cache.of(other)).toBe(encodeMessage(other).length);
    }
  });
});

describe("known answers", () => {
  it("all-honest identical outputs (batch-invariant kernels): 100% accepted, 0 false accepts, every bundle verifies", () => {
    const result = simulate(scenarioOf({ requests: 30, classes: [{ name: "h100", divergence: "batch-invariant" }] }));
    for (const summary of result.summaries) {
      expect(summary.acceptanceRate, summary.label).toBe(1);
      expect(summary.falseAccepts, summary.label).toBe(0);
      expect(summary.falseRejects, summary.label).toBe(0);
      expect(summary.verifyFailures).toBe(0);
      expect(summary.verifiedBundles).toBe(summary.accepted);
    }
    expect(result.baseline.falseAccepts).toBe(0);
  });

  it("colluders at or above k: the report shows false accepts (the metric can fail)", () => {
    const result = simulate(
      scenarioOf({
        requests: 30,
        classes: [{ name: "h100", divergence: "batch-invariant" }],
        adversaries: [{ type: "colluding", share: 0.95, wrong: "blatant" }],
        policies: [{ id: "exact" }, STRUCTURED],
      }),
    );
    const exact = byPolicy(result.summaries, "exact");
    expect(exact.falseAccepts).toBeGreaterThan(0);
    expect(exact.falseAcceptRate).toBeGreaterThan(0.5);
    expect(byPolicy(result.summaries, "structured").falseAccepts).toBeGreaterThan(0);
    expect(result.baseline.falseAccepts).toBeGreaterThan(0);
    for (const summary of result.summaries) expect(summary.verifyFailures).toBe(0);
  });

  it("a colluding minority below k is never accepted by exact", () => {
    const result = simulate(
      scenarioOf({
        requests: 40,
        classes: [{ name: "h100", divergence: "batch-invariant" }],
        committee: { n: 7, k: 5 },
        registry: { size: 21 },
        adversaries: [{ type: "colluding", share: 3 / 21 }],
        policies: [{ id: "exact" }],
      }),
    );
    const exact = byPolicy(result.summaries, "exact");
    expect(exact.falseAccepts).toBe(0);
    // Identical honest outputs: every committee with k honest members agrees, unless the close
    // listed fewer than k of them (a stall: colluders answered first), which is not variance.
    expect(exact.falseRejects).toBe(0);
    expect(exact.accepted + exact.stalls).toBe(exact.rejectEligible);
    expect(exact.accepted).toBeGreaterThan(exact.stalls);
  });

  it("copycats: counted as support in direct mode, never under commit-reveal", () => {
    const result = simulate(
      scenarioOf({
        requests: 40,
        modes: ["commit-reveal", "direct"],
        classes: [{ name: "h100", divergence: "batch-invariant" }],
        adversaries: [{ type: "copycat", share: 0.3 }],
        policies: [{ id: "exact" }],
      }),
    );
    const commitReveal = byPolicy(result.summaries, "exact", "commit-reveal");
    const direct = byPolicy(result.summaries, "exact", "direct");
    expect(commitReveal.copycatMemberRuns).toBeGreaterThan(10);
    expect(commitReveal.copycatSupportRuns).toBe(0);
    expect(commitReveal.rejected.COMMITMENT_MISMATCH).toBeGreaterThan(0);
    expect(direct.copycatSupportRuns).toBeGreaterThan(0);
    expect(direct.adversarialSupportShare).toBeGreaterThan(0);
  });

  it("equivocators are caught as slashable evidence and never counted twice", () => {
    const result = simulate(
      scenarioOf({
        requests: 30,
        modes: ["commit-reveal", "direct"],
        classes: [{ name: "h100", divergence: "batch-invariant" }],
        adversaries: [{ type: "equivocator", share: 0.3 }],
        policies: [{ id: "exact" }],
      }),
    );
    for (const summary of result.summaries) {
      expect(summary.equivocationsDetected, summary.label).toBeGreaterThan(0);
      expect(summary.falseAccepts).toBe(0);
      expect(summary.verifyFailures).toBe(0);
    }
  });

  it("silent nodes: requests that cannot reach k resolve to NoAgreement at the deadline", () => {
    const result = simulate(
      scenarioOf({
        requests: 20,
        classes: [{ name: "h100", divergence: "batch-invariant" }],
        adversaries: [{ type: "silent", share: 0.6 }],
        policies: [{ id: "exact" }],
        timing: { deadlineMs: 20000 },
      }),
    );
    const exact = byPolicy(result.summaries, "exact");
    expect(exact.noAgreementDeadline).toBeGreaterThan(0);
    expect(exact.falseRejects).toBe(0);
    const late = result.runs.filter((run) => run.outcome === "deadline");
    for (const run of late) {
      expect(run.decisionMs).toBe(20000);
      expect(run.honestMembers).toBeLessThan(5);
    }
  });

  it("checks signatures in the collector when asked, with the same decisions", () => {
    const base = { requests: 10, policies: [{ id: "exact" }, { id: "seeded", params: { epsPpm: 20000 } }] };
    const fast = simulate(scenarioOf(base));
    const checked = simulate(scenarioOf({ ...base, checks: { collectorSignatures: true } }));
    expect(checked.runs).toEqual(fast.runs);
  });

  it("measures first-wins on the same draws as each run", () => {
    const result = simulate(scenarioOf({ requests: 20, adversaries: [{ type: "lazy", share: 0.3, latencyFactor: 0.1 }], policies: [{ id: "exact" }] }));
    // Lazy nodes answer ten times faster: first-wins takes their output whenever one is seated.
    const withLazy = result.runs.filter((run) => / lazy:/.test(` ${run.committee}`) && run.baselineMs !== null);
    expect(withLazy.length).toBeGreaterThan(0);
    expect(withLazy.every((run) => run.baselineClass === "lazy")).toBe(true);
    expect(withLazy.every((run) => run.baselineFalseAccept)).toBe(true);
  });
});
