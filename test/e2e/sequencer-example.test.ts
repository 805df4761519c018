/**
 * examples/sequencer.ts end to end: five `concord node` processes (synthetic model, each with
 * another hardware profile, 300 ms of emulated GPU time per request) and the example's sequencer
 * loop in this process, with its own libp2p node (createConcordNetwork) and a SQLite outcome
 * store, all on 127.0.0.1.
 *
 * Every agreed bundle goes into exactly one block (and the store says which), and blocks keep
 * coming while models run: the loop never waits for inference.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runExampleSequencer } from "../../examples/sequencer.ts";
import { createDevnet } from "../../src/cli/devnet.ts";
import { createConcordNetwork, type ConcordNetwork } from "../../src/net/concord.ts";
import { silentLogger } from "../../src/net/logger.ts";
import { createRegistry } from "../../src/quorum/registry.ts";
import { SqliteOutcomeStore } from "../../src/sequencer/store.ts";
import { fromHex, taggedHash } from "../../src/wire/hash.ts";
import { startNode, stopAllNodes } from "../helpers/processes.ts";

const NODES = 5;
const INFERENCE_MS = 300;
const BLOCK_MS = 100;
const BLOCKS = 50;

let dir: string;
let network: ConcordNetwork | undefined;
let store: SqliteOutcomeStore | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "concord-sequencer-example-"));
});
afterEach(async () => {
  await stopAllNodes();
  await network?.stop();
  await store?.close();
  network = undefined;
  store = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe("examples/sequencer.ts against five node processes", () => {
  it("includes every agreed bundle in exactly one block, and builds blocks while inference is pending", async () => {
    const devnet = await createDevnet({ dir, nodes: NODES, seed: "sequencer-example", logLevel: "warn", maxConcurrentJobs: 8 });
    network = await createConcordNetwork(
      { chain: devnet.chain, listen: ["/ip4/127.0.0.1/tcp/0"], privateKey: taggedHash("test/example-sequencer-peer", "sequencer-example") },
      { logger: silentLogger },
    );
    await network.start();
    const bootstrap = [...network.gossip.multiaddrs];
    for (const node of devnet.nodes) {
      const started = await startNode(node.id, ["--config", node.configPath, "--delay-ms", String(INFERENCE_MS), "--no-metrics", ...bootstrap.flatMap((a) => ["--bootstrap", a])]);
      bootstrap.push(...started.multiaddrs);
    }
    const live = network;
    await live.waitForPeers(devnet.nodes.length, 15_000);
    store = new SqliteOutcomeStore({ path: join(dir, "sequencer.sqlite") });
    store.open();

    const lines: string[] = [];
    const run = await runExampleSequencer({
      network,
      registry: createRegistry(devnet.registry),
      sequencerKey: devnet.sequencer,
      store,
      blocks: BLOCKS,
      blockMs: BLOCK_MS,
      seed: "sequencer-example",
      requests: 16,
      arrivalMs: 60,
      print: (line) => lines.push(line),
    });

    // It stopped after exactly BLOCKS blocks, numbered 1.., each printed.
    expect(run.blocks.map((block) => block.number)).toEqual(Array.from({ length: BLOCKS }, (_, i) => i + 1));
    expect(lines.filter((line) => line.startsWith("block ")).length).toBe(BLOCKS);
    expect(run.submitted.length).toBe(16);
    // Everything submitted was decided within the run, mostly agreed (honest committee).
    for (const id of run.submitted) expect(run.outcomes.has(id), `outcome of ${id}`).toBe(true);
    const agreed = run.submitted.filter((id) => run.outcomes.get(id) === "agreed");
    expect(agreed.length).toBeGreaterThanOrEqual(run.submitted.length / 2);

    // Every agreed bundle is in exactly one block, and the store records that block.
    const blockOf = new Map<string, number>();
    for (const block of run.blocks) {
      for (const id of block.requestIds) {
        expect(blockOf.has(id), `${id} in blocks ${String(blockOf.get(id))} and ${block.number}`).toBe(false);
        blockOf.set(id, block.number);
      }
    }
    expect([...blockOf.keys()].sort()).toEqual([...agreed].sort());
    for (const [id, number] of blockOf) expect((await store.get(fromHex(id)))?.outcome?.includedIn).toBe(number);
    expect(await store.readyOutcomes(100)).toEqual([]);

    // The block never waits: blocks were built (empty) while the first requests were still
    // running, and later blocks took what was ready while other requests were still running.
    const whileRunning = run.blocks.filter((block) => block.pending > 0);
    expect(whileRunning.filter((block) => block.requestIds.length === 0).length).toBeGreaterThanOrEqual(2);
    expect(whileRunning.some((block) => block.requestIds.length > 0)).toBe(true);
    const firstWithBundles = run.blocks.findIndex((block) => block.requestIds.length > 0);
    expect(run.blocks.slice(0, firstWithBundles).some((block) => block.pending > 0)).toBe(true);
    // Taking bundles and marking them is a few store operations, not a wait.
    const buildMs = run.blocks.map((block) => block.buildMs).sort((a, b) => a - b);
    expect(buildMs[Math.floor(buildMs.length / 2)]).toBeLessThan(25);
  }, 50_000);
});
