/**
 * Byzantine node processes that send invalid messages, among honest ones, on 127.0.0.1: six
 * `concord node` processes, four honest, one publishing corrupted signatures and one publishing
 * random bytes on every topic, with the sequencer's pool in this process. n = 6, k = 4 (two
 * byzantine members: n - k). Honest agreement still happens, and gossipsub's peer score at the
 * pool sinks for both: the random-bytes node's below the graylist threshold.
 */
import { describe, expect, it } from "vitest";
import { createDefaultPolicyRegistry } from "../../src/agreement/registry.ts";
import { concordTopic } from "../../src/net/concord.ts";
import { SCORE_THRESHOLDS } from "../../src/net/constants.ts";
import type { ByzantineMode } from "../../src/node/config.ts";
import { verifyBundle } from "../../src/quorum/verify.ts";
import { fixedOutput } from "../../src/runner/fixed.ts";
import { fromHex, taggedHash } from "../../src/wire/hash.ts";
import type { AttestationMode, PolicyRef, SamplingParams } from "../../src/wire/types.ts";
import { counterValue, clusterForSuite } from "../helpers/processes.ts";
import { devnetNodeId } from "../../src/cli/devnet.ts";

const MODEL_SEED = "e2e-garbage";
const SAMPLING: SamplingParams = { temperatureMilli: 0, topK: 0, topPPpm: 1_000_000, maxTokens: 16 };
const HONEST = 4;
const BYZANTINE: ByzantineMode[] = ["invalid-signature", "random-bytes"];

const idOf = devnetNodeId;
const byzantineId = (mode: ByzantineMode) => idOf(HONEST + BYZANTINE.indexOf(mode));
const honestIds = Array.from({ length: HONEST }, (_, i) => idOf(i));

const suite = clusterForSuite({
    nodes: HONEST + BYZANTINE.length,
    seed: "node-byzantine-garbage",
    backend: () => ({ type: "fixed", modelSeed: MODEL_SEED, delayMs: 10 }),
    byzantine: (i) => (i >= HONEST ? BYZANTINE[i - HONEST] : undefined),
    pool: { k: HONEST, closeGraceMs: 200, deadlineMs: 15_000 },
  }, 40_000);

const EXACT: PolicyRef = { id: "exact", version: 1, params: {} };
const STRUCTURED: PolicyRef = { id: "structured", version: 1, params: { fields: { label: { type: "label" }, score: { type: "number", decimals: 2 } } } };

describe("corrupted signatures and random bytes among four honest nodes", () => {
  it("the honest nodes still agree, in commit-reveal and direct mode", async () => {
    // Direct mode first: a few rounds of rejects graylist the invalid-signature node at the pool,
    // and from then on its messages are dropped before validation (no longer counted below).
    const requests: { mode: AttestationMode; policy: PolicyRef; model: string }[] = [
      { mode: "direct", policy: EXACT, model: "chat" },
      { mode: "commit-reveal", policy: EXACT, model: "chat" },
      { mode: "commit-reveal", policy: STRUCTURED, model: "oracle-json" },
      { mode: "commit-reveal", policy: EXACT, model: "chat" },
    ];
    const policies = createDefaultPolicyRegistry();
    // One after another: the random-bytes node sprays every topic at each request it sees.
    for (const [i, request] of requests.entries()) {
      const input = `garbage round ${i}`;
      const id = await suite.cluster.pool.submit({ ...request, input, entropy: taggedHash("e2e/garbage", String(i)), sampling: SAMPLING });
      const outcome = await suite.cluster.outcome(id, 15_000);
      expect(outcome.kind, `${request.policy.id} ${request.mode}`).toBe("agreed");
      if (outcome.kind !== "agreed") continue;
      const { bundle } = outcome;
      const honest = fixedOutput(MODEL_SEED, { requestId: fromHex(id), model: request.model, input, sampling: SAMPLING }).output;
      if (request.model.endsWith("-json")) expect(JSON.parse(bundle.outcome.output)).toEqual(JSON.parse(honest));
      else expect(bundle.outcome.output).toBe(honest);
      expect([...bundle.outcome.supporters].sort()).toEqual(honestIds);
      // Neither byzantine node ever had a valid commitment: the close lists the honest four.
      if (request.mode === "commit-reveal") expect(bundle.close?.commitments.map((c) => c.node)).toEqual(honestIds);
      expect(() => verifyBundle(bundle, suite.cluster.registry, policies)).not.toThrow();
    }
    // (Bundles the invalid-signature node aggregates carry its corrupted vote: badBundles counts them.)
    expect(suite.cluster.pool.counters).toMatchObject({ agreed: requests.length, noAgreement: 0, evidence: 0 });
  }, 30_000);

  it("their messages are rejected, and their gossip score at the pool sinks; the random-bytes node is graylisted", async () => {
    const rejected = (kind: "commitment" | "reveal" | "output", code: string) =>
      counterValue(suite.cluster.metrics, "concord_gossip_validation_total", { topic: concordTopic(suite.cluster.devnet.chain, kind), result: "reject", code });
    expect(await rejected("commitment", "SIG_INVALID")).toBeGreaterThan(0);
    // The corrupted reveal goes out early (no close lists a rejected commitment) and is refused
    // before the close: a buffered reveal must carry a valid signature too.
    expect(await rejected("reveal", "SIG_INVALID")).toBeGreaterThan(0);
    expect(await rejected("output", "SIG_INVALID")).toBeGreaterThan(0);
    const decodeRejects = await counterValue(suite.cluster.metrics, "concord_gossip_validation_total", { result: "reject" });
    expect(decodeRejects).toBeGreaterThan(4);

    const score = (id: string) => suite.cluster.network.gossip.getPeerScore(suite.cluster.nodes[suite.cluster.devnet.nodes.findIndex((node) => node.id === id)]?.peerId as string);
    const deadline = Date.now() + 5_000;
    // Gossipsub refreshes scores on its heartbeat (1 s).
    while (score(byzantineId("random-bytes")) >= SCORE_THRESHOLDS.graylistThreshold || score(byzantineId("invalid-signature")) >= 0) {
      if (Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(score(byzantineId("invalid-signature"))).toBeLessThan(0);
    expect(score(byzantineId("random-bytes"))).toBeLessThan(SCORE_THRESHOLDS.graylistThreshold);
    for (const id of honestIds) expect(score(id), id).toBeGreaterThanOrEqual(0);
    // Still connected: graylisting mutes a peer, it does not cut it off.
    expect(suite.cluster.network.gossip.peers()).toContain(suite.cluster.nodes[HONEST + BYZANTINE.indexOf("random-bytes")]?.peerId);
  }, 15_000);
});
