/**
 * The network path end to end: five `concord node` processes on TCP loopback, the fixed backend
 * (no model: hash-derived text after a fixed delay, 10/12/14/16/18 ms for nodes 1..5), and the
 * sequencer's pool in this process. n = 5, k = 4.
 *
 * Figures, every one from the same run:
 * - kth_reveal_to_bundle: from the k-th reveal (direct mode: signed output) a node sent to the
 *   agreed bundle delivered by the pool (verified, stored, emitted by `outcomes()`), at the
 *   target 100 requests/s, at 40/s (sustained, below this machine's saturation) and at a light
 *   10/s (the floor without queueing). Node send times come
 *   from their --trace-file (Unix ms to the microsecond, the same clock as this process).
 * - quorum vs first-wins: submit to bundle delivered, against submit to the first result's
 *   arrival at the pool (first-wins' latency: the fastest node's commitment in commit-reveal
 *   mode, its signed output in direct mode), and the ratio of the two; also the first reveal's
 *   arrival (commit-reveal). Quorum pays the k-th fastest node, the close round trip
 *   (commit-reveal) and gossip hops.
 * - saturation: 200 requests submitted at once, agreed requests/s until the last is decided
 *   (the backend allows 64 jobs per node, so the protocol, not the stub, is the limit), and the
 *   CPU time all six processes spent per agreed request meanwhile (Linux: /proc).
 * - cpu_ms_per_request: the same CPU time per request over each paced phase (timers included:
 *   about 60 ms/s for the six processes when idle). Light load costs more per request than
 *   saturation: every message is its own wakeup, read, decryption and write.
 * All of the above runs twice: with the defaults (votes gossiped, keys `network.*`) and with every
 * node routing its votes to the sequencer (spec/06 "Vote routing", keys `network.routed.*`).
 * The pool's outcome store is SQLite in memory for all of the above (the same code as on disk,
 * without the fsync per write), so the figures are the network's and the protocol's; one more
 * saturation run with the store on disk (WAL, synchronous=FULL) shows what durability costs.
 *
 * Run alone: `npx node bench/network.bench.ts` (or `npm run bench network`).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { createDevnet, DEVNET_PEER_WHITELIST, type Devnet } from "../src/cli/devnet.ts";
import { startNodeProcess, stopNodeProcesses, type NodeProcess } from "../src/cli/processes.ts";
import { createConcordNetwork, type ConcordNetwork } from "../src/net/concord.ts";
import type { VoteRoute } from "../src/net/topics.ts";
import { createRegistry } from "../src/quorum/registry.ts";
import { createPool, type Pool, type PoolOutcome } from "../src/sequencer/pool.ts";
import { SqliteOutcomeStore } from "../src/sequencer/store.ts";
import { taggedHash, toHex } from "../src/wire/hash.ts";
import type { AttestationMode, Message } from "../src/wire/types.ts";

const NODES = 5;
const K = 4;
const DELAYS_MS = [10, 12, 14, 16, 18];
/**
 * A light rate, for the floor; one below this machine's saturation (2 cores: ~55-60 agreed/s),
 * for the latency under sustained load; and the target. Lightest first, so that no phase starts
 * behind the backlog an overloaded one left in the nodes.
 */
const RATES = [10, 40, 100] as const;
/** Requests per paced phase: 3 s at the target rate, 5 s at the middle one, 6 s at the light one. */
const PACED_SECONDS = { 100: 3, 40: 5, 10: 6 } as const;
const WARMUP_REQUESTS = 30;
const BURST_REQUESTS = 200;

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}
const round2 = (value: number) => Math.round(value * 100) / 100;

interface Track {
  mode: AttestationMode;
  submittedAt: number;
  firstResultAt?: number;
  firstRevealAt?: number;
  deliveredAt?: number;
  outcome?: PoolOutcome["kind"];
}

export interface Network {
  devnet: Devnet;
  network: ConcordNetwork;
  pool: Pool;
  store: SqliteOutcomeStore;
  nodes: NodeProcess[];
  tracks: Map<string, Track>;
  traceFiles: string[];
}

