/**
 * verifyCertificate (spec/11-certificate.md, "Verification"): the pure TypeScript twin of the
 * Solidity library's `verify` (contracts/ConcordCertificate.sol). Both run the same checks in the
 * same order and raise the same codes on the same spec/vectors/certificates.json cases; the EVM
 * test (test/unit/cert/evm.test.ts) holds them to it.
 *
 * @example
 * const verified = verifyCertificate(certificateBytes, registryRoot(registry));
 * verified.outputHash; // the exact output k drawn committee members signed
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { ConcordError } from "../errors.ts";
import { taggedHash, utf8 } from "../wire/hash.ts";
import { MAX_COMMITTEE } from "../wire/limits.ts";
import type { Bytes } from "../wire/types.ts";
import { decodeCertificate, type Certificate, type CertificateVote } from "./abi.ts";
import { ethereumAddress, registryRootOf, unpackMembers, type PackedMember } from "./registry-root.ts";
import { readCertifiedRequest, type CertifiedRequest } from "./request.ts";

/** What a verified certificate establishes (the Solidity library's `Verified`, plus the output and the signers' ids). */
export interface VerifiedCertificate {
  requestId: Bytes;
  /** H("concord/output", output): the outputHash of bundles and 03-encoding.md. */
  outputHash: Bytes;
  output: Bytes;
  direct: boolean;
  n: number;
  k: number;
  policyId: string;
  policyVersion: number;
  modelHash: Bytes;
  inputHash: Bytes;
  entropy: Bytes;
  deadline: number;
  /** The node ids whose votes verified, in vote order (at least k of them). */
  signers: string[];
}

/** Half the secp256k1 group order: a signature's s above it is refused (04-signing.md, low s). */
export const SECP256K1_HALF_ORDER = secp256k1.Point.Fn.ORDER >> 1n;

const MAJOR_BYTES = 2;
const MAJOR_TEXT = 3;

/** A CBOR head: major type and length, in the shortest form (03-encoding.md). */
export function cborHead(major: number, length: number): Bytes {
  const m = major << 5;
  if (length < 24) return Uint8Array.of(m | length);
  if (length < 0x100) return Uint8Array.of(m | 24, length);
  if (length < 0x10000) return Uint8Array.of(m | 25, length >> 8, length & 0xff);
  if (length < 0x1_0000_0000) return Uint8Array.of(m | 26, length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff);
  throw new RangeError("CBOR length beyond 2^32 - 1");
}

