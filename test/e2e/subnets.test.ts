/**
 * Subnets end to end (spec/05 and spec/06, "Subnets"): real libp2p nodes in one process (memory
 * transport), a registry of two subnets. A request's messages reach its subnet's members and the
 * pool, never a node of the other subnet; requests of both subnets agree; a pool that was down
 * while committees answered catches up from peers of each request's subnet.
 */
import { Registry as PromRegistry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { concordTopic, createConcordNetwork, type ConcordNetwork } from "../../src/net/concord.ts";
import { silentLogger } from "../../src/net/logger.ts";
import { requestSubnet } from "../../src/quorum/committee.ts";
import { fromHex, taggedHash, toHex } from "../../src/wire/hash.ts";
import { requestIdOf } from "../../src/wire/ids.ts";
import { encodeMessage } from "../../src/wire/messages.ts";
import type { AttestationMode, Message } from "../../src/wire/types.ts";
import { runRequest, testNetwork, testRequest } from "../helpers/fixtures.ts";
import { startInProcessCluster, waitForCluster, type InProcessCluster } from "../helpers/inprocess-cluster.ts";
import { counterValue } from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

let cluster: InProcessCluster | undefined;
let networks: ConcordNetwork[] = [];
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
  await Promise.all(networks.map((network) => network.stop()));
  networks = [];
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

  it("a node's catch-up asks its subnet's peers for its subnet's open requests only, and rejects a message on the wrong subnet's topic", async () => {
    const net = testNetwork();
    const chain = net.config.chain;
    const run = `${process.pid}-${Date.now()}`;
    const start = async (name: string, init: { bootstrap?: string[]; homeSubnets?: number[] }) => {
      const metrics = new PromRegistry();
      const network = await createConcordNetwork(
        { chain, listen: [`/memory/subnets-${run}-${name}`], transports: ["memory"], subnets: 2, publishRetries: 0, privateKey: taggedHash("subnets-test", name), ...init },
        { logger: silentLogger, metrics },
      );
      const received: Message[] = [];
      network.attach((message) => {
        received.push(message);
      });
      await network.start();
      networks.push(network);
      return { network, received, metrics };
    };
    // Two open requests in each subnet, with their messages, held by a peer of every subnet (a pool).
    const bySubnet: Message[][][] = [[], []];
    for (let i = 0; bySubnet.some((requests) => requests.length < 2); i++) {
      const request = testRequest(net, { input: `open ${i}`, deadline: Date.now() + 600_000 });
      const { collector, reveals } = runRequest(net, request, () => ({ output: "Paris" }));
      const bundle = collector.bundle;
      if (!bundle?.close) throw new Error("test: no bundle");
      const subnet = requestSubnet(requestIdOf(request), 2);
      if ((bySubnet[subnet] as Message[][]).length < 2) (bySubnet[subnet] as Message[][]).push([request, bundle.close, ...reveals, bundle]);
    }
    const pool = await start("pool", {});
    for (const message of bySubnet.flat(2)) await pool.network.publish(message);
    // 64 more open requests of subnet 0, due later than the others: one answer naming requests of
    // every subnet, latest first, would name none of subnet 1's.
    for (let i = 0, kept = 0; kept < 64; i++) {
      const request = testRequest(net, { input: `crowd ${i}`, deadline: Date.now() + 700_000 });
      if (requestSubnet(requestIdOf(request), 2) !== 0) continue;
      await pool.network.publish(request);
      kept++;
    }

    const node = await start("node", { bootstrap: pool.network.gossip.multiaddrs, homeSubnets: [1] });
    expect(node.network.topics.filter((topic) => topic.includes("/s"))).toEqual(node.network.topics.slice(0, 6));
    expect(node.network.topics.every((topic) => !topic.includes("/s0/"))).toBe(true);
    await node.network.waitForPeers(1, 10_000);
    const open = await node.network.openRequests();
    const wanted = (bySubnet[1] as Message[][]).map((messages) => toHex(requestIdOf(messages[0] as Message)));
    expect(open.map(toHex).sort()).toEqual([...wanted].sort());
    const result = await node.network.fetch(open);
    expect(result.unanswered).toEqual([]);
    expect(new Set(node.received.map((message) => toHex(requestIdOf(message))))).toEqual(new Set(wanted));

    // A subnet-0 request sent raw on subnet 1's topic: rejected before the receiver sees it.
    const stray = (bySubnet[0] as Message[][])[0]?.[0] as Message;
    const before = node.received.length;
    await pool.network.gossip.publish(concordTopic(chain, "request", 1), encodeMessage(stray));
    const rejected = () => counterValue(node.metrics, "concord_gossip_validation_total", { topic: concordTopic(chain, "request", 1), result: "reject", code: "SUBNET_MISMATCH" });
    await until(async () => (await rejected()) === 1, 10_000, "the stray request rejected");
    expect(node.received.length).toBe(before);
  }, 60_000);
});
