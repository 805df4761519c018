/**
 * A local network's files: a sequencer key, node keys, the registry and one config per node,
 * all in one folder. `concord demo` and the end-to-end tests build on it; node runners can use
 * it to try Concord on one machine.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { generateKeyPair, writeKeystore } from "../crypto/keystore.ts";
import { keyPairFromSeed, type KeyPair } from "../crypto/schemes.ts";
import { DEFAULT_NODE_CONFIG, type ByzantineMode, type NodeConfig } from "../node/config.ts";
import { registryConfigToJson, type RegistryConfig } from "../quorum/registry.ts";
import { HARDWARE_PROFILES } from "../runner/synthetic.ts";
import { taggedHash } from "../wire/hash.ts";

export interface DevnetNode {
  id: string;
  configPath: string;
  /** The node's key file. */
  keystore: string;
  dataDir: string;
}

export interface Devnet {
  dir: string;
  chain: string;
  registryPath: string;
  registry: RegistryConfig;
  sequencer: KeyPair;
  nodes: DevnetNode[];
}

export interface DevnetOptions {
  dir: string;
  nodes: number;
  chain?: string;
  /** Per node: backend settings (e.g. a different hardware profile each, or a wrong model). */
  backend?: (index: number) => NodeConfig["backend"];
  /** Per node: a byzantine behaviour written into its config (testing aid). */
  byzantine?: (index: number) => ByzantineMode | undefined;
  logLevel?: NodeConfig["logLevel"];
  maxConcurrentJobs?: number;
  /** Each node's batch signature window and size (spec/06 "Batching"); default off. */
  signBatchWindowMs?: number;
  signBatchMax?: number;
  /**
   * Derive every key from this seed (tests and benchmarks: the same network each run). Without
   * it keys are fresh random ones, as for a devnet a person runs.
   */
  seed?: string;
  /**
   * Each node's peerWhitelist. Default loopback (127.0.0.1, ::1): every devnet node is on this
   * machine, and past ten identities from one IP newcomers would pay the colocation penalty.
   */
  peerWhitelist?: string[];
  /** Registry subnets S (spec/05); default 1, and the registry names none. */
  subnets?: number;
  /** Each node's vote routing (spec/06 "Vote routing"); default gossip. A pool on it should be told too (its catch-up). */
  votes?: NodeConfig["votes"];
}

/** A devnet's nodes all run on this machine: loopback peers are known ones. */
export const DEVNET_PEER_WHITELIST: readonly string[] = ["127.0.0.1", "::1"];

/** Node i emulates profile i (mod 5): a devnet shows the floating-point drift of mixed GPUs. */
/** The id of a devnet's node by index: node-01, node-02, ... */
export function devnetNodeId(index: number): string {
  return `node-${String(index + 1).padStart(2, "0")}`;
}

export const SYNTHETIC_HARDWARE: readonly string[] = HARDWARE_PROFILES.map((profile) => profile.name);

export async function createDevnet(options: DevnetOptions): Promise<Devnet> {
  const dir = resolve(options.dir);
  const chain = options.chain ?? "concord-devnet";
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyFor = (label: string): KeyPair =>
    options.seed === undefined ? generateKeyPair("ed25519") : keyPairFromSeed("ed25519", taggedHash("concord/devnet-key", options.seed, label));
  const sequencer = keyFor("sequencer");
  await writeKeystore(join(dir, "sequencer.key.json"), sequencer, "sequencer", { overwrite: true });
  const nodes: DevnetNode[] = [];
  const entries: RegistryConfig["nodes"] = [];
  for (let i = 0; i < options.nodes; i++) {
    const id = devnetNodeId(i);
    const key = keyFor(id);
    const keystore = join(dir, `${id}.key.json`);
    await writeKeystore(keystore, key, id, { overwrite: true });
    entries.push({ id, scheme: key.scheme, publicKey: key.publicKey, weight: 1 });
    const dataDir = join(dir, id);
    // Any free port, p2p and metrics: a devnet runs many nodes on one machine, so not the
    // fixed defaults a real node listens on.
    const config: Omit<NodeConfig, "bootstrap" | "metrics"> & { metrics: NodeConfig["metrics"] } = {
      node: id,
      keystore,
      registry: join(dir, "registry.json"),
      dataDir,
      listen: ["/ip4/127.0.0.1/tcp/0"],
      mdns: false,
      peerWhitelist: [...(options.peerWhitelist ?? DEVNET_PEER_WHITELIST)],
      backend: options.backend?.(i) ?? { type: "synthetic", modelSeed: "concord-synthetic-v1", hardware: SYNTHETIC_HARDWARE[i % SYNTHETIC_HARDWARE.length] as string, delayMs: 0 },
      metrics: { host: "127.0.0.1", port: 0 },
      logLevel: options.logLevel ?? "info",
      maxConcurrentJobs: options.maxConcurrentJobs ?? 2,
      maxRequests: DEFAULT_NODE_CONFIG.maxRequests,
      signBatchWindowMs: options.signBatchWindowMs ?? DEFAULT_NODE_CONFIG.signBatchWindowMs,
      signBatchMax: options.signBatchMax ?? DEFAULT_NODE_CONFIG.signBatchMax,
      votes: options.votes ?? DEFAULT_NODE_CONFIG.votes,
    };
    const byzantine = options.byzantine?.(i);
    if (byzantine) config.byzantine = byzantine;
    const configPath = join(dir, `${id}.config.json`);
    writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
    nodes.push({ id, configPath, keystore, dataDir });
  }
  const registry: RegistryConfig = { chain, sequencer: { scheme: sequencer.scheme, publicKey: sequencer.publicKey }, nodes: entries };
  if (options.subnets !== undefined && options.subnets !== 1) registry.subnets = options.subnets;
  const registryPath = join(dir, "registry.json");
  writeFileSync(registryPath, `${JSON.stringify(registryConfigToJson(registry), null, 2)}\n`);
  return { dir, chain, registryPath, registry, sequencer, nodes };
}
