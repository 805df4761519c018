/**
 * `concord demo`: a local network of node processes and an embedded sequencer pool on
 * 127.0.0.1. It streams a mix of requests, shows live progress, and ends with a table comparing
 * each policy with what first-wins would have accepted on the same requests: how often
 * first-wins' answer lacked quorum support, and the latency each rule paid.
 *
 * Two backends. `llama`: llama.cpp in-process on the project's trained model
 * (models/concord-wordnet-1m.gguf, a WordNet-gloss model), node i on engine path i (reference,
 * fp32-accumulate, reversed, blocked-8, blocked-16: other kernels, precisions and reduction
 * orders), real inference time, and by default one lazy node that runs a random-weight copy of
 * the model. `synthetic`: the built-in synthetic transformer (random seeded weights, emulated
 * floating-point paths), with an emulated per-node inference delay.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { ConcordError, isConcordError } from "../errors.ts";
import { readKeystore } from "../crypto/keystore.ts";
import { createConcordNetwork, type ConcordNetwork } from "../net/concord.ts";
import { peerIdFromSeed } from "../net/gossip.ts";
import { BYZANTINE_MODES } from "../node/config.ts";
import { peerKeySeed } from "../node/daemon.ts";
import { createRegistry } from "../quorum/registry.ts";
import { checkModelFile } from "../runner/llama.ts";
import { certifiedAnswer } from "../sequencer/certified.ts";
import { createPool, type Pool, type PoolOutcome } from "../sequencer/pool.ts";
import { SqliteOutcomeStore } from "../sequencer/store.ts";
import { rootKey, streamOf } from "../sim/prng.ts";
import { taggedHash, toHex } from "../wire/hash.ts";
import type { AgreedBundle, Message, PolicyRef, SamplingParams } from "../wire/types.ts";
import { createDevnet, devnetNodeId, SYNTHETIC_HARDWARE, type DevnetNode } from "./devnet.ts";
import type { VoteRoute } from "../net/topics.ts";
import { freePort, startNodeProcess, stopNodeProcesses, type NodeProcess } from "./processes.ts";


export const DEMO_BACKENDS = ["llama", "synthetic"] as const;
export type DemoBackend = (typeof DEMO_BACKENDS)[number];

/** The project's trained model (scripts/engine/train-model.sh), the llama demo's default. */
export const DEFAULT_DEMO_MODEL = fileURLToPath(new URL("../../models/concord-wordnet-1m.gguf", import.meta.url));

/** Engine paths of the llama demo's nodes, node i on path i (mod 5): src/runner/llama.ts. */
export const DEMO_LLAMA_PROFILES: readonly string[] = ["reference", "fp32-accumulate", "reversed", "blocked-8", "blocked-16"];

export interface DemoOptions {
  /** Inference backend of every node. Default llama. */
  backend?: DemoBackend;
  /** llama: the GGUF model file. Default: the project's trained model. */
  modelFile?: string;
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
  /** The close's grace after the k-th commitment (default: 1,000 ms with llama, 500 with synthetic). */
  closeGraceMs?: number;
  /** Time from submit to each request's deadline. Default 15,000 ms. */
  deadlineMs?: number;
  /** The nodes' vote routing (spec/06 "Vote routing"), the embedded pool told of it. Default gossip. */
  votes?: VoteRoute;
}

/**
 * The close's grace after the k-th commitment. llama nodes share this machine's cores and finish
 * further apart than GPUs would: an honest node that misses the close cannot vote, and with one
 * lazy node in five every honest vote is needed (k = 4).
 */
const LLAMA_CLOSE_GRACE_MS = 1_000;
const SYNTHETIC_CLOSE_GRACE_MS = 500;
const DEMO_DEADLINE_MS = 15_000;

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
  /** Output token budget, drawn per request. */
  maxTokens: (draw: (n: number) => number) => number;
}

