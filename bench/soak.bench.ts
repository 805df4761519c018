/**
 * Memory under steady load: does a node's (and the pool's) memory level off? Five `concord node`
 * processes on TCP loopback with the fixed backend (no model: hash-derived text after 10..18 ms),
 * the sequencer's pool in this process with its outcome store on disk, requests submitted at a
 * steady paced rate (commit-reveal, n = 5, k = 4), and a sequencer's block loop: every
 * BLOCK_INTERVAL_MS, `ready()` and `markIncluded` (a pool whose bundles are never included holds
 * them for the next block, by design).
 *
 * Every SAMPLE_S seconds: the RSS of each node process (/proc/<pid>/status) and its heap used and
 * request-book size (its /metrics endpoint: nodejs_heap_size_used_bytes, concord_requests_followed),
 * and the same for the pool (this process: the pool, its libp2p node, the bench's counters).
 *
 * The verdict is a growth rate: a least-squares slope (MB/min) of each process's RSS over the
 * first half of the run and over the second half. A leak keeps its slope; a cache filling to its
 * cap has a slope in the first half and about none in the second. `levels_off` is 1 when every
 * process's second-half RSS slope is under LEVEL_MB_PER_MIN (and so the figures say which grew).
 *
 * Settings (environment): CONCORD_SOAK_MINUTES (default 2; the one-hour soak is 60),
 * CONCORD_SOAK_RATE (requests/s, default 20), CONCORD_SOAK_SAMPLE_S (default 5).
 * Writes bench/results/soak-detail.json (every sample) besides the figures.
 *
 * Run: `npm run bench soak`, or for an hour in the background:
 *   CONCORD_SOAK_MINUTES=60 nice -n 10 npm run bench soak > soak.log 2>&1 &
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createDevnet } from "../src/cli/devnet.ts";
import { startNodeProcess, stopNodeProcesses, type NodeProcess } from "../src/cli/processes.ts";
import { createConcordNetwork, type ConcordNetwork } from "../src/net/concord.ts";
import { silentLogger } from "../src/net/logger.ts";
import { createRegistry } from "../src/quorum/registry.ts";
import { createPool, type Pool } from "../src/sequencer/pool.ts";
import { SqliteOutcomeStore } from "../src/sequencer/store.ts";
import { taggedHash, toHex } from "../src/wire/hash.ts";
import { requestId } from "../src/wire/ids.ts";

const NODES = 5;
const K = 4;
const DELAYS_MS = [10, 12, 14, 16, 18];
const BLOCK_INTERVAL_MS = 2_000;
/** Second-half RSS growth under this (MB/min) counts as levelled off: 60 MB an hour at most. */
const LEVEL_MB_PER_MIN = 1;

function setting(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, not ${raw}`);
  return value;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round2 = (value: number) => Math.round(value * 100) / 100;
const MB = 1024 * 1024;

/** One process at one moment. */
interface Sample {
  /** Minutes since load started. */
  minute: number;
  rssMb: number;
  heapUsedMb: number;
  /** Requests in the process's request book. */
  book: number;
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmRSS for ${pid}`);
  return (Number(kib) * 1024) / MB;
}

/** A gauge's value from a node's /metrics text. */
function gauge(text: string, name: string): number {
  const value = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, "m").exec(text)?.[1];
  return value === undefined ? Number.NaN : Number(value);
}

async function sampleNode(node: NodeProcess, minute: number): Promise<Sample> {
  const text = await (await fetch(`http://127.0.0.1:${node.metricsPort}/metrics`)).text();
  return {
    minute,
    rssMb: rssOf(node.child.pid as number),
    heapUsedMb: gauge(text, "nodejs_heap_size_used_bytes") / MB,
    book: gauge(text, "concord_requests_followed"),
  };
}

function samplePool(pool: Pool, minute: number): Sample {
  const memory = process.memoryUsage();
  return { minute, rssMb: memory.rss / MB, heapUsedMb: memory.heapUsed / MB, book: pool.book.size };
}

/** Least-squares slope of `value` against minutes. */
function slope(samples: readonly Sample[], value: (sample: Sample) => number): number {
  if (samples.length < 2) return Number.NaN;
  const mx = samples.reduce((sum, s) => sum + s.minute, 0) / samples.length;
  const my = samples.reduce((sum, s) => sum + value(s), 0) / samples.length;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.minute - mx) * (value(s) - my);
    den += (s.minute - mx) ** 2;
  }
  return num / den;
}

