/**
 * How the cost of an agreed request grows with the committee: n = 5, 7, 11, 15, 31 `concord node`
 * processes (the whole network is the committee, k = ceil(2n/3)) on TCP loopback with the fixed
 * backend (no model: hash-derived text after 10..18 ms), the sequencer's pool in this process with
 * its store in memory, as in bench/network.bench.ts (whose network this reuses).
 *
 * Per n, after a warm-up, REPETITIONS bursts of burstSize(n) commit-reveal requests submitted at
 * once, with a deadline (5 min) no burst reaches, so that every request agrees (agreed_fraction:
 * the lowest share of a burst that did); for each burst:
 * - cpu_ms_per_agreed: CPU time (user + system) of all n + 1 processes from the first submit to
 *   the last decision, per agreed request (timers included: idle_cpu_ms_per_s says how much
 *   that is when nothing happens, measured just before); cpu_ms_per_agreed_net leaves the idle
 *   rate over the burst's duration out, which matters where throughput is low and n large;
 * - agreed_per_s: agreed requests per second over the burst;
 * - per request, across all processes: sha256 hashes, signatures, signature checks (counted by
 *   wrapping node:crypto, bench/counters.ts), messages accepted by nodes (deliveries, from the
 *   nodes' --trace-file) and bundles published (also from the traces, counted 2 s after the last
 *   decision so that late stand-ins show).
 * Each figure is the median of the bursts, with min and max (the run-to-run spread);
 * `per_n` divides CPU per agreed request by n (flat means cost grows linearly in n), and
 * `ratio_to_n5` divides by the n = 5 figure of the same run.
 *
 * Each size runs once per vote routing (spec/06, "Vote routing"), keys `scaling.{route}.n{n}.*`:
 * `gossip`, where every member receives and checks every other member's votes, and `sequencer`,
 * where votes go to the pool only. CONCORD_SCALING_VOTES=sequencer runs one of them.
 *
 * In-process (`scaling.inprocess.{route}.n{n}.*`): the same sizes and routings with every node a
 * libp2p host over the memory transport in this one process (test/helpers/inprocess-cluster.ts:
 * noise, yamux, gossipsub, a Participant with a real slashing-protection file, the fixed backend,
 * the pool beside them). One event loop on one core: no process switches, no per-process timers,
 * so CPU per agreed request is the protocol's work alone, the figure whose growth in n the
 * process runs blur on two cores. Per n: a warm-up, then INPROCESS_BURSTS bursts of
 * burstSize(n) requests; CPU is this process's (user + system) from the first submit to the last
 * outcome per agreed request, and deliveries the messages handed to the nodes per request.
 * CONCORD_SCALING_INPROCESS=0 skips it, CONCORD_SCALING_PROCESSES=0 the process runs.
 *
 * CONCORD_SCALING_SIZES=5,7 runs some sizes only. CONCORD_SCALING_BEFORE=<dir> runs this file as
 * it is in <dir> too (a `git worktree` of an older commit with this bench copied in), first, and
 * reports its figures as scaling.before.*: the old code measured in the same run (for the sizes
 * in CONCORD_SCALING_BEFORE_SIZES, default all).
 *
 * Run alone: `npx node bench/scaling.bench.ts` (or `npm run bench scaling`).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { allCounts, installCounters } from "./counters.ts";
import { burst, cpuMs, startNetwork, stopNetwork, submit, waitFor } from "./network.bench.ts";
import { VOTE_ROUTES, type VoteRoute } from "../src/net/topics.ts";
import { taggedHash } from "../src/wire/hash.ts";
import { startInProcessCluster, waitForCluster } from "../test/helpers/inprocess-cluster.ts";

const SIZES = [5, 7, 11, 15, 31];
const REPETITIONS = 3;
/** Requests per burst: enough for a steady state, few enough that n = 31 ends in a minute. */
const burstSize = (n: number) => (n <= 5 ? 150 : n <= 7 ? 100 : n <= 11 ? 60 : n <= 15 ? 40 : 24);
const DEADLINE_MS = 300_000;
const COUNTERS = fileURLToPath(new URL("./counters.ts", import.meta.url));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round2 = (value: number) => Math.round(value * 100) / 100;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Bundles published and messages accepted by the nodes, for the given requests (hex ids). */
function traced(files: readonly string[], ids: ReadonlySet<string>): { bundles: number; deliveries: number } {
  let bundles = 0;
  let deliveries = 0;
  for (const file of files) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n")) {
      if (line.length === 0) continue;
      const entry = JSON.parse(line) as { direction: string; kind: string; request: string };
      if (!ids.has(entry.request)) continue;
      if (entry.direction === "in") deliveries++;
      else if (entry.kind === "bundle") bundles++;
    }
  }
  return { bundles, deliveries };
}

