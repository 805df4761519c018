/**
 * A sequencer's pool that is away while its committee works catches up when it comes back.
 * Five `concord node` processes on 127.0.0.1 (fixed backend: every node answers after 5 s) and
 * the sequencer side in this process. The pool submits requests (commit-reveal and direct), then
 * goes away: its pool, libp2p node and store are stopped and dropped, as a crashed sequencer's
 * would be. While it is away the nodes publish their commitments, outputs and the direct-mode
 * bundle to each other; gossip never delivers those again. A new pool, libp2p node (the same
 * peer id) and store on the same file then start, and `catchUp` fetches what the nodes hold:
 * every request is agreed, none ends in NoAgreement for lack of messages the committee sent.
 *
 * The kill -9 side of a restart (what the store keeps) is test/e2e/sequencer-crash.test.ts; this
 * test is about what happened on the network while the pool was down.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createConcordNetwork, type ConcordNetwork } from "../../src/net/concord.ts";
import { silentLogger } from "../../src/net/logger.ts";
import { createPool, type Pool, type PoolOutcome } from "../../src/sequencer/pool.ts";
import { SqliteOutcomeStore } from "../../src/sequencer/store.ts";
import { fromHex, taggedHash } from "../../src/wire/hash.ts";
import { startCluster, stopAllNodes, type Cluster } from "../helpers/processes.ts";

const SEED = "pool-catch-up";
const INFERENCE_MS = 5_000;
const AWAY_AFTER_ANSWERS_MS = 8_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let dir: string;
let cluster: Cluster | undefined;
let restarted: { network: ConcordNetwork; pool: Pool; store: SqliteOutcomeStore } | undefined;

afterAll(async () => {
  await stopAllNodes();
  if (restarted) {
    await restarted.pool.stop();
    await restarted.network.stop();
    await restarted.store.close();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("pool catch-up after being away", () => {
  it("fetches the commitments, outputs and bundle published while it was down, and agrees", async () => {
    dir = mkdtempSync(join(tmpdir(), "concord-pool-catch-up-"));
    const storePath = join(dir, "pool.sqlite");
    cluster = await startCluster({
      dir,
      nodes: 5,
      seed: SEED,
      storePath,
      backend: () => ({ type: "fixed", modelSeed: SEED, delayMs: INFERENCE_MS }),
      pool: { closeGraceMs: 100, deadlineMs: 60_000 },
    });
    const submittedAt = Date.now();
    const ids: string[] = [];
    for (const [i, mode] of (["commit-reveal", "commit-reveal", "direct", "direct"] as const).entries()) {
      ids.push(await cluster.pool.submit({ model: "m", input: `catch up ${i}`, entropy: taggedHash("catch-up", String(i)), mode }));
    }
    // Requests are stored and published; the nodes received them long before their answers.
    await sleep(1_000);
    expect(cluster.outcomes.size).toBe(0);
    await cluster.pool.stop();
    await cluster.network.stop();
    await cluster.store.close();

    // Away while every node answers (5 s after the request) and publishes, and longer than
    // gossipsub's message cache (5 heartbeats of 1 s), from which peers would still offer them.
    await sleep(Math.max(0, submittedAt + INFERENCE_MS + AWAY_AFTER_ANSWERS_MS - Date.now()));

    const store = new SqliteOutcomeStore({ path: storePath });
    store.open();
    // The store holds nothing the nodes sent after the pool left: no commitment, output or bundle.
    for (const id of ids) {
      const kinds = ((await store.get(fromHex(id)))?.messages ?? []).map((message) => message.kind);
      expect(kinds.filter((kind) => kind !== "close"), id).toEqual([]);
    }
    const network = await createConcordNetwork(
      {
        chain: cluster.devnet.chain,
        listen: ["/ip4/127.0.0.1/tcp/0"],
        privateKey: taggedHash("concord/test-sequencer-peer", SEED),
        bootstrap: cluster.nodes.flatMap((node) => node.multiaddrs),
      },
      { logger: silentLogger },
    );
    const pool = createPool({ registry: cluster.registry, sequencerKey: cluster.devnet.sequencer, network, store, defaults: { n: 5, closeGraceMs: 100, deadlineMs: 60_000 } });
    restarted = { network, pool, store };
    const outcomes = new Map<string, PoolOutcome>();
    void (async () => {
      for await (const outcome of pool.outcomes()) outcomes.set(outcome.requestId, outcome);
    })();
    await pool.start();
    expect(pool.inFlight).toBe(ids.length);
    await network.start();
    await network.waitForPeers(5, 45_000); // generous: a loaded machine delays the heartbeats that graft the mesh
    const caughtUp = await pool.catchUp();
    expect(caughtUp.fetched).toBe(ids.length);
    expect(caughtUp.unanswered).toBe(0);

    const deadline = Date.now() + 30_000;
    while (outcomes.size < ids.length && Date.now() < deadline) await sleep(20);
    for (const id of ids) expect(outcomes.get(id)?.kind, id).toBe("agreed");
    // What decided them is in the store: fetched messages are stored like gossiped ones.
    for (const id of ids.slice(0, 2)) {
      const kinds = ((await store.get(fromHex(id)))?.messages ?? []).map((message) => message.kind);
      expect(kinds.filter((kind) => kind === "commitment").length, id).toBeGreaterThanOrEqual(4);
    }
  }, 90_000);
});
