/**
 * Ids and commitments (spec/03-encoding.md): hashes of domain-separated canonical bytes.
 * A request id covers the request without its signature, so it never depends on how the
 * signature was encoded.
 */
import { encodeCanonical } from "./cbor.ts";
import { taggedHash, utf8 } from "./hash.ts";
import { decodedBody, decodedPayload, toWire, wireEvidence } from "./messages.ts";
import type {
  Bytes,
  Evidence,
  InferenceRequest,
  InferenceRequestBody,
  Message,
  OutputCommitment,
  OutputReveal,
} from "./types.ts";

/**
 * Canonical bytes of a message without its `sig` field: what a signature covers. A decoded
 * message's are cut from the bytes it came in (decodedBody), not encoded again.
 */
export function bodyBytes(message: Message | Omit<Message, "sig">): Bytes {
  const decoded = decodedBody(message);
  if (decoded !== undefined) return decoded;
  const { sig: _sig, ...body } = toWire(message as Message) as { sig?: unknown };
  return encodeCanonical(body);
}

/** Ids of decoded requests (which are never mutated, see decodedBody), computed once each. */
const decodedRequestIds = new WeakMap<object, Bytes>();

/** The request id: H("concord/request-id", canonical body). */
export function requestId(request: InferenceRequest | InferenceRequestBody): Bytes {
  const known = decodedRequestIds.get(request);
  if (known !== undefined) return known;
  const decoded = decodedBody(request);
  const id = taggedHash("concord/request-id", decoded ?? bodyBytes(request as InferenceRequest));
  if (decoded !== undefined) decodedRequestIds.set(request, id);
  return id;
}

/** The id of the request a message is about. */
export function requestIdOf(message: Message): Bytes {
  switch (message.t) {
    case "request":
      return requestId(message);
    case "bundle":
      return requestId(message.request);
    case "equivocation":
      return message.first.request;
    default:
      return message.request;
  }
}

/** Hash of what a reveal opens to: the output and its evidence. */
export function payloadHash(output: string, evidence: Evidence | undefined): Bytes {
  return taggedHash("concord/payload", encodeCanonical({ output, evidence: evidence ? wireEvidence(evidence) : null }));
}

/**
 * The commitment: H("concord/commitment", request id, node id, payload hash, salt). Binding the
 * node id means a copied commitment can never be opened by the copier.
 */
export function commitmentHash(request: Bytes, node: string, payload: Bytes, salt: Bytes): Bytes {
  const nodeBytes = utf8(node);
  return taggedHash("concord/commitment", request, Uint8Array.of(nodeBytes.length), nodeBytes, payload, salt);
}

/** Commitments opened by decoded reveals (never mutated, see decodedBody), rebuilt once each. */
const decodedCommitments = new WeakMap<OutputReveal, OutputCommitment>();

/** The commitment a reveal opens, rebuilt with the signature the reveal carries. */
export function commitmentOfReveal(reveal: OutputReveal): OutputCommitment {
  const known = decodedCommitments.get(reveal);
  if (known !== undefined) return known;
  // A decoded reveal's payload is cut from its bytes (decodedPayload), not encoded again.
  const decoded = decodedPayload(reveal);
  const payload = decoded === undefined ? payloadHash(reveal.output, reveal.evidence) : taggedHash("concord/payload", decoded);
  const commitment: OutputCommitment = {
    t: "commitment",
    v: reveal.v,
    chain: reveal.chain,
    request: reveal.request,
    node: reveal.node,
    commitment: commitmentHash(reveal.request, reveal.node, payload, reveal.salt),
    sig: reveal.commitmentSig,
  };
  if (decoded !== undefined) decodedCommitments.set(reveal, commitment);
  return commitment;
}
