/**
 * `concord demo`: a local network of node processes with the synthetic backend and an
 * embedded sequencer pool on 127.0.0.1. It streams a mix of requests, shows live progress, and
 * ends with a table comparing each policy with what first-wins would have accepted on the same
 * requests: how often first-wins' answer lacked quorum support, and the latency each rule paid.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { ConcordError } from "../errors.ts";
import { createConcordNetwork, type ConcordNetwork } from "../net/concord.ts";
import { BYZANTINE_MODES } from "../node/config.ts";
import { createRegistry } from "../quorum/registry.ts";
import { createPool, type Pool, type PoolOutcome } from "../sequencer/pool.ts";
import { SqliteOutcomeStore } from "../sequencer/store.ts";
import { rootKey, streamOf } from "../sim/prng.ts";
import { taggedHash, toHex } from "../wire/hash.ts";
import type { Message, PolicyRef, SamplingParams } from "../wire/types.ts";
import { createDevnet } from "./devnet.ts";
import { startNodeProcess, stopNodeProcesses, type NodeProcess } from "./processes.ts";


export interface DemoOptions {
  nodes: number;
  requests: number;
  /** Requests submitted per second. */
  rate: number;
  seed: string;
  /** Byzantine modes, one node each (the last nodes). */
  byzantine: string[];
  json: boolean;
  /** Keep the devnet folder (keys, registry, databases) instead of deleting it. */
  keep?: string;
}

/** Emulated inference latency of the fastest honest node; each next node is 40 ms slower. */
const HONEST_DELAY_MS = 150;
/**
 * Jobs a demo node runs at once. The emulated latency holds a job's slot the way a GPU batch
 * would, so with the node default (2) the slower nodes fell behind 10 requests/s and the demo
 * showed queueing, not the protocol; the model itself still decodes one job at a time.
 */
const DEMO_CONCURRENT_JOBS = 8;

interface Kind {
  label: string;
  policy: PolicyRef;
  sampling: (maxTokens: number) => SamplingParams;
}

/** The request mix: greedy exact, sampled seeded with fork tolerance, sampled semantic. */
const KINDS: Kind[] = [
  { label: "exact, greedy", policy: { id: "exact", version: 1, params: {} }, sampling: (maxTokens) => ({ temperatureMilli: 0, topK: 0, topPPpm: 1_000_000, maxTokens }) },
  {
    label: "seeded, T=0.7",
    policy: { id: "seeded", version: 1, params: { epsPpm: 50_000 } },
    sampling: (maxTokens) => ({ temperatureMilli: 700, topK: 50, topPPpm: 950_000, maxTokens }),
  },
  {
    label: "semantic, T=0.7",
    policy: { id: "semantic", version: 2, params: { thetaPpm: 600_000 } },
    sampling: (maxTokens) => ({ temperatureMilli: 700, topK: 50, topPPpm: 950_000, maxTokens }),
  },
];

const PROMPTS = [
  "Summarize the proposal to raise the lending cap",
  "Classify the sentiment of this governance forum post",
  "Which collateral type carries the highest risk today",
  "Explain why the oracle price deviated from the market",
  "Draft a one-line reply to the liquidation dispute",
  "Is this transaction likely to be a sandwich attack",
  "Name the asset with the most volume in the last block",
  "Describe the risk of the new bridge contract",
];

interface Track {
  kind: Kind;
  submittedAt: number;
  firstCommitAt?: number;
  firstCommitter?: string;
  outcome?: PoolOutcome;
  decidedAt?: number;
}

export interface DemoRow {
  rule: string;
  requests: number;
  agreed: number;
  noAgreement: number;
  pending: number;
  quorumLatencyP50Ms: number | null;
  quorumLatencyP95Ms: number | null;
  firstWinsLatencyP50Ms: number | null;
  firstWinsLatencyP95Ms: number | null;
  /** Requests where first-wins' answer was not supported by a quorum. */
  firstWinsUnsupported: number;
}

export interface DemoSummary {
  nodes: number;
  byzantine: string[];
  seed: string;
  rows: DemoRow[];
  evidence: number;
  badBundles: number;
}

