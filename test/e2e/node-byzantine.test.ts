/**
 * Byzantine node processes whose messages are valid gossip, among honest ones, on 127.0.0.1:
 * eight `concord node` processes, five honest, one wrong model, one equivocator and one copycat
 * (`--byzantine`), with the sequencer's pool in this process. n = 8, k = 5: three byzantine
 * members is the most the threat model allows (n - k). node-byzantine-garbage.test.ts covers the
 * ones that send invalid messages. (Two clusters, not one of eleven: gossipsub's IP colocation
 * penalty starts above ten peers behind one address, and on loopback every peer shares one.)
 *
 * Every node runs the fixed backend (the same "model" seed but the wrong-model node's), with
 * delays that make the order deterministic: one honest node answers at once, so the copycat has
 * exactly one commitment (or output) to copy, that node's; the equivocator answers at 300 ms,
 * everyone else at 800 ms, so both its commitments are in before the last one (which completes
 * n and closes the commit phase at once). The margins are wide for loaded CI machines.
 */
import { describe, expect, it } from "vitest";
import { createDefaultPolicyRegistry } from "../../src/agreement/registry.ts";
import { concordTopic } from "../../src/net/concord.ts";
import type { ByzantineMode } from "../../src/node/config.ts";
import { verifyBundle } from "../../src/quorum/verify.ts";
import { fixedOutput } from "../../src/runner/fixed.ts";
import type { AgreedBundle } from "../../src/wire/types.ts";
import { fromHex, taggedHash } from "../../src/wire/hash.ts";
import { decodeMessage } from "../../src/wire/messages.ts";
import type { AttestationMode, PolicyRef, SamplingParams } from "../../src/wire/types.ts";
import { counterValue, clusterForSuite } from "../helpers/processes.ts";
import { devnetNodeId } from "../../src/cli/devnet.ts";
import { until } from "../helpers/wait.ts";

const MODEL_SEED = "e2e-byzantine";
const SAMPLING: SamplingParams = { temperatureMilli: 0, topK: 0, topPPpm: 1_000_000, maxTokens: 16 };
const HONEST = 5;
const BYZANTINE: ByzantineMode[] = ["wrong-model", "equivocator", "copycat"];
const FAST = "node-01";

const idOf = devnetNodeId;
const byzantineId = (mode: ByzantineMode) => idOf(HONEST + BYZANTINE.indexOf(mode));
const honestIds = Array.from({ length: HONEST }, (_, i) => idOf(i));

const suite = clusterForSuite({
    nodes: HONEST + BYZANTINE.length,
    seed: "node-byzantine",
    backend: (i) => ({ type: "fixed", modelSeed: MODEL_SEED, delayMs: i === 0 ? 0 : i === HONEST + BYZANTINE.indexOf("equivocator") ? 300 : 800 }),
    byzantine: (i) => (i >= HONEST ? BYZANTINE[i - HONEST] : undefined),
    pool: { k: HONEST, closeGraceMs: 1_000, deadlineMs: 15_000 },
  }, 50_000);

const EXACT: PolicyRef = { id: "exact", version: 1, params: {} };
const STRUCTURED: PolicyRef = { id: "structured", version: 1, params: { fields: { label: { type: "label" }, score: { type: "number", decimals: 2 } } } };

interface Sent {
  id: string;
  mode: AttestationMode;
  model: string;
  input: string;
}

