/**
 * Vote routing with `concord node` processes (TCP loopback): five nodes configured with
 * `votes: "sequencer"` send their votes to the pool alone. Requests agree; each node is ready
 * (the pool subscribes to the topics it sends votes on) and accepted only what the sequencer
 * sends: its /metrics counts deliveries on the requests and closes topics, none on a vote topic.
 */
import { describe, expect, it } from "vitest";
import { concordTopic } from "../../src/net/concord.ts";
import { taggedHash } from "../../src/wire/hash.ts";
import { clusterForSuite } from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

const suite = clusterForSuite(
  { nodes: 5, votes: "sequencer", seed: "e2e-node-votes", backend: () => ({ type: "fixed", modelSeed: "votes", delayMs: 5 }), pool: { n: 5, k: 4 } },
  90_000,
);

describe("vote routing with node processes", () => {
  it("nodes sending votes to the sequencer agree, are ready, and receive no other member's votes", async () => {
    const { cluster } = suite;
    const chain = cluster.devnet.chain;
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await cluster.pool.submit({ model: "m", input: `votes ${i}`, entropy: taggedHash("e2e/node-votes", String(i)) }));
    for (const id of ids) expect((await cluster.outcome(id, 30_000)).kind, id).toBe("agreed");
    for (const [index, node] of cluster.nodes.entries()) {
      const id = cluster.devnet.nodes[index]?.id as string;
      // The last node started may still be waiting for a heartbeat to mesh it.
      let ready = "";
      await until(async () => {
        const response = await fetch(`http://127.0.0.1:${node.metricsPort}/ready`);
        ready = await response.text();
        return response.status === 200;
      }, 15_000, `${id} ready`).catch(() => expect.fail(`${id} not ready: ${ready}`));
      // k = 4 of 5: the last member's messages may still be on their way when the outcome is in.
      let delivered = new Map<string, number>();
      let text = "";
      await until(async () => {
        text = await (await fetch(`http://127.0.0.1:${node.metricsPort}/metrics`)).text();
        delivered = new Map([...text.matchAll(/^concord_gossip_delivered_total\{topic="([^"]+)"\} (\S+)$/gm)].map((m) => [m[1] as string, Number(m[2])]));
        // Every request; a close for some (with k = 4 of 5 a request may be decided without this node).
        return delivered.get(concordTopic(chain, "request")) === ids.length && (delivered.get(concordTopic(chain, "close")) ?? 0) > 0;
      }, 15_000, `${id} has every request and a close`).catch(() =>
        expect.fail(`${id} delivered ${JSON.stringify([...delivered])}; ${text.split("\n").filter((line) => line.startsWith("concord_gossip_validation_total")).join("; ")}`),
      );
      for (const kind of ["commitment", "reveal", "output", "bundle"] as const) expect(delivered.get(concordTopic(chain, kind)) ?? 0, `${id} ${kind}`).toBe(0);
    }
  }, 90_000);
});