const GREEDY = { temperatureMilli: 0, topK: 0, topPPpm: 1_000_000 };
const T07 = { temperatureMilli: 700, topK: 50, topPPpm: 950_000 };
const shortText = (draw: (n: number) => number) => 16 + draw(33);

/**
 * The synthetic request mix: greedy exact, sampled seeded with fork tolerance, sampled
 * semantic@2. Every node samples with the spec's sampler and the request's seed, so the
 * semantic@2 row agrees for the reason the seeded row does: the texts are nearly identical. Free
 * text sampled without a shared seed is another matter (README, "What text comparison cannot do").
 */
const SYNTHETIC_KINDS: Kind[] = [
  { label: "exact@1, T=0", policy: { id: "exact", version: 1, params: {} }, sampling: (maxTokens) => ({ ...GREEDY, maxTokens }), maxTokens: shortText },
  {
    label: "seeded@1 eps=50000, T=0.7",
    policy: { id: "seeded", version: 1, params: { epsPpm: 50_000 } },
    sampling: (maxTokens) => ({ ...T07, maxTokens }),
    maxTokens: shortText,
  },
  {
    label: "semantic@2, T=0.7, shared seed",
    policy: { id: "semantic", version: 2, params: { thetaPpm: 600_000 } },
    sampling: (maxTokens) => ({ ...T07, maxTokens }),
    maxTokens: shortText,
  },
];

/**
 * The llama demo's structured@2 schema, fitted to a WordNet-gloss model: a part of speech (an
 * enum), a count (an integer) and the entry's wording as commentary, which the committee never
 * compares. The model has never seen JSON: llama.cpp's grammar makes every node write this
 * shape, and the wording's maxLength makes the string end (a small model may never close it).
 * Fields are written in name order: the decision fields first.
 */
export const DEMO_ENTRY_SCHEMA = {
  properties: {
    pos: { enum: ["noun", "verb", "adjective", "adverb"] },
    senses: { type: "integer" },
    usage: { type: "string", commentary: true, maxLength: 48 },
  },
  required: ["pos", "senses", "usage"],
};

/** The llama request mix: exact and seeded at T=0, seeded and structured@2 at T=0.7, all on the spec's sampler. */
const LLAMA_KINDS: Kind[] = [
  { label: "exact@1, T=0", policy: { id: "exact", version: 1, params: {} }, sampling: (maxTokens) => ({ ...GREEDY, maxTokens }), maxTokens: shortText },
  {
    label: "seeded@1 eps=1000, T=0",
    policy: { id: "seeded", version: 1, params: { epsPpm: 1_000 } },
    sampling: (maxTokens) => ({ ...GREEDY, maxTokens }),
    maxTokens: shortText,
  },
  {
    label: "seeded@1 eps=1000, T=0.7",
    policy: { id: "seeded", version: 1, params: { epsPpm: 1_000 } },
    sampling: (maxTokens) => ({ ...T07, maxTokens }),
    maxTokens: shortText,
  },
  {
    label: "structured@2, T=0.7",
    policy: { id: "structured", version: 2, params: DEMO_ENTRY_SCHEMA },
    sampling: (maxTokens) => ({ ...T07, maxTokens }),
    // The JSON text with its grammar's closing newlines: ~45-110 tokens seen on this model.
    maxTokens: () => 128,
  },
];

const SYNTHETIC_PROMPTS = [
  "Summarize the proposal to raise the lending cap",
  "Classify the sentiment of this governance forum post",
  "Which collateral type carries the highest risk today",
  "Explain why the oracle price deviated from the market",
  "Draft a one-line reply to the liquidation dispute",
  "Is this transaction likely to be a sandwich attack",
  "Name the asset with the most volume in the last block",
  "Describe the risk of the new bridge contract",
];

