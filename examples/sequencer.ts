/**
 * A minimal sequencer loop on Concord, to read top to bottom.
 *
 * A rollup sequencer pulls inference calls out of its mempool and submits them to the pool; every
 * `blockMs` it builds a block from whatever agreed, verified bundles are ready, marks them
 * included, and moves on. The block never waits for a model: requests still running simply wait
 * for a later block. After `blocks` blocks it stops.
 *
 *   node examples/sequencer.ts
 *
 * starts a local devnet (five `concord node` processes with the built-in synthetic model, each
 * emulating another GPU, all on 127.0.0.1), runs the loop against it, prints each block and
 * removes the devnet again. With CONCORD_REGISTRY set it joins nodes running elsewhere instead
 * (deploy/compose.yaml: `mainAgainstNetwork`). `runExampleSequencer` is the loop alone: give it any network the
 * pool can use (test/e2e/sequencer-example.test.ts runs it against node processes).
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDevnet } from "../src/cli/devnet.ts";
import { readRegistryFile } from "../src/cli/io.ts";
import { readKeystore } from "../src/crypto/keystore.ts";
import { startNodeProcess, stopNodeProcesses, type NodeProcess } from "../src/cli/processes.ts";
import type { KeyPair } from "../src/crypto/index.ts";
import { isConcordError } from "../src/errors.ts";
import { createConcordNetwork } from "../src/net/index.ts";
import { silentLogger } from "../src/net/logger.ts";
import { createRegistry, type Registry } from "../src/quorum/index.ts";
import { createPool, SqliteOutcomeStore, type OutcomeStore, type PoolNetwork, type Submission } from "../src/sequencer/index.ts";
import { labelOf, rootKey, streamOf } from "../src/sim/prng.ts";
import { requestId, taggedHash, toHex, type PolicyRef, type SamplingParams } from "../src/wire/index.ts";

export interface ExampleSequencerInit {
  /** The pool's network, started (a ConcordNetwork fits). The pool attaches to it when it starts. */
  network: PoolNetwork;
  registry: Registry;
  sequencerKey: KeyPair;
  /** Where outcomes are kept: after a crash, a new pool on the same store resumes. */
  store: OutcomeStore;
  /** Stop after this many blocks. */
  blocks: number;
  /** Time between blocks. */
  blockMs: number;
  /** Seeds the mempool: the same seed gives the same transactions at the same times. */
  seed: string;
  /** Inference calls in the mempool (default 24). */
  requests?: number;
  /** Mean time between two calls arriving (default 60 ms). */
  arrivalMs?: number;
  /** Bundles per block at most (default 16). */
  maxPerBlock?: number;
  /** Committee size (default: every registered node, at most 5). */
  n?: number;
  print?: (line: string) => void;
}

export interface ExampleBlock {
  number: number;
  /** Unix ms when building started, and how long taking bundles and marking them took. */
  builtAt: number;
  buildMs: number;
  requestIds: string[];
  /** Requests submitted and not decided when the block was built: the block did not wait for them. */
  pending: number;
}

export interface ExampleRun {
  blocks: ExampleBlock[];
  /** Request ids in the order they were submitted. */
  submitted: string[];
  /** How each decided request ended. */
  outcomes: Map<string, "agreed" | "no-agreement">;
}

