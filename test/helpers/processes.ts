/**
 * Child `concord node` processes for end-to-end tests and benchmarks: spawn, read their JSON log
 * lines, wait for a line, stop them (SIGTERM, then SIGKILL), and never leak one: every child is
 * tracked, `stopAllNodes()` belongs in afterEach, and the children are SIGKILLed if this process
 * exits first.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Registry as PromRegistry } from "prom-client";
import { afterAll, beforeAll } from "vitest";
import { createDevnet, DEVNET_PEER_WHITELIST, type Devnet, type DevnetNode, type DevnetOptions } from "../../src/cli/devnet.ts";
import { stopNodeProcesses } from "../../src/cli/processes.ts";
import { createConcordNetwork, type ConcordNetwork } from "../../src/net/concord.ts";
import type { VoteRoute } from "../../src/net/topics.ts";
import { silentLogger } from "../../src/net/logger.ts";
import type { BackendConfig, ByzantineMode, NodeConfig } from "../../src/node/config.ts";
import { createRegistry, type Registry } from "../../src/quorum/registry.ts";
import { createPool, type Pool, type PoolDefaults, type PoolOutcome } from "../../src/sequencer/pool.ts";
import { SqliteOutcomeStore } from "../../src/sequencer/store.ts";
import { taggedHash } from "../../src/wire/hash.ts";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLI = "src/cli/main.ts";

export interface LogLine {
  level?: number;
  msg?: string;
  [key: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface NodeChild {
  readonly label: string;
  readonly child: ChildProcess;
  /** JSON log lines from stdout, in order. */
  readonly logs: LogLine[];
  /** stderr text and stdout lines that were not JSON. */
  readonly text: string[];
  readonly exited: Promise<Exit>;
  /** Resolves with the first log line (past or future) that matches; rejects on exit or timeout. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs: number, what?: string): Promise<LogLine>;
  /** The last lines of output, for failure messages. */
  tail(lines?: number): string;
}