function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export async function runDemo(options: DemoOptions, out: { progress: (line: string, final?: boolean) => void }): Promise<DemoSummary> {
  for (const mode of options.byzantine) {
    if (!(BYZANTINE_MODES as readonly string[]).includes(mode)) {
      throw new ConcordError("CONFIG", "unknown byzantine mode", { details: `${mode}; choose from ${BYZANTINE_MODES.join(", ")}` });
    }
  }
  if (options.byzantine.length * 3 >= options.nodes) {
    throw new ConcordError("CONFIG", "too many byzantine nodes", { details: `${options.byzantine.length} of ${options.nodes}: keep them below a third` });
  }
  const dir = options.keep ?? mkdtempSync(join(tmpdir(), "concord-demo-"));
  const devnet = await createDevnet({ dir, nodes: options.nodes, logLevel: "warn", maxConcurrentJobs: DEMO_CONCURRENT_JOBS });
  const registry = createRegistry(devnet.registry);
  const children: NodeProcess[] = [];
  let network: ConcordNetwork | undefined;
  let pool: Pool | undefined;
  let store: SqliteOutcomeStore | undefined;
  const cleanup = async () => {
    await pool?.stop();
    await stopNodeProcesses(children);
    await network?.stop();
    await store?.close();
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = () => {
    out.progress("interrupted: stopping every node", true);
    void cleanup().then(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    network = await createConcordNetwork(
      { chain: devnet.chain, listen: ["/ip4/127.0.0.1/tcp/0"], privateKey: taggedHash("demo/sequencer-peer", options.seed) },
      { logger: pino({ level: "silent" }) },
    );
    store = new SqliteOutcomeStore({ path: join(dir, "sequencer.sqlite") });
    store.open();
    const tracks = new Map<string, Track>();
    const live = network;
    // Watch what the pool receives, for the first-wins baseline, without changing what it does.
    const watched = {
      attach: (receiver: (message: Message, from: string, payload?: Uint8Array) => void) =>
        live.attach((message, from, payload) => {
          receiver(message, from, payload);
          if (message.t === "commitment") {
            const track = tracks.get(toHex(message.request));
            if (track && track.firstCommitAt === undefined) {
              track.firstCommitAt = Date.now();
              track.firstCommitter = message.node;
            }
          }
        }),
      publish: (message: Message) => live.publish(message),
    };
    pool = createPool({ registry, sequencerKey: devnet.sequencer, network: watched, store, defaults: { n: options.nodes, deadlineMs: 15_000, closeGraceMs: 500 } });
    await pool.start();
    await network.start();
    const bootstrap = [...network.gossip.multiaddrs];
    const byzantineFrom = options.nodes - options.byzantine.length;
    out.progress(`starting ${options.nodes} node processes (${options.byzantine.length} byzantine) in ${dir}`);
    for (const [index, node] of devnet.nodes.entries()) {
      const mode = index >= byzantineFrom ? options.byzantine[index - byzantineFrom] : undefined;
      // Honest nodes emulate GPU inference time with a per-node delay; a lazy node running a
      // cheaper (wrong) model answers at once, which is exactly how it wins a first-wins race.
      const delayMs = mode === "wrong-model" ? 0 : HONEST_DELAY_MS + 40 * index;
      const args = [
        "--config", node.configPath,
        "--delay-ms", String(delayMs),
        ...bootstrap.flatMap((address) => ["--bootstrap", address]),
        ...(mode ? ["--byzantine", mode] : []),
      ];
      const child = await startNodeProcess(node.id, args);
      children.push(child);
      bootstrap.push(...child.multiaddrs.map((address) => (address.includes("/p2p/") ? address : `${address}/p2p/${child.peerId}`)));
    }
    await network.waitForPeers(options.nodes, 15_000);
    out.progress("network up: streaming requests");

    const rng = streamOf(rootKey(options.seed), 1);
    const done = new Promise<void>((resolve) => {
      let decided = 0;
      void (async () => {
        for await (const outcome of (pool as Pool).outcomes()) {
          const track = tracks.get(outcome.requestId);
          if (!track || track.outcome) continue;
          track.outcome = outcome;
          track.decidedAt = Date.now();
          decided++;
          if (decided === options.requests) return resolve();
        }
      })();
    });
    const ticker = setInterval(() => out.progress(progressLine(tracks, options.requests)), 250);
    for (let i = 0; i < options.requests; i++) {
      const kind = KINDS[i % KINDS.length] as Kind;
      const input = `${rng.pick(PROMPTS)} (#${i})`;
      const maxTokens = 16 + rng.int(33);
      const submittedAt = Date.now();
      const id = await pool.submit({ model: "synthetic-v1", input, entropy: taggedHash("demo/entropy", options.seed, String(i)), policy: kind.policy, sampling: kind.sampling(maxTokens) });
      tracks.set(id, { kind, submittedAt });
      await new Promise((resolve) => setTimeout(resolve, 1000 / options.rate));
    }
    await done;
    clearInterval(ticker);
    out.progress(progressLine(tracks, options.requests), true);
    return { nodes: options.nodes, byzantine: options.byzantine, seed: options.seed, rows: summarize(tracks), evidence: pool.counters.evidence, badBundles: pool.counters.badBundles };
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    await cleanup();
  }
}

function progressLine(tracks: Map<string, Track>, total: number): string {
  let agreed = 0;
  let none = 0;
  const latencies: number[] = [];
  for (const track of tracks.values()) {
    if (track.outcome?.kind === "agreed") agreed++;
    if (track.outcome?.kind === "no-agreement") none++;
    if (track.outcome?.kind === "agreed" && track.decidedAt) latencies.push(track.decidedAt - track.submittedAt);
  }
  const pending = tracks.size - agreed - none;
  return `submitted ${tracks.size}/${total}  agreed ${agreed}  pending ${pending}  no agreement ${none}  latency p50 ${percentile(latencies, 50) ?? "-"} ms  p95 ${percentile(latencies, 95) ?? "-"} ms`;
}

function summarize(tracks: Map<string, Track>): DemoRow[] {
  const rows: DemoRow[] = [];
  for (const kind of KINDS) {
    const mine = [...tracks.values()].filter((track) => track.kind === kind);
    if (mine.length === 0) continue;
    const quorum = mine.flatMap((t) => (t.outcome?.kind === "agreed" && t.decidedAt ? [t.decidedAt - t.submittedAt] : []));
    const first = mine.flatMap((t) => (t.firstCommitAt ? [t.firstCommitAt - t.submittedAt] : []));
    rows.push({
      rule: kind.label,
      requests: mine.length,
      agreed: mine.filter((t) => t.outcome?.kind === "agreed").length,
      noAgreement: mine.filter((t) => t.outcome?.kind === "no-agreement").length,
      pending: mine.filter((t) => !t.outcome).length,
      quorumLatencyP50Ms: percentile(quorum, 50),
      quorumLatencyP95Ms: percentile(quorum, 95),
      firstWinsLatencyP50Ms: percentile(first, 50),
      firstWinsLatencyP95Ms: percentile(first, 95),
      // First-wins takes the fastest committer's answer; it lacked quorum support unless that
      // node is among the agreed outcome's supporters.
      firstWinsUnsupported: mine.filter((t) => {
        if (!t.outcome || !t.firstCommitter) return false;
        return t.outcome.kind !== "agreed" || !t.outcome.bundle.outcome.supporters.includes(t.firstCommitter);
      }).length,
    });
  }
  return rows;
}

export function formatDemoSummary(summary: DemoSummary): string {
  const header = ["rule", "requests", "agreed", "no agr.", "quorum p50/p95 ms", "first-wins p50/p95 ms", "first-wins unsupported"];
  const lines = summary.rows.map((row) => [
    row.rule,
    String(row.requests),
    String(row.agreed),
    String(row.noAgreement),
    `${row.quorumLatencyP50Ms ?? "-"} / ${row.quorumLatencyP95Ms ?? "-"}`,
    `${row.firstWinsLatencyP50Ms ?? "-"} / ${row.firstWinsLatencyP95Ms ?? "-"}`,
    `${row.firstWinsUnsupported} (${row.requests ? Math.round((100 * row.firstWinsUnsupported) / row.requests) : 0}%)`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join("  ");
  return [
    `Concord demo: ${summary.nodes} nodes${summary.byzantine.length ? ` (byzantine: ${summary.byzantine.join(", ")})` : ""}, seed ${summary.seed}`,
    "",
    fmt(header),
    fmt(widths.map((w) => "-".repeat(w))),
    ...lines.map(fmt),
    "",
    "first-wins unsupported: the fastest node's answer, which first-wins would have taken, had no quorum behind it.",
    `equivocation evidence: ${summary.evidence}, bad bundles dropped: ${summary.badBundles}`,
  ].join("\n");
}
