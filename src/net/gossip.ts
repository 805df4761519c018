/**
 * The gossip node: a libp2p host running gossipsub for Concord's topics. It knows nothing about
 * Concord's messages: payloads are bytes, and the rules that judge them come in as validators
 * (src/net/validation.ts maps their errors onto gossipsub verdicts).
 *
 * Choices that matter for consensus traffic:
 * - StrictNoSign: payloads carry Concord's own signatures; gossipsub adds no author, seqno or
 *   signature, so the "from" a handler sees is the peer that relayed the message, never a claim
 *   about who wrote it.
 * - Message id = SHA-256 over topic and payload (src/net/message-id.ts): the same bytes are
 *   delivered once however many nodes publish them.
 * - Validators are mandatory: a topic without one ignores everything (fail closed).
 * - Peer scoring is on for every topic, so peers whose messages are rejected are graylisted, and
 *   Concord adds its own penalties (src/net/peer-penalties.ts): identities crowding one IP, and
 *   messages on topics it does not use. Each defence that fires is logged and counted.
 * - What is written to one peer in one turn of the event loop goes out as one write
 *   (src/net/outbound.ts).
 * - Bounded everywhere: RPC frame size, validations in flight, per-topic handler queues, bytes
 *   buffered towards a slow peer.
 */

import { createLibp2p } from "libp2p";
import type { Libp2p, Libp2pOptions } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { memory } from "@libp2p/memory";
import { noise } from "@libp2p/noise";
import { yamux } from "@libp2p/yamux";
import { identify } from "@libp2p/identify";
import type { Identify } from "@libp2p/identify";
import { mdns } from "@libp2p/mdns";
import { gossipsub, StrictNoSign } from "@libp2p/gossipsub";
import type { GossipSub, GossipsubMessage, GossipsubOpts, TopicValidatorFn } from "@libp2p/gossipsub";
import { createPeerScoreParams, validatePeerScoreParams, validatePeerScoreThresholds } from "@libp2p/gossipsub/score";
import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from "@libp2p/gossipsub/score";
import type { Connection, PeerId, PeerInfo, PrivateKey, Stream } from "@libp2p/interface";
import { generateKeyPair, generateKeyPairFromSeed } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey, peerIdFromString } from "@libp2p/peer-id";
import { CODE_IP4, CODE_IP6, CODE_P2P, multiaddr } from "@multiformats/multiaddr";
import type { Multiaddr } from "@multiformats/multiaddr";
import type { Registry } from "prom-client";
import { ConcordError, assert } from "../errors.ts";
import {
  COLOCATION_THRESHOLD,
  COLOCATION_WEIGHT,
  DEFAULT_DIAL_TIMEOUT_MS,
  DEFAULT_HANDLER_QUEUE_LENGTH,
  DEFAULT_LISTEN,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_OUTBOUND_BUFFER_BYTES,
  DEFAULT_MAX_PENDING_VALIDATIONS,
  DEFAULT_MDNS_INTERVAL_MS,
  DEFAULT_MDNS_SERVICE_TAG,
  DEFAULT_REDIAL_INTERVAL_MS,
  DEFAULT_SEEN_TTL_MS,
  DEFAULT_VALIDATOR_TIMEOUT_MS,
  GOSSIPSUB_MAX_FRAME_BYTES,
  IDONTWANT_MIN_BYTES,
  MESH_PARAMS,
  PEER_SCORE_PARAMS,
  RPC_FRAME_MARGIN_BYTES,
  SCORE_THRESHOLDS,
  TOPIC_SCORE_PARAMS,
  UNKNOWN_TOPIC_DECAY,
  UNKNOWN_TOPIC_WEIGHT,
} from "./constants.ts";
import { DefenceLog } from "./defences.ts";
import type { NetLogger } from "./logger.ts";
import { createNetMetrics } from "./metrics.ts";
import type { NetMetrics } from "./metrics.ts";
import { gossipMessageId, gossipMessageIdString } from "./message-id.ts";
import { coalesceOutboundWrites } from "./outbound.ts";
import { PeerPenalties } from "./peer-penalties.ts";
import { BoundedQueue } from "./queue.ts";
import { createMissingValidator, createTopicValidator } from "./validation.ts";
import type { GossipValidator } from "./validation.ts";