function concat(...parts: Bytes[]): Bytes {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const text = (bytes: Bytes) => concat(cborHead(MAJOR_TEXT, bytes.length), bytes);
const key = (name: string) => text(utf8(name));
const BYTES32_HEAD = cborHead(MAJOR_BYTES, 32);
const CBOR_NULL = Uint8Array.of(0xf6);

/**
 * The secp256k1 signing root (04-signing.md) of a message body:
 * keccak-256(cbor(["concord/sig", 1, kind, chain, body])).
 */
function signingRootOf(kind: "commitment" | "output", chainItem: Bytes, body: Bytes): Bytes {
  return keccak_256(concat(Uint8Array.of(0x85), key("concord/sig"), Uint8Array.of(0x01), key(kind), chainItem, cborHead(MAJOR_BYTES, body.length), body));
}

/** What every vote of one certificate shares. */
interface VoteContext {
  request: CertifiedRequest;
  chainItem: Bytes;
  outputItem: Bytes;
}

/**
 * The root a commit-reveal supporter signed: its OutputCommitment, whose commitment hash is
 * rebuilt from the output, the vote's evidence and salt (03-encoding.md).
 */
function commitmentRoot(context: VoteContext, member: PackedMember, vote: CertificateVote): Bytes {
  const payload = concat(Uint8Array.of(0xa2), key("output"), context.outputItem, key("evidence"), vote.evidence.length > 0 ? vote.evidence : CBOR_NULL);
  const payloadHash = taggedHash("concord/payload", payload);
  const commitment = taggedHash("concord/commitment", context.request.requestId, Uint8Array.of(member.idBytes.length), member.idBytes, payloadHash, vote.salt);
  const body = concat(
    Uint8Array.of(0xa6),
    key("t"),
    key("commitment"),
    key("v"),
    Uint8Array.of(0x01),
    key("node"),
    text(member.idBytes),
    key("chain"),
    context.chainItem,
    key("request"),
    BYTES32_HEAD,
    context.request.requestId,
    key("commitment"),
    BYTES32_HEAD,
    commitment,
  );
  return signingRootOf("commitment", context.chainItem, body);
}

/** The root a direct-mode supporter signed: its SignedOutput (evidence omitted when absent). */
function outputRoot(context: VoteContext, member: PackedMember, vote: CertificateVote): Bytes {
  const hasEvidence = vote.evidence.length > 0;
  const body = concat(
    Uint8Array.of(hasEvidence ? 0xa7 : 0xa6),
    key("t"),
    key("output"),
    key("v"),
    Uint8Array.of(0x01),
    key("node"),
    text(member.idBytes),
    key("chain"),
    context.chainItem,
    key("output"),
    context.outputItem,
    key("request"),
    BYTES32_HEAD,
    context.request.requestId,
    ...(hasEvidence ? [key("evidence"), vote.evidence] : []),
  );
  return signingRootOf("output", context.chainItem, body);
}

/** ecrecover's answer: the signer's address, or undefined where the precompile returns nothing. */
function ecrecover(root: Bytes, v: number, r: Bytes, s: Bytes): Bytes | undefined {
  try {
    const recovered = secp256k1.recoverPublicKey(concat(Uint8Array.of(v - 27), r, s), root, { prehash: false });
    return ethereumAddress(recovered);
  } catch {
    return undefined;
  }
}

const bigintOf = (bytes: Bytes) => bytes.reduce((value, byte) => (value << 8n) | BigInt(byte), 0n);
const isZero = (bytes: Bytes) => bytes.every((byte) => byte === 0);
const same = (a: Bytes, b: Bytes) => a.length === b.length && a.every((byte, i) => byte === b[i]);

/**
 * The committee draw of 05-committee.md on the certificate's members: weights in id order, a
 * drawn member's weight set to 0 (every registry weight is at least 1, so 0 marks "drawn").
 */
function drawnMembers(members: readonly PackedMember[], requestId: Bytes, n: number): boolean[] {
  const weights = members.map((member) => BigInt(member.weight));
  let total = weights.reduce((sum, weight) => sum + weight, 0n);
  const drawn = members.map(() => false);
  const round = new Uint8Array(4);
  for (let r = 0; r < n; r++) {
    new DataView(round.buffer).setUint32(0, r);
    let x = bigintOf(taggedHash("concord/committee", requestId, round)) % total;
    for (let i = 0; i < weights.length; i++) {
      const weight = weights[i] as bigint;
      if (x < weight) {
        drawn[i] = true;
        weights[i] = 0n;
        total -= weight;
        break;
      }
      x -= weight;
    }
  }
  return drawn;
}

function fail(code: "CERT_INVALID" | "REGISTRY_MISMATCH" | "REQUEST_INVALID" | "POLICY_MISMATCH" | "DUPLICATE" | "NOT_IN_COMMITTEE" | "SIG_INVALID", details: string): never {
  throw new ConcordError(code, "certificate refused", { details });
}

/**
 * Verifies a certificate against a registry root; throws a ConcordError at the first failed
 * check, in the order of spec/11-certificate.md:
 *   CERT_INVALID (encoding, request body, member list, a vote's member index) →
 *   REGISTRY_MISMATCH → REQUEST_INVALID (threshold rule, committee larger than the registry) →
 *   POLICY_MISMATCH (fewer than k votes) → per vote: DUPLICATE (not strictly after the previous
 *   member), NOT_IN_COMMITTEE, SIG_INVALID (v, high s, no on-chain key, ecrecover ≠ signer).
 */
export function verifyCertificate(certificate: Bytes | Certificate, root: Bytes): VerifiedCertificate {
  const cert = certificate instanceof Uint8Array ? decodeCertificate(certificate) : certificate;
  const request = readCertifiedRequest(cert.request);
  const members = unpackMembers(cert.members);
  // [REJECT] The members and the request's chain hash to the registry root the caller trusts.
  if (!same(registryRootOf(request.chain, members.map((member) => member.entry)), root)) fail("REGISTRY_MISMATCH", "members and chain do not hash to the registry root");
  const { n, k } = request;
  // [REJECT] The threshold rule (05-committee.md) and a committee the registry can fill.
  if (n < 1 || n > MAX_COMMITTEE || 2 * k <= n || k > n) fail("REQUEST_INVALID", `n=${n}, k=${k}`);
  if (n > members.length) fail("REQUEST_INVALID", `n=${n}, registry has ${members.length}`);
  // [REJECT] At least k votes.
  if (cert.votes.length < k) fail("POLICY_MISMATCH", `${cert.votes.length} votes, k=${k}`);
  const drawn = drawnMembers(members, request.requestId, n);
  const context: VoteContext = { request, chainItem: text(request.chain), outputItem: text(cert.output) };
  const signers: string[] = [];
  let previous = -1;
  for (const [j, vote] of cert.votes.entries()) {
    const member = members[vote.member];
    if (!member) fail("CERT_INVALID", `vote ${j}: member ${vote.member} beyond the member list`);
    // [REJECT] Votes in strictly ascending member order: one vote per member.
    if (vote.member <= previous) fail("DUPLICATE", `vote ${j}: member ${vote.member} after ${previous}`);
    previous = vote.member;
    // [REJECT] The member was drawn for this request.
    if (!drawn[vote.member]) fail("NOT_IN_COMMITTEE", `vote ${j}: ${member.id}`);
    // [REJECT] v is 27 or 28, s is low, the member has an on-chain key, and ecrecover gives it.
    if (vote.v !== 27 && vote.v !== 28) fail("SIG_INVALID", `vote ${j}: v=${vote.v}`);
    if (bigintOf(vote.s) > SECP256K1_HALF_ORDER) fail("SIG_INVALID", `vote ${j}: high s`);
    if (isZero(member.signer)) fail("SIG_INVALID", `vote ${j}: ${member.id} has no secp256k1 key`);
    const signed = request.direct ? outputRoot(context, member, vote) : commitmentRoot(context, member, vote);
    const recovered = ecrecover(signed, vote.v, vote.r, vote.s);
    if (!recovered || !same(recovered, member.signer)) fail("SIG_INVALID", `vote ${j}: not ${member.id}'s signature on this request and output`);
    signers.push(member.id);
  }
  return {
    requestId: request.requestId,
    outputHash: taggedHash("concord/output", cert.output),
    output: cert.output,
    direct: request.direct,
    n,
    k,
    policyId: new TextDecoder().decode(request.policyId),
    policyVersion: request.policyVersion,
    modelHash: request.modelHash,
    inputHash: request.inputHash,
    entropy: request.entropy,
    deadline: request.deadline,
    signers,
  };
}