interface BurstFigures {
  agreedFraction: number;
  cpuMsPerAgreed: number;
  netCpuMsPerAgreed: number;
  agreedPerS: number;
  sha256: number;
  verifies: number;
  signs: number;
  deliveries: number;
  bundles: number;
}

async function measure(n: number, votes: VoteRoute, dir: string): Promise<{ bursts: BurstFigures[]; idleCpuMsPerS: number }> {
  const countsDir = join(dir, "counts");
  mkdirSync(countsDir, { recursive: true });
  const net = await startNetwork(join(dir, "net"), ":memory:", {
    nodes: n,
    k: Math.ceil((2 * n) / 3),
    env: { NODE_OPTIONS: `--import=${COUNTERS}`, CONCORD_BENCH_COUNTS: countsDir },
    // Longer than a burst takes even at n = 31 on a loaded 2-core machine: CPU per agreed request
    // means nothing when the deadline turns requests into NoAgreement.
    deadlineMs: DEADLINE_MS,
    votes,
  });
  try {
    const warm: string[] = [];
    for (let i = 0; i < burstSize(n); i++) warm.push(await submit(net, "commit-reveal", `scaling-warmup-${n}`));
    await waitFor(net, warm, DEADLINE_MS);
    // Idle: after stand-ins' waits and what else the warm-up left, the lower of two 2 s windows.
    await sleep(4_000);
    const idleWindows: number[] = [];
    for (let i = 0; i < 2; i++) {
      const idleStart = cpuMs(net);
      await sleep(2_000);
      idleWindows.push((cpuMs(net) - idleStart) / 2);
    }
    const idleCpuMsPerS = Math.min(...idleWindows);
    const bursts: BurstFigures[] = [];
    const pids = net.nodes.map(({ child }) => child.pid as number);
    for (let rep = 0; rep < REPETITIONS; rep++) {
      const before = await allCounts(countsDir, pids);
      const known = new Set(net.tracks.keys());
      const figures = await burst(net, burstSize(n), DEADLINE_MS);
      const after = await allCounts(countsDir, pids);
      const ids = new Set([...net.tracks.keys()].filter((id) => !known.has(id)));
      await sleep(2_000);
      const { bundles, deliveries } = traced(net.traceFiles, ids);
      const requests = ids.size;
      const agreed = [...ids].filter((id) => net.tracks.get(id)?.outcome === "agreed").length;
      bursts.push({
        agreedFraction: agreed / requests,
        cpuMsPerAgreed: figures.cpuMsPerAgreed,
        // Idle CPU per second over the burst (1 / agreed per second: its seconds per request).
        netCpuMsPerAgreed: figures.cpuMsPerAgreed - idleCpuMsPerS / figures.agreedPerS,
        agreedPerS: figures.agreedPerS,
        sha256: (after.sha256 - before.sha256) / requests,
        verifies: (after.verifies - before.verifies) / requests,
        signs: (after.signs - before.signs) / requests,
        deliveries: deliveries / requests,
        bundles: bundles / requests,
      });
    }
    return { bursts, idleCpuMsPerS };
  } finally {
    await stopNetwork(net);
  }
}

const INPROCESS_BURSTS = 3;

/** CPU of this process so far, ms. */
const ownCpuMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

