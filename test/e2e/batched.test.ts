/**
 * Batch signatures end to end (spec/04 and spec/06, "Batching"): real libp2p nodes in one
 * process (memory transport, fixed backend, real slashing-protection files), every node with a
 * signing window. Requests submitted together agree, their commitments travel batch-signed (fewer
 * signatures than commitments), the pool batches its closes the same way, and a member that signs a second, different commitment in
 * another batch is caught: its equivocation evidence reaches the pool.
 */
import { afterEach, describe, expect, it } from "vitest";
import { signMessages } from "../../src/crypto/sign.ts";
import { commitmentBody, commitmentSalt } from "../../src/quorum/attest.ts";
import { drawCommittee } from "../../src/quorum/committee.ts";
import { fromHex, taggedHash, toHex } from "../../src/wire/hash.ts";
import { parseSignature } from "../../src/wire/signature.ts";
import type { CommitClose, OutputCommitment } from "../../src/wire/types.ts";
import { fillerRequest } from "../helpers/batches.ts";
import { testNetwork } from "../helpers/fixtures.ts";
import { startInProcessCluster, waitForCluster, type InProcessCluster } from "../helpers/inprocess-cluster.ts";
import { until } from "../helpers/wait.ts";

let cluster: InProcessCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe("batch signatures with real nodes", () => {
  it("requests agree with batch-signed commitments and outputs; a batch-signed equivocation produces evidence", async () => {
    cluster = await startInProcessCluster({ nodes: 5, seed: "e2e-batched", pool: { n: 5, k: 4, signBatchWindowMs: 30 }, signBatch: { windowMs: 30, max: 64 } });
    const c = cluster;
    await waitForCluster(c, 30_000);
    const submit = (mode: "commit-reveal" | "direct", i: number) =>
      c.pool.submit({ model: "m", input: `batched ${mode} ${i}`, entropy: taggedHash("e2e/batched", mode, String(i)), mode });
    const ids = await Promise.all([...Array.from({ length: 8 }, (_, i) => submit("commit-reveal", i)), ...Array.from({ length: 4 }, (_, i) => submit("direct", i))]);
    await until(() => ids.every((id) => c.outcomes.has(id)), 60_000, "every request decided");
    for (const id of ids) expect(c.outcomes.get(id)?.kind, id).toBe("agreed");

    // What the pool received: commitments and outputs under fewer signatures than messages.
    const signed = c.nodes.flatMap((node) => ids.flatMap((id) => node.received.get(id) ?? [])).filter((m) => m.t === "commitment" || m.t === "output");
    const forms = signed.map((m) => parseSignature((m as OutputCommitment).sig));
    expect(forms.some((f) => f?.form === "batch")).toBe(true);
    const signatures = new Set(forms.map((f) => toHex(f?.sig ?? new Uint8Array())));
    const messages = new Set(signed.map((m) => `${(m as OutputCommitment).node}/${toHex((m as OutputCommitment).request)}`));
    expect(signatures.size).toBeLessThan(messages.size);
    // The pool's closes too: batch-signed, fewer signatures than closes.
    const closes = c.nodes.flatMap((node) => ids.flatMap((id) => node.received.get(id) ?? [])).filter((m) => m.t === "close");
    const closeForms = closes.map((m) => parseSignature((m as CommitClose).sig));
    expect(closeForms.some((f) => f?.form === "batch")).toBe(true);
    expect(new Set(closeForms.map((f) => toHex(f?.sig ?? new Uint8Array()))).size).toBeLessThan(new Set(closes.map((m) => toHex((m as CommitClose).request))).size);

    // A member signs a second, different commitment for a request, in a batch with another leaf,
    // and publishes it: every peer holds its first one, so the pool gets the evidence.
    const id = ids[0] as string;
    const net = testNetwork(5);
    const node = drawCommittee(c.registry, fromHex(id), 5)[0] as string;
    const key = net.keys.get(node);
    if (!key) throw new Error("no key");
    const attestation = { chain: c.registry.chain, request: fromHex(id), node, output: "a different answer" };
    const [, second] = signMessages<OutputCommitment>(key, [
      commitmentBody({ ...attestation, request: fillerRequest(node, 1) }, commitmentSalt(key, fillerRequest(node, 1))),
      commitmentBody(attestation, commitmentSalt(key, fromHex(id))),
    ]);
    expect(parseSignature((second as OutputCommitment).sig)?.form).toBe("batch");
    const before = c.pool.counters.evidence;
    await c.nodes.find((n) => n.id === node)?.network.publish(second as OutputCommitment);
    await until(() => c.pool.counters.evidence > before, 20_000, "the pool records the equivocation");
  }, 120_000);
});
