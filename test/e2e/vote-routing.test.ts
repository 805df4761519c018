/**
 * Vote routing end to end (spec/06, "Vote routing"): real libp2p nodes in one process (memory
 * transport, fixed backend, real slashing-protection files). With `sequencer` routing a member
 * receives only what the sequencer sends (the request, the close), never another member's vote,
 * and requests still agree, and a member's equivocation reaches the pool, which records it; a network where some nodes gossip votes and others send them to the
 * sequencer agrees too; and a pool that was down while a committee answered catches up from
 * every peer, since each vote is then held by its sender alone.
 */
import { afterEach, describe, expect, it } from "vitest";
import { signMessage } from "../../src/crypto/sign.ts";
import { commitmentBody, commitmentSalt } from "../../src/quorum/attest.ts";
import { drawCommittee } from "../../src/quorum/committee.ts";
import { fromHex, taggedHash } from "../../src/wire/hash.ts";
import type { AttestationMode, OutputCommitment } from "../../src/wire/types.ts";
import { testNetwork } from "../helpers/fixtures.ts";
import { startInProcessCluster, waitForCluster, type InProcessCluster } from "../helpers/inprocess-cluster.ts";
import { until } from "../helpers/wait.ts";

let cluster: InProcessCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

const submit = (c: InProcessCluster, label: string, mode: AttestationMode, count: number) =>
  Promise.all(Array.from({ length: count }, (_, i) => c.pool.submit({ model: "m", input: `${label} ${i}`, entropy: taggedHash("e2e/vote-routing", label, String(i)), mode })));

describe("vote routing", () => {
  it("sequencer routing: members never receive each other's votes, and requests agree", async () => {
    cluster = await startInProcessCluster({ nodes: 7, seed: "e2e-votes-sequencer", votes: "sequencer", pool: { n: 7, k: 5 } });
    const c = cluster;
    await waitForCluster(c, 30_000);
    const ids = [...(await submit(c, "routed", "commit-reveal", 6)), ...(await submit(c, "routed", "direct", 3))];
    await until(() => ids.every((id) => c.outcomes.has(id)), 30_000, "every request decided");
    for (const id of ids) expect(c.outcomes.get(id)?.kind, id).toBe("agreed");
    for (const node of c.nodes) {
      for (const id of ids) {
        const kinds = new Set((node.received.get(id) ?? []).map((message) => message.t));
        // The request, and its close in commit-reveal: nothing a member signs.
        expect([...kinds].filter((kind) => kind !== "request" && kind !== "close"), `${node.id} ${id}`).toEqual([]);
        expect(kinds.has("request"), `${node.id} ${id}`).toBe(true);
      }
    }

    // A routed member signs a second, different commitment for an agreed request: it reaches the
    // pool alone, which holds the first, and the pool records and publishes the evidence.
    const id = ids[0] as string;
    const member = drawCommittee(c.registry, fromHex(id), 7)[0] as string;
    const key = testNetwork(7).keys.get(member);
    if (!key) throw new Error("no key");
    const attestation = { chain: c.registry.chain, request: fromHex(id), node: member, output: "a different answer" };
    const second = signMessage<OutputCommitment>(key, commitmentBody(attestation, commitmentSalt(key, fromHex(id))));
    const before = c.pool.counters.evidence;
    await c.nodes.find((node) => node.id === member)?.network.publish(second);
    await until(() => c.pool.counters.evidence > before, 20_000, "the pool records the equivocation");
  }, 90_000);

  it("a network mixing both routings agrees", async () => {
    cluster = await startInProcessCluster({ nodes: 7, seed: "e2e-votes-mixed", votes: "sequencer", otherRoute: [0, 2, 4], pool: { n: 7, k: 5 } });
    const c = cluster;
    await waitForCluster(c, 30_000);
    const ids = await submit(c, "mixed", "commit-reveal", 6);
    await until(() => ids.every((id) => c.outcomes.has(id)), 30_000, "every request decided");
    for (const id of ids) expect(c.outcomes.get(id)?.kind, id).toBe("agreed");
    // Gossiping nodes see the votes of every member, routed ones included; routed ones see none.
    const votes = (index: number) => ids.flatMap((id) => c.nodes[index]?.received.get(id) ?? []).filter((message) => message.t === "reveal" || message.t === "commitment").length;
    expect(votes(0)).toBeGreaterThan(0);
    expect(votes(1)).toBe(0);
  }, 90_000);

  it("a pool down while a routed committee answered catches up from every peer", async () => {
    // k = 5 of 7: more votes than the four peers a catch-up asks by default, each held by its sender only.
    cluster = await startInProcessCluster({ nodes: 7, seed: "e2e-votes-catch-up", votes: "sequencer", delayMs: 1_500, pool: { n: 7, k: 5, deadlineMs: 60_000 } });
    const c = cluster;
    await waitForCluster(c, 30_000);
    // Direct mode: members sign outputs without the pool's close.
    const ids = await submit(c, "catch-up", "direct", 2);
    await until(() => ids.every((id) => c.nodes.every((node) => node.received.has(id))), 10_000, "requests delivered");
    await c.stopPool();
    // Members answer (1.5 s) and give up publishing to nobody (20 retries, 250 ms apart).
    await new Promise((resolve) => setTimeout(resolve, 8_000));
    await c.restartPool();
    await waitForCluster(c, 30_000);
    const caughtUp = await c.pool.catchUp();
    expect(caughtUp.unanswered).toBe(0);
    await until(() => ids.every((id) => c.outcomes.has(id)), 30_000, "caught-up requests decided");
    for (const id of ids) expect(c.outcomes.get(id)?.kind, id).toBe("agreed");
  }, 120_000);
});