/** The trained model's domain: a WordNet entry's head, "lemma (part of speech):". */
const LLAMA_PROMPTS = [
  "water (noun):",
  "run (verb):",
  "bright (adjective):",
  "quickly (adverb):",
  "stone (noun):",
  "river (noun):",
  "open (verb):",
  "green (adjective):",
  "king (noun):",
  "sing (verb):",
  "bridge (noun):",
  "slowly (adverb):",
];

interface Track {
  kind: Kind;
  input: string;
  submittedAt: number;
  firstCommitAt?: number;
  firstCommitter?: string;
  /** When each node's commitment reached the pool. */
  committedAt: Map<string, number>;
  /** The nodes whose commitments the pool's close listed (only they may reveal). */
  closeListed?: string[];
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
  /** Requests where first-wins would have taken a lazy (wrong-model) node's answer. */
  firstWinsLazy: number;
  /**
   * Agreed requests with a lazy (wrong-model) node among the supporters. Under seeded's fork
   * tolerance a vote that forks from the agreed tokens at a near tie counts for them, a lazy one
   * too (at step 0 it shares no token with them): the answer is still the honest output.
   */
  lazyInQuorum: number;
  /** Agreed requests whose answer was a lazy node's own output. */
  lazyAnswer: number;
  /** Agreed requests whose supporters' outputs (and evidence tokens) were byte-identical. */
  identicalSupporters: number;
  /** No-agreement requests whose votes lacked an honest node's (late for the close, or no reveal). */
  noAgreementHonestMissing: number;
  /** Of those: an honest node too late for the close (its commitment after it, or none before the decision). */
  noAgreementLateForClose: number;
  /** Of those: an honest node committed nothing before the deadline (its inference took longer). */
  noAgreementNoCommitment: number;
  /** Of those: an honest node listed in the close whose reveal did not come before the deadline. */
  noAgreementNoReveal: number;
  /** How long after the last commitment the close listed the late honest ones came, median (ms). */
  lateForCloseP50Ms: number | null;
  /** No-agreement requests where the honest nodes' outputs fell into different clusters. */
  noAgreementHonestSplit: number;
}

/** What one node ran. */
export interface DemoNode {
  id: string;
  /** Synthetic: the emulated hardware profile; llama: the engine path. */
  engine: string;
  byzantine?: string;
}

/** The first agreed request of a rule: what the committee certified. */
export interface DemoExample {
  rule: string;
  input: string;
  /** The canonical output (structured@2: the certified decision fields' JSON). */
  output: string;
  /** structured@2: one supporter's commentary, which nobody agreed on. */
  commentary?: { node: string; fields: Record<string, string> };
}

export interface DemoSummary {
  backend: DemoBackend;
  /** llama: the model file's name; synthetic: the model seed's name. */
  model: string;
  nodes: number;
  byzantine: string[];
  seed: string;
  /** Milliseconds from the start until every node process had joined (model loaded, mesh formed). */
  startMs: number;
  nodeList: DemoNode[];
  rows: DemoRow[];
  examples: DemoExample[];
  evidence: number;
  badBundles: number;
  /** The protocol's clock, for explaining a NoAgreement: submit to deadline, and the close's grace. */
  deadlineMs: number;
  closeGraceMs: number;
  /** Cores the node processes and the pool shared. */
  cores: number;
  /** Over every rule: how long after the last commitment the close listed the late honest ones came, median (ms). */
  lateForCloseP50Ms: number | null;
}

