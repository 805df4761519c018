/**
 * Concord on gossip: one topic per message kind, every payload strictly decoded and then
 * handed to the participant's `receive`, whose typed errors decide accept/ignore/reject (the
 * adapter in validation.ts maps them). Publishing encodes canonically and retries while no peer
 * is subscribed yet.
 */
import { MAX_MESSAGE_BYTES } from "../wire/limits.ts";
import { decodeMessage, encodeMessage, MESSAGE_KINDS } from "../wire/messages.ts";
import type { Message, MessageKind } from "../wire/types.ts";
import { MESH_PARAMS } from "./constants.ts";
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
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function concordTopic(chain: string, kind: MessageKind): string {
  return topicName(chain, topicKindOf(kind));
}

export async function createConcordNetwork(init: ConcordNetworkInit, components: GossipNodeComponents): Promise<ConcordNetwork> {
  const { chain, publishRetries = 20, publishRetryMs = 250, ...gossipInit } = init;
  const topics = MESSAGE_KINDS.map((kind) => concordTopic(chain, kind));
  const gossip = await createGossipNode({ ...gossipInit, topics, maxMessageBytes: MAX_MESSAGE_BYTES }, components);
  let receiver: MessageReceiver | undefined;
  for (const kind of MESSAGE_KINDS) {
    gossip.registerValidator(concordTopic(chain, kind), (payload, fromPeer) => {
      // [REJECT] The payload is the canonical encoding of a message of this topic's kind.
      const message = decodeMessage(payload, kind);
      receiver?.(message, fromPeer, payload);
    });
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
    async start() {
      await gossip.start();
    },
    async stop() {
      stopped = true;
      await gossip.stop();
    },
  };
}