async function measureInProcess(n: number, votes: VoteRoute): Promise<{ cpuMsPerAgreed: number; agreedPerS: number; deliveries: number; agreedFraction: number }[]> {
  const k = Math.ceil((2 * n) / 3);
  const cluster = await startInProcessCluster({ nodes: n, seed: `bench-scaling-${n}-${votes}`, votes, dials: 6, delayMs: 10, pool: { n, k, deadlineMs: DEADLINE_MS, closeGraceMs: 50 } });
  let sequence = 0;
  const burstOf = async (count: number) => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const label = `scaling ${votes} ${n} ${sequence++}`;
      ids.push(await cluster.pool.submit({ model: "m", input: label, entropy: taggedHash("bench/scaling", label), mode: "commit-reveal" }));
    }
    const deadline = Date.now() + DEADLINE_MS;
    while (!ids.every((id) => cluster.outcomes.has(id)) && Date.now() < deadline) await sleep(5);
    return ids;
  };
  try {
    await waitForCluster(cluster, 120_000, { settleMs: 3_000 });
    await burstOf(burstSize(n));
    await sleep(1_000);
    const bursts = [];
    for (let b = 0; b < INPROCESS_BURSTS; b++) {
      const delivered = cluster.nodes.reduce((sum, node) => sum + node.deliveries, 0);
      const cpu = ownCpuMs();
      const started = performance.now();
      const ids = await burstOf(burstSize(n));
      const seconds = (performance.now() - started) / 1000;
      const spent = ownCpuMs() - cpu;
      const agreed = ids.filter((id) => cluster.outcomes.get(id)?.kind === "agreed").length;
      bursts.push({
        cpuMsPerAgreed: spent / Math.max(1, agreed),
        agreedPerS: agreed / seconds,
        deliveries: (cluster.nodes.reduce((sum, node) => sum + node.deliveries, 0) - delivered) / ids.length,
        agreedFraction: agreed / ids.length,
      });
      await sleep(500);
    }
    return bursts;
  } finally {
    await cluster.stop();
  }
}

function routesFromEnv(): VoteRoute[] {
  const text = process.env.CONCORD_SCALING_VOTES;
  if (!text) return [...VOTE_ROUTES];
  const routes = text.split(",").map((part) => part.trim());
  for (const route of routes) if (!(VOTE_ROUTES as readonly string[]).includes(route)) throw new Error(`CONCORD_SCALING_VOTES: ${route} is not one of ${VOTE_ROUTES.join(", ")}`);
  return routes as VoteRoute[];
}

function sizesFromEnv(): number[] {
  const text = process.env.CONCORD_SCALING_SIZES;
  if (!text) return SIZES;
  return text.split(",").map((part) => Number(part.trim())).filter((n) => Number.isSafeInteger(n) && n >= 3);
}