/** What contracts ask for: a prompt, and the agreement policy the calling contract chose. */
const GREEDY: SamplingParams = { temperatureMilli: 0, topK: 0, topPPpm: 1_000_000, maxTokens: 16 };
const SAMPLED: SamplingParams = { temperatureMilli: 700, topK: 50, topPPpm: 950_000, maxTokens: 16 };
const EXACT: PolicyRef = { id: "exact", version: 1, params: {} };
const SEMANTIC: PolicyRef = { id: "semantic", version: 2, params: { thetaPpm: 600_000 } };
const CALLS: { prompt: string; policy: PolicyRef; sampling: SamplingParams }[] = [
  { prompt: "Classify the sentiment of this governance post", policy: EXACT, sampling: GREEDY },
  { prompt: "Is this transaction likely to be a sandwich attack", policy: EXACT, sampling: GREEDY },
  { prompt: "Summarize the proposal to raise the lending cap", policy: SEMANTIC, sampling: SAMPLED },
  { prompt: "Explain why the oracle price deviated from the market", policy: SEMANTIC, sampling: SAMPLED },
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

export async function runExampleSequencer(init: ExampleSequencerInit): Promise<ExampleRun> {
  const print = init.print ?? ((line: string) => console.log(line));
  // A committee fits the smallest subnet (the whole registry when it has one).
  const n = init.n ?? Math.min(5, ...init.registry.subnetMembers.map((members) => members.length));
  const pool = createPool({
    registry: init.registry,
    sequencerKey: init.sequencerKey,
    network: init.network,
    store: init.store,
    defaults: { n, deadlineMs: 20_000, closeGraceMs: 100 },
  });
  const run: ExampleRun = { blocks: [], submitted: [], outcomes: new Map() };

  // 1. Outcomes as they are decided. Agreed ones reach blocks through `ready()`; a NoAgreement is
  //    final for its request (the contract can retry, escalate or fail the call) and never silent.
  const outcomes = pool.outcomes();
  void (async () => {
    for await (const outcome of outcomes) {
      run.outcomes.set(outcome.requestId, outcome.kind);
      if (outcome.kind === "no-agreement") print(`  request ${outcome.requestId.slice(0, 12)}: no agreement (${outcome.result.reason})`);
    }
  })();
  // Resumes what the store holds from an earlier run, then (the network is up) publishes it again
  // and fetches what the committee sent meanwhile. A first run has nothing to catch up on.
  await pool.start();
  await pool.catchUp();

  // 2. The mempool: inference calls arrive at seeded random times and are submitted at once.
  //    `submit` signs, stores and publishes the request, and returns without waiting for a model.
  let stopped = false;
  const mempool = (async () => {
    const rng = streamOf(rootKey(init.seed), labelOf("mempool"));
    for (let i = 0; i < (init.requests ?? 24) && !stopped; i++) {
      await sleep(rng.exponential(init.arrivalMs ?? 60));
      const call = rng.pick(CALLS);
      const submission: Submission = {
        model: "synthetic-v1",
        input: `${call.prompt} (#${i})`,
        // Randomness from the chain (e.g. the parent block's hash): it binds the request id.
        entropy: taggedHash("example/entropy", init.seed, String(i)),
        policy: call.policy,
        sampling: call.sampling,
      };
      try {
        run.submitted.push(await pool.submit(submission));
      } catch (error) {
        // BACKPRESSURE (too many in flight) or an invalid call: a real mempool would keep or drop it.
        print(`  call #${i} refused: ${isConcordError(error) ? error.code : String(error)}`);
      }
    }
  })();

  // 3. The block loop: every blockMs, take what is ready, include it, move on.
  const start = Date.now();
  for (let number = 1; number <= init.blocks; number++) {
    await sleep(start + number * init.blockMs - Date.now());
    const builtAt = Date.now();
    // Agreed bundles only, each verified by the pool, in a deterministic order. Never waits.
    const bundles = await pool.ready({ max: init.maxPerBlock ?? 16 });
    const requestIds = bundles.map((bundle) => toHex(requestId(bundle.request)));
    // Once the block is final: these bundles never come out of `ready()` again, and no other
    // block can take them (the store refuses a second block for a bundle).
    if (requestIds.length > 0) await pool.markIncluded(requestIds, number);
    const block: ExampleBlock = { number, builtAt, buildMs: Date.now() - builtAt, requestIds, pending: pool.inFlight };
    run.blocks.push(block);
    print(`block ${number}: ${bundles.length} bundle${bundles.length === 1 ? "" : "s"}, ${block.pending} request${block.pending === 1 ? "" : "s"} still running`);
    for (const bundle of bundles) {
      const { policy } = bundle.request;
      const { output, supporters } = bundle.outcome;
      print(`  ${toHex(requestId(bundle.request)).slice(0, 12)} ${policy.id}@${policy.version} agreed by ${supporters.join(", ")}: "${output.slice(0, 48)}"`);
    }
  }

  stopped = true;
  await mempool;
  await pool.stop();
  // The outcome stream is parked waiting for the next outcome; ending it lets it be collected.
  void outcomes.return(undefined);
  return run;
}

/** A local devnet of five node processes, the loop against it, then everything removed. */
async function main(): Promise<void> {
  const nodes = 5;
  const dir = mkdtempSync(join(tmpdir(), "concord-example-sequencer-"));
  const devnet = await createDevnet({ dir, nodes, seed: "example-sequencer", logLevel: "warn", maxConcurrentJobs: 8 });
  const network = await createConcordNetwork(
    { chain: devnet.chain, listen: ["/ip4/127.0.0.1/tcp/0"], privateKey: taggedHash("example/sequencer-peer", devnet.dir) },
    { logger: silentLogger },
  );
  const store = new SqliteOutcomeStore({ path: join(dir, "sequencer.sqlite") });
  const children: NodeProcess[] = [];
  try {
    await network.start();
    store.open();
    console.log(`starting ${nodes} node processes in ${dir}`);
    const bootstrap = [...network.gossip.multiaddrs];
    for (const node of devnet.nodes) {
      // --delay-ms emulates GPU time on top of the synthetic model, so blocks pass while models run.
      const child = await startNodeProcess(node.id, ["--config", node.configPath, "--delay-ms", "300", "--no-metrics", ...bootstrap.flatMap((a) => ["--bootstrap", a])]);
      children.push(child);
      bootstrap.push(...child.multiaddrs);
    }
    await network.waitForPeers(nodes, 15_000);
    const run = await runExampleSequencer({
      network,
      registry: createRegistry(devnet.registry),
      sequencerKey: devnet.sequencer,
      store,
      blocks: 50,
      blockMs: 100,
      seed: "example",
      requests: 20,
    });
    const included = run.blocks.reduce((sum, block) => sum + block.requestIds.length, 0);
    const noAgreement = [...run.outcomes.values()].filter((kind) => kind === "no-agreement").length;
    const running = run.submitted.length - run.outcomes.size;
    console.log(
      `${run.submitted.length} calls: ${included} agreed and included in ${run.blocks.length} blocks, ${noAgreement} without agreement, ${running} still running`,
    );
  } finally {
    await stopNodeProcesses(children);
    await network.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The loop against nodes already running elsewhere (deploy/compose.yaml): the registry, the
 * sequencer's key file and where to listen come from CONCORD_* variables, peers from mDNS and
 * CONCORD_BOOTSTRAP; the outcome store lives in CONCORD_DATA_DIR.
 */
async function mainAgainstNetwork(env: NodeJS.ProcessEnv): Promise<void> {
  const registry = readRegistryFile(env.CONCORD_REGISTRY as string);
  const sequencerKey = (await readKeystore(env.CONCORD_KEYSTORE ?? "sequencer.key.json")).keyPair;
  const dataDir = env.CONCORD_DATA_DIR ?? ".";
  mkdirSync(dataDir, { recursive: true });
  const list = (value: string | undefined) => (value ?? "").split(",").map((item) => item.trim()).filter(Boolean);
  const network = await createConcordNetwork(
    {
      chain: registry.chain,
      listen: list(env.CONCORD_LISTEN ?? "/ip4/0.0.0.0/tcp/9780"),
      bootstrap: list(env.CONCORD_BOOTSTRAP),
      mdns: env.CONCORD_MDNS !== "false",
      // The pool joins every subnet's topics (the default for homeSubnets).
      subnets: registry.subnets,
      privateKey: taggedHash("example/sequencer-peer", sequencerKey.secretKey),
    },
    { logger: silentLogger },
  );
  const store = new SqliteOutcomeStore({ path: join(dataDir, "sequencer.sqlite") });
  try {
    await network.start();
    store.open();
    // With subnets a subnet's topics have only its members: wait for the smallest subnet's count.
    const peers = Math.min(...registry.subnetMembers.map((members) => members.length));
    console.log(`waiting for ${peers} nodes on every topic of ${registry.chain} (${registry.members.length} nodes, ${registry.subnets} subnet${registry.subnets === 1 ? "" : "s"})`);
    await network.waitForPeers(peers, 120_000);
    const run = await runExampleSequencer({ network, registry, sequencerKey, store, blocks: Number(env.CONCORD_BLOCKS ?? 100), blockMs: 200, seed: "example" });
    const included = run.blocks.reduce((sum, block) => sum + block.requestIds.length, 0);
    console.log(`${run.submitted.length} calls: ${included} agreed and included in ${run.blocks.length} blocks`);
  } finally {
    await network.stop();
    await store.close();
  }
}

if (import.meta.main) await (process.env.CONCORD_REGISTRY ? mainAgainstNetwork(process.env) : main());
