/**
 * The registry root (spec/11-certificate.md, "Registry root"): 32 bytes a contract stores in
 * place of the registry. It commits to the chain and to every member, in id order (the order the
 * committee draw walks), with its stake weight and the Ethereum address of its secp256k1 key
 * (zero for a member whose key cannot sign on chain).
 *
 * @example
 * const root = registryRoot(registry); // store it in the consumer contract
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { ConcordError } from "../errors.ts";
import { utf8 } from "../wire/hash.ts";
import type { Bytes } from "../wire/types.ts";
import type { Registry, RegistryMember } from "../quorum/registry.ts";

/** A member as the certificate carries it. */
export interface CertificateMember {
  id: string;
  /** 20-byte Ethereum address of the member's secp256k1 key; 20 zero bytes for other schemes. */
  signer: Bytes;
  weight: number;
}

export const ZERO_ADDRESS: Bytes = new Uint8Array(20);

/** Bytes of an entry before its id: weight (4), signer (20), id length (1). */
const ENTRY_HEAD = 25;

/** The Ethereum address of a secp256k1 public key: the last 20 bytes of keccak-256(x || y). */
export function ethereumAddress(publicKey: Bytes): Bytes {
  const uncompressed = secp256k1.Point.fromBytes(publicKey).toBytes(false);
  return keccak_256(uncompressed.subarray(1)).subarray(12);
}

/** The member list of a registry, in id order, with signer addresses. */
export function certificateMembers(registry: Registry): CertificateMember[] {
  return registry.members.map((member: RegistryMember) => ({
    id: member.id,
    signer: member.scheme === "secp256k1" ? ethereumAddress(member.publicKey) : ZERO_ADDRESS,
    weight: member.weight,
  }));
}

/** One packed entry: u32be(weight) || signer || u8(len id) || utf8(id). */
export function packMember(member: CertificateMember): Bytes {
  const id = utf8(member.id);
  if (id.length < 1 || id.length > 255) throw new ConcordError("CERT_INVALID", "invalid certificate", { details: `member id "${member.id}" must be 1..255 bytes` });
  if (member.signer.length !== 20) throw new ConcordError("CERT_INVALID", "invalid certificate", { details: "a signer address is 20 bytes" });
  const entry = new Uint8Array(ENTRY_HEAD + id.length);
  new DataView(entry.buffer).setUint32(0, member.weight);
  entry.set(member.signer, 4);
  entry[24] = id.length;
  entry.set(id, ENTRY_HEAD);
  return entry;
}

export function packMembers(members: readonly CertificateMember[]): Bytes {
  const entries = members.map(packMember);
  const out = new Uint8Array(entries.reduce((total, entry) => total + entry.length, 0));
  let offset = 0;
  for (const entry of entries) {
    out.set(entry, offset);
    offset += entry.length;
  }
  return out;
}

/** A packed member list read back: each entry's fields and its bytes (the leaf's preimage). */
export interface PackedMember extends CertificateMember {
  /** The entry's bytes within the packed list. */
  entry: Bytes;
  /** The id's UTF-8 bytes. */
  idBytes: Bytes;
}

/**
 * Splits a packed member list. CERT_INVALID when an entry runs past the end, has an empty id, or
 * has weight 0 (a registry has none: 05-committee.md), exactly as the Solidity library reads it.
 */
export function unpackMembers(packed: Bytes): PackedMember[] {
  const members: PackedMember[] = [];
  const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  const decoder = new TextDecoder();
  let p = 0;
  while (p < packed.length) {
    if (p + ENTRY_HEAD > packed.length) throw new ConcordError("CERT_INVALID", "invalid certificate", { details: "member entry cut short" });
    const idLength = packed[p + 24] as number;
    const end = p + ENTRY_HEAD + idLength;
    if (idLength === 0 || end > packed.length) throw new ConcordError("CERT_INVALID", "invalid certificate", { details: "member id empty or cut short" });
    const weight = view.getUint32(p);
    if (weight === 0) throw new ConcordError("CERT_INVALID", "invalid certificate", { details: "member weight 0" });
    const idBytes = packed.subarray(p + ENTRY_HEAD, end);
    members.push({ id: decoder.decode(idBytes), signer: packed.subarray(p + 4, p + 24), weight, entry: packed.subarray(p, end), idBytes });
    p = end;
  }
  return members;
}

function keccak(...parts: Bytes[]): Bytes {
  const hash = keccak_256.create();
  for (const part of parts) hash.update(part);
  return hash.digest();
}

/** Merkle root of the entries: leaf = keccak(0x00 || entry), node = keccak(0x01 || left || right), an odd last node promoted. */
export function membersRoot(entries: readonly Bytes[]): Bytes {
  if (entries.length === 0) return new Uint8Array(32);
  let level = entries.map((entry) => keccak(Uint8Array.of(0), entry));
  while (level.length > 1) {
    const next: Bytes[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(keccak(Uint8Array.of(1), level[i] as Bytes, level[i + 1] as Bytes));
    if (level.length % 2 === 1) next.push(level[level.length - 1] as Bytes);
    level = next;
  }
  return level[0] as Bytes;
}

const ROOT_TAG = utf8("concord/registry");

/**
 * registryRoot = keccak-256(len(tag) || "concord/registry" || u8(len chain) || chain ||
 * u32be(count) || membersRoot), from the chain's UTF-8 bytes and the packed entries.
 */
export function registryRootOf(chain: Bytes, entries: readonly Bytes[]): Bytes {
  if (chain.length > 255) throw new ConcordError("CERT_INVALID", "invalid certificate", { details: "chain id longer than 255 bytes" });
  const count = new Uint8Array(4);
  new DataView(count.buffer).setUint32(0, entries.length);
  return keccak(Uint8Array.of(ROOT_TAG.length), ROOT_TAG, Uint8Array.of(chain.length), chain, count, membersRoot(entries));
}

/** The registry root a consumer contract stores for `registry`. */
export function registryRoot(registry: Registry): Bytes {
  return registryRootOf(utf8(registry.chain), certificateMembers(registry).map(packMember));
}
