/**
 * Equivocation (spec/07-quorum-rules.md): one node, one request, two different signed commitments or
 * two different signed outputs. The two messages together are slashable evidence.
 */
import { verifyMessage } from "../crypto/sign.ts";
import { ConcordError } from "../errors.ts";
import { bytesEqual, compareBytes } from "../wire/hash.ts";
import { bodyBytes } from "../wire/ids.ts";
import { PROTOCOL_VERSION } from "../wire/limits.ts";
import type { EquivocationEvidence, OutputCommitment, SignedOutput } from "../wire/types.ts";
import type { Registry } from "./registry.ts";

type Attested = OutputCommitment | SignedOutput;

/**
 * Evidence if `a` and `b` are two different signed messages of one kind from one node for one
 * request; undefined if they sign the same body. Ordered by body bytes, so every observer builds
 * the same evidence.
 */
export function equivocationOf(a: Attested, b: Attested): EquivocationEvidence | undefined {
  if (a.t !== b.t || a.node !== b.node || a.chain !== b.chain || !bytesEqual(a.request, b.request)) {
    throw new Error("equivocationOf: messages are not from one node for one request");
  }
  const bodyA = bodyBytes(a);
  const bodyB = bodyBytes(b);
  const order = compareBytes(bodyA, bodyB);
  if (order === 0) return undefined;
  const [first, second] = order < 0 ? [a, b] : [b, a];
  return { t: "equivocation", v: PROTOCOL_VERSION, chain: a.chain, first, second };
}

/** Checks evidence; returns the equivocating node's id. Throws EQUIVOCATION-independent typed errors. */
export function verifyEquivocation(evidence: EquivocationEvidence, registry: Registry): string {
  const { first, second } = evidence;
  // [REJECT] Both messages are of one kind, from one node, for one request, on this chain.
  if (first.t !== second.t || first.node !== second.node || !bytesEqual(first.request, second.request)) {
    throw new ConcordError("BUNDLE_INVALID", "evidence messages are not from one node for one request");
  }
  if (evidence.chain !== registry.chain || first.chain !== registry.chain || second.chain !== registry.chain) {
    throw new ConcordError("CHAIN_MISMATCH", "evidence for another chain");
  }
  // [REJECT] The two bodies differ, in canonical order.
  if (compareBytes(bodyBytes(first), bodyBytes(second)) >= 0) {
    throw new ConcordError("BUNDLE_INVALID", "evidence messages are identical or out of order");
  }
  // [REJECT] Both are signed by the node.
  const member = registry.byId.get(first.node);
  if (!member) throw new ConcordError("NOT_IN_COMMITTEE", "node not in the registry", { details: first.node });
  if (!verifyMessage(member.key, first) || !verifyMessage(member.key, second)) {
    throw new ConcordError("SIG_INVALID", "evidence signature invalid", { details: first.node });
  }
  return first.node;
}
