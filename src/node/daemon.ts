/**
 * The node daemon behind `concord node`: loads and checks its configuration (keys, registry),
 * opens slashing protection, starts the inference backend, the libp2p network, the metrics
 * endpoint and the participant, and stops them all in reverse order.
 */
import type { Server } from "node:http";
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { pino, type Logger } from "pino";
import { createDefaultPolicyRegistry } from "../agreement/registry.ts";
import { SIMILARITY_UNICODE_VERSION } from "../agreement/similarity.ts";
import { readKeystore } from "../crypto/keystore.ts";
import type { KeyPair } from "../crypto/schemes.ts";
import { ConcordError, isConcordError } from "../errors.ts";
import { concordTopic, concordTopicsFor, createConcordNetwork, type ConcordNetwork } from "../net/concord.ts";
import { MAX_FETCH_REQUESTS } from "../net/fetch.ts";
import { createRegistry, registryConfigFromJson, type Registry } from "../quorum/registry.ts";
import type { InferenceBackend } from "../runner/backend.ts";
import { createFixedBackend } from "../runner/fixed.ts";
import { checkModelFile, createLlamaBackend, type LlamaBackend } from "../runner/llama.ts";
import { createOpenAIBackend } from "../runner/openai.ts";
import { createSyntheticBackend } from "../runner/synthetic.ts";
import { bytesEqual, taggedHash, toHex } from "../wire/hash.ts";
import { requestId } from "../wire/ids.ts";
import type { Message } from "../wire/types.ts";
import { createByzantineBehaviour, wrongModelBackend, type ByzantineBehaviour } from "./byzantine.ts";
import type { NodeConfig } from "./config.ts";
import { assertRegularFileIfPresent, readRegularFile } from "./files.ts";
import { readBuildInfo, type BuildInfo } from "./build-info.ts";
import { nodeReadiness, type Readiness } from "./health.ts";
import { createNodeMetrics, serveMetrics, type NodeMetrics } from "./metrics.ts";
import { ForgottenRequests } from "./forgotten.ts";
import { checkSigningHistory, HISTORY_LOST_FLAG, SLASHING_FILE } from "./history.ts";
import { DataDirLock } from "./lock.ts";
import { Participant } from "./participant.ts";
import { SlashingGuard } from "./slashing-guard.ts";

export interface NodeDaemonComponents {
  logger?: Logger;
  clock?: () => number;
  /** Replaces the configured backend (byzantine test nodes, benchmarks). */
  backend?: InferenceBackend;
}