export interface StartedNode extends NodeChild {
  peerId: string;
  multiaddrs: string[];
  metricsPort: number | null;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** Spawns `concord <args>` (Node 24 from process.execPath, in the repository root). */
export function spawnConcord(label: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): NodeChild {
  return spawnLogged(label, process.execPath, ["--disable-warning=ExperimentalWarning", CLI, ...args], env);
}

/**
 * Spawns any command in the repository root (`npm run concord -- node ...`), read as spawnConcord's.
 * `detached`: in a process group of its own, which a signal can reach as a terminal's Ctrl-C does.
 */
export function spawnLogged(label: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, options: { detached?: boolean } = {}): NodeChild {
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    detached: options.detached ?? false,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  live.add(child);
  const logs: LogLine[] = [];
  const text: string[] = [];
  const listeners = new Set<() => void>();
  const exited = new Promise<Exit>((resolve) => {
    child.once("exit", (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
      for (const listener of listeners) listener();
    });
  });
  let buffered = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("utf8");
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        text.push(line);
      }
      for (const listener of listeners) listener();
    }
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    text.push(chunk.toString("utf8"));
    for (const listener of listeners) listener();
  });
  const tail = (lines = 8) =>
    [...logs.slice(-lines).map((line) => JSON.stringify(line)), ...text.slice(-lines)].join("\n").slice(-4_000);

  return {
    label,
    child,
    logs,
    text,
    exited,
    tail,
    waitForLog(match, timeoutMs, what = "a log line") {
      return new Promise((resolve, reject) => {
        let checked = 0;
        const check = () => {
          for (; checked < logs.length; checked++) {
            const line = logs[checked] as LogLine;
            if (match(line)) return finish(() => resolve(line));
          }
          if (child.exitCode !== null || child.signalCode !== null) {
            finish(() => reject(new Error(`${label} exited (${child.exitCode ?? child.signalCode}) before ${what}:\n${tail()}`)));
          }
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`${label}: no ${what} after ${timeoutMs} ms:\n${tail()}`))), timeoutMs);
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** Spawns `concord node <args>` and waits for its "node started" line. */
export async function startNode(label: string, args: readonly string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<StartedNode> {
  const node = spawnConcord(label, ["node", ...args], options.env);
  try {
    const started = await node.waitForLog((line) => line.msg === "node started", options.timeoutMs ?? 20_000, '"node started"');
    return {
      ...node,
      peerId: started["peerId"] as string,
      multiaddrs: started["multiaddrs"] as string[],
      metricsPort: (started["metricsPort"] as number | null) ?? null,
    };
  } catch (error) {
    node.child.kill("SIGKILL");
    throw error;
  }
}

/** Runs `concord <args>` to its end; kills it after `timeoutMs`. */
export async function runConcord(args: readonly string[], timeoutMs: number, env: NodeJS.ProcessEnv = {}): Promise<Exit & { output: string; logs: LogLine[] }> {
  const run = spawnConcord(args.join(" "), args, env);
  const timer = setTimeout(() => run.child.kill("SIGKILL"), timeoutMs);
  const exit = await run.exited;
  clearTimeout(timer);
  return { ...exit, output: run.text.join(""), logs: run.logs };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves with how it exited. */
export async function stopNode(node: { child: ChildProcess; exited: Promise<Exit> }, graceMs = 5_000): Promise<Exit> {
  if (node.child.exitCode === null && node.child.signalCode === null) {
    const timer = setTimeout(() => node.child.kill("SIGKILL"), graceMs);
    node.child.kill("SIGTERM");
    const exit = await node.exited;
    clearTimeout(timer);
    return exit;
  }
  return node.exited;
}

/** Stops every child still running (afterEach): SIGTERM, then SIGKILL after `graceMs`. */
export async function stopAllNodes(graceMs = 3_000): Promise<void> {
  await stopNodeProcesses([...live].map((child) => ({ child })), graceMs);
}

// ---------------------------------------------------------------------------------------------
// A cluster: node processes plus the sequencer side (pool, outcome store, its own libp2p node)
// in the calling process, all on 127.0.0.1.

export interface ClusterOptions {
  dir: string;
  nodes: number;
  /** Seed for every key (the same network on each run). */
  seed: string;
  backend?: (index: number) => BackendConfig;
  byzantine?: (index: number) => ByzantineMode | undefined;
  /** Extra `concord node` flags per node. */
  nodeArgs?: (index: number) => string[];
  maxConcurrentJobs?: number;
  logLevel?: NodeConfig["logLevel"];
  pool?: Partial<PoolDefaults>;
  /** The pool's outcome store file (default sequencer.sqlite in `dir`; ":memory:" for none). */
  storePath?: string;
  /** Every node's and the pool's peer whitelist (default the devnet's: loopback). */
  peerWhitelist?: string[];
  /** Registry subnets S (default 1); the pool joins every subnet. Set `pool.n` to fit a subnet. */
  subnets?: number;
  /** The nodes' vote routing (spec/06 "Vote routing"), the pool's network told of it. Default gossip. */
  votes?: VoteRoute;
}

export interface Cluster {
  devnet: Devnet;
  registry: Registry;
  network: ConcordNetwork;
  /** The pool network's Prometheus registry (gossip validation counters). */
  metrics: PromRegistry;
  pool: Pool;
  store: SqliteOutcomeStore;
  nodes: StartedNode[];
  /** Every outcome the pool has emitted, by request id. */
  outcomes: Map<string, PoolOutcome>;
  /** Resolves with a request's outcome (already emitted or to come). */
  outcome(requestId: string, timeoutMs: number): Promise<PoolOutcome>;
  /** Starts node `index` (again: same config, data dir and key; a running one is stopped first), bootstrapping to everyone. */
  startNode(index: number, extraArgs?: string[]): Promise<StartedNode>;
  /** Waits until `count` peers are subscribed to every topic at the pool (ConcordNetwork.waitForPeers). */
  waitForPeers(count: number, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * One cluster for the enclosing suite: started in a fresh temp folder before its tests (within
 * `startTimeoutMs`), stopped and its folder removed after them. Read `cluster` and `dir` in tests.
 */
export function clusterForSuite(options: Omit<ClusterOptions, "dir">, startTimeoutMs = 45_000): { readonly cluster: Cluster; readonly dir: string } {
  const suite = {} as { cluster: Cluster; dir: string };
  beforeAll(async () => {
    suite.dir = mkdtempSync(join(tmpdir(), `concord-${options.seed}-`));
    suite.cluster = await startCluster({ ...options, dir: suite.dir });
  }, startTimeoutMs);
  afterAll(async () => {
    await suite.cluster?.stop();
    if (suite.dir) rmSync(suite.dir, { recursive: true, force: true });
  });
  return suite;
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const devnetOptions: DevnetOptions = { dir: options.dir, nodes: options.nodes, seed: options.seed, logLevel: options.logLevel ?? "warn" };
  if (options.backend) devnetOptions.backend = options.backend;
  if (options.byzantine) devnetOptions.byzantine = options.byzantine;
  if (options.maxConcurrentJobs) devnetOptions.maxConcurrentJobs = options.maxConcurrentJobs;
  if (options.peerWhitelist) devnetOptions.peerWhitelist = options.peerWhitelist;
  if (options.subnets) devnetOptions.subnets = options.subnets;
  if (options.votes) devnetOptions.votes = options.votes;
  const devnet = await createDevnet(devnetOptions);
  const registry = createRegistry(devnet.registry);
  const metrics = new PromRegistry();
  const network = await createConcordNetwork(
    {
      chain: devnet.chain,
      listen: ["/ip4/127.0.0.1/tcp/0"],
      privateKey: taggedHash("concord/test-sequencer-peer", options.seed),
      whitelist: options.peerWhitelist ?? DEVNET_PEER_WHITELIST,
      subnets: registry.subnets,
      pool: true,
      ...(options.votes ? { votes: options.votes } : {}),
    },
    { logger: silentLogger, metrics },
  );
  const store = new SqliteOutcomeStore({ path: options.storePath ?? join(devnet.dir, "sequencer.sqlite") });
  store.open();
  const pool = createPool({ registry, sequencerKey: devnet.sequencer, network, store, defaults: { n: options.nodes, deadlineMs: 20_000, closeGraceMs: 100, ...options.pool } });
  const outcomes = new Map<string, PoolOutcome>();
  const waiters = new Map<string, ((outcome: PoolOutcome) => void)[]>();
  const stream = pool.outcomes();
  void (async () => {
    for await (const outcome of stream) {
      outcomes.set(outcome.requestId, outcome);
      for (const wake of waiters.get(outcome.requestId) ?? []) wake(outcome);
      waiters.delete(outcome.requestId);
    }
  })();
  await pool.start();
  await network.start();
  const nodes: StartedNode[] = [];
  const addresses = (node: StartedNode) => node.multiaddrs;
  const startOne = async (index: number, extraArgs: string[] = []): Promise<StartedNode> => {
    const config = devnet.nodes[index] as DevnetNode;
    // Never two processes with one key and data directory (a failed test may have left one).
    const previous = nodes[index];
    if (previous) await stopNode(previous);
    // Bootstrap to the pool and every other node that runs: a full mesh.
    const peers = [...network.gossip.multiaddrs, ...nodes.filter((node, i) => i !== index && node.child.exitCode === null && node.child.signalCode === null).flatMap(addresses)];
    const node = await startNode(config.id, ["--config", config.configPath, ...peers.flatMap((address) => ["--bootstrap", address]), ...(options.nodeArgs?.(index) ?? []), ...extraArgs]);
    nodes[index] = node;
    return node;
  };
  const cluster: Cluster = {
    devnet,
    registry,
    network,
    metrics,
    pool,
    store,
    nodes,
    outcomes,
    outcome(requestId, timeoutMs) {
      const known = outcomes.get(requestId);
      if (known) return Promise.resolve(known);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no outcome for ${requestId} after ${timeoutMs} ms`)), timeoutMs);
        const list = waiters.get(requestId) ?? [];
        list.push((outcome) => {
          clearTimeout(timer);
          resolve(outcome);
        });
        waiters.set(requestId, list);
      });
    },
    startNode: startOne,
    waitForPeers: (count, timeoutMs) => network.waitForPeers(count, timeoutMs),
    async stop() {
      await stopAllNodes();
      await pool.stop();
      // Not awaited: the generator is parked waiting for the next outcome, and return() queues
      // behind that; the pool is stopped, so it just stays parked until collected.
      void stream.return(undefined);
      await network.stop();
      await store.close();
    },
  };
  try {
    for (let i = 0; i < options.nodes; i++) await startOne(i);
    // Every subnet's topics at the pool: as many peers as the smallest subnet has.
    await cluster.waitForPeers(Math.min(...registry.subnetMembers.map((members) => members.length)), 15_000);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/** Sums a Prometheus counter's values whose labels match. */
export async function counterValue(metrics: PromRegistry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = metrics.getSingleMetric(name);
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  return values.filter((value) => Object.entries(labels).every(([key, wanted]) => value.labels[key] === wanted)).reduce((sum, value) => sum + value.value, 0);
}
