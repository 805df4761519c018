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

import { createHash } from "node:crypto";

const DOMAIN = new TextEncoder().encode("concord/gossip-message-id/v1");
const encoder = new TextEncoder();

/**
 * SHA-256(len(domain) || domain || u32be(len(topic)) || topic || payload).
 * @example gossipMessageId("/concord/1/c/requests", bytes).length // 32
 */
export function gossipMessageId(topic: string, payload: Uint8Array): Uint8Array {
  const topicBytes = encoder.encode(topic);
  const topicLength = new Uint8Array(4);
  new DataView(topicLength.buffer).setUint32(0, topicBytes.length);
  const digest = createHash("sha256")
    .update(Uint8Array.of(DOMAIN.length))
    .update(DOMAIN)
    .update(topicLength)
    .update(topicBytes)
    .update(payload)
    .digest();
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}

/** The id as gossipsub's seen caches key it (base64, like gossipsub's own msgIdToStrFn). */
export function gossipMessageIdString(topic: string, payload: Uint8Array): string {
  const id = gossipMessageId(topic, payload);
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString("base64");
}
