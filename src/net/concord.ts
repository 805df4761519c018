/**
 * Concord on gossip: one topic per message kind, every payload strictly decoded and then
 * handed to the participant's `receive`, whose typed errors decide accept/ignore/reject (the
 * adapter in validation.ts maps them). Publishing encodes canonically and retries while no peer
 * is subscribed yet.
 */
import { ConcordError, isConcordError } from "../errors.ts";
import { sha256, toHex } from "../wire/hash.ts";
import { requestIdOf } from "../wire/ids.ts";
import { MAX_MESSAGE_BYTES } from "../wire/limits.ts";
import { decodeMessage, encodeMessage, MESSAGE_KINDS } from "../wire/messages.ts";
import type { Bytes, Message, MessageKind } from "../wire/types.ts";
import { MESH_PARAMS } from "./constants.ts";
import { createNetMetrics } from "./metrics.ts";
import { AskLimiter, answerFetch, askFetch, MAX_ASKS_PER_PEER_MINUTE, DEFAULT_FETCH_PEERS, DEFAULT_FETCH_TIMEOUT_MS, fetchProtocol, MAX_FETCH_REQUESTS, RecentMessages, type RecentMessagesLimits } from "./fetch.ts";
import { createGossipNode, type GossipNode, type GossipNodeComponents, type GossipNodeInit, type PublishResult } from "./gossip.ts";
import { topicKindOf, topicName } from "./topics.ts";

/**
 * Applies a decoded message; throws a ConcordError to ignore or reject it. `payload` is its
 * canonical encoding (the strict decoder has checked it is), for a receiver that stores bytes.
 */
export type MessageReceiver = (message: Message, fromPeer: string, payload: Uint8Array) => void;

export interface ConcordNetworkInit extends Omit<GossipNodeInit, "topics" | "maxMessageBytes"> {
  chain: string;
  /** Publish retries while no peer is subscribed to the topic (default 20, 250 ms apart). */
  publishRetries?: number;
  publishRetryMs?: number;
  /** What this peer keeps to answer catch-up fetches with (see fetch.ts). */
  recentMessages?: RecentMessagesLimits;
}

/** What a catch-up fetch brought. */
export interface FetchResult {
  /** Peers that answered. */
  peers: number;
  /** Messages received, and those of them the receiver accepted (the rest: duplicates, stale, invalid). */
  received: number;
  accepted: number;
  /**
   * Requests no peer answered for: no peer answered in time, or past the asks a peer answers a
   * minute (MAX_ASKS_PER_PEER_MINUTE asks of MAX_FETCH_REQUESTS ids). Ask again later.
   */
  unanswered: Bytes[];
}