function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export async function runDemo(options: DemoOptions, out: { progress: (line: string, final?: boolean) => void }): Promise<DemoSummary> {
  const started = Date.now();
  const backend = options.backend ?? "llama";
  if (!(DEMO_BACKENDS as readonly string[]).includes(backend)) {
    throw new ConcordError("CONFIG", "unknown demo backend", { details: `${backend}; choose from ${DEMO_BACKENDS.join(", ")}` });
  }
  for (const mode of options.byzantine) {
    if (!(BYZANTINE_MODES as readonly string[]).includes(mode)) {
      throw new ConcordError("CONFIG", "unknown byzantine mode", { details: `${mode}; choose from ${BYZANTINE_MODES.join(", ")}` });
    }
  }
  if (options.byzantine.length * 3 >= options.nodes) {
    throw new ConcordError("CONFIG", "too many byzantine nodes", { details: `${options.byzantine.length} of ${options.nodes}: keep them below a third` });
  }
  const llama = backend === "llama";
  const deadlineMs = options.deadlineMs ?? DEMO_DEADLINE_MS;
  const closeGraceMs = options.closeGraceMs ?? (llama ? LLAMA_CLOSE_GRACE_MS : SYNTHETIC_CLOSE_GRACE_MS);
  const modelFile = resolve(options.modelFile ?? DEFAULT_DEMO_MODEL);
  if (llama) {
    try {
      checkModelFile(modelFile);
    } catch (cause) {
      if (options.modelFile !== undefined) throw cause;
      // The published package carries no models/ folder: say what to do instead.
      throw new ConcordError("CONFIG", "the project's model is not here", { details: `${modelFile}: pass --model-file <gguf>, or --backend synthetic`, cause });
    }
  } else if (options.modelFile !== undefined) {
    throw new ConcordError("CONFIG", "--model-file is a llama setting", { details: "add --backend llama" });
  }
  const kinds = llama ? LLAMA_KINDS : SYNTHETIC_KINDS;
  const prompts = llama ? LLAMA_PROMPTS : SYNTHETIC_PROMPTS;
  const model = llama ? basename(modelFile).replace(/\.gguf$/i, "") : "synthetic-v1";
  const byzantineFrom = options.nodes - options.byzantine.length;
  const modeOf = (index: number) => (index >= byzantineFrom ? options.byzantine[index - byzantineFrom] : undefined);
  const nodeList: DemoNode[] = Array.from({ length: options.nodes }, (_, index) => {
    const engine = llama ? (DEMO_LLAMA_PROFILES[index % DEMO_LLAMA_PROFILES.length] as string) : (SYNTHETIC_HARDWARE[index % SYNTHETIC_HARDWARE.length] as string);
    const mode = modeOf(index);
    return mode ? { id: devnetNodeId(index), engine, byzantine: mode } : { id: devnetNodeId(index), engine };
  });
  const lazyNodes = new Set(nodeList.filter((node) => node.byzantine === "wrong-model").map((node) => node.id));

  const dir = options.keep ?? mkdtempSync(join(tmpdir(), "concord-demo-"));
  const devnet = await createDevnet({
    dir,
    nodes: options.nodes,
    logLevel: "warn",
    maxConcurrentJobs: DEMO_CONCURRENT_JOBS,
    ...(options.votes ? { votes: options.votes } : {}),
    // One thread a node: the nodes share the machine's cores, as separate GPUs would not.
    ...(llama ? { backend: (index: number) => ({ type: "llama" as const, modelFile, hardware: nodeList[index]?.engine as string, threads: 1 }) } : {}),
  });
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
      { chain: devnet.chain, listen: ["/ip4/127.0.0.1/tcp/0"], privateKey: taggedHash("demo/sequencer-peer", options.seed), pool: true, ...(options.votes ? { votes: options.votes } : {}) },
      { logger: pino({ level: "silent" }) },
    );
    store = new SqliteOutcomeStore({ path: join(dir, "sequencer.sqlite") });
    store.open();
    const tracks = new Map<string, Track>();
    const live = network;
    // Watch what the pool receives and sends, for the first-wins baseline and to explain a
    // NoAgreement (who was late for the close), without changing what it does.
    const watched = {
      attach: (receiver: (message: Message, from: string, payload?: Uint8Array) => void) =>
        live.attach((message, from, payload) => {
          const track = message.t === "commitment" ? tracks.get(toHex(message.request)) : undefined;
          try {
            receiver(message, from, payload);
          } catch (error) {
            // Authentic but after the close: the pool ignores it, the explanation needs it.
            if (track && message.t === "commitment" && isConcordError(error, "LATE") && !track.committedAt.has(message.node)) track.committedAt.set(message.node, Date.now());
            throw error;
          }
          if (track && message.t === "commitment") {
            if (!track.committedAt.has(message.node)) track.committedAt.set(message.node, Date.now());
            if (track.firstCommitAt === undefined) {
              track.firstCommitAt = Date.now();
              track.firstCommitter = message.node;
            }
          }
        }),
      publish: (message: Message) => {
        if (message.t === "close") {
          const track = tracks.get(toHex(message.request));
          if (track) track.closeListed ??= message.commitments.map((ref) => ref.node);
        }
        return live.publish(message);
      },
    };
    pool = createPool({
      registry,
      sequencerKey: devnet.sequencer,
      network: watched,
      store,
      defaults: { n: options.nodes, deadlineMs, closeGraceMs },
    });
    await pool.start();
    await network.start();
    const engines = llama ? `llama.cpp, ${basename(modelFile)}` : "synthetic model";
    out.progress(`starting ${options.nodes} node processes (${engines}; ${options.byzantine.length} byzantine) in ${dir}`);
    // Every node's address is known before it starts (a free port, and the peer id its key
    // derives), so all start at once and each dials the sequencer and every other node: of two
    // nodes, the one that starts listening second reaches the first (and missed dials are retried).
    const ports = new Set<number>();
    while (ports.size < options.nodes) ports.add(await freePort());
    const addresses = await Promise.all(
      [...ports].map(async (port, index) => {
        const { keyPair } = await readKeystore((devnet.nodes[index] as DevnetNode).keystore);
        return { listen: `/ip4/127.0.0.1/tcp/${port}`, peer: `/ip4/127.0.0.1/tcp/${port}/p2p/${await peerIdFromSeed(peerKeySeed(keyPair.secretKey))}` };
      }),
    );
    const sequencerAddresses = [...network.gossip.multiaddrs];
    const starts = await Promise.allSettled(
      devnet.nodes.map((node, index) => {
        const mode = modeOf(index);
        const bootstrap = [...sequencerAddresses, ...addresses.filter((_, other) => other !== index).map((address) => address.peer)];
        const args = [
          "--config", node.configPath,
          "--listen", (addresses[index] as { listen: string }).listen,
          ...bootstrap.flatMap((address) => ["--bootstrap", address]),
          ...(mode ? ["--byzantine", mode] : []),
        ];
        // Synthetic nodes emulate GPU inference time with a per-node delay; a lazy node running a
        // cheaper (wrong) model answers at once, which is exactly how it wins a first-wins race.
        // llama nodes take the time llama.cpp takes.
        if (!llama) args.push("--delay-ms", String(mode === "wrong-model" ? 0 : HONEST_DELAY_MS + 40 * index));
        return startNodeProcess(node.id, args, { timeoutMs: llama ? 60_000 : 20_000 });
      }),
    );
    for (const start of starts) if (start.status === "fulfilled") children.push(start.value);
    const failed = starts.find((start) => start.status === "rejected");
    if (failed) throw failed.reason;
    await network.waitForPeers(options.nodes, 15_000);
    const startMs = Date.now() - started;
    out.progress(`network up in ${(startMs / 1000).toFixed(1)} s: streaming requests`, true);

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
      const kind = kinds[i % kinds.length] as Kind;
      // Every request id binds its own entropy, so a prompt may repeat; the synthetic prompts
      // carry a number all the same, as they always have.
      const input = llama ? rng.pick(prompts) : `${rng.pick(prompts)} (#${i})`;
      const maxTokens = kind.maxTokens((n) => rng.int(n));
      const submittedAt = Date.now();
      const id = await pool.submit({ model, input, entropy: taggedHash("demo/entropy", options.seed, String(i)), policy: kind.policy, sampling: kind.sampling(maxTokens) });
      tracks.set(id, { kind, input, submittedAt, committedAt: new Map() });
      await new Promise((resolve) => setTimeout(resolve, 1000 / options.rate));
    }
    await done;
    clearInterval(ticker);
    out.progress(progressLine(tracks, options.requests), true);
    const honest = new Set(nodeList.filter((node) => !node.byzantine).map((node) => node.id));
    return {
      backend,
      model,
      nodes: options.nodes,
      byzantine: options.byzantine,
      seed: options.seed,
      startMs,
      nodeList,
      rows: summarize(kinds, tracks, lazyNodes, honest),
      examples: examples(kinds, tracks),
      evidence: pool.counters.evidence,
      badBundles: pool.counters.badBundles,
      deadlineMs,
      closeGraceMs,
      cores: availableParallelism(),
      lateForCloseP50Ms: percentile([...tracks.values()].flatMap((track) => noAgreementCause(track, honest)?.lateMs ?? []), 50),
    };
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