export interface NetworkOptions {
  /** Committee size = nodes in the network. Default NODES. */
  nodes?: number;
  /** Agreement threshold. Default K. */
  k?: number;
  /** Extra environment of the node processes (instrumentation: bench/counters.ts). */
  env?: NodeJS.ProcessEnv;
  /** Request deadline. Default 30 s. */
  deadlineMs?: number;
  /** Batch signatures (spec/06 "Batching"): the nodes' signing window and the pool's close window, ms. Default off. */
  batchWindowMs?: number;
  /** Vote routing of the nodes (spec/06 "Vote routing"), and the pool told of it. Default gossip. */
  votes?: VoteRoute;
}

/** n node processes (node i answers after DELAYS_MS[i mod 5]) and the pool in this process. */
export async function startNetwork(dir: string, storePath: string, options: NetworkOptions = {}): Promise<Network> {
  const nodeCount = options.nodes ?? NODES;
  const k = options.k ?? K;
  const devnet = await createDevnet({
    dir,
    nodes: nodeCount,
    seed: "bench-network",
    logLevel: "warn",
    maxConcurrentJobs: 64,
    backend: (i) => ({ type: "fixed", modelSeed: "bench", delayMs: DELAYS_MS[i % DELAYS_MS.length] as number }),
    ...(options.batchWindowMs ? { signBatchWindowMs: options.batchWindowMs } : {}),
    ...(options.votes ? { votes: options.votes } : {}),
  });
  const registry = createRegistry(devnet.registry);
  const network = await createConcordNetwork(
    // The nodes are on this machine: loopback peers are known ones, exempt from the colocation penalty.
    { chain: devnet.chain, listen: ["/ip4/127.0.0.1/tcp/0"], privateKey: taggedHash("bench/sequencer-peer", dir), handlerQueueLength: 100_000, whitelist: DEVNET_PEER_WHITELIST, pool: true, ...(options.votes ? { votes: options.votes } : {}) },
    { logger: pino({ level: "silent" }) },
  );
  const store = new SqliteOutcomeStore({ path: storePath });
  store.open();
  const tracks = new Map<string, Track>();
  // Watches what reaches the pool (arrival times) without changing what it does.
  const watched = {
    attach: (receiver: (message: Message, from: string, payload?: Uint8Array) => void) =>
      network.attach((message, from, payload) => {
        receiver(message, from, payload);
        if (message.t !== "commitment" && message.t !== "output" && message.t !== "reveal") return;
        const track = tracks.get(toHex(message.request));
        if (!track) return;
        const at = now();
        if (message.t === "reveal") track.firstRevealAt ??= at;
        else track.firstResultAt ??= at;
      }),
    publish: (message: Message) => network.publish(message),
  };
  const pool = createPool({ registry, sequencerKey: devnet.sequencer, network: watched, store, defaults: { n: nodeCount, k, deadlineMs: options.deadlineMs ?? 30_000, closeGraceMs: 50, maxInFlight: 100_000, ...(options.batchWindowMs ? { signBatchWindowMs: options.batchWindowMs } : {}) }, tickMs: 5 });
  await pool.start();
  await network.start();
  void (async () => {
    for await (const outcome of pool.outcomes()) {
      const track = tracks.get(outcome.requestId);
      if (!track || track.outcome) continue;
      track.deliveredAt = now();
      track.outcome = outcome.kind;
    }
  })();
  const nodes: NodeProcess[] = [];
  const traceFiles: string[] = [];
  const net: Network = { devnet, network, pool, store, nodes, tracks, traceFiles };
  try {
    const bootstrap = [...network.gossip.multiaddrs];
    for (const node of devnet.nodes) {
      const traceFile = join(dir, `trace-${node.id}.jsonl`);
      traceFiles.push(traceFile);
      const args = ["--config", node.configPath, "--trace-file", traceFile, "--no-metrics", ...bootstrap.flatMap((address) => ["--bootstrap", address])];
      const child = await startNodeProcess(node.id, args, options.env ? { env: options.env } : {});
      nodes.push(child);
      bootstrap.push(...child.multiaddrs);
    }
    await network.waitForPeers(nodeCount, 20_000 + 2_000 * nodeCount);
  } catch (error) {
    await stopNetwork(net);
    throw error;
  }
  return net;
}

export async function stopNetwork(net: Network): Promise<void> {
  await stopNodeProcesses(net.nodes);
  await net.pool.stop();
  await net.network.stop();
  await net.store.close();
}