export type TransportName = "tcp" | "memory";

/** Plain data; every field has a default in constants.ts. */
export interface GossipNodeInit {
  /** Multiaddrs to listen on. Default /ip4/127.0.0.1/tcp/0. */
  listen?: readonly string[];
  /** Transports to run. Default ["tcp"]; "memory" connects nodes inside one process (tests). */
  transports?: readonly TransportName[];
  /** Multiaddrs dialed at start and re-dialed while disconnected. Own address is skipped. */
  bootstrap?: readonly string[];
  /** Find peers on the LAN with mDNS and dial them. Default false. */
  mdns?: boolean;
  mdnsServiceTag?: string;
  mdnsIntervalMs?: number;
  /**
   * The node's identity: a 32-byte Ed25519 seed (the node keeps its peer id across restarts) or
   * a libp2p private key. Default: a fresh random key each run.
   */
  privateKey?: Uint8Array | PrivateKey;
  /** Topics this node joins at start; the only topics it will accept messages on. */
  topics: readonly string[];
  /**
   * Topics this node publishes on without joining them: its messages go straight to the peers
   * subscribed there (floodPublish), it relays nothing of them and accepts nothing on them.
   * Default none.
   */
  publishTopics?: readonly string[];
  /** Largest payload published or accepted. Default: the wire limit, at most 4 MiB - 64 KiB. */
  maxMessageBytes?: number;
  /** Validated messages waiting per topic for handlers before new ones are dropped. Default 1024. */
  handlerQueueLength?: number;
  validatorTimeoutMs?: number;
  maxPendingValidations?: number;
  maxOutboundBufferBytes?: number;
  redialIntervalMs?: number;
  dialTimeoutMs?: number;
  seenTtlMs?: number;
  /**
   * Known peers, exempt from the colocation penalty and from catch-up's per-IP budget: peer ids,
   * IP addresses, CIDR ranges. Bootstrap peers are known without being listed. Default none.
   */
  whitelist?: readonly string[];
  /** Identities from one IP (known peers not counted) before newcomers pay. Default 10. */
  colocationThreshold?: number;
  /** Overrides of the per-topic score parameters (same for every topic). */
  topicScoreParams?: Partial<TopicScoreParams>;
  scoreThresholds?: Partial<PeerScoreThresholds>;
}

export interface GossipNodeComponents {
  logger: NetLogger;
  /** When given, gossip metrics are registered here. */
  metrics?: Registry;
}

/** Receives validated payloads of one topic; `fromPeer` is the peer that relayed it to us. */
export type GossipHandler = (payload: Uint8Array, fromPeer: string) => void | Promise<void>;

export interface PublishResult {
  /**
   * Peers the message was handed to. 0 means it reached nobody: either no peer is subscribed
   * (nothing is recorded, a retry with the same bytes goes out) or every send failed (gossipsub
   * has already recorded the id, so the same bytes now count as a duplicate; peers that join
   * within a few heartbeats still fetch it through IHAVE/IWANT).
   */
  recipients: number;
  /** The payload was already seen on this topic (published or received): nothing was sent. */
  duplicate: boolean;
  /** Gossip message id (base64). */
  msgId: string;
}

/** The parts of the gossipsub router used here that its public interface type leaves out. */
interface GossipRouter extends GossipSub {
  getMeshPeers(topic: string): string[];
  getScore(peerId: string): number;
  acceptFrom(peerId: string): boolean;
  handleReceivedRpc(from: PeerId, rpc: { messages: { topic: string }[] }): Promise<void>;
}

function isGossipRouter(service: GossipSub): service is GossipRouter {
  const candidate: Partial<GossipRouter> = service;
  return (
    typeof candidate.getMeshPeers === "function" &&
    typeof candidate.getScore === "function" &&
    typeof candidate.acceptFrom === "function" &&
    typeof candidate.handleReceivedRpc === "function"
  );
}

/** The IP address a connection comes from; undefined for transports without one (memory). */
export function remoteIp(connection: Pick<Connection, "remoteAddr">): string | undefined {
  return connection.remoteAddr.getComponents().find((part) => part.code === CODE_IP4 || part.code === CODE_IP6)?.value;
}