export interface ConcordNetwork {
  readonly gossip: GossipNode;
  /** Sets who receives validated messages. Must be called before start. */
  attach(receiver: MessageReceiver): void;
  publish(message: Message): Promise<PublishResult>;
  /**
   * Resolves once `count` peers are subscribed to every Concord topic and each topic's mesh holds
   * min(count, Dlo) of them: publishers flood their own messages to every subscriber, and the
   * mesh carries the rest. Throws after `timeoutMs`.
   */
  waitForPeers(count: number, timeoutMs: number): Promise<void>;
  /**
   * Catch-up: asks the `peers` best-scored subscribed peers (default 4) for the messages they
   * hold for `requests`, and hands each one to the receiver exactly as if gossip had delivered
   * it, once, in protocol order. For a peer that was down: what was published meanwhile is not
   * gossiped again. Waits up to `timeoutMs` for a first subscriber; a peer that does not answer
   * within `timeoutMs` is skipped.
   */
  fetch(requests: readonly Bytes[], options?: { peers?: number; timeoutMs?: number }): Promise<FetchResult>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The order the protocol runs in: a catch-up hands messages over in it (a close needs its commitments first). */
const PROTOCOL_ORDER: Record<MessageKind, number> = {
  request: 0,
  commitment: 1,
  close: 2,
  reveal: 3,
  output: 3,
  bundle: 4,
  "no-agreement": 5,
  equivocation: 5,
};

export function concordTopic(chain: string, kind: MessageKind): string {
  return topicName(chain, topicKindOf(kind));
}

export async function createConcordNetwork(init: ConcordNetworkInit, components: GossipNodeComponents): Promise<ConcordNetwork> {
  const { chain, publishRetries = 20, publishRetryMs = 250, ...gossipInit } = init;
  const topics = MESSAGE_KINDS.map((kind) => concordTopic(chain, kind));
  const protocol = fetchProtocol(chain);
  const gossip = await createGossipNode({ ...gossipInit, topics, maxMessageBytes: MAX_MESSAGE_BYTES }, components);
  let receiver: MessageReceiver | undefined;
  const metrics = components.metrics !== undefined ? createNetMetrics(components.metrics) : undefined;
  const recent = new RecentMessages(init.recentMessages);
  const keep = (message: Message, payload: Bytes): void => {
    const request = requestIdOf(message);
    // Evidence names any request id it likes: kept only beside a request this peer keeps
    // already, so made-up ids cannot push real requests out.
    if (message.t !== "equivocation" || recent.has(request)) recent.add(request, payload);
  };
  // Validates like gossip and keeps what the receiver accepted, to answer fetches with.
  const accept = (kind: MessageKind, payload: Uint8Array, fromPeer: string): void => {
    // [REJECT] The payload is the canonical encoding of a message of this topic's kind.
    const message = decodeMessage(payload, kind);
    receiver?.(message, fromPeer, payload);
    keep(message, payload);
  };
  for (const kind of MESSAGE_KINDS) {
    gossip.registerValidator(concordTopic(chain, kind), (payload, fromPeer) => accept(kind, payload, fromPeer));
  }
  let stopped = false;
  return {
    gossip,
    attach(next) {
      receiver = next;
    },
    async publish(message) {
      const topic = concordTopic(chain, message.t);
      const payload = encodeMessage(message);
      keep(message, payload);
      let result = await gossip.publish(topic, payload);
      for (let attempt = 0; result.recipients === 0 && !result.duplicate && attempt < publishRetries && !stopped; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, publishRetryMs));
        if (stopped || !gossip.isRunning) break;
        result = await gossip.publish(topic, payload);
      }
      return result;
    },
    async waitForPeers(count, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!topics.every((topic) => gossip.subscribers(topic).length >= count)) {
        if (Date.now() >= deadline) throw new Error(`fewer than ${count} peers subscribed after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const mesh = Math.min(count, MESH_PARAMS.Dlo);
      await Promise.all([...new Set(topics)].map((topic) => gossip.waitForMeshPeers(topic, mesh, Math.max(1, deadline - Date.now()))));
    },
    async fetch(requests, options = {}) {
      const timeoutMs = options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
      const result: FetchResult = { peers: 0, received: 0, accepted: 0, unanswered: [] };
      if (requests.length === 0) return result;
      // Just started: give subscriptions a moment to arrive before asking nobody.
      const waitUntil = Date.now() + timeoutMs;
      while (gossip.subscribers(topics[0] as string).length === 0 && Date.now() < waitUntil && !stopped) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // The best-scored peers: a peer that sent invalid messages is not asked before honest ones.
      const peers = gossip
        .subscribers(topics[0] as string)
        .sort((a, b) => gossip.getPeerScore(b) - gossip.getPeerScore(a))
        .slice(0, options.peers ?? DEFAULT_FETCH_PEERS);
      const asked = new Set(requests.map(toHex));
      const seen = new Set<string>();
      // Answers arrive concurrently and are applied one at a time, each in protocol order, so a
      // message every peer sends is checked once.
      let applying = Promise.resolve();
      const apply = async (peer: string, payloads: readonly Bytes[]) => {
        const messages: { message: Message; payload: Bytes }[] = [];
        for (const payload of payloads) {
          const key = toHex(sha256(payload));
          let kept = false;
          if (!seen.has(key)) {
            seen.add(key);
            try {
              const message = decodeMessage(payload);
              // Only what was asked for: an answer cannot push other requests' messages.
              kept = asked.has(toHex(requestIdOf(message)));
              if (kept) messages.push({ message, payload });
            } catch {
              // Undecodable: received, not accepted.
            }
          }
          if (!kept) metrics?.fetched.inc({ result: "ignored" });
        }
        messages.sort((a, b) => PROTOCOL_ORDER[a.message.t] - PROTOCOL_ORDER[b.message.t]);
        for (const [i, { message, payload }] of messages.entries()) {
          try {
            accept(message.t, payload, peer);
            result.accepted++;
            metrics?.fetched.inc({ result: "accepted" });
          } catch (error) {
            metrics?.fetched.inc({ result: "ignored" });
            // As from gossip: a receiver's own bug ignores the message, it does not end the fetch.
            if (!isConcordError(error)) components.logger.warn({ peer, kind: message.t, error: String(error) }, "fetched message failed unexpectedly");
          }
          // Checking is synchronous: let the event loop breathe between batches.
          if (i % 16 === 15) await new Promise((resolve) => setImmediate(resolve));
        }
      };
      // Batches of ids, each asked of every peer; a batch no peer answered is reported back.
      const batches: Bytes[][] = [];
      for (let at = 0; at < requests.length; at += MAX_FETCH_REQUESTS) batches.push(requests.slice(at, at + MAX_FETCH_REQUESTS));
      const answeredBatches = new Set<number>();
      await Promise.all(
        peers.map(async (peer) => {
          let answered = false;
          // No more asks than a peer answers in a minute: the rest would be refused.
          for (let batch = 0; batch < Math.min(batches.length, MAX_ASKS_PER_PEER_MINUTE) && !stopped; batch++) {
            let payloads: Bytes[];
            try {
              const stream = await gossip.openStream(peer, protocol, AbortSignal.timeout(timeoutMs));
              payloads = await askFetch(stream, batches[batch] as Bytes[], timeoutMs);
            } catch (error) {
              components.logger.debug({ peer, error: String(error) }, "catch-up fetch failed");
              return;
            }
            if (!answered) result.peers++;
            answered = true;
            answeredBatches.add(batch);
            result.received += payloads.length;
            // Each ask's answer is applied before the next ask: one answer in memory at a time.
            applying = applying.then(() => apply(peer, payloads)).catch((error: unknown) => components.logger.warn({ peer, error: String(error) }, "applying a fetched answer failed"));
            await applying;
          }
        }),
      );
      result.unanswered = batches.filter((_, batch) => !answeredBatches.has(batch)).flat();
      return result;
    },
    async start() {
      await gossip.start();
      const limiter = new AskLimiter(Date.now);
      await gossip.handle(protocol, async (stream, fromPeer) => {
        if (!limiter.allow(fromPeer)) {
          stream.abort(new ConcordError("BACKPRESSURE", "too many fetch asks", { details: fromPeer }));
          metrics?.fetchAnswered.inc({ outcome: "refused" });
          return;
        }
        metrics?.fetchAnswered.inc({ outcome: (await answerFetch(stream, recent)) ? "answered" : "failed" });
      });
    },
    async stop() {
      stopped = true;
      await gossip.stop();
    },
  };
}
