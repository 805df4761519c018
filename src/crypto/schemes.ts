/**
 * Signing schemes (spec/04-signing.md). Every signature covers a 32-byte signing root that is
 * domain-separated by message kind, protocol version and chain id, so a signature can never be
 * replayed as another kind of message or on another chain.
 *
 * ed25519 (default) — pinned rule "concord-ed25519":
 *   1. a public key is accepted (when a registry is loaded) only if it is the canonical encoding
 *      of a point in the prime-order subgroup, other than the identity;
 *   2. a signature (R, S) verifies iff R is a canonical encoding of a point other than the
 *      identity, S < L and [S]B = R + [k]A exactly (cofactorless), with k = SHA-512(R || A ||
 *      root) mod L.
 *   With A in the prime-order subgroup the cofactorless equation forces R into it too, so the
 *   rule is RFC 8032 §5.1.7 with strict encodings, non-malleable (one valid S per message), and
 *   it is exactly what OpenSSL (node:crypto) computes. The identity clause matters: a key holder
 *   can build R = identity, S = k·a, which satisfies the equation. noble accepts it; the
 *   OpenSSL 3.5 in Node 24 rejects it (it refuses small-order R), earlier OpenSSL 3 releases
 *   accepted small-order R. Both paths check the clause themselves, so no signature can verify
 *   on one path and fail on the other (test/unit/crypto/schemes.test.ts builds that signature).
 *   The fast path (~12,000 verifies/s here)
 *   and the pure noble path (~850/s) give the same answer on every input, which
 *   test/spec/ed25519-speccheck.test.ts checks on the published edge cases. ZIP-215 was not
 *   chosen: it exists for batch verification, which Concord does not use, and OpenSSL does not
 *   implement it, so a fast path would have split the network.
 *
 * secp256k1: signing root = keccak-256 of the preimage, signatures are 65 bytes r || s || v
 *   with v = 27 + recovery id and low s, so a contract checks them with ecrecover.
 */
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { ConcordError } from "../errors.ts";
import { encodeCanonical } from "../wire/cbor.ts";
import { bytesEqual, sha256 } from "../wire/hash.ts";
import { PROTOCOL_VERSION } from "../wire/limits.ts";
import type { Bytes, MessageKind, SchemeName } from "../wire/types.ts";

export const SCHEMES: readonly SchemeName[] = ["ed25519", "secp256k1"];

/** The bytes a signing root hashes: CBOR ["concord/sig", version, kind, chain, canonical body]. */
export function signingPreimage(kind: MessageKind, chain: string, body: Bytes): Bytes {
  return encodeCanonical(["concord/sig", PROTOCOL_VERSION, kind, chain, body]);
}

/** The hash a scheme signs: SHA-256 for ed25519, keccak-256 for secp256k1 (what ecrecover expects). */
export function schemeHash(scheme: SchemeName, preimage: Bytes): Bytes {
  return scheme === "secp256k1" ? keccak_256(preimage) : sha256(preimage);
}

/** The scheme's hash of the preimage. */
export function signingRoot(scheme: SchemeName, kind: MessageKind, chain: string, body: Bytes): Bytes {
  return schemeHash(scheme, signingPreimage(kind, chain, body));
}

export interface KeyPair {
  scheme: SchemeName;
  secretKey: Bytes;
  publicKey: Bytes;
}

/**
 * A key pair from 32 bytes of caller-supplied randomness (the core never draws its own).
 * ed25519: the seed is the RFC 8032 secret key. secp256k1: the seed must be a valid scalar.
 */
export function keyPairFromSeed(scheme: SchemeName, seed: Bytes): KeyPair {
  if (seed.length !== 32) throw new ConcordError("KEY_INVALID", "a key seed is 32 bytes");
  if (scheme === "ed25519") return { scheme, secretKey: seed, publicKey: ed25519.getPublicKey(seed) };
  if (!secp256k1.utils.isValidSecretKey(seed)) throw new ConcordError("KEY_INVALID", "seed is not a valid secp256k1 scalar");
  return { scheme, secretKey: seed, publicKey: secp256k1.getPublicKey(seed, true) };
}

const ED25519_PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
/** node:crypto key objects by secret key: building one costs more than a signature. */
const ed25519SigningKeys = new WeakMap<Bytes, KeyObject>();

/**
 * Signs a 32-byte signing root. ed25519 signatures are deterministic (RFC 8032), so node:crypto
 * (~15x faster than noble here) gives noble's very bytes; test/unit/crypto/schemes.test.ts
 * checks that on random keys and roots.
 */