type Services = { identify: Identify; pubsub: GossipSub };

interface BootstrapEntry {
  address: Multiaddr;
  /** From the address's /p2p/ part, or learnt on the first successful dial. */
  peerId: string | undefined;
}

interface Delivery {
  payload: Uint8Array;
  from: string;
}

interface TopicState {
  handlers: Set<GossipHandler>;
  queue: BoundedQueue<Delivery>;
}

/** Ed25519 key from a 32-byte seed, or a fresh one. */
export async function toPrivateKey(key: Uint8Array | PrivateKey | undefined): Promise<PrivateKey> {
  if (key === undefined) return generateKeyPair("Ed25519");
  if (key instanceof Uint8Array) {
    if (key.length !== 32) throw new ConcordError("KEY_INVALID", "node key seed must be 32 bytes", { details: `got ${key.length}` });
    return generateKeyPairFromSeed("Ed25519", key);
  }
  return key;
}

/**
 * The peer id a node with this seed will have.
 * @example await peerIdFromSeed(new Uint8Array(32)) // "12D3KooW..."
 */
export async function peerIdFromSeed(seed: Uint8Array): Promise<string> {
  return peerIdFromPrivateKey(await toPrivateKey(seed)).toString();
}

/**
 * Creates a gossip node (not started).
 * @example
 * const node = await createGossipNode({ topics: chainTopics("rollup-7") }, { logger: pino() });
 * node.registerValidator(topic, (bytes) => { decodeCommitment(bytes); });
 * await node.start();
 */
