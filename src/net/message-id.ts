/**
 * Gossip message ids. Gossipsub drops a message whose id it has seen, so the id decides what
 * counts as a duplicate: here SHA-256 over the topic and the payload.
 *
 * The topic is part of the id on purpose. Gossipsub records an id as seen before the validator
 * runs, so with an id over the payload alone a peer could copy an honest message onto another
 * topic, where it is rejected, and thereby make every node that saw the copy first drop the
 * honest original as a duplicate. Within one topic, the same payload published twice (by one node
 * or by two) still has one id and is delivered once.
 */

import { createHash, type Hash } from "node:crypto";

const DOMAIN = new TextEncoder().encode("concord/gossip-message-id/v1");
const encoder = new TextEncoder();

/** Per topic, the hash state after everything but the payload (a node has a dozen topics). */
const topicStates = new Map<string, Hash>();

function topicState(topic: string): Hash {
  let state = topicStates.get(topic);
  if (state === undefined) {
    const topicBytes = encoder.encode(topic);
    const topicLength = new Uint8Array(4);
    new DataView(topicLength.buffer).setUint32(0, topicBytes.length);
    state = createHash("sha256").update(Uint8Array.of(DOMAIN.length)).update(DOMAIN).update(topicLength).update(topicBytes);
    // Bounded: topic names come from our own topic list, or from peers before the topic check.
    if (topicStates.size < 256) topicStates.set(topic, state);
  }
  return state;
}

/**
 * The last id computed for a payload, by the payload's bytes object: a published message's id is
 * asked for twice (our publish, for its result, then gossipsub's), with the same bytes object.
 * A received one is hashed once (gossip.ts gives gossipsub no fastMsgIdFn).
 */
const recent = new WeakMap<Uint8Array, { topic: string; id: Uint8Array }>();

/**
 * SHA-256(len(domain) || domain || u32be(len(topic)) || topic || payload).
 * @example gossipMessageId("/concord/1/c/requests", bytes).length // 32
 */
export function gossipMessageId(topic: string, payload: Uint8Array): Uint8Array {
  const known = recent.get(payload);
  if (known !== undefined && known.topic === topic) return known.id;
  const digest = topicState(topic).copy().update(payload).digest();
  const id = new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
  recent.set(payload, { topic, id });
  return id;
}

/** The id as gossipsub's seen caches key it (base64: the msgIdToStrFn gossip.ts gives gossipsub). */
export function gossipMessageIdString(topic: string, payload: Uint8Array): string {
  const id = gossipMessageId(topic, payload);
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString("base64");
}
