/**
 * Concord on gossip: one topic per message kind, every payload strictly decoded and then
 * handed to the participant's `receive`, whose typed errors decide accept/ignore/reject (the
 * adapter in validation.ts maps them). Publishing encodes canonically and retries while no peer
 * is subscribed yet. What was accepted or published is kept, by request, to answer catch-up
 * fetches (fetch.ts) with.
 *
 * Subnets (spec/06, "Subnets"): with a registry of S > 1 subnets, a request's messages travel
 * on its subnet's topics, and a peer joins only its home subnets' (a node: its own; a pool: all),
 * so it never handles the traffic of requests outside them. Catch-up asks peers of the request's
 * subnet.
 *
 * Vote routing (spec/06, "Vote routing"): a member with `votes: "sequencer"` joins only the
 * topics the sequencer sends on and publishes its votes straight to their subscribers (the pool).
 */
import { hash } from "node:crypto";
import type { Stream } from "@libp2p/interface";
import { ConcordError, isConcordError } from "../errors.ts";
import { toHex } from "../wire/hash.ts";
import { requestSubnet } from "../quorum/committee.ts";
import { requestIdOf } from "../wire/ids.ts";
import { encodeEnvelope, envelopeItemBytes, envelopeItems, isEnvelope } from "../wire/envelope.ts";
import { MAX_ENVELOPE_ITEMS, MAX_MESSAGE_BYTES } from "../wire/limits.ts";
import { decodeMessage, encodeMessage, MESSAGE_KINDS } from "../wire/messages.ts";
import type { Bytes, Message, MessageKind } from "../wire/types.ts";
import { DEFAULT_SEEN_TTL_MS, SCORE_THRESHOLDS } from "./constants.ts";
import { createNetMetrics } from "./metrics.ts";
import {
  AskGate,
  answerFetch,
  answerOpenRequests,
  fetchFromPeers,
  fetchProtocol,
  openRequestsFromPeers,
  openRequestsProtocol,
  RecentMessages,
  type FetchResult,
  type RecentMessagesLimits,
} from "./fetch.ts";
import { createGossipNode, type GossipNode, type GossipNodeComponents, type GossipNodeInit, type PublishResult } from "./gossip.ts";
import { isSubnetKind, parseTopic, subscribedTopics, TOPIC_KINDS, topicKindOf, topicName, VOTE_TOPIC_KINDS, type TopicKind, type VoteRoute } from "./topics.ts";

/**
 * Applies a decoded message; throws a ConcordError to ignore or reject it. `payload` is its
 * canonical encoding (the strict decoder has checked it is), for a receiver that stores bytes.
 */
export type MessageReceiver = (message: Message, fromPeer: string, payload: Uint8Array) => void;

export interface ConcordNetworkInit extends Omit<GossipNodeInit, "topics" | "maxMessageBytes"> {
  chain: string;
  /** The registry's subnet count S (registry.subnets). Default 1: the topics of before subnets. */
  subnets?: number;
  /** With S > 1, the subnets whose per-request topics this peer joins: a node its home subnet, a pool all (the default). */
  homeSubnets?: readonly number[];
  /**
   * This peer's vote routing (topics.ts VoteRoute). `gossip` (the default): it joins every kind.
   * `sequencer`: a member that joins requests, closes and the chain-wide kinds, and publishes its
   * votes to the vote kinds' subscribers without joining them. A pool joins every kind either
   * way; `sequencer` makes its catch-up ask every peer of a subnet, as each member then holds
   * only its own votes.
   */
  votes?: VoteRoute;
  /** Whether this peer is the sequencer's pool (joins every kind whatever `votes` says). Default false. */
  pool?: boolean;
  /** Publish retries while no peer is subscribed to the topic (default 20, 250 ms apart). */
  publishRetries?: number;
  publishRetryMs?: number;
  /** What this peer keeps to answer catch-up fetches with (see fetch.ts). */
  recentMessages?: RecentMessagesLimits;
}