interface Growth {
  rssStartMb: number;
  rssEndMb: number;
  rssFirstHalfMbPerMin: number;
  rssSecondHalfMbPerMin: number;
  heapEndMb: number;
  heapFirstHalfMbPerMin: number;
  heapSecondHalfMbPerMin: number;
  bookEnd: number;
}

function growth(samples: readonly Sample[]): Growth {
  const last = samples.at(-1) as Sample;
  const half = last.minute / 2;
  const first = samples.filter((s) => s.minute <= half);
  const second = samples.filter((s) => s.minute >= half);
  return {
    rssStartMb: (samples[0] as Sample).rssMb,
    rssEndMb: last.rssMb,
    rssFirstHalfMbPerMin: slope(first, (s) => s.rssMb),
    rssSecondHalfMbPerMin: slope(second, (s) => s.rssMb),
    heapEndMb: last.heapUsedMb,
    heapFirstHalfMbPerMin: slope(first, (s) => s.heapUsedMb),
    heapSecondHalfMbPerMin: slope(second, (s) => s.heapUsedMb),
    bookEnd: last.book,
  };
}

export async function run(): Promise<Record<string, number>> {
  if (process.platform !== "linux") throw new Error("the soak bench reads /proc: Linux only");
  const minutes = setting("CONCORD_SOAK_MINUTES", 2);
  const rate = setting("CONCORD_SOAK_RATE", 20);
  const sampleMs = setting("CONCORD_SOAK_SAMPLE_S", 5) * 1000;
  const dir = mkdtempSync(join(tmpdir(), "concord-bench-soak-"));
  const devnet = await createDevnet({
    dir,
    nodes: NODES,
    seed: "bench-soak",
    logLevel: "warn",
    maxConcurrentJobs: 64,
    backend: (i) => ({ type: "fixed", modelSeed: "bench", delayMs: DELAYS_MS[i] as number }),
  });
  const network: ConcordNetwork = await createConcordNetwork(
    { chain: devnet.chain, listen: ["/ip4/127.0.0.1/tcp/0"], privateKey: taggedHash("bench/soak-peer", dir) },
    { logger: silentLogger },
  );
  const store = new SqliteOutcomeStore({ path: join(dir, "sequencer.sqlite") });
  store.open();
  const pool = createPool({ registry: createRegistry(devnet.registry), sequencerKey: devnet.sequencer, network, store, defaults: { n: NODES, k: K } });
  const nodes: NodeProcess[] = [];
  const counts = { submitted: 0, refused: 0, agreed: 0, noAgreement: 0, included: 0 };
  let stopped = false;
  try {
    await pool.start();
    await network.start();
    const bootstrap = [...network.gossip.multiaddrs];
    for (const node of devnet.nodes) {
      // A minute to start: the long run goes at nice 10 beside other work.
      const child = await startNodeProcess(node.id, ["--config", node.configPath, ...bootstrap.flatMap((address) => ["--bootstrap", address])], { timeoutMs: 60_000 });
      nodes.push(child);
      bootstrap.push(...child.multiaddrs);
    }
    await network.waitForPeers(NODES, 60_000);
    void (async () => {
      for await (const outcome of pool.outcomes()) {
        if (outcome.kind === "agreed") counts.agreed++;
        else counts.noAgreement++;
      }
    })();
    // The sequencer's blocks: what is ready goes in, so the pool holds only what awaits a block.
    const blocks = (async () => {
      for (let block = 1; !stopped; block++) {
        await sleep(BLOCK_INTERVAL_MS);
        const ready = await pool.ready();
        if (ready.length === 0) continue;
        await pool.markIncluded(ready.map((bundle) => toHex(requestId(bundle.request))), block);
        counts.included += ready.length;
      }
    })();

    const series: Record<string, Sample[]> = { pool: [], ...Object.fromEntries(nodes.map((n) => [n.id, [] as Sample[]])) };
    const started = performance.now();
    const minuteNow = () => (performance.now() - started) / 60_000;
    const sample = async () => {
      const minute = minuteNow();
      series.pool?.push(samplePool(pool, minute));
      for (const node of nodes) series[node.id]?.push(await sampleNode(node, minute));
    };
    await sample();
    let nextSample = started + sampleMs;
    const total = Math.round(minutes * 60 * rate);
    for (let i = 0; i < total; i++) {
      const wait = started + (i * 1000) / rate - performance.now();
      if (wait > 0) await sleep(wait);
      pool.submit({ model: "bench", input: `soak request ${i}`, entropy: taggedHash("bench/soak/entropy", String(i)) }).then(
        () => void counts.submitted++,
        () => void counts.refused++,
      );
      if (performance.now() >= nextSample) {
        // From now, not from the last due time: a loop that fell behind samples once, not at every request.
        nextSample = performance.now() + sampleMs;
        await sample();
        const last = series.pool?.at(-1) as Sample;
        const nodeRss = nodes.map((n) => series[n.id]?.at(-1)?.rssMb ?? Number.NaN);
        console.error(
          `soak ${last.minute.toFixed(1)} min: pool rss ${last.rssMb.toFixed(0)} MB, nodes rss ${nodeRss.map((v) => v.toFixed(0)).join("/")} MB, agreed ${counts.agreed}, no-agreement ${counts.noAgreement}, refused ${counts.refused}`,
        );
      }
    }
    await sample();
    stopped = true;
    await blocks;

    const figures: Record<string, number> = {
      "soak.minutes": round2(minuteNow()),
      "soak.rate_per_s": rate,
      "soak.requests": total,
      "soak.agreed_fraction": round2(counts.agreed / total),
      "soak.refused": counts.refused,
    };
    const perProcess: Record<string, Growth> = {};
    for (const [name, samples] of Object.entries(series)) perProcess[name] = growth(samples);
    const nodeGrowth = nodes.map((n) => perProcess[n.id] as Growth);
    const poolGrowth = perProcess.pool as Growth;
    const max = (pick: (g: Growth) => number) => round2(Math.max(...nodeGrowth.map(pick)));
    const median = (pick: (g: Growth) => number) => round2([...nodeGrowth.map(pick)].sort((a, b) => a - b)[Math.floor(nodeGrowth.length / 2)] as number);
    figures["soak.node.rss_start_mb.median"] = median((g) => g.rssStartMb);
    figures["soak.node.rss_end_mb.median"] = median((g) => g.rssEndMb);
    figures["soak.node.rss_end_mb.max"] = max((g) => g.rssEndMb);
    figures["soak.node.rss_first_half_mb_per_min.max"] = max((g) => g.rssFirstHalfMbPerMin);
    figures["soak.node.rss_second_half_mb_per_min.max"] = max((g) => g.rssSecondHalfMbPerMin);
    figures["soak.node.heap_end_mb.max"] = max((g) => g.heapEndMb);
    figures["soak.node.heap_first_half_mb_per_min.max"] = max((g) => g.heapFirstHalfMbPerMin);
    figures["soak.node.heap_second_half_mb_per_min.max"] = max((g) => g.heapSecondHalfMbPerMin);
    figures["soak.node.book_end.max"] = max((g) => g.bookEnd);
    figures["soak.pool.rss_start_mb"] = round2(poolGrowth.rssStartMb);
    figures["soak.pool.rss_end_mb"] = round2(poolGrowth.rssEndMb);
    figures["soak.pool.rss_first_half_mb_per_min"] = round2(poolGrowth.rssFirstHalfMbPerMin);
    figures["soak.pool.rss_second_half_mb_per_min"] = round2(poolGrowth.rssSecondHalfMbPerMin);
    figures["soak.pool.heap_end_mb"] = round2(poolGrowth.heapEndMb);
    figures["soak.pool.heap_second_half_mb_per_min"] = round2(poolGrowth.heapSecondHalfMbPerMin);
    figures["soak.pool.book_end"] = poolGrowth.bookEnd;
    figures["soak.levels_off"] = Object.values(perProcess).every((g) => g.rssSecondHalfMbPerMin < LEVEL_MB_PER_MIN) ? 1 : 0;

    const resultsDir = fileURLToPath(new URL("./results/", import.meta.url));
    writeFileSync(
      join(resultsDir, "soak-detail.json"),
      `${JSON.stringify({ minutes, rate, sampleSeconds: sampleMs / 1000, counts, growth: perProcess, samples: series }, null, 1)}\n`,
    );
    return figures;
  } finally {
    stopped = true;
    await stopNodeProcesses(nodes);
    await pool.stop();
    await network.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) console.log(JSON.stringify(await run(), null, 2));
