/**
 * Producing messages: what an honest node and the sequencer sign. Pure: salts and keys are
 * passed in. The node runner calls these after its slashing-protection check.
 */
import type { KeyPair } from "../crypto/schemes.ts";
import { signMessage, type SignGuard, type Unsigned } from "../crypto/sign.ts";
import { taggedHash } from "../wire/hash.ts";
import { commitmentHash, payloadHash } from "../wire/ids.ts";
import { PROTOCOL_VERSION } from "../wire/limits.ts";
import type {
  Bytes,
  CommitClose,
  Evidence,
  InferenceRequest,
  InferenceRequestBody,
  NoAgreement,
  NoAgreementBody,
  OutputCommitment,
  OutputReveal,
  SignedOutput,
} from "../wire/types.ts";

export interface Attestation {
  chain: string;
  request: Bytes;
  node: string;
  output: string;
  evidence?: Evidence;
  /** payloadHash(output, evidence), when the caller has it already (the simulator reuses it). */
  payload?: Bytes;
}

/**
 * A node's commitment salt: H("concord/salt", secret key, request id). Secret to others, yet
 * the same after a restart, so a node that recomputes the same output re-signs identical data
 * (which slashing protection allows) instead of a conflicting commitment.
 */
export function commitmentSalt(key: KeyPair, request: Bytes): Bytes {
  return taggedHash("concord/salt", key.secretKey, request);
}

/** The sequencer signs a request. */
export function signRequest(sequencer: KeyPair, body: Omit<InferenceRequestBody, "t" | "v">): InferenceRequest {
  return signMessage<InferenceRequest>(sequencer, requestBody(body));
}

/** The request a sequencer signs (alone, or with others under one batch signature). */
export function requestBody(body: Omit<InferenceRequestBody, "t" | "v">): Unsigned<InferenceRequest> {
  return { t: "request", v: PROTOCOL_VERSION, ...body };
}

/** The commitment a node signs for its output: its hash binds request, node, output and salt. */
export function commitmentBody(attestation: Attestation, salt: Bytes): Unsigned<OutputCommitment> {
  const { chain, request, node, output, evidence } = attestation;
  const payload = attestation.payload ?? payloadHash(output, evidence);
  return { t: "commitment", v: PROTOCOL_VERSION, chain, request, node, commitment: commitmentHash(request, node, payload, salt) };
}

/** The reveal that opens a signed commitment, kept back until the close. */
export function revealOf(commitment: OutputCommitment, attestation: Attestation, salt: Bytes): OutputReveal {
  const { chain, request, node, output, evidence } = attestation;
  const reveal: OutputReveal = { t: "reveal", v: PROTOCOL_VERSION, chain, request, node, output, salt, commitmentSig: commitment.sig };
  if (evidence) reveal.evidence = evidence;
  return reveal;
}

/** A node commits to its output; the reveal is kept back until the close. */
export function commitOutput(
  key: KeyPair,
  attestation: Attestation,
  salt: Bytes,
  guard?: SignGuard,
): { commitment: OutputCommitment; reveal: OutputReveal } {
  const commitment = signMessage<OutputCommitment>(key, commitmentBody(attestation, salt), guard);
  return { commitment, reveal: revealOf(commitment, attestation, salt) };
}

/** Direct mode: the output a node signs outright. */
export function outputBody(attestation: Attestation): Unsigned<SignedOutput> {
  const { chain, request, node, output, evidence } = attestation;
  return { t: "output", v: PROTOCOL_VERSION, chain, request, node, output, ...(evidence ? { evidence } : {}) };
}

/** Direct mode: a node signs its output outright. */
export function signOutput(key: KeyPair, attestation: Attestation, guard?: SignGuard): SignedOutput {
  return signMessage<SignedOutput>(key, outputBody(attestation), guard);
}

/** The close that lists `commitments` (sorted by node), unsigned: signClose signs it alone, a batching pool with others. */
export function closeBody(chain: string, request: Bytes, commitments: readonly OutputCommitment[]): Unsigned<CommitClose> {
  const refs = [...commitments]
    .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0))
    .map((c) => ({ node: c.node, commitment: c.commitment }));
  return { t: "close", v: PROTOCOL_VERSION, chain, request, commitments: refs };
}

/** The sequencer closes the commit phase, listing the commitments that count (sorted by node). */
export function signClose(sequencer: KeyPair, chain: string, request: Bytes, commitments: readonly OutputCommitment[]): CommitClose {
  return signMessage<CommitClose>(sequencer, closeBody(chain, request, commitments));
}

/** The sequencer publishes a NoAgreement outcome. */
export function signNoAgreement(sequencer: KeyPair, body: NoAgreementBody): NoAgreement {
  return signMessage<NoAgreement>(sequencer, body);
}