let sequence = 0;
export async function submit(net: Network, mode: AttestationMode, label: string): Promise<string> {
  const i = sequence++;
  const submittedAt = now();
  const id = await net.pool.submit({ model: "bench", input: `${label} request ${i}`, entropy: taggedHash("bench/entropy", String(i)), mode });
  net.tracks.set(id, { mode, submittedAt });
  return id;
}

export async function waitFor(net: Network, ids: readonly string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (ids.some((id) => net.tracks.get(id)?.outcome === undefined)) {
    if (Date.now() > deadline) throw new Error(`${ids.filter((id) => !net.tracks.get(id)?.outcome).length} requests undecided after ${timeoutMs} ms`);
    await sleep(10);
  }
}

/** Submits `count` requests at `rate` per second (open loop); returns their ids. */
async function paced(net: Network, mode: AttestationMode, count: number, rate: number): Promise<string[]> {
  const ids: Promise<string>[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    ids.push(submit(net, mode, `paced-${mode}`));
  }
  return Promise.all(ids);
}

/**
 * Saturation: `count` requests submitted at once; agreed requests per second until the last one
 * is decided (the pipeline fills in a fraction of that time).
 */
export async function burst(net: Network, count: number, timeoutMs = 90_000): Promise<{ agreedPerS: number; cpuMsPerAgreed: number }> {
  const cpuBefore = cpuMs(net);
  const started = performance.now();
  // All at once: with signing windows, a submit resolves when its batch is signed and stored.
  const ids = await Promise.all(Array.from({ length: count }, () => submit(net, "commit-reveal", "burst")));
  await waitFor(net, ids, timeoutMs).catch(() => undefined);
  const cpu = cpuMs(net) - cpuBefore;
  const last = Math.max(...ids.map((id) => net.tracks.get(id)?.deliveredAt ?? 0));
  const agreed = ids.filter((id) => net.tracks.get(id)?.outcome === "agreed").length;
  return { agreedPerS: agreed / ((last - (performance.timeOrigin + started)) / 1000), cpuMsPerAgreed: cpu / agreed };
}

/**
 * CPU time (user + system, ms) used so far by this process (the pool) and the node processes:
 * their /proc/<pid>/stat on Linux, NaN elsewhere.
 */
export function cpuMs(net: Network): number {
  if (process.platform !== "linux") return Number.NaN;
  const own = process.cpuUsage();
  let total = (own.user + own.system) / 1000;
  const tickMs = 1000 / 100; // USER_HZ: 100 on Linux
  for (const { child } of net.nodes) {
    const fields = readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    // After "pid (comm) ": state is field 0, utime field 11, stime field 12.
    total += (Number(fields[11]) + Number(fields[12])) * tickMs;
  }
  return total;
}

interface Sent {
  /** Send times of each node's reveal (or direct-mode output), by request. */
  votes: Map<string, number[]>;
}

function readTraces(files: readonly string[]): Sent {
  const votes = new Map<string, number[]>();
  for (const file of files) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (line.length === 0) continue;
      const entry = JSON.parse(line) as { direction: string; kind: string; request: string; at: number };
      if (entry.direction !== "out" || (entry.kind !== "reveal" && entry.kind !== "output")) continue;
      const list = votes.get(entry.request) ?? [];
      list.push(entry.at);
      votes.set(entry.request, list);
    }
  }
  return { votes };
}

function latencies(net: Network, ids: readonly string[], sent: Sent) {
  const kthToBundle: number[] = [];
  const quorum: number[] = [];
  const firstWins: number[] = [];
  const firstReveal: number[] = [];
  let agreed = 0;
  for (const id of ids) {
    const track = net.tracks.get(id);
    if (track?.outcome !== "agreed" || track.deliveredAt === undefined) continue;
    agreed++;
    const votes = [...(sent.votes.get(id) ?? [])].sort((a, b) => a - b);
    const kth = votes[K - 1];
    if (kth !== undefined) kthToBundle.push(track.deliveredAt - kth);
    quorum.push(track.deliveredAt - track.submittedAt);
    if (track.firstResultAt !== undefined) firstWins.push(track.firstResultAt - track.submittedAt);
    if (track.firstRevealAt !== undefined) firstReveal.push(track.firstRevealAt - track.submittedAt);
  }
  return { agreed, kthToBundle, quorum, firstWins, firstReveal };
}