export async function createGossipNode(init: GossipNodeInit, components: GossipNodeComponents): Promise<GossipNode> {
  const settings = withDefaults(init);
  const largestCarried = GOSSIPSUB_MAX_FRAME_BYTES - RPC_FRAME_MARGIN_BYTES;
  if (settings.maxMessageBytes > largestCarried) {
    // Gossipsub cannot send a larger frame (it drops it silently); clamp, so such a payload
    // fails loudly in publish() with WIRE_OVERSIZED instead.
    components.logger.warn(
      { requested: settings.maxMessageBytes, clampedTo: largestCarried },
      "gossip maxMessageBytes exceeds what a gossipsub frame carries",
    );
    settings.maxMessageBytes = largestCarried;
  }
  const privateKey = await toPrivateKey(init.privateKey);
  const metrics = components.metrics !== undefined ? createNetMetrics(components.metrics) : undefined;
  const defences = new DefenceLog(components.logger, metrics, Date.now);
  const penalties = new PeerPenalties(
    {
      colocationThreshold: settings.colocationThreshold,
      colocationWeight: COLOCATION_WEIGHT,
      unknownTopicWeight: UNKNOWN_TOPIC_WEIGHT,
      unknownTopicDecay: UNKNOWN_TOPIC_DECAY,
      whitelist: settings.whitelist,
    },
    {
      colocation: (context) => defences.fired("colocation", context),
      // Attacker-chosen text: logged cut short.
      unknownTopic: ({ peer, topic }) => defences.fired("unknown-topic", { peer, topic: topic.slice(0, 80) }),
    },
  );

  const topics: Record<string, TopicScoreParams> = {};
  for (const topic of settings.topics) topics[topic] = { ...TOPIC_SCORE_PARAMS, ...init.topicScoreParams };
  const scoreParams: PeerScoreParams = createPeerScoreParams({
    ...PEER_SCORE_PARAMS,
    topics,
    appSpecificScore: (peer) => penalties.score(peer, Date.now()),
  });
  const scoreThresholds: PeerScoreThresholds = { ...SCORE_THRESHOLDS, ...init.scoreThresholds };
  try {
    validatePeerScoreParams(scoreParams);
    validatePeerScoreThresholds(scoreThresholds);
  } catch (cause) {
    throw new ConcordError("CONFIG", "bad gossip score settings", { details: cause instanceof Error ? cause.message : String(cause), cause });
  }

  const gossipOptions: Partial<GossipsubOpts> = {
    ...MESH_PARAMS,
    idontwantMinDataSize: IDONTWANT_MIN_BYTES,
    globalSignaturePolicy: StrictNoSign,
    // No fastMsgIdFn: ours would be the full id again, and its cache a second seen cache, one
    // more lookup and insert per message for the duplicates seenCache already catches.
    msgIdFn: (message) => gossipMessageId(message.topic, message.data),
    // Node's base64 instead of the default's portable one: gossipsub turns every id in every
    // IHAVE into a string, a measurable share of a node's CPU at load.
    msgIdToStrFn: (id) => Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString("base64"),
    // Publish-only topics are allowed too: the router must track who subscribes to them.
    allowedTopics: [...settings.topics, ...settings.publishTopics],
    scoreParams,
    scoreThresholds,
    seenTTL: settings.seenTtlMs,
    maxInboundDataLength: settings.maxMessageBytes + RPC_FRAME_MARGIN_BYTES,
    maxOutboundBufferSize: settings.maxOutboundBufferBytes,
    // Read one peer's stream one RPC and one message at a time: a fast sender waits for our
    // validators (TCP backpressure) instead of queueing unbounded work in this process.
    awaitRpcHandler: true,
    awaitRpcMessageHandler: true,
    // Gossipsub only: a floodsub peer would bypass scoring and mesh limits.
    fallbackToFloodsub: false,
    // Duplicates and empty topics come back as errors, which publish() turns into results.
    ignoreDuplicatePublishError: false,
    allowPublishToZeroTopicPeers: false,
    emitSelf: false,
    doPX: false,
  };

  const peerDiscovery: NonNullable<Libp2pOptions<Services>["peerDiscovery"]> = [];
  if (settings.mdns) {
    peerDiscovery.push(mdns({ serviceTag: settings.mdnsServiceTag, interval: settings.mdnsIntervalMs }));
  }
  const transports: NonNullable<Libp2pOptions<Services>["transports"]> = [];
  if (settings.transports.includes("tcp")) transports.push(tcp());
  if (settings.transports.includes("memory")) transports.push(memory());

  const libp2p = await createLibp2p<Services>({
    start: false,
    privateKey,
    addresses: { listen: [...settings.listen] },
    transports,
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery,
    services: {
      identify: identify(),
      pubsub: gossipsub(gossipOptions),
    },
  });
  const router = libp2p.services.pubsub;
  if (!isGossipRouter(router)) throw new Error("@libp2p/gossipsub no longer exposes getMeshPeers/getScore");
  coalesceOutboundWrites(router);
  penalizeUnknownTopics(router, new Set(settings.topics), penalties);

  return new GossipNode(settings, { libp2p, router, logger: components.logger, metrics, defences, penalties });
}

type Settings = Required<Omit<GossipNodeInit, "privateKey" | "topicScoreParams" | "scoreThresholds">>;

/**
 * Gossipsub drops a message on a topic outside `allowedTopics` at no cost to its sender: count
 * each one (from a peer not graylisted already) against the sender's score first. It reads the
 * RPC only, through the router's public handleReceivedRpc.
 */
function penalizeUnknownTopics(router: GossipRouter, topics: ReadonlySet<string>, penalties: PeerPenalties): void {
  const handle = router.handleReceivedRpc.bind(router);
  router.handleReceivedRpc = (from, rpc) => {
    const peer = from.toString();
    for (const message of rpc.messages) {
      if (!topics.has(message.topic) && router.acceptFrom(peer)) penalties.unknownTopic(peer, message.topic, Date.now());
    }
    return handle(from, rpc);
  };
}