export function signRoot(key: KeyPair, root: Bytes): Bytes {
  if (key.scheme === "ed25519") {
    let signingKey = ed25519SigningKeys.get(key.secretKey);
    if (!signingKey) {
      const pkcs8 = new Uint8Array(ED25519_PKCS8_PREFIX.length + 32);
      pkcs8.set(ED25519_PKCS8_PREFIX);
      pkcs8.set(key.secretKey, ED25519_PKCS8_PREFIX.length);
      signingKey = createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" });
      ed25519SigningKeys.set(key.secretKey, signingKey);
    }
    const sig = nodeSign(null, root, signingKey);
    return new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength);
  }
  const recovered = secp256k1.sign(root, key.secretKey, { prehash: false, format: "recovered", lowS: true });
  // noble writes recovery || r || s; Ethereum expects r || s || v with v = 27 + recovery.
  const out = new Uint8Array(65);
  out.set(recovered.subarray(1), 0);
  out[64] = 27 + (recovered[0] as number);
  return out;
}

/** A checked public key, ready to verify: keys are validated once, when a registry is loaded. */
export interface PublicKey {
  readonly scheme: SchemeName;
  readonly bytes: Bytes;
  /** True iff `signature` is valid for `root` under the scheme's pinned rule. Never throws. */
  verify(root: Bytes, signature: Bytes): boolean;
}

export interface PublicKeyOptions {
  /** ed25519 only: verify through node:crypto (default) or the pure noble path. Same answers. */
  ed25519Path?: "node" | "noble";
}

/** True iff the first 32 bytes are the canonical encoding of the identity point (y = 1, x = 0). */
function isIdentityEncoding(bytes: Bytes): boolean {
  if (bytes[0] !== 1) return false;
  for (let i = 1; i < 32; i++) if (bytes[i] !== 0) return false;
  return true;
}

const ED25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

/** Validates a public key for `scheme` and returns a verifier; throws KEY_INVALID. */
export function publicKey(scheme: SchemeName, bytes: Bytes, options: PublicKeyOptions = {}): PublicKey {
  if (scheme === "ed25519") return ed25519PublicKey(bytes, options.ed25519Path ?? "node");
  if (scheme === "secp256k1") return secp256k1PublicKey(bytes);
  throw new ConcordError("KEY_INVALID", "unknown signing scheme", { details: String(scheme) });
}

function ed25519PublicKey(bytes: Bytes, path: "node" | "noble"): PublicKey {
  let point;
  try {
    point = ed25519.Point.fromBytes(bytes, false);
  } catch (cause) {
    throw new ConcordError("KEY_INVALID", "not a canonical ed25519 point", { cause });
  }
  if (point.isSmallOrder() || !point.isTorsionFree()) {
    throw new ConcordError("KEY_INVALID", "ed25519 key outside the prime-order subgroup");
  }
  if (path === "noble") {
    return {
      scheme: "ed25519",
      bytes,
      verify(root, signature) {
        if (signature.length !== 64) return false;
        try {
          if (!ed25519.verify(signature, root, bytes, { zip215: false })) return false;
          // noble checks the cofactored equation; with A torsion-free, requiring R torsion-free
          // makes it the cofactorless one, and R must not be the identity (see the rule above).
          const r = ed25519.Point.fromBytes(signature.subarray(0, 32), false);
          return r.isTorsionFree() && !r.is0();
        } catch {
          return false;
        }
      },
    };
  }
  const spki = new Uint8Array(ED25519_SPKI_PREFIX.length + 32);
  spki.set(ED25519_SPKI_PREFIX);
  spki.set(bytes, ED25519_SPKI_PREFIX.length);
  const keyObject: KeyObject = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  return {
    scheme: "ed25519",
    bytes,
    verify(root, signature) {
      if (signature.length !== 64) return false;
      // OpenSSL 3.5 refuses R = identity itself; older releases do not, so say it here too.
      if (isIdentityEncoding(signature)) return false;
      try {
        return nodeVerify(null, root, keyObject, signature);
      } catch {
        return false;
      }
    },
  };
}

function secp256k1PublicKey(bytes: Bytes): PublicKey {
  if (bytes.length !== 33 || !secp256k1.utils.isValidPublicKey(bytes, true)) {
    throw new ConcordError("KEY_INVALID", "not a compressed secp256k1 public key");
  }
  return {
    scheme: "secp256k1",
    bytes,
    verify(root, signature) {
      if (signature.length !== 65) return false;
      const v = signature[64] as number;
      if (v !== 27 && v !== 28) return false;
      try {
        const recovered = new Uint8Array(65);
        recovered[0] = v - 27;
        recovered.set(signature.subarray(0, 64), 1);
        // lowS is enforced by verify; recovery must give this key, or ecrecover would disagree.
        if (!secp256k1.verify(signature.subarray(0, 64), root, bytes, { prehash: false, lowS: true })) return false;
        return bytesEqual(secp256k1.recoverPublicKey(recovered, root, { prehash: false }), bytes);
      } catch {
        return false;
      }
    },
  };
}
