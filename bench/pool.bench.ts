/**
 * The sequencer pool, two ways. n = 5, k = 4, exact policy, commit-reveal. Every figure is the
 * median over repeated runs (RUNS or LOOPBACK_RUNS of each), each run's own percentile first.
 *
 * 1. Its own overhead per request (`pool.overhead.*`), in this process, without inference or
 *    gossip: the five members' commitments and reveals are signed beforehand and fed straight
 *    into `pool.receive` with their canonical bytes, as the network delivers them; the network
 *    is a publish that goes nowhere. Timed from `submit` to the agreed outcome being durable
 *    (reported by `outcomes()`; from then `ready()` returns it): signing and storing the request,
 *    five commitment checks, signing the close, four reveals opened against the commitments
 *    (their signatures are the commitments', already checked), the policy, and two group commits
 *    (the request; then the commitments, close, reveals and outcome, which arrive in one turn
 *    here). Store in memory (SQLite ":memory:": the CPU cost; the target is p50 < 1 ms) and on
 *    disk (WAL, synchronous=FULL: an fsync per commit). Also `submit` alone, the synchronous part
 *    of `receive` (everything but the store writes), and what the signatures cost: the pool
 *    signs twice per request (request, close) and checks five (the commitments).
 *
 * 2. Throughput and latency on loopback (`pool.loopback.*`): five `concord node` processes over
 *    TCP on 127.0.0.1 with the fixed backend (not a model: hash-derived text after 10/12/14/16/18 ms
 *    for nodes 1..5, up to 64 jobs at once), the pool in this process with its own libp2p node,
 *    its store on disk (as a sequencer runs it), then again in memory (to separate the disk's share).
 *    - saturation: agreed requests/s with SATURATION_WINDOW requests kept in flight;
 *    - submit -> ready: from `submit` to the agreed outcome being durable, percentiles, paced at
 *      PACED_RATE requests/s (below saturation) and during the saturation runs.
 *
 * Run alone: `npx node bench/pool.bench.ts` (or `npm run bench pool`).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDevnet } from "../src/cli/devnet.ts";
import { startNodeProcess, stopNodeProcesses, type NodeProcess } from "../src/cli/processes.ts";
import { createConcordNetwork, type ConcordNetwork } from "../src/net/concord.ts";
import { silentLogger } from "../src/net/logger.ts";
import { signRoot } from "../src/crypto/schemes.ts";
import { commitOutput, commitmentSalt } from "../src/quorum/attest.ts";
import { createRegistry } from "../src/quorum/registry.ts";
import { fixedOutput } from "../src/runner/fixed.ts";
import { createPool, type Pool, type PoolOutcome, type Submission } from "../src/sequencer/pool.ts";
import { SqliteOutcomeStore } from "../src/sequencer/store.ts";
import { taggedHash, toHex } from "../src/wire/hash.ts";
import { PROTOCOL_VERSION } from "../src/wire/limits.ts";
import { requestId } from "../src/wire/ids.ts";
import { encodeMessage } from "../src/wire/messages.ts";
import type { OutputCommitment, OutputReveal, PolicyRef, SamplingParams } from "../src/wire/types.ts";
import { testNetwork } from "../test/helpers/fixtures.ts";

const N = 5;
const K = 4;
const RUNS = 5;
const OVERHEAD_REQUESTS = 1_000;
const OVERHEAD_WARMUP = 200;
const DISK_REQUESTS = 200;
const LOOPBACK_RUNS = 3;
const DELAYS_MS = [10, 12, 14, 16, 18];
const PACED_RATE = 10;
const PACED_REQUESTS = 40;
const SATURATION_WINDOW = 64;
const SATURATION_FILL_SECONDS = 2;
const SATURATION_SECONDS = 5;

const POLICY: PolicyRef = { id: "exact", version: 1, params: {} };
const SAMPLING: SamplingParams = { temperatureMilli: 0, topK: 0, topPPpm: 1_000_000, maxTokens: 16 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round3 = (value: number) => Math.round(value * 1000) / 1000;

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}
const median = (values: readonly number[]) => percentile(values, 50);

/** Resolves each request's outcome as the pool reports it (agreed or not). */
function outcomeWaiter(pool: Pool): { wait(id: string): Promise<PoolOutcome>; end(): void } {
  const known = new Map<string, PoolOutcome>();
  const waiting = new Map<string, (outcome: PoolOutcome) => void>();
  const stream = pool.outcomes();
  void (async () => {
    for await (const outcome of stream) {
      const wake = waiting.get(outcome.requestId);
      if (wake) {
        waiting.delete(outcome.requestId);
        wake(outcome);
      } else known.set(outcome.requestId, outcome);
    }
  })();
  return {
    wait(id) {
      const outcome = known.get(id);
      if (outcome) {
        known.delete(id);
        return Promise.resolve(outcome);
      }
      return new Promise((resolve) => waiting.set(id, resolve));
    },
    end() {
      void stream.return(undefined);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// 1. The pool's own overhead.

interface Prepared {
  id: string;
  submission: Submission;
  /** Signed messages with their canonical bytes, as the network delivers them. */
  commitments: { message: OutputCommitment; encoded: Uint8Array }[];
  reveals: { message: OutputReveal; encoded: Uint8Array }[];
}

/** Requests with every member's commitment and reveal signed beforehand (ids are known ahead: the deadline is fixed). */
function prepare(count: number, deadline: number): Prepared[] {
  const net = testNetwork(N);
  const prepared: Prepared[] = [];
  for (let i = 0; i < count; i++) {
    const submission: Submission = {
      model: "bench",
      input: `pool overhead request ${i}`,
      entropy: taggedHash("bench/pool/entropy", String(i)),
      sampling: SAMPLING,
      policy: POLICY,
      mode: "commit-reveal",
      n: N,
      k: K,
      deadline,
    };
    const id = requestId({
      t: "request",
      v: PROTOCOL_VERSION,
      chain: net.registry.chain,
      entropy: submission.entropy,
      model: submission.model,
      input: submission.input,
      sampling: SAMPLING,
      policy: POLICY,
      mode: "commit-reveal",
      n: N,
      k: K,
      deadline,
    });
    const { output, evidence } = fixedOutput("bench", { requestId: id, model: submission.model, input: submission.input, sampling: SAMPLING });
    const commitments: Prepared["commitments"] = [];
    const reveals: Prepared["reveals"] = [];
    for (const [node, key] of net.keys) {
      const signed = commitOutput(key, { chain: net.registry.chain, request: id, node, output, evidence }, commitmentSalt(key, id));
      commitments.push({ message: signed.commitment, encoded: encodeMessage(signed.commitment) });
      reveals.push({ message: signed.reveal, encoded: encodeMessage(signed.reveal) });
    }
    prepared.push({ id: toHex(id), submission, commitments, reveals });
  }
  return prepared;
}

interface OverheadRun {
  totalMs: number[];
  submitMs: number[];
  receiveMs: number[];
}

async function overheadRun(storePath: string, requests: readonly Prepared[], warmup: number): Promise<OverheadRun> {
  const net = testNetwork(N);
  const store = new SqliteOutcomeStore({ path: storePath });
  store.open();
  const pool = createPool({
    registry: net.registry,
    sequencerKey: net.sequencer,
    network: { attach() {}, publish: async () => undefined },
    store,
    defaults: { n: N, k: K, maxInFlight: 100_000 },
  });
  await pool.start();
  const outcomes = outcomeWaiter(pool);
  const run: OverheadRun = { totalMs: [], submitMs: [], receiveMs: [] };
  try {
    for (const [index, { id: expected, submission, commitments, reveals }] of requests.entries()) {
      const started = performance.now();
      const id = await pool.submit(submission);
      const submitted = performance.now();
      if (id !== expected) throw new Error("the pool built another request than the one prepared");
      // The fifth commitment closes the commit phase at once (all n are in); the k-th reveal decides.
      for (const commitment of commitments) pool.receive(commitment.message, commitment.encoded);
      for (const reveal of reveals.slice(0, K)) pool.receive(reveal.message, reveal.encoded);
      const received = performance.now();
      const outcome = await outcomes.wait(id);
      const done = performance.now();
      if (outcome.kind !== "agreed") throw new Error(`request ${index} did not agree`);
      // The last reveal arrives after the decision (ignored as late), as on the network; not timed.
      for (const reveal of reveals.slice(K)) {
        try {
          pool.receive(reveal.message, reveal.encoded);
        } catch {
          // LATE: the request is decided.
        }
      }
      await pool.markIncluded([id], index + 1);
      if (index < warmup) continue;
      run.totalMs.push(done - started);
      run.submitMs.push(submitted - started);
      run.receiveMs.push(received - submitted);
    }
  } finally {
    outcomes.end();
    await pool.stop();
    await store.close();
  }
  return run;
}

async function overhead(dir: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const requests = prepare(OVERHEAD_WARMUP + OVERHEAD_REQUESTS, Date.now() + 3_600_000);
  const memory: OverheadRun[] = [];
  for (let run = 0; run < RUNS; run++) memory.push(await overheadRun(":memory:", requests, OVERHEAD_WARMUP));
  const disk: OverheadRun[] = [];
  for (let run = 0; run < RUNS; run++) {
    disk.push(await overheadRun(join(dir, `overhead-${run}.sqlite`), requests.slice(0, OVERHEAD_WARMUP / 4 + DISK_REQUESTS), OVERHEAD_WARMUP / 4));
  }
  const report = (prefix: string, runs: OverheadRun[]) => {
    out[`${prefix}.submit_to_ready.p50_ms`] = round3(median(runs.map((r) => percentile(r.totalMs, 50))));
    out[`${prefix}.submit_to_ready.p90_ms`] = round3(median(runs.map((r) => percentile(r.totalMs, 90))));
    out[`${prefix}.submit_to_ready.p99_ms`] = round3(median(runs.map((r) => percentile(r.totalMs, 99))));
    out[`${prefix}.submit.p50_ms`] = round3(median(runs.map((r) => percentile(r.submitMs, 50))));
    out[`${prefix}.receive_sync.p50_ms`] = round3(median(runs.map((r) => percentile(r.receiveMs, 50))));
    // One request after another: the pool's ceiling on one core when nothing else runs.
    out[`${prefix}.serial_requests_per_s`] = Math.round(median(runs.map((r) => 1000 / (r.totalMs.reduce((a, b) => a + b, 0) / r.totalMs.length))));
  };
  report("pool.overhead.store_memory", memory);
  report("pool.overhead.store_disk", disk);
  // What the signatures alone cost: per request the pool makes 2 (request, close) and checks 5.
  const net = testNetwork(N);
  const root = taggedHash("bench/pool/root", "x");
  const signature = signRoot(net.sequencer, root);
  const signMs: number[] = [];
  const verifyMs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    let started = performance.now();
    for (let i = 0; i < 500; i++) signRoot(net.sequencer, root);
    signMs.push((performance.now() - started) / 500);
    started = performance.now();
    for (let i = 0; i < 2_000; i++) net.registry.sequencer.verify(root, signature);
    verifyMs.push((performance.now() - started) / 2_000);
  }
  out["pool.overhead.ed25519_sign_ms"] = round3(median(signMs));
  out["pool.overhead.ed25519_verify_ms"] = round3(median(verifyMs));
  out["pool.overhead.signatures_ms_per_request"] = round3(2 * median(signMs) + 5 * median(verifyMs));
  return out;
}

// ---------------------------------------------------------------------------------------------
// 2. Five node processes on loopback.

interface Loopback {
  network: ConcordNetwork;
  pool: Pool;
  store: SqliteOutcomeStore;
  nodes: NodeProcess[];
  outcomes: ReturnType<typeof outcomeWaiter>;
}

async function startLoopback(dir: string, storePath: string): Promise<Loopback> {
  const devnet = await createDevnet({
    dir,
    nodes: N,
    seed: "bench-pool",
    logLevel: "warn",
    maxConcurrentJobs: 64,
    backend: (i) => ({ type: "fixed", modelSeed: "bench", delayMs: DELAYS_MS[i] as number }),
  });
  const network = await createConcordNetwork(
    { chain: devnet.chain, listen: ["/ip4/127.0.0.1/tcp/0"], privateKey: taggedHash("bench/pool/sequencer-peer", dir), handlerQueueLength: 100_000 },
    { logger: silentLogger },
  );
  const store = new SqliteOutcomeStore({ path: storePath });
  store.open();
  const pool = createPool({
    registry: createRegistry(devnet.registry),
    sequencerKey: devnet.sequencer,
    network,
    store,
    defaults: { n: N, k: K, deadlineMs: 60_000, closeGraceMs: 50, maxInFlight: 100_000 },
    tickMs: 5,
  });
  const outcomes = outcomeWaiter(pool);
  await pool.start();
  await network.start();
  const nodes: NodeProcess[] = [];
  const bootstrap = [...network.gossip.multiaddrs];
  for (const node of devnet.nodes) {
    const child = await startNodeProcess(node.id, ["--config", node.configPath, "--no-metrics", ...bootstrap.flatMap((address) => ["--bootstrap", address])]);
    nodes.push(child);
    bootstrap.push(...child.multiaddrs);
  }
  await network.waitForPeers(N, 20_000);
  return { network, pool, store, nodes, outcomes };
}

async function stopLoopback(loopback: Loopback): Promise<void> {
  await stopNodeProcesses(loopback.nodes);
  loopback.outcomes.end();
  await loopback.pool.stop();
  await loopback.network.stop();
  await loopback.store.close();
}

let sequence = 0;
/** Submits one request and resolves with its submit -> ready latency (NaN unless agreed). */
async function timedRequest(loopback: Loopback, label: string): Promise<number> {
  const i = sequence++;
  const started = performance.now();
  const id = await loopback.pool.submit({ model: "bench", input: `${label} ${i}`, entropy: taggedHash("bench/pool/loopback", String(i)), sampling: SAMPLING });
  const outcome = await loopback.outcomes.wait(id);
  return outcome.kind === "agreed" ? performance.now() - started : Number.NaN;
}

/** PACED_REQUESTS at PACED_RATE per second (open loop): their latencies. */
async function paced(loopback: Loopback): Promise<number[]> {
  const pending: Promise<number>[] = [];
  const start = performance.now();
  for (let i = 0; i < PACED_REQUESTS; i++) {
    const wait = start + (i * 1000) / PACED_RATE - performance.now();
    if (wait > 0) await sleep(wait);
    pending.push(timedRequest(loopback, "paced"));
  }
  return Promise.all(pending);
}

/**
 * SATURATION_WINDOW requests kept in flight (closed loop): after SATURATION_FILL_SECONDS to fill
 * the pipeline, agreed requests completed per second over SATURATION_SECONDS, and the latencies
 * of those completions.
 */
async function saturate(loopback: Loopback): Promise<{ agreedPerS: number; latencies: number[] }> {
  const latencies: number[] = [];
  const measureFrom = performance.now() + SATURATION_FILL_SECONDS * 1000;
  const measureTo = measureFrom + SATURATION_SECONDS * 1000;
  let inFlight = 0;
  let wake: (() => void) | undefined;
  while (performance.now() < measureTo) {
    while (inFlight < SATURATION_WINDOW) {
      inFlight++;
      void timedRequest(loopback, "saturation").then((ms) => {
        inFlight--;
        const at = performance.now();
        if (at >= measureFrom && at < measureTo && !Number.isNaN(ms)) latencies.push(ms);
        wake?.();
      });
    }
    await new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, Math.max(0, measureTo - performance.now()));
    });
  }
  // Drain before the next run.
  const drainUntil = Date.now() + 60_000;
  while (inFlight > 0 && Date.now() < drainUntil) await sleep(10);
  return { agreedPerS: latencies.length / SATURATION_SECONDS, latencies };
}

