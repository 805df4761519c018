/**
 * Signing for the simulator: real ed25519 keys derived from the scenario seed, and the messages
 * an honest node and the sequencer sign, built exactly as src/quorum/attest.ts builds them.
 *
 * Speed: ed25519 signatures are deterministic (RFC 8032), so node:crypto (OpenSSL, ~36,000
 * signatures/s here) and noble (~2,300/s) produce the same bytes for the same key and message;
 * test/unit/sim/signer.test.ts checks that every message built here equals the core's.
 */
import { createPrivateKey, sign as nodeSign, type KeyObject } from "node:crypto";
import { keyPairFromSeed, signRoot, type KeyPair } from "../crypto/schemes.ts";
import { messageSigningRoot, type Unsigned } from "../crypto/sign.ts";
import { commitmentSalt } from "../quorum/attest.ts";
import { taggedHash } from "../wire/hash.ts";
import { commitmentHash, payloadHash } from "../wire/ids.ts";
import { PROTOCOL_VERSION } from "../wire/limits.ts";
import type {
  Bytes,
  CommitClose,
  Evidence,
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

const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

export interface Signer {
  readonly key: KeyPair;
  /** Signs a 32-byte signing root; the same bytes as signRoot(key, root). */
  signRoot(root: Bytes): Bytes;
}

/** A signer for `key`: node:crypto for ed25519, the core's signRoot otherwise. */
export function createSigner(key: KeyPair): Signer {
  if (key.scheme !== "ed25519") return { key, signRoot: (root) => signRoot(key, root) };
  const privateKey: KeyObject = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, key.secretKey]), format: "der", type: "pkcs8" });
  return {
    key,
    signRoot: (root) => {
      const sig = nodeSign(null, root, privateKey);
      return new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength);
    },
  };
}

/** The key of a simulated node (or "sequencer"): ed25519 from H("concord/sim-key", seed, name). */
export function simKey(seed: string, name: string): KeyPair {
  return keyPairFromSeed("ed25519", taggedHash("concord/sim-key", seed, name));
}

export function signWith<M extends Signed>(signer: Signer, body: Unsigned<M>): M {
  return { ...body, sig: signer.signRoot(messageSigningRoot(signer.key.scheme, body)) } as M;
}

export function simSignRequest(sequencer: Signer, body: Omit<InferenceRequestBody, "t" | "v">): InferenceRequest {
  return signWith<InferenceRequest>(sequencer, { t: "request", v: PROTOCOL_VERSION, ...body });
}

export interface SimAttestation {
  chain: string;
  request: Bytes;
  node: string;
  output: string;
  evidence?: Evidence;
  /** payloadHash(output, evidence), when the caller has it already. */
  payload?: Bytes;
}

/** commitOutput with the node's real salt (commitmentSalt), signed by `signer`. */
export function simCommit(signer: Signer, attestation: SimAttestation): { commitment: OutputCommitment; reveal: OutputReveal } {
  const { chain, request, node, output, evidence } = attestation;
  const salt = commitmentSalt(signer.key, request);
  const payload = attestation.payload ?? payloadHash(output, evidence);
  const commitment = signWith<OutputCommitment>(signer, {
    t: "commitment",
    v: PROTOCOL_VERSION,
    chain,
    request,
    node,
    commitment: commitmentHash(request, node, payload, salt),
  });
  const reveal: OutputReveal = { t: "reveal", v: PROTOCOL_VERSION, chain, request, node, output, salt, commitmentSig: commitment.sig };
  if (evidence) reveal.evidence = evidence;
  return { commitment, reveal };
}

export function simSignOutput(signer: Signer, attestation: SimAttestation): SignedOutput {
  const { chain, request, node, output, evidence } = attestation;
  return signWith<SignedOutput>(signer, { t: "output", v: PROTOCOL_VERSION, chain, request, node, output, ...(evidence ? { evidence } : {}) });
}

export function simSignClose(sequencer: Signer, chain: string, request: Bytes, commitments: readonly OutputCommitment[]): CommitClose {
  const refs = [...commitments]
    .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0))
    .map((c) => ({ node: c.node, commitment: c.commitment }));
  return signWith<CommitClose>(sequencer, { t: "close", v: PROTOCOL_VERSION, chain, request, commitments: refs });
}

export function simSignNoAgreement(sequencer: Signer, body: NoAgreementBody): NoAgreement {
  return signWith<NoAgreement>(sequencer, body);
}