function withDefaults(init: GossipNodeInit): Settings {
  const settings: Settings = {
    listen: init.listen ?? DEFAULT_LISTEN,
    transports: init.transports ?? ["tcp"],
    bootstrap: init.bootstrap ?? [],
    mdns: init.mdns ?? false,
    mdnsServiceTag: init.mdnsServiceTag ?? DEFAULT_MDNS_SERVICE_TAG,
    mdnsIntervalMs: init.mdnsIntervalMs ?? DEFAULT_MDNS_INTERVAL_MS,
    topics: [...new Set(init.topics)],
    publishTopics: [...new Set(init.publishTopics ?? [])].filter((topic) => !init.topics.includes(topic)),
    maxMessageBytes: init.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    handlerQueueLength: init.handlerQueueLength ?? DEFAULT_HANDLER_QUEUE_LENGTH,
    validatorTimeoutMs: init.validatorTimeoutMs ?? DEFAULT_VALIDATOR_TIMEOUT_MS,
    maxPendingValidations: init.maxPendingValidations ?? DEFAULT_MAX_PENDING_VALIDATIONS,
    maxOutboundBufferBytes: init.maxOutboundBufferBytes ?? DEFAULT_MAX_OUTBOUND_BUFFER_BYTES,
    redialIntervalMs: init.redialIntervalMs ?? DEFAULT_REDIAL_INTERVAL_MS,
    dialTimeoutMs: init.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS,
    seenTtlMs: init.seenTtlMs ?? DEFAULT_SEEN_TTL_MS,
    whitelist: init.whitelist ?? [],
    colocationThreshold: init.colocationThreshold ?? COLOCATION_THRESHOLD,
  };
  if (settings.topics.length === 0) throw new ConcordError("CONFIG", "gossip node needs at least one topic");

  for (const [name, value] of Object.entries(settings)) {
    if (typeof value === "number" && !(Number.isSafeInteger(value) && value > 0)) {
      throw new ConcordError("CONFIG", `gossip ${name} must be a positive integer`, { details: String(value) });
    }
  }
  for (const address of [...settings.listen, ...settings.bootstrap]) {
    try {
      multiaddr(address);
    } catch (cause) {
      throw new ConcordError("CONFIG", "bad multiaddr", { details: address, cause });
    }
  }
  return settings;
}

interface GossipNodeParts {
  libp2p: Libp2p<Services>;
  router: GossipRouter;
  logger: NetLogger;
  metrics: NetMetrics | undefined;
  defences: DefenceLog;
  penalties: PeerPenalties;
}

/** A started-or-stopped gossip node; create it with createGossipNode. */
export class GossipNode {
  private readonly settings: Settings;
  private readonly libp2p: Libp2p<Services>;
  private readonly router: GossipRouter;
  private readonly logger: NetLogger;
  private readonly metrics: NetMetrics | undefined;
  /** Logs and counts the defences that fire (catch-up's gates report here too). */
  readonly defences: DefenceLog;
  /** Concord's own score penalties; catch-up asks it who is exempt from per-IP budgets. */
  readonly penalties: PeerPenalties;
  private readonly topics = new Map<string, TopicState>();
  private readonly validators = new Map<string, TopicValidatorFn>();
  private readonly pendingValidations = { count: 0 };
  private readonly bootstrapEntries: BootstrapEntry[];
  private readonly dialsInFlight = new Set<string>();
  private redialTimer: ReturnType<typeof setInterval> | undefined;
  /** Connected peers seen without a gossipsub session at the last maintenance tick. */
  private withoutGossip = new Set<string>();
  private running = false;
  private stopped = false;

  constructor(settings: Settings, parts: GossipNodeParts) {
    this.settings = settings;
    this.libp2p = parts.libp2p;
    this.router = parts.router;
    this.logger = parts.logger;
    this.metrics = parts.metrics;
    this.defences = parts.defences;
    this.penalties = parts.penalties;
    const self = this.libp2p.peerId.toString();
    this.bootstrapEntries = settings.bootstrap
      .map((text) => {
        const address = multiaddr(text);
        return { address, peerId: address.getComponents().findLast((part) => part.code === CODE_P2P)?.value };
      })
      .filter((entry) => entry.peerId !== self);
    for (const entry of this.bootstrapEntries) if (entry.peerId !== undefined) this.penalties.addKnown(entry.peerId);

    for (const topic of settings.topics) {
      this.topics.set(topic, {
        handlers: new Set(),
        queue: new BoundedQueue<Delivery>({
          capacity: settings.handlerQueueLength,
          process: (delivery) => this.dispatch(topic, delivery),
          onError: (error) => this.onHandlerError(topic, error),
        }),
      });
      this.router.topicValidators.set(topic, createMissingValidator(topic, this.validatorComponents()));
    }
    this.router.addEventListener("gossipsub:message", this.onMessage);
  }