/** `prefix`: pool.loopback.store_disk or pool.loopback.store_memory. */
async function loopbackFigures(prefix: string, dir: string, storePath: string): Promise<Record<string, number>> {
  const loopback = await startLoopback(dir, storePath);
  try {
    // Warm-up: JIT, connections, the first fsyncs.
    await Promise.all(Array.from({ length: 40 }, () => timedRequest(loopback, "warmup")));
    const pacedRuns: number[][] = [];
    const saturationRuns: { agreedPerS: number; latencies: number[] }[] = [];
    for (let run = 0; run < LOOPBACK_RUNS; run++) {
      pacedRuns.push(await paced(loopback));
      saturationRuns.push(await saturate(loopback));
    }
    const agreedFraction = (values: number[]) => values.filter((v) => !Number.isNaN(v)).length / values.length;
    const ok = (values: number[]) => values.filter((v) => !Number.isNaN(v));
    return {
      [`${prefix}.saturation.agreed_per_s`]: round3(median(saturationRuns.map((r) => r.agreedPerS))),
      [`${prefix}.saturation.submit_to_ready.p50_ms`]: round3(median(saturationRuns.map((r) => percentile(r.latencies, 50)))),
      [`${prefix}.saturation.submit_to_ready.p99_ms`]: round3(median(saturationRuns.map((r) => percentile(r.latencies, 99)))),
      [`${prefix}.paced.agreed_fraction`]: round3(median(pacedRuns.map(agreedFraction))),
      [`${prefix}.paced.submit_to_ready.p50_ms`]: round3(median(pacedRuns.map((r) => percentile(ok(r), 50)))),
      [`${prefix}.paced.submit_to_ready.p90_ms`]: round3(median(pacedRuns.map((r) => percentile(ok(r), 90)))),
      [`${prefix}.paced.submit_to_ready.p99_ms`]: round3(median(pacedRuns.map((r) => percentile(ok(r), 99)))),
    };
  } finally {
    await stopLoopback(loopback);
  }
}

export async function run(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), "concord-bench-pool-"));
  try {
    const own = await overhead(dir);
    const disk = await loopbackFigures("pool.loopback.store_disk", join(dir, "disk"), join(dir, "disk", "sequencer.sqlite"));
    const memory = await loopbackFigures("pool.loopback.store_memory", join(dir, "memory"), ":memory:");
    return {
      ...own,
      "pool.loopback.nodes": N,
      "pool.loopback.k": K,
      "pool.loopback.saturation.window": SATURATION_WINDOW,
      "pool.loopback.paced.rate_per_s": PACED_RATE,
      ...disk,
      ...memory,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) console.log(JSON.stringify(await run(), null, 2));