/** This bench as it is in another worktree (the code before a change), as a child process. */
function runBefore(worktree: string, sizes: readonly number[]): Record<string, number> {
  const output = execFileSync(process.execPath, ["--disable-warning=ExperimentalWarning", join(worktree, "bench", "scaling.bench.ts")], {
    cwd: worktree,
    env: { ...process.env, CONCORD_SCALING_BEFORE: "", CONCORD_SCALING_SIZES: sizes.join(",") },
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const figures = JSON.parse(output.slice(output.indexOf("{"))) as Record<string, number>;
  return Object.fromEntries(Object.entries(figures).map(([key, value]) => [key.replace(/^scaling\./, "scaling.before."), value]));
}

export async function run(): Promise<Record<string, number>> {
  installCounters();
  const sizes = sizesFromEnv();
  const out: Record<string, number> = {};
  const beforeTree = process.env.CONCORD_SCALING_BEFORE;
  const beforeSizes = process.env.CONCORD_SCALING_BEFORE_SIZES?.split(",").map(Number) ?? sizes;
  if (beforeTree) Object.assign(out, runBefore(beforeTree, beforeSizes));
  for (const votes of process.env.CONCORD_SCALING_PROCESSES === "0" ? [] : routesFromEnv()) {
    const base: { cpu_ms_per_agreed?: number; cpu_ms_per_agreed_net?: number } = {};
    for (const n of sizes) {
      const dir = mkdtempSync(join(tmpdir(), `concord-bench-scaling-${n}-`));
      const prefix = `scaling.${votes}.n${n}`;
      try {
        const { bursts, idleCpuMsPerS } = await measure(n, votes, dir);
        out[`${prefix}.k`] = Math.ceil((2 * n) / 3);
        out[`${prefix}.requests_per_burst`] = burstSize(n);
        // Median, spread, per member and against n = 5, for the CPU and the CPU net of idle.
        for (const [key, values] of [["cpu_ms_per_agreed", bursts.map((b) => b.cpuMsPerAgreed)], ["cpu_ms_per_agreed_net", bursts.map((b) => b.netCpuMsPerAgreed)]] as const) {
          const middle = median(values);
          if (n === 5) base[key] = middle;
          out[`${prefix}.${key}.median`] = round2(middle);
          out[`${prefix}.${key}.min`] = round2(Math.min(...values));
          out[`${prefix}.${key}.max`] = round2(Math.max(...values));
          out[`${prefix}.${key}.per_n`] = round2(middle / n);
          const first = base[key];
          if (first !== undefined) out[`${prefix}.${key}.ratio_to_n5`] = round2(middle / first);
        }
        const agreed = bursts.map((b) => b.agreedPerS);
        out[`${prefix}.agreed_per_s.median`] = round2(median(agreed));
        out[`${prefix}.agreed_per_s.min`] = round2(Math.min(...agreed));
        out[`${prefix}.agreed_per_s.max`] = round2(Math.max(...agreed));
        out[`${prefix}.idle_cpu_ms_per_s`] = round2(idleCpuMsPerS);
        out[`${prefix}.agreed_fraction`] = round2(Math.min(...bursts.map((b) => b.agreedFraction)));
        for (const key of ["sha256", "verifies", "signs", "deliveries", "bundles"] as const) {
          out[`${prefix}.per_request.${key}`] = round2(median(bursts.map((b) => b[key])));
        }
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        console.error(`scaling n=${n}: ${message}`);
        // A network that does not form is a result too (before the colocation fix, n = 15 did not).
        if (message.includes("peers subscribed")) out[`${prefix}.formed`] = 0;
        else throw error;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  if (process.env.CONCORD_SCALING_INPROCESS !== "0") {
    for (const votes of routesFromEnv()) {
      let base: number | undefined;
      for (const n of sizes) {
        const prefix = `scaling.inprocess.${votes}.n${n}`;
        const bursts = await measureInProcess(n, votes);
        const cpu = bursts.map((b) => b.cpuMsPerAgreed);
        const cpuMedian = median(cpu);
        if (n === sizes[0]) base = cpuMedian / n;
        out[`${prefix}.cpu_ms_per_agreed.median`] = round2(cpuMedian);
        out[`${prefix}.cpu_ms_per_agreed.min`] = round2(Math.min(...cpu));
        out[`${prefix}.cpu_ms_per_agreed.max`] = round2(Math.max(...cpu));
        out[`${prefix}.cpu_ms_per_agreed.per_n`] = round2(cpuMedian / n);
        // Flat (1) where cost grows linearly in n: CPU ÷ n against the smallest size's.
        if (base !== undefined) out[`${prefix}.cpu_ms_per_agreed.per_n_ratio`] = round2(cpuMedian / n / base);
        out[`${prefix}.agreed_per_s.median`] = round2(median(bursts.map((b) => b.agreedPerS)));
        out[`${prefix}.per_request.deliveries`] = round2(median(bursts.map((b) => b.deliveries)));
        out[`${prefix}.agreed_fraction`] = round2(Math.min(...bursts.map((b) => b.agreedFraction)));
        console.error(`scaling in-process ${votes} n=${n}: ${JSON.stringify(bursts)}`);
      }
    }
  }
  return out;
}

if (import.meta.main) console.log(JSON.stringify(await run(), null, 2));