  /** This node's peer id (stable across restarts when created from the same seed). */
  get peerId(): string {
    return this.libp2p.peerId.toString();
  }

  /** Addresses others can dial, each ending in /p2p/<peerId>. Empty before start. */
  get multiaddrs(): string[] {
    return this.libp2p.getMultiaddrs().map((address) => address.toString());
  }

  get isRunning(): boolean {
    return this.running;
  }

  /**
   * Starts listening, joins every topic, dials the bootstrap list (dial failures are logged and
   * retried, not thrown). A stopped node does not start again: create a new one from the same
   * seed to come back with the same peer id.
   */
  async start(): Promise<void> {
    if (this.running) return;
    assert(!this.stopped, "a stopped gossip node cannot be restarted; create a new one");
    this.running = true;
    if (this.settings.mdns) this.libp2p.addEventListener("peer:discovery", this.onDiscovery);
    this.libp2p.addEventListener("connection:open", this.onConnectionOpen);
    this.libp2p.addEventListener("connection:close", this.onConnectionClose);
    try {
      await this.libp2p.start();
    } catch (error) {
      this.running = false;
      this.libp2p.removeEventListener("peer:discovery", this.onDiscovery);
      this.libp2p.removeEventListener("connection:open", this.onConnectionOpen);
      this.libp2p.removeEventListener("connection:close", this.onConnectionClose);
      try {
        await this.libp2p.stop();
      } catch {
        // Already failing: the start error is the one worth reporting.
      }
      throw error;
    }
    for (const topic of this.settings.topics) this.router.subscribe(topic);
    this.logger.info({ peerId: this.peerId, addresses: this.multiaddrs, topics: this.settings.topics.length }, "gossip node started");
    await this.dialBootstrap();
    this.redialTimer = setInterval(() => void this.maintain(), this.settings.redialIntervalMs);
    this.redialTimer.unref();
  }

  /** Stops the node; messages still waiting for handlers are dropped. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stopped = true;
    clearInterval(this.redialTimer);
    this.redialTimer = undefined;
    this.libp2p.removeEventListener("peer:discovery", this.onDiscovery);
    this.libp2p.removeEventListener("connection:open", this.onConnectionOpen);
    this.libp2p.removeEventListener("connection:close", this.onConnectionClose);
    this.router.removeEventListener("gossipsub:message", this.onMessage);
    for (const state of this.topics.values()) state.queue.close();
    await this.libp2p.stop();
    this.logger.info({ peerId: this.peerId }, "gossip node stopped");
  }

  /**
   * Sets the validator of a topic (one per topic). Must be set before peers send on it: until
   * then the topic ignores everything.
   */
  registerValidator(topic: string, validator: GossipValidator): void {
    this.assertTopic(topic);
    assert(!this.validators.has(topic), `validator for ${topic} already registered`);
    const wrapped = createTopicValidator(
      validator,
      {
        topic,
        timeoutMs: this.settings.validatorTimeoutMs,
        maxBytes: this.settings.maxMessageBytes,
        pending: this.pendingValidations,
        maxPending: this.settings.maxPendingValidations,
      },
      this.validatorComponents(),
    );
    this.validators.set(topic, wrapped);
    this.router.topicValidators.set(topic, wrapped);
  }

  /** Adds a handler for validated messages of a topic; returns a function that removes it. */
  subscribe(topic: string, handler: GossipHandler): () => void {
    const state = this.assertTopic(topic);
    state.handlers.add(handler);
    return () => {
      state.handlers.delete(handler);
    };
  }

