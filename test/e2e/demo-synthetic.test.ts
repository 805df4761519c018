/**
 * `concord demo --backend synthetic` explains a NoAgreement the way an overloaded machine causes
 * it, through the same summary code as the llama demo: real node processes, an embedded pool,
 * and the protocol's clock set shorter than the nodes' inference. (1) A deadline of 100 ms
 * against inference of 150 ms and more: no honest node commits before the deadline. (2) A close
 * 1 ms after the k-th commitment, with two lazy nodes answering at once among them: the slower
 * honest nodes' commitments come after the close, and the honest votes left are short of k.
 */
import { describe, expect, it } from "vitest";
import { formatDemoSummary, runDemo, type DemoSummary } from "../../src/cli/demo.ts";

const total = (summary: DemoSummary, field: "noAgreement" | "noAgreementHonestMissing" | "noAgreementLateForClose" | "noAgreementNoCommitment") =>
  summary.rows.reduce((sum, row) => sum + row[field], 0);

describe("concord demo --backend synthetic: why a request found no quorum", () => {
  it("names a deadline shorter than inference: no honest commitment before it", async () => {
    const summary = await runDemo(
      { backend: "synthetic", nodes: 5, requests: 3, rate: 10, byzantine: [], seed: "e2e-demo-deadline", json: false, deadlineMs: 100 },
      { progress: () => {} },
    );
    expect(total(summary, "noAgreement")).toBe(3);
    expect(total(summary, "noAgreementHonestMissing")).toBe(3);
    expect(total(summary, "noAgreementNoCommitment")).toBe(3);
    expect(total(summary, "noAgreementLateForClose")).toBe(0);
    const text = formatDemoSummary(summary);
    expect(text).toContain("no agreement: 3; 3 without every honest node's vote, 0 with honest outputs that differed.");
    expect(text).toMatch(/an overloaded machine: 5 node processes and the sequencer share \d+ cores/);
    expect(text).toContain("3 with fewer than k commitments before the deadline (100 ms after submit): honest inference took longer");
    expect(text).toContain("a lower --rate");
  }, 120_000);

  it("agrees with votes routed to the sequencer, the wrong model outvoted", async () => {
    const summary = await runDemo(
      { backend: "synthetic", nodes: 5, requests: 4, rate: 5, byzantine: ["wrong-model"], seed: "e2e-demo-routed", json: false, votes: "sequencer" },
      { progress: () => {} },
    );
    expect(summary.rows.reduce((sum, row) => sum + row.requests, 0)).toBe(4);
    expect(summary.rows.reduce((sum, row) => sum + row.agreed, 0)).toBe(4);
  }, 120_000);

  it("names an honest commitment late for the close, and how late", async () => {
    const summary = await runDemo(
      { backend: "synthetic", nodes: 7, requests: 3, rate: 5, byzantine: ["wrong-model", "wrong-model"], seed: "e2e-demo-late", json: false, closeGraceMs: 1 },
      { progress: () => {} },
    );
    // k = 5 of 7. The two lazy nodes answer at once, the honest ones after 150, 190, 230, 270 and
    // 310 ms: the close (1 ms after the fifth commitment) lists both lazy nodes and three or four
    // honest ones, so the honest votes fall short of k, and at least the slowest honest node is
    // late. Only a close delayed past 310 ms (80 ms of lag) could list all five.
    const noAgreement = total(summary, "noAgreement");
    expect(noAgreement).toBeGreaterThan(0);
    expect(total(summary, "noAgreementLateForClose")).toBeGreaterThan(0);
    const text = formatDemoSummary(summary);
    expect(text).toContain(`with an honest node too late for the close, which goes out 1 ms after the k-th commitment`);
    // A late node that finished its inference before the request was decided still sent its
    // commitment (how late it was is measured); one still computing then sent none.
    if (summary.lateForCloseP50Ms === null) expect(text).not.toContain("late commitments came");
    else expect(text).toContain(`late commitments came a median ${summary.lateForCloseP50Ms} ms after the last listed one`);
  }, 120_000);
});
