/**
 * Subnets end to end (spec/05 and spec/06, "Subnets"): real libp2p nodes in one process (memory
 * transport), a registry of two subnets. A request's messages reach its subnet's members and the
 * pool, never a node of the other subnet; requests of both subnets agree; a pool that was down
 * while committees answered catches up from peers of each request's subnet.
 */
import { afterEach, describe, expect, it } from "vitest";
import { requestSubnet } from "../../src/quorum/committee.ts";
import { fromHex, taggedHash } from "../../src/wire/hash.ts";
import type { AttestationMode } from "../../src/wire/types.ts";
import { startInProcessCluster, waitForCluster, type InProcessCluster } from "../helpers/inprocess-cluster.ts";
import { until } from "../helpers/wait.ts";

let cluster: InProcessCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** Entropy labels until `count` requests fall in each subnet (the subnet derives from the request id). */
async function submitBoth(c: InProcessCluster, count: number, mode: AttestationMode, label: string): Promise<string[]> {
  const ids: string[] = [];
  const perSubnet = [0, 0];
  for (let i = 0; perSubnet.some((n) => n < count); i++) {
    const id = await c.pool.submit({ model: "m", input: `${label} ${i}`, entropy: taggedHash("e2e/subnets", label, String(i)), mode });
    const subnet = requestSubnet(fromHex(id), 2);
    perSubnet[subnet] = (perSubnet[subnet] ?? 0) + 1;
    ids.push(id);
    if (i > 50) throw new Error("test: requests do not spread over both subnets");
  }
  return ids;
}

describe("subnets: committee-scoped dissemination", () => {
  it("a request's messages reach its subnet and the pool only; requests in both subnets agree", async () => {
    cluster = await startInProcessCluster({ nodes: 12, subnets: 2, seed: "e2e-subnets", pool: { n: 5, k: 4 } });
    const c = cluster;
    expect(c.registry.subnetMembers.map((members) => members.length)).toEqual([6, 6]);
    await waitForCluster(c, 30_000);
    const ids = await submitBoth(c, 2, "commit-reveal", "scoped");
    await until(() => ids.every((id) => c.outcomes.has(id)), 30_000, "every request decided");
    for (const id of ids) expect(c.outcomes.get(id)?.kind, id).toBe("agreed");

    for (const id of ids) {
      const subnet = requestSubnet(fromHex(id), 2);
      for (const node of c.nodes) {
        const kinds = (node.received.get(id) ?? []).map((message) => message.t);
        if (node.subnet === subnet) {
          // Its subnet's members got the request (and, committee or not, its traffic).
          expect(kinds, `${node.id} on subnet ${subnet}`).toContain("request");
        } else {
          // Nothing of it at all: no request, commitment, close, reveal or bundle.
          expect(kinds, `${node.id} outside subnet ${subnet}`).toEqual([]);
        }
      }
    }
    // Its supporters sit in the request's subnet.
    for (const id of ids) {
      const outcome = c.outcomes.get(id);
      if (outcome?.kind !== "agreed") continue;
      for (const supporter of outcome.bundle.outcome.supporters) expect(c.registry.byId.get(supporter)?.subnet).toBe(requestSubnet(fromHex(id), 2));
    }
  }, 90_000);

  it("a pool down while committees answered catches up from peers of each request's subnet", async () => {
    cluster = await startInProcessCluster({ nodes: 12, subnets: 2, seed: "e2e-subnets-catch-up", delayMs: 1_500, pool: { n: 5, k: 4, deadlineMs: 60_000 } });
    const c = cluster;
    await waitForCluster(c, 30_000);
    // Direct mode: members sign outputs and agree without the pool's close.
    const ids = await submitBoth(c, 1, "direct", "catch-up");
    // Every member holds its request before the pool goes away, and nobody has answered yet (1.5 s).
    await until(
      () => ids.every((id) => c.nodes.filter((node) => node.subnet === requestSubnet(fromHex(id), 2)).every((node) => node.received.has(id))),
      10_000,
      "requests delivered to their subnets",
    );
    await c.stopPool();
    const before = c.outcomes.size;
    expect(before).toBe(0);
    // Answers and members' bundles go out while the pool is away (and drop out of gossip's cache).
    await until(() => ids.every((id) => c.nodes.some((node) => (node.received.get(id) ?? []).some((message) => message.t === "output"))), 20_000, "committees answered");
    await new Promise((resolve) => setTimeout(resolve, 6_000));

    await c.restartPool();
    await waitForCluster(c, 30_000);
    const caughtUp = await c.pool.catchUp();
    expect(caughtUp.fetched).toBe(ids.length);
    expect(caughtUp.unanswered).toBe(0);
    await until(() => ids.every((id) => c.outcomes.has(id)), 30_000, "caught-up requests decided");
    for (const id of ids) expect(c.outcomes.get(id)?.kind, id).toBe("agreed");
  }, 120_000);
});