describe("a wrong model, an equivocator and a copycat among five honest nodes", () => {
  const sent: Sent[] = [];
  const bundles = new Map<string, AgreedBundle>();

  it("the honest nodes still agree, on the honest output, in commit-reveal and direct mode", async () => {
    const requests: { mode: AttestationMode; policy: PolicyRef; model: string }[] = [
      { mode: "commit-reveal", policy: EXACT, model: "chat" },
      { mode: "commit-reveal", policy: EXACT, model: "chat" },
      { mode: "commit-reveal", policy: STRUCTURED, model: "oracle-json" },
      { mode: "direct", policy: EXACT, model: "chat" },
    ];
    for (const [i, request] of requests.entries()) {
      const input = `byzantine round ${i}`;
      const id = await suite.cluster.pool.submit({ ...request, input, entropy: taggedHash("e2e/byzantine", String(i)), sampling: SAMPLING });
      sent.push({ id, mode: request.mode, model: request.model, input });
    }
    const policies = createDefaultPolicyRegistry();
    for (const request of sent) {
      const outcome = await suite.cluster.outcome(request.id, 15_000);
      expect(outcome.kind, request.mode).toBe("agreed");
      if (outcome.kind !== "agreed") continue;
      const { bundle } = outcome;
      bundles.set(request.id, bundle);
      const honest = fixedOutput(MODEL_SEED, { requestId: fromHex(request.id), model: request.model, input: request.input, sampling: SAMPLING }).output;
      if (request.model.endsWith("-json")) expect(JSON.parse(bundle.outcome.output)).toEqual(JSON.parse(honest));
      else expect(bundle.outcome.output).toBe(honest);
      expect(bundle.outcome.supporters.length).toBeGreaterThanOrEqual(bundle.request.k);
      expect(bundle.outcome.supporters).not.toContain(byzantineId("wrong-model"));
      // In commit-reveal mode the close leaves the equivocator out. (In direct mode a bundle it
      // aggregates itself may still count its first, validly signed output; see byzantine.ts.)
      if (request.mode === "commit-reveal") expect(bundle.outcome.supporters).not.toContain(byzantineId("equivocator"));
      expect(() => verifyBundle(bundle, suite.cluster.registry, policies)).not.toThrow();
    }
    expect(suite.cluster.pool.counters.badBundles).toBe(0);
  }, 30_000);

  it("equivocation is caught: evidence in the pool's store, gossiped and detected by honest nodes", async () => {
    const equivocator = byzantineId("equivocator");
    for (const request of sent) {
      const record = await suite.cluster.store.get(fromHex(request.id));
      const evidence = record?.evidence ?? [];
      expect(evidence.map((e) => e.node), request.mode).toEqual([equivocator]);
      const decoded = decodeMessage(evidence[0]?.encoded as Uint8Array, "equivocation");
      expect(decoded.first.t).toBe(request.mode === "direct" ? "output" : "commitment");
      // A close never lists it once both commitments are seen.
      const bundle = bundles.get(request.id);
      if (request.mode === "commit-reveal") expect(bundle?.close?.commitments.map((c) => c.node)).not.toContain(equivocator);
    }
    expect(suite.cluster.pool.counters.evidence).toBeGreaterThanOrEqual(sent.length);
    // Honest nodes detect it on their own and publish the evidence (identical bytes: one message id).
    const detectedBy = suite.cluster.nodes.slice(0, HONEST).filter((node) => node.logs.some((line) => line.msg === "equivocation detected" && line["node"] === equivocator));
    expect(detectedBy.length).toBeGreaterThan(0);
    // The equivocator bypassed its own slashing protection to do it: an honest node cannot.
    expect(suite.cluster.nodes[HONEST + BYZANTINE.indexOf("equivocator")]?.logs.some((line) => line.msg?.includes("BYZANTINE TEST MODE"))).toBe(true);
  });

  it("the copycat gains nothing in commit-reveal mode: its reveal is rejected, it is never a supporter", async () => {
    const copycat = byzantineId("copycat");
    for (const request of sent.filter((r) => r.mode === "commit-reveal")) {
      const bundle = bundles.get(request.id) as AgreedBundle;
      // It committed (a copy of the fast node's hash, signed as its own) in time to be listed...
      const listed = bundle.close?.commitments.find((c) => c.node === copycat);
      const victim = bundle.close?.commitments.find((c) => c.node === FAST);
      expect(listed?.commitment).toEqual(victim?.commitment);
      // ...but it can never open it: the commitment binds the victim's node id.
      expect(bundle.outcome.supporters).not.toContain(copycat);
      expect(bundle.reveals.map((r) => r.node)).not.toContain(copycat);
    }
    // The pool rejects them as gossip: one verdict per gossip message, and reveals the copycat
    // sends in one turn share an envelope, which its first rejected item rejects (spec/06,
    // "Envelopes"), so 1 to 3 rejections for its 3 reveals. That none counts is checked above.
    const revealsTopic = concordTopic(suite.cluster.devnet.chain, "reveal");
    const mismatches = async () => counterValue(suite.cluster.metrics, "concord_gossip_validation_total", { topic: revealsTopic, result: "reject", code: "COMMITMENT_MISMATCH" });
    await until(async () => (await mismatches()) >= 1, 10_000, "the copycat's reveals rejected at the pool");
  }, 15_000);

  it("in direct mode the copycat's re-signed copy is counted: why commit-reveal is the default", () => {
    const direct = sent.find((r) => r.mode === "direct") as Sent;
    const bundle = bundles.get(direct.id) as AgreedBundle;
    const copied = bundle.outputs.find((output) => output.node === byzantineId("copycat"));
    expect(copied?.output).toBe(bundle.outputs.find((output) => output.node === FAST)?.output);
    expect(bundle.outcome.supporters).toContain(byzantineId("copycat"));
  });

  it("the copycat loses gossip score at the pool; a wrong model or an equivocator, valid gossip, does not", async () => {
    const score = (id: string) => suite.cluster.network.gossip.getPeerScore(suite.cluster.nodes[suite.cluster.devnet.nodes.findIndex((node) => node.id === id)]?.peerId as string);
    const copycat = byzantineId("copycat");
    // Gossipsub refreshes scores on its heartbeat (1 s).
    await until(() => score(copycat) < 0, 5_000, "the copycat's penalty in its score");
    for (const id of honestIds) expect(score(id), id).toBeGreaterThanOrEqual(0);
    // Outvoted and slashable instead: a wrong output or an equivocation is not a transport fault.
    expect(score(byzantineId("wrong-model"))).toBeGreaterThanOrEqual(0);
    expect(score(byzantineId("equivocator"))).toBeGreaterThanOrEqual(0);
  }, 15_000);
});

