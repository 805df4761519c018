/**
 * Batch signatures and vote routing at saturation (spec/04 and spec/06, "Batching", "Vote
 * routing"): the network of bench/network.bench.ts (five `concord node` processes on TCP
 * loopback, the fixed backend, the pool in this process, n = 5, k = 4, commit-reveal), in one
 * run on one machine, four ways: `plain` (the defaults: plain signatures, votes gossiped),
 * `batched` (every node and the pool batching over BATCH_WINDOW_MS), `routed` (votes sent to
 * the sequencer), and `routed_batched` (both).
 *
 * For each: BURSTS bursts of BURST_REQUESTS requests submitted at once (batches run full: the
 * pool signs up to 64 requests, and later closes, per signature, and each node its
 * commitments); per burst the agreed requests per second until the last is decided, the CPU
 * time of all six processes per agreed request (Linux /proc), and the signatures made and
 * checked per agreed request (node:crypto calls, bench/counters.ts; a batch signature the
 * verifier found in its cache is no call). Messages of one topic published in one turn travel
 * in envelopes (spec/03) in all four ways.
 * Figures are medians over the bursts, with min and max; `ratio.<way>.*` is that way over plain.
 *
 * Run alone: `npm run bench batched`.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { allCounts, installCounters } from "./counters.ts";
import { burst, startNetwork, stopNetwork, submit, waitFor } from "./network.bench.ts";
import type { VoteRoute } from "../src/net/topics.ts";

const COUNTERS = fileURLToPath(new URL("./counters.ts", import.meta.url));
const BATCH_WINDOW_MS = 10;
const WARMUP_REQUESTS = 40;
/** Large enough that the pipeline runs full (batches of up to 64) for most of a burst. */
const BURST_REQUESTS = 1000;
const BURSTS = 5;

const round2 = (value: number) => Math.round(value * 100) / 100;
const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

interface Burst {
  agreedPerS: number;
  cpuMsPerAgreed: number;
  signsPerAgreed: number;
  verifiesPerAgreed: number;
}

async function measure(dir: string, batchWindowMs: number, votes: VoteRoute): Promise<Burst[]> {
  const countsDir = join(dir, "counts");
  mkdirSync(countsDir, { recursive: true });
  const net = await startNetwork(join(dir, "net"), ":memory:", {
    env: { NODE_OPTIONS: `--import=${COUNTERS}`, CONCORD_BENCH_COUNTS: countsDir },
    ...(batchWindowMs > 0 ? { batchWindowMs } : {}),
    votes,
  });
  try {
    const warm: string[] = [];
    for (let i = 0; i < WARMUP_REQUESTS; i++) warm.push(await submit(net, "commit-reveal", `batched-warmup-${batchWindowMs}`));
    await waitFor(net, warm, 30_000);
    const bursts: Burst[] = [];
    const pids = net.nodes.map(({ child }) => child.pid as number);
    for (let b = 0; b < BURSTS; b++) {
      const before = await allCounts(countsDir, pids);
      const agreedBefore = net.pool.counters.agreed;
      const { agreedPerS, cpuMsPerAgreed } = await burst(net, BURST_REQUESTS);
      // Stand-in aggregators' bundles and the store settle after the last outcome.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const after = await allCounts(countsDir, pids);
      const agreed = Math.max(1, net.pool.counters.agreed - agreedBefore);
      bursts.push({ agreedPerS, cpuMsPerAgreed, signsPerAgreed: (after.signs - before.signs) / agreed, verifiesPerAgreed: (after.verifies - before.verifies) / agreed });
    }
    return bursts;
  } finally {
    await stopNetwork(net).catch(() => undefined);
  }
}

export async function run(): Promise<Record<string, number>> {
  installCounters();
  const out: Record<string, number> = { "batched.window_ms": BATCH_WINDOW_MS, "batched.burst_requests": BURST_REQUESTS, "batched.bursts": BURSTS };
  const medians: Record<string, Record<string, number>> = {};
  const ways = [
    ["plain", 0, "gossip"],
    ["batched", BATCH_WINDOW_MS, "gossip"],
    ["routed", 0, "sequencer"],
    ["routed_batched", BATCH_WINDOW_MS, "sequencer"],
  ] as const;
  for (const [name, window, votes] of ways) {
    const dir = mkdtempSync(join(tmpdir(), `concord-bench-batched-${name}-`));
    try {
      const bursts = await measure(dir, window, votes);
      medians[name] = {};
      for (const key of ["agreedPerS", "cpuMsPerAgreed", "signsPerAgreed", "verifiesPerAgreed"] as const) {
        const values = bursts.map((b) => b[key]);
        const label = { agreedPerS: "agreed_per_s", cpuMsPerAgreed: "cpu_ms_per_agreed", signsPerAgreed: "signs_per_agreed", verifiesPerAgreed: "verifies_per_agreed" }[key];
        (medians[name] as Record<string, number>)[label] = median(values);
        out[`batched.${name}.${label}.median`] = round2(median(values));
        out[`batched.${name}.${label}.min`] = round2(Math.min(...values));
        out[`batched.${name}.${label}.max`] = round2(Math.max(...values));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  for (const [name] of ways.slice(1)) {
    for (const label of ["agreed_per_s", "cpu_ms_per_agreed", "signs_per_agreed", "verifies_per_agreed"]) {
      out[`batched.ratio.${name}.${label}`] = round2((medians[name]?.[label] as number) / (medians.plain?.[label] as number));
    }
  }
  return out;
}

if (import.meta.main) console.log(JSON.stringify(await run(), null, 2));
