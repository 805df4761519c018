/**
 * A Concord network inside one process: N participants and a sequencer's pool, each on its own
 * libp2p node over the memory transport (the full stack: noise, yamux, gossipsub), with the fixed
 * backend (no model) and real slashing-protection files. For tests and benchmarks whose subject is
 * dissemination (subnets) rather than processes; test/helpers/processes.ts runs `concord node`
 * processes instead.
 *
 * Connections: each node dials the pool and `dials` others of its own subnet (seeded choice), as
 * an operator's bootstrap list would name peers of the node's subnet; with one subnet, any others.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConcordNetwork, type ConcordNetwork } from "../../src/net/concord.ts";
import type { VoteRoute } from "../../src/net/topics.ts";
import { silentLogger } from "../../src/net/logger.ts";
import { Participant } from "../../src/node/participant.ts";
import { SlashingProtection } from "../../src/node/slashing.ts";
import { createRegistry, type Registry } from "../../src/quorum/registry.ts";
import { createFixedBackend } from "../../src/runner/fixed.ts";
import { createPool, type Pool, type PoolDefaults, type PoolOutcome } from "../../src/sequencer/pool.ts";
import { SqliteOutcomeStore } from "../../src/sequencer/store.ts";
import { taggedHash, toHex } from "../../src/wire/hash.ts";
import { requestIdOf } from "../../src/wire/ids.ts";
import type { Message } from "../../src/wire/types.ts";
import { testNetwork } from "./fixtures.ts";

export interface InProcessClusterOptions {
  nodes: number;
  /** Registry subnets S (default 1). */
  subnets?: number;
  /** Other nodes of its subnet each node dials (default 6). */
  dials?: number;
  /** Fixed backend delay per job, ms (default 10). */
  delayMs?: number;
  pool?: Partial<PoolDefaults>;
  /** Batch signatures for every node (spec/06 "Batching"); default off. */
  signBatch?: { windowMs: number; max?: number };
  /** Every node's vote routing (spec/06 "Vote routing"), the pool told of it. Default gossip. */
  votes?: VoteRoute;
  /** Nodes (by registry index) whose routing is the other one: a network mid-way through a change. */
  otherRoute?: readonly number[];
  /** Seeds node keys, peer ids and the dial choice. */
  seed: string;
}

export interface ClusterNode {
  id: string;
  subnet: number;
  network: ConcordNetwork;
  participant: Participant;
  /** Messages gossip (or a fetch) handed to this node, by request id (hex). */
  received: Map<string, Message[]>;
  /** Every message handed to this node, counted (whatever its request). */
  deliveries: number;
}

export interface InProcessCluster {
  registry: Registry;
  nodes: ClusterNode[];
  pool: Pool;
  poolNetwork: ConcordNetwork;
  store: SqliteOutcomeStore;
  storePath: string;
  outcomes: Map<string, PoolOutcome>;
  /** Messages handed to the pool. */
  poolDeliveries(): number;
  /** Stops the pool and its network, keeping the store file; `restartPool` starts a new one on it. */
  stopPool(): Promise<void>;
  restartPool(): Promise<void>;
  stop(): Promise<void>;
}

let instance = 0;

/** A seeded index in [0, bound). */
function pick(seed: string, label: string, bound: number): number {
  const bytes = taggedHash("concord/test-cluster", seed, label);
  return (((bytes[0] as number) << 16) | ((bytes[1] as number) << 8) | (bytes[2] as number)) % bound;
}