/** The paced phases and the saturation burst on one network (store in memory), keys under `prefix`. */
async function measure(dir: string, prefix: string, votes: VoteRoute, out: Record<string, number>): Promise<void> {
  const net = await startNetwork(dir, ":memory:", { votes });
  let stopped = false;
  try {
    // Warm-up: JIT, connections, first fsyncs of the nodes' slashing databases.
    const warm = [];
    for (let i = 0; i < WARMUP_REQUESTS; i++) warm.push(await submit(net, i % 2 === 0 ? "commit-reveal" : "direct", "warmup"));
    await waitFor(net, warm, 30_000);

    const phases: { mode: AttestationMode; rate: number; ids: string[]; cpuMsPerRequest: number }[] = [];
    for (const rate of RATES) {
      for (const mode of ["commit-reveal", "direct"] as const) {
        const cpuBefore = cpuMs(net);
        const ids = await paced(net, mode, rate * PACED_SECONDS[rate], rate);
        // Past the deadline (30 s) every request is decided, one way or the other.
        await waitFor(net, ids, 45_000).catch(() => undefined);
        phases.push({ mode, rate, ids, cpuMsPerRequest: (cpuMs(net) - cpuBefore) / ids.length });
      }
    }
    const saturation = await burst(net, BURST_REQUESTS);
    out[`${prefix}.saturation.agreed_per_s`] = round2(saturation.agreedPerS);
    out[`${prefix}.saturation.cpu_ms_per_agreed`] = round2(saturation.cpuMsPerAgreed);
    await stopNetwork(net);
    stopped = true;
    const sent = readTraces(net.traceFiles);
    for (const { mode, rate, ids, cpuMsPerRequest } of phases) {
      const key = `${prefix}.${mode === "commit-reveal" ? "commit_reveal" : "direct"}.at_${rate}_per_s`;
      const figures = latencies(net, ids, sent);
      out[`${key}.agreed_fraction`] = round2(figures.agreed / ids.length);
      out[`${key}.cpu_ms_per_request`] = round2(cpuMsPerRequest);
      out[`${key}.kth_reveal_to_bundle.p50_ms`] = round2(percentile(figures.kthToBundle, 50));
      out[`${key}.kth_reveal_to_bundle.p99_ms`] = round2(percentile(figures.kthToBundle, 99));
      out[`${key}.quorum.p50_ms`] = round2(percentile(figures.quorum, 50));
      out[`${key}.quorum.p99_ms`] = round2(percentile(figures.quorum, 99));
      out[`${key}.first_wins.p50_ms`] = round2(percentile(figures.firstWins, 50));
      out[`${key}.first_wins.p99_ms`] = round2(percentile(figures.firstWins, 99));
      out[`${key}.quorum_over_first_wins.p50`] = round2(percentile(figures.quorum, 50) / percentile(figures.firstWins, 50));
      if (mode === "commit-reveal") {
        out[`${key}.first_reveal.p50_ms`] = round2(percentile(figures.firstReveal, 50));
        out[`${key}.quorum_over_first_reveal.p50`] = round2(percentile(figures.quorum, 50) / percentile(figures.firstReveal, 50));
      }
    }
  } finally {
    if (!stopped) await stopNetwork(net).catch(() => undefined);
  }
}

export async function run(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), "concord-bench-network-"));
  const out: Record<string, number> = { "network.nodes": NODES, "network.k": K };
  let net: Network | undefined;
  try {
    // The defaults (votes gossiped), then every node routing its votes to the sequencer.
    await measure(join(dir, "memory"), "network", "gossip", out);
    await measure(join(dir, "routed"), "network.routed", "sequencer", out);

    // The same saturation run with the pool's store on disk.
    net = await startNetwork(join(dir, "disk"), join(dir, "disk", "sequencer.sqlite"));
    const warmDisk = [];
    for (let i = 0; i < WARMUP_REQUESTS; i++) warmDisk.push(await submit(net, "commit-reveal", "warmup-disk"));
    await waitFor(net, warmDisk, 30_000);
    out["network.saturation_store_on_disk.agreed_per_s"] = round2((await burst(net, BURST_REQUESTS)).agreedPerS);
    return out;
  } finally {
    if (net) await stopNetwork(net).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) console.log(JSON.stringify(await run(), null, 2));