/**
 * Why a no-agreement request failed, from the honest nodes' side: the clusters of their votes,
 * how many voted, and why each missing honest vote is missing:
 * - `late`: too late for the close, which lists the commitments in by then (only they may
 *   reveal): its commitment came after it (`lateMs`: ms after the last listed one), or none came
 *   (a node still computing when the request was decided sends none);
 * - `noCommitment`: no close went out (fewer than k commitments) and this node committed nothing
 *   before the deadline: its inference took longer;
 * - `noReveal`: listed in the close, its reveal did not come before the deadline.
 * Undefined for a request that did not end in NoAgreement.
 */
function noAgreementCause(
  track: Track,
  honest: ReadonlySet<string>,
): { clusters: number; votes: number; late: number; lateMs: number[]; noCommitment: number; noReveal: number } | undefined {
  if (track.outcome?.kind !== "no-agreement") return undefined;
  const clusters = track.outcome.result.clusters.map((cluster) => cluster.members.filter((node) => honest.has(node))).filter((members) => members.length > 0);
  const voted = new Set(clusters.flat());
  const listed = track.closeListed ?? [];
  const lastListedAt = Math.max(...listed.map((node) => track.committedAt.get(node) ?? 0));
  const lateMs: number[] = [];
  let late = 0;
  let noCommitment = 0;
  let noReveal = 0;
  for (const node of honest) {
    if (voted.has(node)) continue;
    const committedAt = track.committedAt.get(node);
    if (track.closeListed === undefined) noCommitment++;
    else if (!listed.includes(node)) {
      late++;
      if (committedAt !== undefined) lateMs.push(Math.max(0, committedAt - lastListedAt));
    } else noReveal++;
  }
  return { clusters: clusters.length, votes: voted.size, late, lateMs, noCommitment, noReveal };
}