  /**
   * Publishes a payload. Our own handlers do not see it (they are for what peers send).
   * Throws WIRE_OVERSIZED above the message limit.
   */
  async publish(topic: string, payload: Uint8Array): Promise<PublishResult> {
    if (!this.settings.publishTopics.includes(topic)) this.assertTopic(topic);
    assert(this.running, "gossip node is not started");
    if (payload.length > this.settings.maxMessageBytes) {
      throw new ConcordError("WIRE_OVERSIZED", "gossip payload too large", {
        details: `${payload.length} > ${this.settings.maxMessageBytes} bytes`,
      });
    }
    const msgId = gossipMessageIdString(topic, payload);
    try {
      const { recipients } = await this.router.publish(topic, payload);
      this.metrics?.published.inc({ topic, outcome: "sent" });
      return { recipients: recipients.length, duplicate: false, msgId };
    } catch (error) {
      // Gossipsub 17 signals both cases with plain Errors named by their message.
      if (error instanceof Error && error.message === "PublishError.Duplicate") {
        this.metrics?.published.inc({ topic, outcome: "duplicate" });
        return { recipients: 0, duplicate: true, msgId };
      }
      if (error instanceof Error && error.message === "PublishError.NoPeersSubscribedToTopic") {
        this.metrics?.published.inc({ topic, outcome: "no-peers" });
        this.logger.debug({ topic, msgId }, "published to no peers");
        return { recipients: 0, duplicate: false, msgId };
      }
      throw error;
    }
  }

