/**
 * A node killed with SIGKILL after its commitment, restarted with the same key, data directory
 * and model while the request is still open. Its memory went with the kill, but its slashing
 * protection holds the signature: at start it fetches that request's messages from its peers,
 * runs the model again, signs the identical commitment (slashing protection allows identical
 * data) and reveals once the close lists it. With k = n its reveal is needed: the request is
 * agreed only because it came back. Nothing conflicting is ever signed. Two timings: the close
 * after the restart, and the close gone out while the node was down (gossip never sends it
 * again; only the fetch brings it). And a node killed before it signed anything, which learns
 * the request from its peers' open requests. (test/e2e/node-restart.test.ts is the other case: a
 * model that answers differently after the restart, where slashing protection refuses.)
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { taggedHash } from "../../src/wire/hash.ts";
import { clusterForSuite } from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

const VICTIM = 4;
const VICTIM_ID = "node-05";
/**
 * The victim stays down this long after the request: longer than gossipsub's message cache
 * (5 heartbeats of 1 s), from which peers would offer it the request again on reconnecting.
 */
const DOWN_UNTIL_MS = 6_500;

/**
 * The others answer `othersMs` after the request: 12 s puts the close after the victim is back,
 * 2 s puts it while the victim is down.
 */
for (const { when, othersMs } of [
  { when: "after the restart", othersMs: 12_000 },
  { when: "while the node was down", othersMs: 2_000 },
] as const) {
  describe(`the close ${when}`, () => {
    const suite = clusterForSuite({
      nodes: 5,
      seed: "node-recover",
      backend: (i) => ({ type: "fixed", modelSeed: "e2e-recover", delayMs: i === VICTIM ? 0 : othersMs }),
      // k = n: no agreement without the victim's reveal.
      pool: { k: 5, closeGraceMs: 100, deadlineMs: 60_000 },
    });

    it("fetches the request it committed to and forgot, and reveals the same commitment", async () => {
      const submittedAt = Date.now();
      const requestId = await suite.cluster.pool.submit({ model: "chat", input: `interrupted, then recovered; the close ${when}`, entropy: taggedHash("e2e/recover", when) });
      const entry = suite.cluster.pool.book.get(requestId);
      await until(() => entry?.collector.commitments.some((c) => c.node === VICTIM_ID) === true, 10_000, "the victim's commitment at the pool");
      const firstCommitment = entry?.collector.commitments.find((c) => c.node === VICTIM_ID);
      suite.cluster.nodes[VICTIM]?.child.kill("SIGKILL");
      await suite.cluster.nodes[VICTIM]?.exited;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, submittedAt + DOWN_UNTIL_MS - Date.now())));
      // The close is out already only in the second timing.
      expect(entry?.collector.close !== undefined).toBe(othersMs < DOWN_UNTIL_MS);

      const trace = join(suite.dir, "victim-trace.jsonl");
      const restarted = await suite.cluster.startNode(VICTIM, ["--trace-file", trace, "--log-level", "info"]);
      await suite.cluster.waitForPeers(5, 15_000);

      const outcome = await suite.cluster.outcome(requestId, 30_000);
      expect(outcome.kind).toBe("agreed");
      if (outcome.kind !== "agreed") return;
      expect(outcome.bundle.close?.commitments.map((ref) => ref.node)).toContain(VICTIM_ID);
      expect(outcome.bundle.outcome.supporters).toContain(VICTIM_ID);
      await restarted.waitForLog((line) => line["requests"] === 1 && String(line.msg).startsWith("resuming the requests still open"), 10_000, "the resume log line");

      // What it published after the restart: the same commitment again, then its reveal.
      const sent = (kind: string) => {
        const lines = existsSync(trace) ? readFileSync(trace, "utf8").trim().split("\n").filter(Boolean) : [];
        return lines.map((line) => JSON.parse(line) as { direction: string; kind: string; request: string; node: string | null }).some((e) => e.direction === "out" && e.kind === kind && e.request === requestId && e.node === VICTIM_ID);
      };
      await until(() => sent("reveal"), 15_000, "the restarted node's reveal");
      expect(sent("commitment")).toBe(true);
      expect(entry?.collector.commitments.find((c) => c.node === VICTIM_ID)).toEqual(firstCommitment);
      expect(restarted.logs.filter((line) => String(line.msg).startsWith("refused to sign"))).toEqual([]);
      expect(suite.cluster.pool.counters.evidence).toBe(0);
      for (const node of suite.cluster.nodes) expect(node.logs.filter((line) => line.msg === "equivocation detected"), node.label).toEqual([]);
    }, 60_000);
  });
}

/**
 * A node killed while its model ran (nothing signed, so slashing protection holds nothing of the
 * request), in direct mode with k = n: back after gossip's history is gone, it asks its peers
 * which requests are open, fetches this one, runs the model and sends its output.
 */
describe("killed before it signed, in direct mode", () => {
  const suite = clusterForSuite({
    nodes: 5,
    seed: "node-recover-direct",
    backend: (i) => ({ type: "fixed", modelSeed: "e2e-recover", delayMs: i === VICTIM ? 3_000 : 200 }),
    pool: { k: 5, deadlineMs: 60_000 },
  });

  it("learns the open request from its peers and sends its output", async () => {
    const submittedAt = Date.now();
    const requestId = await suite.cluster.pool.submit({ model: "chat", input: "killed mid-inference", entropy: taggedHash("e2e/recover", "direct"), mode: "direct" });
    const entry = suite.cluster.pool.book.get(requestId);
    await until(() => entry?.collector.voteCount === 4, 10_000, "the other four outputs at the pool");
    suite.cluster.nodes[VICTIM]?.child.kill("SIGKILL");
    await suite.cluster.nodes[VICTIM]?.exited;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, submittedAt + DOWN_UNTIL_MS - Date.now())));

    const restarted = await suite.cluster.startNode(VICTIM, ["--log-level", "info"]);
    const outcome = await suite.cluster.outcome(requestId, 30_000);
    expect(outcome.kind).toBe("agreed");
    if (outcome.kind !== "agreed") return;
    expect(outcome.bundle.outcome.supporters).toContain(VICTIM_ID);
    await restarted.waitForLog((line) => line["requests"] === 1 && String(line.msg).startsWith("resuming the requests still open"), 10_000, "the resume log line");
    expect(restarted.logs.filter((line) => String(line.msg).startsWith("refused to sign"))).toEqual([]);
  }, 60_000);
});
