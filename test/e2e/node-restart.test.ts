/**
 * A node killed with SIGKILL in the middle of a request, after it committed and before the
 * close, then restarted with the same key and data directory while the request is still open:
 * it never equivocates. Shown the same request again (gossip or a sequencer retry brings it)
 * while its model now answers differently (another floating-point path after the restart), its
 * slashing protection, which survived the kill, refuses the conflicting commitment; no evidence
 * against it appears anywhere. Restarted once more, it serves later requests as before.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isConcordError } from "../../src/errors.ts";
import { messageSigningRoot } from "../../src/crypto/sign.ts";
import { concordTopic, createConcordNetwork } from "../../src/net/concord.ts";
import { silentLogger } from "../../src/net/logger.ts";
import { SlashingProtection } from "../../src/node/slashing.ts";
import { fromHex, taggedHash } from "../../src/wire/hash.ts";
import { decodeMessage } from "../../src/wire/messages.ts";
import type { InferenceRequest } from "../../src/wire/types.ts";
import { clusterForSuite, stopNode } from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

const VICTIM = 4;
const VICTIM_ID = "node-05";


const suite = clusterForSuite({
    nodes: 5,
    seed: "node-restart",
    // The victim answers at once; the others take 8 s: it is killed between its commitment and
    // the close, and back before the others are done (wide margins for loaded machines).
    backend: (i) => ({ type: "fixed", modelSeed: "e2e-restart", delayMs: i === VICTIM ? 0 : 8_000 }),
    pool: { closeGraceMs: 100, deadlineMs: 60_000 },
  });

describe("a node killed mid-request and restarted", () => {
  let requestId = "";

  it("is killed with SIGKILL after its commitment reached the pool, before the close", async () => {
    requestId = await suite.cluster.pool.submit({ model: "chat", input: "interrupted", entropy: taggedHash("e2e/restart", "1") });
    const entry = suite.cluster.pool.book.get(requestId);
    await until(() => entry?.collector.commitments.some((c) => c.node === VICTIM_ID) === true, 10_000, "the victim's commitment at the pool");
    const victim = suite.cluster.nodes[VICTIM];
    victim?.child.kill("SIGKILL");
    expect(await victim?.exited).toEqual({ code: null, signal: "SIGKILL" });
    expect(entry?.collector.status).toBe("committing");
  }, 20_000);

  it("restarted (same key, same data dir) with a model that now answers differently, refuses to sign the same request again", async () => {
    const restarted = await suite.cluster.startNode(VICTIM, ["--model-seed", "e2e-restart-after-crash"]);
    expect(restarted.peerId).toBe(suite.cluster.nodes[VICTIM]?.peerId);
    await suite.cluster.waitForPeers(5, 15_000);
    // The request is still open (the others take 8 s). Gossip may bring it back by itself (IWANT
    // from a peer's recent-message cache); a fresh gossip node (its own seen-cache) replays it
    // for certain, as a sequencer retry would.
    const request = suite.cluster.pool.book.get(requestId)?.context.request as InferenceRequest;
    const replayer = await createConcordNetwork(
      { chain: suite.cluster.devnet.chain, listen: ["/ip4/127.0.0.1/tcp/0"], bootstrap: restarted.multiaddrs, privateKey: taggedHash("e2e/replayer", "1") },
      { logger: silentLogger },
    );
    replayer.attach(() => undefined);
    await replayer.start();
    try {
      await replayer.gossip.waitForMeshPeers(concordTopic(suite.cluster.devnet.chain, "request"), 1, 10_000);
      await replayer.publish(request);
      await restarted.waitForLog(
        (line) => line.msg === "refused to sign: slashing protection holds a different signature for this request" && line["request"] === requestId,
        15_000,
        "refusal log line",
      );
    } finally {
      await replayer.stop();
    }
    expect(await suite.cluster.pool.status(requestId)).toBe("pending");

    // The others agree; its commitment is in the close, and it never revealed (it lost the
    // reveal with its memory, and refused to commit to anything else).
    const outcome = await suite.cluster.outcome(requestId, 20_000);
    expect(outcome.kind).toBe("agreed");
    if (outcome.kind !== "agreed") return;
    expect(outcome.bundle.close?.commitments.map((c) => c.node)).toContain(VICTIM_ID);
    expect(outcome.bundle.outcome.supporters).not.toContain(VICTIM_ID);
    // Nothing conflicting left the node: no evidence against it, anywhere.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await suite.cluster.store.get(fromHex(requestId)))?.evidence).toEqual([]);
    expect(suite.cluster.pool.counters.evidence).toBe(0);
    for (const node of suite.cluster.nodes) expect(node.logs.filter((line) => line.msg === "equivocation detected"), node.label).toEqual([]);
    expect((await stopNode(restarted)).code).toBe(0);
  }, 45_000);

  it("its slashing database kept the first commitment across the kill and refuses any other", async () => {
    const record = await suite.cluster.store.get(fromHex(requestId));
    const stored = record?.messages.find((m) => m.kind === "commitment" && m.node === VICTIM_ID);
    const commitment = decodeMessage(stored?.encoded as Uint8Array, "commitment");
    const protection = new SlashingProtection({ path: join(suite.cluster.devnet.nodes[VICTIM]?.dataDir as string, "slashing.sqlite") });
    protection.open();
    try {
      const key = { chain: commitment.chain, request: commitment.request, node: VICTIM_ID, kind: "commitment" as const };
      const signingRoot = messageSigningRoot("ed25519", commitment);
      expect(protection.get(key)?.signingRoot).toEqual(signingRoot);
      expect(protection.checkAndInsert({ ...key, signingRoot, deadline: request().deadline })).toBe("identical");
      let refused: unknown;
      try {
        protection.checkAndInsert({ ...key, signingRoot: taggedHash("another", "root"), deadline: request().deadline });
      } catch (error) {
        refused = error;
      }
      expect(isConcordError(refused, "SLASHING_CONFLICT")).toBe(true);
    } finally {
      protection.close();
    }
  });

  it("restarted again with its usual model, it rejoins and serves later requests", async () => {
    const trace = join(suite.dir, "victim-trace.jsonl");
    await suite.cluster.startNode(VICTIM, ["--trace-file", trace]);
    await suite.cluster.waitForPeers(5, 15_000);
    const later = await Promise.all(
      (["commit-reveal", "direct"] as const).map(async (mode) => ({ mode, id: await suite.cluster.pool.submit({ model: "chat", input: `after the restart (${mode})`, entropy: taggedHash("e2e/restart", mode), mode }) })),
    );
    for (const { mode, id } of later) expect((await suite.cluster.outcome(id, 20_000)).kind, mode).toBe("agreed");
    // It received both requests, ran them, and published its commitment (then its reveal, once
    // the close listed it) and its signed output: read from its own trace of what it published.
    const published = () => {
      const lines = existsSync(trace) ? readFileSync(trace, "utf8").trim().split("\n").filter(Boolean) : [];
      return lines.map((line) => JSON.parse(line) as { direction: string; kind: string; request: string; node: string | null });
    };
    const sent = (kind: string, id: string) => published().some((e) => e.direction === "out" && e.kind === kind && e.request === id && e.node === VICTIM_ID);
    const [commitReveal, direct] = later as unknown as [{ id: string }, { id: string }];
    await until(() => sent("commitment", commitReveal.id) && sent("output", direct.id), 10_000, "the restarted node's commitment and output").catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; its trace:\n${JSON.stringify(published().slice(-20), null, 1)}`);
    });
    expect(suite.cluster.pool.counters.evidence).toBe(0);
  }, 45_000);

  function request(): InferenceRequest {
    return suite.cluster.pool.book.get(requestId)?.context.request as InferenceRequest;
  }
});