function summarize(kinds: readonly Kind[], tracks: Map<string, Track>, lazyNodes: ReadonlySet<string>, honest: ReadonlySet<string>): DemoRow[] {
  const rows: DemoRow[] = [];

  for (const kind of kinds) {
    const mine = [...tracks.values()].filter((track) => track.kind === kind);
    if (mine.length === 0) continue;
    const failed = mine.flatMap((track) => noAgreementCause(track, honest) ?? []);
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
      firstWinsLazy: mine.filter((t) => t.firstCommitter !== undefined && lazyNodes.has(t.firstCommitter)).length,
      lazyInQuorum: mine.filter((t) => t.outcome?.kind === "agreed" && t.outcome.bundle.outcome.supporters.some((node) => lazyNodes.has(node))).length,
      lazyAnswer: mine.filter((t) => t.outcome?.kind === "agreed" && lazyOutputAgreed(t.outcome.bundle, lazyNodes)).length,
      identicalSupporters: mine.filter((t) => t.outcome?.kind === "agreed" && supportersIdentical(t.outcome.bundle)).length,
      noAgreementHonestMissing: failed.filter((f) => f.votes < honest.size).length,
      noAgreementLateForClose: failed.filter((f) => f.late > 0).length,
      noAgreementNoCommitment: failed.filter((f) => f.noCommitment > 0).length,
      noAgreementNoReveal: failed.filter((f) => f.noReveal > 0).length,
      lateForCloseP50Ms: percentile(failed.flatMap((f) => f.lateMs), 50),
      noAgreementHonestSplit: failed.filter((f) => f.clusters > 1).length,
    });
  }
  return rows;
}

