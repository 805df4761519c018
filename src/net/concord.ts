/**
 * Concord on gossip: one topic per message kind, every payload strictly decoded and then
 * handed to the participant's `receive`, whose typed errors decide accept/ignore/reject (the
 * adapter in validation.ts maps them). Publishing encodes canonically and retries while no peer
 * is subscribed yet. What was accepted or published is kept, by request, to answer catch-up
 * fetches (fetch.ts) with.
 */
import type { Stream } from "@libp2p/interface";
import { ConcordError } from "../errors.ts";
import { requestIdOf } from "../wire/ids.ts";
import { MAX_MESSAGE_BYTES } from "../wire/limits.ts";
import { decodeMessage, encodeMessage, MESSAGE_KINDS } from "../wire/messages.ts";
import type { Bytes, Message, MessageKind } from "../wire/types.ts";
import { MESH_PARAMS, SCORE_THRESHOLDS } from "./constants.ts";
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
  /**
   * What is in flight: asks the same peers which requests they keep whose deadline is ahead (at
   * most 64 each) and returns the ids, unchecked, to `fetch`. For a peer that starts, or comes
   * back, while requests are open: gossip will not deliver what went by before.
   */
  openRequests(options?: { peers?: number; timeoutMs?: number }): Promise<Bytes[]>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

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
    if (message.t !== "equivocation" || recent.has(request)) recent.add(request, payload, message.t === "request" ? message.deadline : undefined);
  };
  // Hands a strictly decoded message to the receiver and keeps it if accepted, to answer fetches with.
  const deliver = (message: Message, payload: Bytes, fromPeer: string): void => {
    receiver?.(message, fromPeer, payload);
    keep(message, payload);
  };
  for (const kind of MESSAGE_KINDS) {
    // [REJECT] The payload is the canonical encoding of a message of this topic's kind.
    gossip.registerValidator(concordTopic(chain, kind), (payload, fromPeer) => deliver(decodeMessage(payload, kind), payload, fromPeer));
  }
  let stopped = false;
  const openProtocol = openRequestsProtocol(chain);
  const fetchContext = (on: string, options: { peers?: number; timeoutMs?: number }) => ({
    ...options,
    subscribers: () => gossip.subscribers(topics[0] as string),
    score: (peer: string) => gossip.getPeerScore(peer),
    openStream: (peer: string, signal: AbortSignal) => gossip.openStream(peer, on, signal),
    deliver,
    stopped: () => stopped,
    logger: components.logger,
    metrics,
  });
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
      return fetchFromPeers(requests, fetchContext(protocol, options));
    },
    async openRequests(options = {}) {
      return openRequestsFromPeers(fetchContext(openProtocol, options));
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
          metrics?.fetchAnswered.inc({ outcome: (await answered(stream)) ? "answered" : "failed" });
        });
      await answer(protocol, (stream) => answerFetch(stream, recent));
      await answer(openProtocol, (stream) => answerOpenRequests(stream, recent, Date.now()));
    },
    async stop() {
      stopped = true;
      await gossip.stop();
    },
  };
}