function readRegistry(path: string): Registry {
  let text: string;
  try {
    text = readRegularFile(path).toString("utf8");
  } catch (cause) {
    if (isConcordError(cause)) throw new ConcordError("CONFIG", "cannot read the registry", { details: cause.message, cause });
    throw new ConcordError("CONFIG", "cannot read the registry", { details: `${path}: ${(cause as NodeJS.ErrnoException).code ?? cause}`, cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ConcordError("CONFIG", "registry is not valid JSON", { details: path, cause });
  }
  return createRegistry(registryConfigFromJson(json));
}

/**
 * Slashing records are kept this long past their request's deadline, then pruned (the floor
 * rises with them, so a pruned request is never signed again). A node never signs past a
 * deadline, so an hour is slack for clock skew, not a protocol rule.
 */
const SLASHING_RETENTION_MS = 3_600_000;
const SLASHING_PRUNE_INTERVAL_MS = 60_000;
/** Gauges sampled from the network and the request book (the book may hold 10,000 requests). */
const GAUGE_INTERVAL_MS = 1_000;

export function createBackend(config: NodeConfig["backend"]): InferenceBackend {
  if (config.type === "fixed") return createFixedBackend({ seed: config.modelSeed, delayMs: config.delayMs });
  if (config.type === "synthetic") return createSyntheticBackend({ modelSeed: config.modelSeed, hardware: config.hardware, delayMs: config.delayMs });
  if (config.type === "llama") {
    const { type: _type, ...options } = config;
    return createLlamaBackend(options);
  }
  const apiKey = config.apiKeyEnv ? process.env[config.apiKeyEnv] : undefined;
  return createOpenAIBackend({
    baseUrl: config.baseUrl,
    timeoutMs: config.timeoutMs,
    ...(config.model ? { model: config.model } : {}),
    ...(apiKey ? { apiKey } : {}),
    ...(config.api ? { api: config.api } : {}),
  });
}

/**
 * The seed of a node's libp2p identity, derived from its signing key: the same peer id after
 * every restart, and one that a launcher holding the key file can compute before the node starts.
 */
export function peerKeySeed(secretKey: Uint8Array): Uint8Array {
  return taggedHash("concord/peer-key", secretKey);
}

export class NodeDaemon {
  readonly config: NodeConfig;
  readonly logger: Logger;
  /**
   * Lifecycle lines ("node started", "shutting down", "node stopped") at info even when the log
   * level is warn or error: supervisors and `concord demo` wait for "node started".
   */
  readonly lifecycle: Logger;
  readonly registry: Registry;
  readonly key: KeyPair;
  readonly metrics: NodeMetrics;
  readonly build: BuildInfo;
  #phase: "starting" | "started" | "stopping" = "starting";
  #startedAt: number | undefined;
  #network: ConcordNetwork | undefined;
  #participant: Participant | undefined;
  #slashing: SlashingGuard | undefined;
  #lock: DataDirLock | undefined;
  #metricsServer: Server | undefined;
  #timer: NodeJS.Timeout | undefined;
  #byzantine: ByzantineBehaviour | undefined;
  #tracer: PublishTracer | undefined;
  /** The backend start() created (not one passed in components): stop() closes it. */
  #ownBackend: InferenceBackend | undefined;
  readonly #components: NodeDaemonComponents;
  metricsPort: number | undefined;

  /** Loads and checks everything that can be checked without opening ports; throws CONFIG. */
  static async load(config: NodeConfig, components: NodeDaemonComponents = {}): Promise<NodeDaemon> {
    const registry = readRegistry(config.registry);
    const member = registry.byId.get(config.node);
    if (!member) throw new ConcordError("CONFIG", "node not in the registry", { details: `"${config.node}" is not listed in ${config.registry}` });
    let key: KeyPair;
    try {
      key = (await readKeystore(config.keystore)).keyPair;
    } catch (cause) {
      // A missing or unreadable key is a configuration problem (exit code 2), named as such.
      if (!isConcordError(cause, "KEYSTORE")) throw cause;
      const details = cause.message.startsWith("no key file")
        ? `no key file at ${config.keystore}; create one with: concord keys new --out ${config.keystore} --node ${config.node}`
        : cause.message;
      throw new ConcordError("CONFIG", "cannot load the node key", { details, cause });
    }
    if (key.scheme !== member.scheme || !bytesEqual(key.publicKey, member.publicKey)) {
      throw new ConcordError("CONFIG", "key does not match the registry", { details: `${config.keystore} is not the key registered for "${config.node}"` });
    }
    if (config.backend.type === "llama" && !components.backend) checkModelFile(config.backend.modelFile);
    return new NodeDaemon(config, registry, key, components);
  }

  private constructor(config: NodeConfig, registry: Registry, key: KeyPair, components: NodeDaemonComponents) {
    this.config = config;
    this.registry = registry;
    this.key = key;
    this.#components = components;
    this.logger = components.logger ?? pino({ level: config.logLevel, base: { node: config.node } });
    this.lifecycle = this.logger.isLevelEnabled("info") ? this.logger : this.logger.child({}, { level: "info" });
    this.build = readBuildInfo();
    this.metrics = createNodeMetrics({ ...this.build, node: config.node });
  }

  get peerId(): string | undefined {
    return this.#network?.gossip.peerId;
  }

  get multiaddrs(): string[] {
    return this.#network?.gossip.multiaddrs ?? [];
  }

  get participant(): Participant | undefined {
    return this.#participant;
  }

  /**
   * With subnets, the node's home subnet (spec/05): it joins that subnet's topics only, and hears
   * nothing of the requests of the others. Undefined when the registry has one subnet.
   */
  get homeSubnet(): number | undefined {
    return this.registry.subnets === 1 ? undefined : this.registry.byId.get(this.config.node)?.subnet;
  }

  /**
   * The Concord gossip topics this node joins (one per message kind, its home subnet's where the
   * registry has subnets; with vote routing `sequencer`, not the vote kinds), and those it only
   * publishes its votes on.
   */
  get topicsFor(): { joined: string[]; publishOnly: string[] } {
    const home = this.homeSubnet;
    return concordTopicsFor(this.registry.chain, { subnets: this.registry.subnets, ...(home === undefined ? {} : { homeSubnets: [home] }), votes: this.config.votes });
  }

  /** The topics this node joins (topicsFor). */
  get topics(): string[] {
    return this.topicsFor.joined;
  }

  /** What `/ready` answers (src/node/health.ts), sampled now. */
  readiness(): Readiness {
    const gossip = this.#network?.gossip;
    const { joined, publishOnly } = this.topicsFor;
    return nodeReadiness({
      phase: this.#phase,
      connectedPeers: gossip?.connectedPeers().length ?? 0,
      topics: [
        ...joined.map((topic) => ({
          topic,
          subscribed: gossip?.isRunning === true,
          subscribers: gossip?.subscribers(topic).length ?? 0,
          mesh: gossip?.meshPeers(topic).length ?? 0,
        })),
        // Its votes reach the pool only if the pool is a peer subscribed there.
        ...publishOnly.map((topic) => ({ topic, publishOnly: true, subscribed: false, subscribers: gossip?.subscribers(topic).length ?? 0, mesh: 0 })),
      ],
    });
  }

  /** What `/health` answers besides `status: "ok"`. */
  health(): Record<string, unknown> {
    return {
      node: this.config.node,
      chain: this.registry.chain,
      version: this.build.version,
      ...(this.build.commit ? { commit: this.build.commit } : {}),
      pid: process.pid,
      phase: this.#phase,
      peerId: this.peerId ?? null,
      uptimeSeconds: this.#startedAt === undefined ? 0 : Math.round((Date.now() - this.#startedAt) / 1000),
    };
  }

  async start(): Promise<void> {
    const { config, logger, metrics } = this;
    const clock = this.#components.clock ?? Date.now;
    try {
      mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    } catch (cause) {
      throw new ConcordError("CONFIG", "cannot create the data directory", { details: `${config.dataDir}: ${describeCause(cause)}`, cause });
    }
    // Before anything in it is opened: one process per data directory.
    this.#lock = DataDirLock.acquire(config.dataDir, `node ${config.node}`);
    const slashingPath = join(config.dataDir, SLASHING_FILE);
    let slashing: SlashingGuard;
    try {
      assertRegularFileIfPresent(slashingPath, "the slashing-protection database");
      const history = checkSigningHistory({
        dataDir: config.dataDir,
        slashingPath,
        chain: this.registry.chain,
        node: config.node,
        acceptLost: config.acceptLostSlashingHistory === true,
      });
      slashing = await SlashingGuard.open({ path: slashingPath, signedMarkerDir: config.dataDir });
      if (history === "lost-accepted") {
        // The history starts now: a floor, so that the next start finds one, not an empty store.
        await slashing.prune({ chain: this.registry.chain, before: Math.floor(clock()) });
        this.lifecycle.warn({ path: slashingPath }, `slashing-protection history lost: starting without it (${HISTORY_LOST_FLAG})`);
      }
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.#slashing = slashing;
    try {
      // Early, so /health answers (and /ready says "starting") while a model loads.
      if (config.metrics) {
        const served = await serveMetrics(metrics.registry, config.metrics.host, config.metrics.port, {
          health: () => this.health(),
          readiness: () => this.readiness(),
          refresh: () => {
            if (this.#participant && this.#phase === "started") this.#observeGauges(this.#participant);
          },
        });
        this.#metricsServer = served.server;
        this.metricsPort = served.port;
      }
      const chain = this.registry.chain;
      const network = await createConcordNetwork(
        {
          chain,
          listen: config.listen,
          bootstrap: config.bootstrap,
          mdns: config.mdns,
          subnets: this.registry.subnets,
          ...(this.homeSubnet !== undefined ? { homeSubnets: [this.homeSubnet] } : {}),
          votes: config.votes,
          whitelist: config.peerWhitelist,
          // The libp2p identity derives from the node key: the same peer id after every restart.
          privateKey: peerKeySeed(this.key.secretKey),
        },
        { logger: logger.child({ component: "net" }), metrics: metrics.registry },
      );
      this.#network = network;
      const tracer = config.traceFile ? new PublishTracer(config.traceFile) : undefined;
      this.#tracer = tracer;
      const send = async (message: Message): Promise<void> => {
        tracer?.record("out", message);
        await network.publish(message);
      };
      let participant: Participant | undefined;
      const byzantine = config.byzantine
        ? createByzantineBehaviour({
            mode: config.byzantine,
            nodeId: config.node,
            key: this.key,
            book: () => participant?.book,
            slashing,
            send,
            sendRaw: async (topic, payload) => {
              await network.gossip.publish(topic, payload);
            },
            topics: this.topics,
            topicOf: (kind) => concordTopic(chain, kind, this.homeSubnet),
            logger: logger.child({ component: "byzantine" }),
          })
        : undefined;
      this.#byzantine = byzantine;
      if (byzantine) logger.warn({ mode: byzantine.mode }, "BYZANTINE TEST MODE: this node misbehaves on purpose");
      if (process.versions.unicode !== SIMILARITY_UNICODE_VERSION) {
        logger.warn(
          { runtime: process.versions.unicode, spec: SIMILARITY_UNICODE_VERSION },
          "this runtime's Unicode tables are not the version semantic@1 is pinned to: it may judge text with newly assigned characters differently from other nodes",
        );
      }
      const honestBackend =
        this.#components.backend ?? createBackend(config.byzantine === "wrong-model" ? wrongModelBackend(config.backend, { dataDir: config.dataDir }) : config.backend);
      if (honestBackend !== this.#components.backend) this.#ownBackend = honestBackend;
      if (config.backend.type === "llama" && honestBackend !== this.#components.backend) {
        // The model loads before the node joins: a file llama.cpp cannot load is a configuration error.
        await (honestBackend as LlamaBackend).ready().catch((cause: unknown) => {
          throw new ConcordError("CONFIG", "cannot load the llama model", { details: (cause as Error).message, cause });
        });
      }
      participant = new Participant({
        nodeId: config.node,
        key: this.key,
        registry: this.registry,
        policies: createDefaultPolicyRegistry(),
        backend: byzantine ? byzantine.backend(honestBackend) : honestBackend,
        slashing,
        clock,
        publish: byzantine ? (message) => byzantine.publish(message) : send,
        logger: logger.child({ component: "participant" }),
        observer: {
          decided(context, outcome, latencyMs) {
            const policy = `${context.request.policy.id}@${context.request.policy.version}`;
            metrics.decisions.inc({ policy, outcome });
            metrics.decisionLatency.observe({ policy }, latencyMs / 1000);
          },
          inference(_context, durationMs, ok) {
            metrics.inference.observe({ outcome: ok ? "ok" : "error" }, durationMs / 1000);
          },
          signingCheck(durationMs, outcome) {
            metrics.signingChecks.observe({ outcome }, durationMs / 1000);
          },
          bundlePublished() {
            metrics.bundlesPublished.inc();
          },
        },
        maxConcurrentJobs: config.maxConcurrentJobs,
        maxRequests: config.maxRequests,
        signBatchWindowMs: config.signBatchWindowMs,
        signBatchMax: config.signBatchMax,
        votes: config.votes,
      });
      this.#participant = participant;
      const receiver = participant;
      const forgotten = new ForgottenRequests({ nodeId: config.node, fetch: (ids) => network.fetch(ids), logger: logger.child({ component: "recovery" }) });
      const receive = (message: Message): void => {
        try {
          receiver.receive(message);
        } catch (error) {
          if (message.t === "close" && !receiver.book.get(message.request)) forgotten.noteClose(message);
          throw error;
        }
      };
      const deliver = byzantine
        ? (message: Message) => {
            try {
              receive(message);
            } catch (error) {
              // Authentic but ignored (late, duplicate) is still worth watching for a copycat.
              if (isConcordError(error) && error.action === "ignore") byzantine.observe(message);
              throw error;
            }
            byzantine.observe(message);
          }
        : receive;
      network.attach(
        tracer
          ? (message) => {
              tracer.record("in", message);
              deliver(message);
            }
          : deliver,
      );
      await network.start().catch((cause: unknown) => {
        throw new ConcordError("CONFIG", "cannot start the network", { details: `listen ${config.listen.join(", ")}: ${describeCause(cause)}`, cause });
      });
      // Requests in flight before this start (a restart, or a first start into a running
      // network): gossip will not deliver what went by. Fetched back: what this node signed for
      // and is still open (a close, or in direct mode its own output, may have gone by), then
      // what its peers name as open.
      void Promise.all([
        slashing.openRequests({ chain, node: config.node, after: Math.floor(clock()), limit: MAX_FETCH_REQUESTS }).catch((error: unknown) => {
          logger.error({ error: String(error) }, "slashing protection read failed: its open requests are not resumed");
          return [];
        }),
        network.openRequests().catch((error: unknown) => {
          logger.warn({ error: String(error) }, "asking peers for their open requests failed");
          return [];
        }),
      ]).then(([signed, open]) => forgotten.resume([...signed, ...open]));
      let lastPrune = clock();
      let lastGauges = 0;
      this.#timer = setInterval(() => {
        receiver.tick();
        if (clock() - lastPrune >= SLASHING_PRUNE_INTERVAL_MS) {
          lastPrune = clock();
          slashing.prune({ chain, before: Math.max(0, lastPrune - SLASHING_RETENTION_MS) }).then(
            (deleted) => logger.debug({ deleted }, "slashing protection pruned"),
            (error: unknown) => logger.error({ error: String(error) }, "slashing protection prune failed"),
          );
        }
        if (clock() - lastGauges >= GAUGE_INTERVAL_MS) {
          lastGauges = clock();
          this.#observeGauges(receiver);
        }
        tracer?.flush();
      }, 50);
      this.#phase = "started";
      this.#startedAt = Date.now();
      this.#observeGauges(receiver);
      this.lifecycle.info(
        {
          // The process to signal (a supervisor or `npm run` may stand between it and the operator).
          pid: process.pid,
          peerId: network.gossip.peerId,
          multiaddrs: network.gossip.multiaddrs,
          metricsPort: this.metricsPort ?? null,
          chain,
          backend: honestBackend.name,
          ...(byzantine ? { byzantine: byzantine.mode } : {}),
        },
        "node started",
      );
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  #observeGauges(participant: Participant): void {
    const { metrics } = this;
    const gossip = this.#network?.gossip;
    if (gossip) {
      metrics.peers.set(gossip.peers().length);
      metrics.connectedPeers.set(gossip.connectedPeers().length);
      for (const topic of this.topics) {
        metrics.topicSubscribers.set({ topic }, gossip.subscribers(topic).length);
        metrics.meshPeers.set({ topic }, gossip.meshPeers(topic).length);
      }
    }
    metrics.requestsFollowed.set(participant.book.size);
    let open = 0;
    const now = (this.#components.clock ?? Date.now)();
    // Past its deadline a request is over, whether or not this node saw how (a node routing its
    // votes to the sequencer never does).
    for (const entry of participant.book.entries()) if (!entry.bundle && !entry.noAgreement && entry.context.request.deadline > now) open++;
    metrics.requestsOpen.set(open);
    metrics.ready.set(this.readiness().ready ? 1 : 0);
  }

  /** Stops everything; safe to call twice. */
  async stop(): Promise<void> {
    this.#phase = "stopping";
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#participant?.stop();
    this.#byzantine?.stop();
    this.#byzantine = undefined;
    // After the participant: the jobs it abandoned fail with BACKEND, and nothing starts new ones.
    await this.#ownBackend?.close?.();
    this.#ownBackend = undefined;
    await this.#network?.stop().catch(() => undefined);
    this.#network = undefined;
    if (this.#metricsServer) await new Promise((resolve) => this.#metricsServer?.close(resolve));
    this.#metricsServer = undefined;
    await this.#slashing?.close();
    this.#slashing = undefined;
    this.#lock?.release();
    this.#lock = undefined;
    this.#tracer?.flush();
    this.#tracer = undefined;
  }
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  // libp2p reports a failed listen as a paragraph with the socket error inside; keep that line.
  const socketError = /\b(E[A-Z]+): ([^\n]*)/.exec(cause.message);
  if (socketError) return `${socketError[1]}: ${socketError[2]}`;
  const code = (cause as NodeJS.ErrnoException).code;
  return `${code ? `${code}: ` : ""}${cause.message.split("\n")[0]}`;
}

/**
 * Benchmarks: one JSON line per protocol message this node publishes ("out") or accepts from the
 * network ("in"), `{direction, kind, request, node, at}`, with `at` in Unix ms to the microsecond
 * (performance.timeOrigin + now, comparable across processes on one machine). Buffered in memory
 * and appended every tick; absent (and no wrapper in the path) unless traceFile is set.
 */
class PublishTracer {
  readonly #path: string;
  #lines: string[] = [];

  constructor(path: string) {
    this.#path = path;
    mkdirSync(dirname(path), { recursive: true });
  }

  record(direction: "in" | "out", message: Message): void {
    const at = performance.timeOrigin + performance.now();
    const request =
      message.t === "request"
        ? requestId(message)
        : message.t === "bundle"
          ? requestId(message.request)
          : message.t === "equivocation"
            ? message.first.request
            : message.request;
    const node = "node" in message ? message.node : null;
    this.#lines.push(JSON.stringify({ direction, kind: message.t, request: toHex(request), node, at }));
  }

  flush(): void {
    if (this.#lines.length === 0) return;
    const text = `${this.#lines.join("\n")}\n`;
    this.#lines = [];
    appendFileSync(this.#path, text);
  }
}
