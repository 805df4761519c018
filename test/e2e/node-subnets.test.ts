/**
 * Subnets with `concord node` processes (TCP loopback): a devnet registry of two subnets; each
 * node joins only its home subnet's topics (its /metrics names no other), receives exactly its
 * subnet's requests, and requests of both subnets agree at the pool, supported from their subnet.
 */
import { describe, expect, it } from "vitest";
import { concordTopic } from "../../src/net/concord.ts";
import { requestSubnet } from "../../src/quorum/committee.ts";
import { fromHex, taggedHash } from "../../src/wire/hash.ts";
import { clusterForSuite } from "../helpers/processes.ts";

const suite = clusterForSuite(
  { nodes: 6, subnets: 2, seed: "e2e-node-subnets", backend: () => ({ type: "fixed", modelSeed: "subnets", delayMs: 5 }), pool: { n: 3, k: 2 } },
  90_000,
);

/** `name{topic="…"} value` lines of a node's /metrics, by topic. */
async function byTopic(port: number, name: string): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const values = new Map<string, number>();
  for (const match of text.matchAll(new RegExp(`^${name}\\{topic="([^"]+)"\\} (\\S+)$`, "gm"))) values.set(match[1] as string, Number(match[2]));
  return values;
}

describe("subnets with node processes", () => {
  it("each node joins and hears only its home subnet; requests of both subnets agree", async () => {
    const { cluster } = suite;
    const chain = cluster.devnet.chain;
    const ids: string[] = [];
    const perSubnet = [0, 0];
    for (let i = 0; perSubnet.some((count) => count < 2); i++) {
      const id = await cluster.pool.submit({ model: "m", input: `subnets ${i}`, entropy: taggedHash("e2e/node-subnets", String(i)) });
      perSubnet[requestSubnet(fromHex(id), 2)]! += 1;
      ids.push(id);
    }
    for (const id of ids) {
      const outcome = await cluster.outcome(id, 30_000);
      expect(outcome.kind, id).toBe("agreed");
      if (outcome.kind !== "agreed") continue;
      for (const supporter of outcome.bundle.outcome.supporters) expect(cluster.registry.byId.get(supporter)?.subnet).toBe(requestSubnet(fromHex(id), 2));
    }
    for (const [index, node] of cluster.nodes.entries()) {
      const id = cluster.devnet.nodes[index]?.id as string;
      const home = cluster.registry.byId.get(id)?.subnet as number;
      const topics = await byTopic(node.metricsPort as number, "concord_gossip_topic_peers");
      const subnetTopics = [...topics.keys()].filter((topic) => /\/s\d+\//.test(topic));
      expect(subnetTopics.length, id).toBe(6);
      expect(subnetTopics.every((topic) => topic.includes(`/s${home}/`)), id).toBe(true);
      // Every request of its subnet reached it, and it has no topic another subnet's could arrive on.
      const delivered = await byTopic(node.metricsPort as number, "concord_gossip_delivered_total");
      expect(delivered.get(concordTopic(chain, "request", home)) ?? 0, id).toBe(perSubnet[home]);
      expect(delivered.has(concordTopic(chain, "request", 1 - home)), id).toBe(false);
    }
  }, 90_000);
});