export async function startInProcessCluster(options: InProcessClusterOptions): Promise<InProcessCluster> {
  const { nodes: count, subnets = 1, dials = 6, delayMs = 10, seed } = options;
  const net = testNetwork(count);
  const registry = createRegistry({ ...net.config, subnets });
  const dir = mkdtempSync(join(tmpdir(), "concord-cluster-"));
  const run = `${process.pid}-${instance++}`;
  const address = (name: string) => `/memory/concord-cluster-${run}-${name}`;
  const storePath = join(dir, "pool.sqlite");
  const stops: (() => Promise<void> | void)[] = [];
  let poolDelivered = 0;

  const outcomes = new Map<string, PoolOutcome>();
  const poolAddress = address("pool");
  const startPool = async () => {
    const network = await createConcordNetwork(
      { chain: registry.chain, listen: [poolAddress], transports: ["memory"], subnets, privateKey: taggedHash("concord/test-cluster-pool", seed), handlerQueueLength: 100_000, pool: true, ...(options.votes ? { votes: options.votes } : {}) },
      { logger: silentLogger },
    );
    const store = new SqliteOutcomeStore({ path: storePath });
    store.open();
    const counted = {
      attach: (receiver: (message: Message, from: string, payload?: Uint8Array) => void) =>
        network.attach((message, from, payload) => {
          poolDelivered++;
          receiver(message, from, payload);
        }),
      publish: (message: Message) => network.publish(message),
      fetch: (ids: Parameters<ConcordNetwork["fetch"]>[0]) => network.fetch(ids),
      subnets: network.subnets,
    };
    const pool = createPool({
      registry,
      sequencerKey: net.sequencer,
      network: counted,
      store,
      defaults: { n: 5, closeGraceMs: 50, deadlineMs: 20_000, maxInFlight: 100_000, ...options.pool },
      tickMs: 10,
    });
    await pool.start();
    await network.start();
    void (async () => {
      for await (const outcome of pool.outcomes()) outcomes.set(outcome.requestId, outcome);
    })();
    return { network, pool, store };
  };
  let current = await startPool();

  const members = registry.members;
  const nodes: ClusterNode[] = [];
  for (const [index, member] of members.entries()) {
    const route: VoteRoute = (options.otherRoute ?? []).includes(index) ? (options.votes === "sequencer" ? "gossip" : "sequencer") : (options.votes ?? "gossip");
    const key = net.keys.get(member.id);
    if (!key) throw new Error(`cluster: no key for ${member.id}`);
    const peers = registry.subnetMembers[member.subnet] ?? [];
    const before = peers.slice(0, peers.indexOf(member)).filter((peer) => peer.id !== member.id);
    // Dial up to `dials` earlier nodes of the subnet (they are listening already).
    const chosen = new Set<number>();
    for (let i = 0; chosen.size < Math.min(dials, before.length); i++) chosen.add(pick(seed, `${member.id}/${i}`, before.length));
    const bootstrap = [poolAddress, ...[...chosen].map((i) => address((before[i] as { id: string }).id))];
    const network = await createConcordNetwork(
      {
        chain: registry.chain,
        listen: [address(member.id)],
        transports: ["memory"],
        bootstrap,
        subnets,
        ...(subnets > 1 ? { homeSubnets: [member.subnet] } : {}),
        votes: route,
        privateKey: taggedHash("concord/test-cluster-node", seed, member.id),
        handlerQueueLength: 100_000,
      },
      { logger: silentLogger },
    );
    const slashing = new SlashingProtection({ path: join(dir, `${member.id}.sqlite`) });
    slashing.open();
    const participant = new Participant({
      nodeId: member.id,
      key,
      registry,
      policies: net.policies,
      backend: createFixedBackend({ seed: "cluster", delayMs }),
      slashing,
      clock: Date.now,
      publish: async (message) => {
        await network.publish(message);
      },
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      maxConcurrentJobs: 64,
      votes: route,
      ...(options.signBatch ? { signBatchWindowMs: options.signBatch.windowMs, ...(options.signBatch.max ? { signBatchMax: options.signBatch.max } : {}) } : {}),
    });
    const node: ClusterNode = { id: member.id, subnet: member.subnet, network, participant, received: new Map(), deliveries: 0 };
    network.attach((message) => {
      node.deliveries++;
      const id = toHex(requestIdOf(message));
      node.received.set(id, [...(node.received.get(id) ?? []), message]);
      participant.receive(message);
    });
    await network.start();
    const timer = setInterval(() => participant.tick(), 20);
    stops.push(async () => {
      clearInterval(timer);
      participant.stop();
      await network.stop();
      slashing.close();
    });
    nodes.push(node);
  }

  const stopPool = async () => {
    await current.pool.stop();
    await current.network.stop();
    await current.store.close();
  };
  return {
    registry,
    nodes,
    get pool() {
      return current.pool;
    },
    get poolNetwork() {
      return current.network;
    },
    get store() {
      return current.store;
    },
    storePath,
    outcomes,
    poolDeliveries: () => poolDelivered,
    stopPool,
    async restartPool() {
      current = await startPool();
    },
    async stop() {
      await stopPool().catch(() => undefined);
      for (const stop of stops.reverse()) await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Waits until the pool sees every node on its topics and every node has a subscribed peer on
 * each of its own, then `settleMs` (default 1 s) for meshes to form. Not for meshes themselves
 * (ConcordNetwork.waitForPeers says why): each node here is connected to the pool and to its
 * subnet's earlier nodes, and flood publishing reaches every connected subscriber.
 */
export async function waitForCluster(cluster: InProcessCluster, timeoutMs: number, options: { settleMs?: number } = {}): Promise<void> {
  const smallest = Math.min(...cluster.registry.subnetMembers.map((members) => members.length));
  await cluster.poolNetwork.waitForPeers(smallest, timeoutMs);
  await Promise.all(cluster.nodes.map((node) => node.network.waitForPeers(1, timeoutMs)));
  await new Promise((resolve) => setTimeout(resolve, options.settleMs ?? 1_000));
}