export interface ConcordNetwork {
  readonly gossip: GossipNode;
  /** The topics this peer joined (concordTopicsFor). */
  readonly topics: readonly string[];
  /** The topics it publishes its votes on without joining them (vote routing `sequencer`), else empty. */
  readonly publishOnly: readonly string[];
  /** The registry's subnet count it was made for (1 without subnets). */
  readonly subnets: number;
  /** Sets who receives validated messages. Must be called before start. */
  attach(receiver: MessageReceiver): void;
  publish(message: Message): Promise<PublishResult>;
  /**
   * Resolves once `count` peers are subscribed to every topic this peer joined (with `votes:
   * "sequencer"`, every topic but the vote kinds, which members do not join; with subnets: pass
   * what the smallest subnet holds). Not for a mesh: publishers flood their own messages to every
   * subscriber they are connected to, and meshes form over the next heartbeats. Throws after
   * `timeoutMs`.
   */
  waitForPeers(count: number, timeoutMs: number): Promise<void>;
  /**
   * Catch-up: asks the `peers` best-scored peers subscribed to each request's subnet (default 4) for the messages they
   * hold for `requests`, and hands each one to the receiver exactly as if gossip had delivered
   * it, once, in protocol order. For a peer that was down: what was published meanwhile is not
   * gossiped again. Waits up to `timeoutMs` for a first subscriber; a peer that does not answer
   * within `timeoutMs` is skipped.
   */
  fetch(requests: readonly Bytes[], options?: { peers?: number; timeoutMs?: number }): Promise<FetchResult>;
  /**
   * What is in flight: asks the same peers which requests they keep whose deadline is ahead (at
   * most 64 each) and returns the ids of this peer's subnets, unchecked, to `fetch`. For a peer that starts, or comes
   * back, while requests are open: gossip will not deliver what went by before.
   */
  openRequests(options?: { peers?: number; timeoutMs?: number }): Promise<Bytes[]>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The topic a message kind travels on: with `subnet` (registry S > 1) the subnet's topic for the
 * per-request kinds; evidence and no-agreement, and every kind without `subnet`, chain-wide.
 */
export function concordTopic(chain: string, kind: MessageKind, subnet?: number): string {
  const topicKind = topicKindOf(kind);
  return subnet === undefined || !isSubnetKind(topicKind) ? topicName(chain, topicKind) : topicName(chain, topicKind, { subnet });
}

/** Kinds every peer joins, in either vote routing: what the sequencer sends, and the chain-wide ones. */
const SHARED_KINDS = TOPIC_KINDS.filter((kind) => !(VOTE_TOPIC_KINDS as readonly TopicKind[]).includes(kind));

/**
 * The topics of `kinds` a peer uses: those of before subnets when S = 1, else its home subnets'
 * (default all) and the chain-wide ones. By default every kind: what a pool, or a member with
 * gossip vote routing, joins.
 */
export function concordTopics(chain: string, subnets = 1, homeSubnets?: readonly number[], kinds: readonly TopicKind[] = TOPIC_KINDS): string[] {
  if (subnets === 1) return subscribedTopics(chain, undefined, kinds);
  return subscribedTopics(chain, homeSubnets ?? Array.from({ length: subnets }, (_, s) => s), kinds);
}

/** The topics a peer joins, and those it only publishes on, for its vote routing. */
export function concordTopicsFor(chain: string, options: { subnets?: number; homeSubnets?: readonly number[]; votes?: VoteRoute; pool?: boolean } = {}): { joined: string[]; publishOnly: string[] } {
  const { subnets = 1, homeSubnets, votes = "gossip", pool = false } = options;
  if (pool || votes === "gossip") return { joined: concordTopics(chain, subnets, homeSubnets), publishOnly: [] };
  return { joined: concordTopics(chain, subnets, homeSubnets, SHARED_KINDS), publishOnly: concordTopics(chain, subnets, homeSubnets, VOTE_TOPIC_KINDS) };
}

export async function createConcordNetwork(init: ConcordNetworkInit, components: GossipNodeComponents): Promise<ConcordNetwork> {
  const { chain, publishRetries = 20, publishRetryMs = 250, subnets = 1, homeSubnets, votes = "gossip", pool = false, ...gossipInit } = init;
  const { joined: topics, publishOnly } = concordTopicsFor(chain, { subnets, ...(homeSubnets ? { homeSubnets } : {}), votes, pool });
  // What waitForPeers waits on: every topic this peer joined, but where members route votes to
  // the sequencer only those every peer joins (no member joins a vote topic then).
  const shared = new Set(concordTopics(chain, subnets, homeSubnets, SHARED_KINDS));
  const waited = votes === "sequencer" ? topics.filter((topic) => shared.has(topic)) : topics;
  const joined = new Set(subnets === 1 ? [0] : (homeSubnets ?? Array.from({ length: subnets }, (_, s) => s)));
  const subnetOf = (request: Bytes) => requestSubnet(request, subnets);
  const topicOf = (message: Message) => (subnets === 1 ? concordTopic(chain, message.t) : concordTopic(chain, message.t, subnetOf(requestIdOf(message))));
  const protocol = fetchProtocol(chain);
  const gossip = await createGossipNode({ ...gossipInit, topics, publishTopics: publishOnly, maxMessageBytes: MAX_MESSAGE_BYTES }, components);
  // A member that sends its votes to the sequencer only: a restarted pool finds each vote at its
  // sender alone, so its catch-up asks every peer of the subnet, not the best four.
  const fetchPeers = pool && votes === "sequencer" ? Number.MAX_SAFE_INTEGER : undefined;
  let receiver: MessageReceiver | undefined;
  const metrics = components.metrics !== undefined ? createNetMetrics(components.metrics) : undefined;
  const recent = new RecentMessages(init.recentMessages);
  const keep = (message: Message, payload: Bytes): void => {
    const request = requestIdOf(message);
    // Evidence names any request id it likes: kept only beside a request this peer keeps
    // already, so made-up ids cannot push real requests out.
    if (message.t !== "equivocation" || recent.has(request)) recent.add(request, payload, message.t === "request" ? message.deadline : undefined);
  };
  // Hands a strictly decoded message to the receiver and keeps it if accepted, to answer fetches with.
  const deliver = (message: Message, payload: Bytes, fromPeer: string): void => {
    receiver?.(message, fromPeer, payload);
    keep(message, payload);
  };
  const seenItems = new SeenItems(init.seenTtlMs ?? DEFAULT_SEEN_TTL_MS);
  for (const [topicIndex, topic] of topics.entries()) {
    // What the seen set keys this topic's messages by: short, as it holds up to 200,000 ids.
    const seenTopic = `${topicIndex}:`;
    const parsed = parseTopic(topic);
    const kind = MESSAGE_KINDS.find((candidate) => topicKindOf(candidate) === parsed?.kind) as MessageKind;
    const subnet = parsed?.subnet;
    const receiveOne = (payload: Bytes, fromPeer: string): void => {
      // [REJECT] The payload is the canonical encoding of a message of this topic's kind.
      const message = decodeMessage(payload, kind);
      // [REJECT] On a subnet's topic, the message's request belongs to that subnet.
      if (subnet !== undefined && subnetOf(requestIdOf(message)) !== subnet) {
        throw new ConcordError("SUBNET_MISMATCH", "message on another subnet's topic", { details: `topic subnet ${subnet}` });
      }
      deliver(message, payload, fromPeer);
    };
    gossip.registerValidator(topic, (payload, fromPeer) => {
      if (!isEnvelope(payload)) {
        // Recorded, so that copies of it packed into envelopes later are skipped undecoded.
        seenItems.firstTime(seenTopic, payload);
        return receiveOne(payload, fromPeer);
      }
      // [REJECT] An envelope is well formed (spec/03, "Envelopes"); each item is judged as if it
      // had arrived alone: the first it rejects rejects the envelope (the rest are not read), and
      // one accepted item accepts it. An item whose bytes came before on this topic, alone or in
      // an envelope, is skipped undecoded, so repacking copies of honest messages costs a hash each.
      let accepted = 0;
      let ignored: unknown;
      for (const item of envelopeItems(payload)) {
        if (!seenItems.firstTime(seenTopic, item)) continue;
        try {
          receiveOne(item, fromPeer);
          accepted++;
        } catch (error) {
          if (isConcordError(error) && error.action === "reject") throw error;
          ignored ??= error;
        }
      }
      if (accepted === 0) throw ignored ?? new ConcordError("DUPLICATE", "every item of the envelope seen before", { action: "ignore" });
    });
  }
  // Catch-up asks peers that share the requests' subnet: only they (and pools) hold its messages.
  const requestsTopic = (subnet: number) => (subnets === 1 ? concordTopic(chain, "request") : concordTopic(chain, "request", subnet));
  let stopped = false;
  // One open-requests protocol per subnet with S > 1, so that an answer names the asker's requests only.
  const openProtocol = (subnet: number) => (subnets === 1 ? openRequestsProtocol(chain) : openRequestsProtocol(chain, subnet));
  const fetchContext = (on: string, options: { peers?: number; timeoutMs?: number }, subnet: number) => ({
    ...options,
    subscribers: () => gossip.subscribers(requestsTopic(subnet)),
    score: (peer: string) => gossip.getPeerScore(peer),
    openStream: (peer: string, signal: AbortSignal) => gossip.openStream(peer, on, signal),
    deliver,
    stopped: () => stopped,
    logger: components.logger,
    metrics,
  });
  const send = async (topic: string, payload: Bytes): Promise<PublishResult> => {
    let result = await gossip.publish(topic, payload);
    for (let attempt = 0; result.recipients === 0 && !result.duplicate && attempt < publishRetries && !stopped; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, publishRetryMs));
      if (stopped || !gossip.isRunning) break;
      result = await gossip.publish(topic, payload);
    }
    return result;
  };
  const outbox = new Outbox(send);
  return {
    gossip,
    topics,
    publishOnly,
    subnets,
    attach(next) {
      receiver = next;
    },
    async publish(message) {
      const topic = topicOf(message);
      const payload = encodeMessage(message);
      keep(message, payload);
      return outbox.add(topic, payload);
    },
    async waitForPeers(count, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      // Subscribed, not meshed: publishers flood their own messages to every subscriber they are
      // connected to, so a mesh adds relays, not reach. A peer back with the same id (a restarted
      // pool) finds meshes that filled without it; their members prune it and back off for a
      // minute, and waiting for a mesh peer timed out at 45 s on a loaded machine.
      while (!waited.every((topic) => gossip.subscribers(topic).length >= count)) {
        if (Date.now() >= deadline) throw new Error(`fewer than ${count} peers subscribed after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async fetch(requests, asked = {}) {
      const options = fetchPeers !== undefined && asked.peers === undefined ? { ...asked, peers: fetchPeers } : asked;
      if (subnets === 1) return fetchFromPeers(requests, fetchContext(protocol, options, 0));
      const bySubnet = new Map<number, Bytes[]>();
      for (const request of requests) bySubnet.set(subnetOf(request), [...(bySubnet.get(subnetOf(request)) ?? []), request]);
      // Disjoint requests, so the subnets' answers can be applied side by side.
      const results = await Promise.all([...bySubnet].map(([subnet, ids]) => fetchFromPeers(ids, fetchContext(protocol, options, subnet))));
      return results.reduce((sum, result) => ({
        peers: sum.peers + result.peers,
        received: sum.received + result.received,
        accepted: sum.accepted + result.accepted,
        unanswered: [...sum.unanswered, ...result.unanswered],
      }), { peers: 0, received: 0, accepted: 0, unanswered: [] as Bytes[] });
    },
    async openRequests(options = {}) {
      if (subnets === 1) return openRequestsFromPeers(fetchContext(openProtocol(0), options, 0));
      const answers = await Promise.all([...joined].map((subnet) => openRequestsFromPeers(fetchContext(openProtocol(subnet), options, subnet))));
      // Answers are per subnet; a made-up id of another subnet is dropped all the same.
      const ids = new Map<string, Bytes>();
      for (const id of answers.flat()) if (joined.has(subnetOf(id))) ids.set(toHex(id), id);
      return [...ids.values()];
    },
    async start() {
      await gossip.start();
      // One gate covers both protocols: score, asks per peer, asks per IP.
      const gate = new AskGate({
        now: Date.now,
        score: (peer) => gossip.getPeerScore(peer),
        minScore: { ...SCORE_THRESHOLDS, ...init.scoreThresholds }.gossipThreshold,
        ipOf: (peer) => gossip.penalties.ipOf(peer),
        exempt: (peer) => gossip.penalties.isExempt(peer),
      });
      const answer = (on: string, answered: (stream: Stream) => Promise<boolean>) =>
        gossip.handle(on, async (stream, fromPeer) => {
          const refusal = gate.admit(fromPeer);
          if (refusal !== undefined) {
            stream.abort(new ConcordError("BACKPRESSURE", "fetch ask refused", { details: `${refusal}: ${fromPeer}` }));
            metrics?.fetchAnswered.inc({ outcome: "refused" });
            if (refusal !== "rate") gossip.defences.fired(refusal, { peer: fromPeer, ip: gossip.penalties.ipOf(fromPeer) });
            return;
          }
          // Answered first: `metrics?.x.inc(f())` skips f() altogether when there are no metrics.
          const ok = await answered(stream);
          metrics?.fetchAnswered.inc({ outcome: ok ? "answered" : "failed" });
        });
      await answer(protocol, (stream) => answerFetch(stream, recent));
      if (subnets === 1) await answer(openProtocol(0), (stream) => answerOpenRequests(stream, recent, Date.now()));
      for (const subnet of subnets === 1 ? [] : joined) {
        await answer(openProtocol(subnet), (stream) => answerOpenRequests(stream, recent, Date.now(), (request) => subnetOf(request) === subnet));
      }
    },
    async stop() {
      stopped = true;
      await gossip.stop();
    },
  };
}

/**
 * What is published within one turn of the event loop, gathered per topic and sent at its end:
 * one message alone, several in envelopes of at most MAX_ENVELOPE_ITEMS and MAX_MESSAGE_BYTES
 * (spec/03, "Envelopes"). A signer's batch, a pool's batch of closes and the reveals that answer
 * them are each published in one turn, so each travels as one gossip message instead of one per
 * request; a lone message goes out as before, one turn later.
 */
class Outbox {
  #pending = new Map<string, { payloads: Bytes[]; settle: ((result: PublishResult | Promise<PublishResult>) => void)[] }>();
  #scheduled = false;
  readonly #send: (topic: string, payload: Bytes) => Promise<PublishResult>;

  constructor(send: (topic: string, payload: Bytes) => Promise<PublishResult>) {
    this.#send = send;
  }

  add(topic: string, payload: Bytes): Promise<PublishResult> {
    const entry = this.#pending.get(topic) ?? { payloads: [], settle: [] };
    this.#pending.set(topic, entry);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    }
    return new Promise((resolve) => {
      entry.payloads.push(payload);
      entry.settle.push(resolve);
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const pending = this.#pending;
    this.#pending = new Map();
    for (const [topic, { payloads, settle }] of pending) {
      for (let start = 0; start < payloads.length; ) {
        // As many as fit, in order: at most MAX_ENVELOPE_ITEMS and MAX_MESSAGE_BYTES (the list's
        // head takes at most 2 bytes for that many).
        let end = start + 1;
        let bytes = 2 + envelopeItemBytes((payloads[start] as Bytes).length);
        for (; end < payloads.length && end - start < MAX_ENVELOPE_ITEMS; end++) {
          const next = envelopeItemBytes((payloads[end] as Bytes).length);
          if (bytes + next > MAX_MESSAGE_BYTES) break;
          bytes += next;
        }
        const chunk = payloads.slice(start, end);
        const sent = this.#send(topic, chunk.length === 1 ? (chunk[0] as Bytes) : encodeEnvelope(chunk));
        for (const resolve of settle.slice(start, end)) resolve(sent);
        start = end;
      }
    }
  }
}

/**
 * The messages gossip delivered per topic, alone or as envelope items, by the SHA-256 of their
 * bytes, for about `ttlMs`: two generations, the older dropped when the newer is that old or holds
 * MAX_SEEN_ITEMS, so memory is bounded whatever the traffic.
 */
class SeenItems {
  #current = new Set<string>();
  #previous = new Set<string>();
  #since = Date.now();
  readonly #ttlMs: number;

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  /** Records the item; false when it was seen before under `topic` (a short key of the topic). */
  firstTime(topic: string, item: Bytes): boolean {
    // SHA-256 (collision resistant: an item must not be made to pass for another); the topic
    // in the key, so that a copy rejected on another topic suppresses nothing here.
    const id = topic + hash("sha256", item, "base64");
    if (this.#current.has(id) || this.#previous.has(id)) return false;
    const now = Date.now();
    if (now - this.#since >= this.#ttlMs || this.#current.size >= MAX_SEEN_ITEMS) {
      this.#previous = this.#current;
      this.#current = new Set();
      this.#since = now;
    }
    this.#current.add(id);
    return true;
  }
}

/** Messages remembered per generation (two generations: at most twice this many ids). */
const MAX_SEEN_ITEMS = 100_000;
