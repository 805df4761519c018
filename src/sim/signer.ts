/**
 * Signing for the simulator: real ed25519 keys derived from the scenario seed, and the messages
 * an honest node and the sequencer sign — the core's own (src/quorum/attest.ts), so the simulator
 * never builds a message differently from a node.
 */
import { keyPairFromSeed, signRoot, type KeyPair } from "../crypto/schemes.ts";
import { signMessage, type Unsigned } from "../crypto/sign.ts";
import { commitOutput, commitmentSalt, signClose, signNoAgreement, signOutput, signRequest, type Attestation } from "../quorum/attest.ts";
import { taggedHash } from "../wire/hash.ts";
import type {
  Bytes,
  CommitClose,
  InferenceRequest,
  InferenceRequestBody,
  Message,
  NoAgreement,
  NoAgreementBody,
  OutputCommitment,
  OutputReveal,
  SignedOutput,
} from "../wire/types.ts";

type Signed = Extract<Message, { sig: Bytes }>;

export interface Signer {
  readonly key: KeyPair;
  /** Signs a 32-byte signing root (signRoot: node:crypto for ed25519). */
  signRoot(root: Bytes): Bytes;
}

export function createSigner(key: KeyPair): Signer {
  return { key, signRoot: (root) => signRoot(key, root) };
}

/** The key of a simulated node (or "sequencer"): ed25519 from H("concord/sim-key", seed, name). */
export function simKey(seed: string, name: string): KeyPair {
  return keyPairFromSeed("ed25519", taggedHash("concord/sim-key", seed, name));
}

export function signWith<M extends Signed>(signer: Signer, body: Unsigned<M>): M {
  return signMessage<M>(signer.key, body);
}

export function simSignRequest(sequencer: Signer, body: Omit<InferenceRequestBody, "t" | "v">): InferenceRequest {
  return signRequest(sequencer.key, body);
}

export type SimAttestation = Attestation;

/** The core's commitOutput with the node's real salt (commitmentSalt). */
export function simCommit(signer: Signer, attestation: SimAttestation): { commitment: OutputCommitment; reveal: OutputReveal } {
  return commitOutput(signer.key, attestation, commitmentSalt(signer.key, attestation.request));
}

export function simSignOutput(signer: Signer, attestation: SimAttestation): SignedOutput {
  return signOutput(signer.key, attestation);
}

export function simSignClose(sequencer: Signer, chain: string, request: Bytes, commitments: readonly OutputCommitment[]): CommitClose {
  return signClose(sequencer.key, chain, request, commitments);
}

export function simSignNoAgreement(sequencer: Signer, body: NoAgreementBody): NoAgreement {
  return signNoAgreement(sequencer.key, body);
}