/**
 * True when a lazy supporter's own answer is the agreed one: under structured@2 any supporter's
 * decision fields are the agreed ones; otherwise its output is the canonical output (a seeded
 * fork supporter's is not).
 */
function lazyOutputAgreed(bundle: AgreedBundle, lazyNodes: ReadonlySet<string>): boolean {
  const lazy = [...bundle.reveals, ...bundle.outputs].filter((vote) => lazyNodes.has(vote.node) && bundle.outcome.supporters.includes(vote.node));
  if (bundle.request.policy.id === "structured") return lazy.length > 0;
  return lazy.some((vote) => vote.output === bundle.outcome.output);
}

/** True when every supporter's vote carries the same output text and the same evidence tokens. */
function supportersIdentical(bundle: AgreedBundle): boolean {
  const supporters = new Set(bundle.outcome.supporters);
  const votes = [...bundle.reveals, ...bundle.outputs].filter((vote) => supporters.has(vote.node));
  const key = (vote: (typeof votes)[number]) => `${vote.evidence ? vote.evidence.tokens.join(",") : ""}:${vote.output}`;
  return votes.every((vote) => key(vote) === key(votes[0] as (typeof votes)[number]));
}

function examples(kinds: readonly Kind[], tracks: Map<string, Track>): DemoExample[] {
  const list: DemoExample[] = [];
  for (const kind of kinds) {
    const track = [...tracks.values()].find((t) => t.kind === kind && t.outcome?.kind === "agreed");
    if (track?.outcome?.kind !== "agreed") continue;
    const answer = certifiedAnswer(track.outcome.bundle);
    const example: DemoExample = { rule: kind.label, input: track.input, output: answer.output };
    if (answer.structured?.commentary) example.commentary = answer.structured.commentary;
    list.push(example);
  }
  return list;
}

/**
 * What the table's "no agr." column means, request by request: one backend or the other, a
 * NoAgreement here is almost always an overloaded machine (every node process shares its cores)
 * running inference slower than the protocol's clock, and the lines say which clock it missed.
 */
function noAgreementLines(summary: DemoSummary): string[] {
  const total = (
    field: "noAgreement" | "noAgreementHonestMissing" | "noAgreementLateForClose" | "noAgreementNoCommitment" | "noAgreementNoReveal" | "noAgreementHonestSplit",
  ) => summary.rows.reduce((sum, row) => sum + row[field], 0);
  const noAgreement = total("noAgreement");
  if (noAgreement === 0) return [];
  const missing = total("noAgreementHonestMissing");
  const split = total("noAgreementHonestSplit");
  const lines = [`no agreement: ${noAgreement}; ${missing} without every honest node's vote, ${split} with honest outputs that differed.`];
  if (missing > 0) {
    lines.push(
      `  an honest vote missing means an overloaded machine: ${summary.nodes} node processes and the sequencer share ${summary.cores} cores, so inference ran slower than the protocol's clock:`,
    );
    const [late, none, unrevealed] = [total("noAgreementLateForClose"), total("noAgreementNoCommitment"), total("noAgreementNoReveal")];
    if (late > 0) {
      lines.push(
        `  ${late} with an honest node too late for the close, which goes out ${summary.closeGraceMs} ms after the k-th commitment and lists who may reveal (${
          summary.lateForCloseP50Ms === null ? "" : `late commitments came a median ${summary.lateForCloseP50Ms} ms after the last listed one; `
        }a node still computing when the request was decided sends none)`,
      );
    }
    if (none > 0) lines.push(`  ${none} with fewer than k commitments before the deadline (${summary.deadlineMs} ms after submit): honest inference took longer`);
    if (unrevealed > 0) lines.push(`  ${unrevealed} with an honest node listed in the close whose reveal did not come before the deadline`);
    lines.push("  a lower --rate (or fewer --nodes) leaves each node more of the machine.");
  }
  return lines;
}