  /**
   * Resolves once this node's mesh for `topic` holds at least `count` peers. Publish only after
   * this: a message sent before the mesh forms reaches nobody.
   */
  async waitForMeshPeers(topic: string, count: number, timeoutMs: number): Promise<void> {
    this.assertTopic(topic);
    const deadline = Date.now() + timeoutMs;
    while (this.meshPeers(topic).length < count) {
      if (!this.running) throw new Error("gossip node stopped while waiting for mesh peers");
      if (Date.now() >= deadline) {
        throw new Error(`mesh for ${topic} has ${this.meshPeers(topic).length} of ${count} peers after ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Gossipsub's score of a peer as this node sees it (0 for unknown peers). */
  getPeerScore(peerId: string): number {
    return this.router.getScore(peerId);
  }

  /** Peers connected over gossipsub. */
  peers(): string[] {
    return this.router.getPeers().map((peer: PeerId) => peer.toString());
  }

  /** Peers with an open libp2p connection, gossipsub session or not. */
  connectedPeers(): string[] {
    return this.libp2p.getPeers().map((peer: PeerId) => peer.toString());
  }

  /** Peers in this node's mesh for a topic. */
  meshPeers(topic: string): string[] {
    return this.router.getMeshPeers(topic);
  }

  /** Peers known to be subscribed to a topic. */
  subscribers(topic: string): string[] {
    return this.router.getSubscribers(topic).map((peer: PeerId) => peer.toString());
  }

  /** Dials a peer by multiaddr; resolves with its peer id. */
  async dial(address: string): Promise<string> {
    const connection = await this.libp2p.dial(multiaddr(address), {
      signal: AbortSignal.timeout(this.settings.dialTimeoutMs),
    });
    return connection.remotePeer.toString();
  }

  /**
   * Serves a direct-stream protocol (beside gossip): `handler` gets each inbound stream and the
   * peer that opened it. At most `maxInboundStreams` at once per connection.
   */
  async handle(protocol: string, handler: (stream: Stream, fromPeer: string) => Promise<void>, maxInboundStreams = 2): Promise<void> {
    await this.libp2p.handle(protocol, (stream, connection) => handler(stream, connection.remotePeer.toString()), { maxInboundStreams });
  }

  /** Opens a stream on `protocol` to a peer (dialing it if needed). */
  async openStream(peer: string, protocol: string, signal: AbortSignal): Promise<Stream> {
    return this.libp2p.dialProtocol(peerIdFromString(peer), protocol, { signal });
  }

  /** Messages waiting for a topic's handlers. */
  queuedMessages(topic: string): number {
    return this.assertTopic(topic).queue.length;
  }

  private assertTopic(topic: string): TopicState {
    const state = this.topics.get(topic);
    assert(state !== undefined, `topic ${topic} is not in this node's topic list`);
    return state;
  }

  private validatorComponents(): { logger: NetLogger; metrics: NetMetrics | undefined; defences: DefenceLog } {
    return { logger: this.logger, metrics: this.metrics, defences: this.defences };
  }

  private readonly onMessage = (event: CustomEvent<GossipsubMessage>): void => {
    const { msg, propagationSource } = event.detail;
    const state = this.topics.get(msg.topic);
    if (state === undefined) return;
    if (state.queue.push({ payload: msg.data, from: propagationSource.toString() })) {
      this.metrics?.delivered.inc({ topic: msg.topic });
    } else {
      this.metrics?.handlerDropped.inc({ topic: msg.topic });
      this.logger.debug({ topic: msg.topic, queued: state.queue.length }, "handler queue full, message dropped");
    }
  };

  private async dispatch(topic: string, delivery: Delivery): Promise<void> {
    const state = this.topics.get(topic);
    if (state === undefined) return;
    for (const handler of state.handlers) {
      try {
        await handler(delivery.payload, delivery.from);
      } catch (error) {
        this.onHandlerError(topic, error);
      }
    }
  }

  private onHandlerError(topic: string, error: unknown): void {
    this.metrics?.handlerErrors.inc({ topic });
    this.logger.warn({ topic, error: error instanceof Error ? error.message : String(error) }, "gossip handler failed");
  }

  /**
   * Runs every redial interval: closes connections that carry no gossipsub session for two ticks
   * in a row, then dials bootstrap peers that are not connected. Gossipsub drops a peer when its
   * stream breaks (e.g. we aborted it for exceeding the outbound buffer) but leaves the
   * connection up, and only a new connection brings the session back.
   */
  private async maintain(): Promise<void> {
    if (!this.running) return;
    const gossiping = new Set(this.peers());
    const stillWithout = new Set<string>();
    for (const peer of this.libp2p.getPeers()) {
      const key = peer.toString();
      if (gossiping.has(key)) continue;
      if (!this.withoutGossip.has(key)) {
        stillWithout.add(key);
        continue;
      }
      this.logger.debug({ peerId: key }, "closing connection without a gossip session");
      try {
        await this.libp2p.hangUp(peer);
      } catch (error) {
        this.logger.debug({ peerId: key, error: error instanceof Error ? error.message : String(error) }, "hang up failed");
      }
    }
    this.withoutGossip = stillWithout;
    await this.dialBootstrap();
  }

  private async dialBootstrap(): Promise<void> {
    const dials = this.bootstrapEntries.map(async (entry) => {
      if (!this.running) return;
      const key = entry.address.toString();
      if (entry.peerId !== undefined && this.isConnected(entry.peerId)) return;
      if (this.dialsInFlight.has(key)) return;
      this.dialsInFlight.add(key);
      try {
        const connection = await this.libp2p.dial(entry.address, {
          signal: AbortSignal.timeout(this.settings.dialTimeoutMs),
        });
        entry.peerId = connection.remotePeer.toString();
        this.penalties.addKnown(entry.peerId);
      } catch (error) {
        if (this.running) {
          this.logger.debug({ address: key, error: error instanceof Error ? error.message : String(error) }, "bootstrap dial failed");
        }
      } finally {
        this.dialsInFlight.delete(key);
      }
    });
    await Promise.all(dials);
  }

  private isConnected(peerId: string): boolean {
    return this.libp2p.getConnections().some((connection) => connection.remotePeer.toString() === peerId);
  }

  private readonly onConnectionOpen = (event: CustomEvent<Connection>): void => {
    this.penalties.connected(event.detail.remotePeer.toString(), remoteIp(event.detail));
  };

  private readonly onConnectionClose = (event: CustomEvent<Connection>): void => {
    const peer = event.detail.remotePeer;
    if (this.libp2p.getConnections(peer).length === 0) this.penalties.disconnected(peer.toString());
  };

  private readonly onDiscovery = (event: CustomEvent<PeerInfo>): void => {
    const peer = event.detail;
    const key = peer.id.toString();
    if (!this.running || key === this.peerId || this.isConnected(key) || this.dialsInFlight.has(key)) return;
    this.dialsInFlight.add(key);
    void (async () => {
      try {
        await this.libp2p.peerStore.merge(peer.id, { multiaddrs: peer.multiaddrs });
        await this.libp2p.dial(peer.id, { signal: AbortSignal.timeout(this.settings.dialTimeoutMs) });
        this.logger.debug({ peerId: key }, "dialed mdns peer");
      } catch (error) {
        if (this.running) {
          this.logger.debug({ peerId: key, error: error instanceof Error ? error.message : String(error) }, "mdns dial failed");
        }
      } finally {
        this.dialsInFlight.delete(key);
      }
    })();
  };
}