const clip = (text: string, max = 72) => JSON.stringify(text.length > max ? `${text.slice(0, max - 1)}…` : text);

export function formatDemoSummary(summary: DemoSummary): string {
  const lazy = summary.byzantine.includes("wrong-model");
  const header = ["rule", "requests", "agreed", "identical", "no agr.", "quorum p50/p95 ms", "first-wins p50/p95 ms", "first-wins unsupported", ...(lazy ? ["lazy node first", "lazy node in quorum"] : [])];
  const share = (count: number, of: number) => `${count} (${of ? Math.round((100 * count) / of) : 0}%)`;
  const lines = summary.rows.map((row) => [
    row.rule,
    String(row.requests),
    String(row.agreed),
    String(row.identicalSupporters),
    String(row.noAgreement),
    `${row.quorumLatencyP50Ms ?? "-"} / ${row.quorumLatencyP95Ms ?? "-"}`,
    `${row.firstWinsLatencyP50Ms ?? "-"} / ${row.firstWinsLatencyP95Ms ?? "-"}`,
    share(row.firstWinsUnsupported, row.requests),
    ...(lazy ? [share(row.firstWinsLazy, row.requests), String(row.lazyInQuorum)] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join("  ").trimEnd();
  const engine = summary.backend === "llama" ? `llama.cpp, model ${summary.model}` : "the synthetic model";
  const role = (node: DemoNode): string => {
    if (node.byzantine === "wrong-model") return summary.backend === "llama" ? "lazy (random-weight copy of the model)" : "lazy (another model seed, answers at once)";
    if (node.byzantine === "copycat") return "copycat (runs no model)";
    return node.byzantine ? `${node.engine}, ${node.byzantine}` : node.engine;
  };
  const nodes = summary.nodeList.map((node) => `${node.id} ${role(node)}`);
  return [
    `Concord demo: ${summary.nodes} nodes on ${engine}${summary.byzantine.length ? ` (byzantine: ${summary.byzantine.join(", ")})` : ""}, seed ${summary.seed}`,
    `nodes: ${nodes.join("; ")}`,
    `network up in ${(summary.startMs / 1000).toFixed(1)} s`,
    "",
    fmt(header),
    fmt(widths.map((w) => "-".repeat(w))),
    ...lines.map(fmt),
    "",
    "identical: agreed requests whose supporters' outputs were byte-identical (and their tokens, where evidence is sent).",
    "first-wins unsupported: the fastest node's answer, which first-wins would have taken, had no quorum behind it.",
    ...(lazy
      ? [
          "lazy node in quorum: agreed requests that counted the wrong-model node as a supporter (seeded's fork tolerance counts a vote",
          `  that forks from the agreed tokens at a near tie, a lazy one too); its own answer agreed: ${summary.rows.reduce((sum, row) => sum + row.lazyAnswer, 0)}.`,
        ]
      : []),
    ...noAgreementLines(summary),
    `equivocation evidence: ${summary.evidence}, bad bundles dropped: ${summary.badBundles}`,
    ...(summary.examples.length ? ["", "first agreed answer of each rule:"] : []),
    ...summary.examples.flatMap((example) => [
      `  ${example.rule}: ${clip(example.input)} -> ${clip(example.output)}`,
      ...(example.commentary ? [`    commentary, ${example.commentary.node}'s text, not agreed: ${clip(JSON.stringify(example.commentary.fields))}`] : []),
    ]),
  ].join("\n");
}
