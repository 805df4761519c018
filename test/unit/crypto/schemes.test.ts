import { ed25519 } from "@noble/curves/ed25519.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { keyPairFromSeed, publicKey, signingPreimage, signingRoot, signRoot, type KeyPair } from "../../../src/crypto/schemes.ts";
import { encodeCanonical } from "../../../src/wire/cbor.ts";
import { fromHex, sha256, taggedHash, toHex } from "../../../src/wire/hash.ts";
import { MESSAGE_KINDS } from "../../../src/wire/messages.ts";
import { testKey } from "../../helpers/fixtures.ts";
import { codeOf } from "../../helpers/errors.ts";


const ED = testKey("crypto-ed", "ed25519");
const K1 = testKey("crypto-k1", "secp256k1");
const ROOT = taggedHash("root", "1");
const N = secp256k1.Point.Fn.ORDER;
const L = ed25519.Point.Fn.ORDER;

const verifiers = (key: KeyPair) =>
  key.scheme === "ed25519"
    ? [publicKey("ed25519", key.publicKey, { ed25519Path: "node" }), publicKey("ed25519", key.publicKey, { ed25519Path: "noble" })]
    : [publicKey("secp256k1", key.publicKey)];

describe("keyPairFromSeed", () => {
  it("is deterministic and takes exactly 32 bytes", () => {
    const seed = taggedHash("seed");
    expect(keyPairFromSeed("ed25519", seed)).toEqual(keyPairFromSeed("ed25519", seed));
    expect(keyPairFromSeed("ed25519", seed).publicKey).toHaveLength(32);
    expect(keyPairFromSeed("secp256k1", seed).publicKey).toHaveLength(33);
    expect(codeOf(() => keyPairFromSeed("ed25519", new Uint8Array(31)))).toBe("KEY_INVALID");
    expect(codeOf(() => keyPairFromSeed("secp256k1", new Uint8Array(33)))).toBe("KEY_INVALID");
  });

  it("refuses secp256k1 seeds that are not scalars in [1, n)", () => {
    const n = fromHex(N.toString(16).padStart(64, "0"));
    expect(codeOf(() => keyPairFromSeed("secp256k1", new Uint8Array(32)))).toBe("KEY_INVALID");
    expect(codeOf(() => keyPairFromSeed("secp256k1", n))).toBe("KEY_INVALID");
    expect(codeOf(() => keyPairFromSeed("secp256k1", new Uint8Array(32).fill(0xff)))).toBe("KEY_INVALID");
  });

  it("gives the RFC 8032 §7.1 TEST 1 public key", () => {
    const key = keyPairFromSeed("ed25519", fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
    expect(toHex(key.publicKey)).toBe("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  });
});

describe("sign and verify", () => {
  for (const key of [ED, K1]) {
    it(`${key.scheme}: a signature verifies on its root only, under its key only`, () => {
      const signature = signRoot(key, ROOT);
      const other = key.scheme === "ed25519" ? testKey("crypto-ed-2") : testKey("crypto-k1-2", "secp256k1");
      for (const verifier of verifiers(key)) {
        expect(verifier.verify(ROOT, signature)).toBe(true);
        expect(verifier.verify(taggedHash("root", "2"), signature)).toBe(false);
        expect(verifier.verify(ROOT, signRoot(other, ROOT))).toBe(false);
        expect(verifier.verify(ROOT, signature.subarray(0, signature.length - 1))).toBe(false);
        expect(verifier.verify(ROOT, new Uint8Array(0))).toBe(false);
        expect(verifier.verify(ROOT, new Uint8Array(signature.length))).toBe(false);
        expect(verifier.verify(ROOT, new Uint8Array(signature.length).fill(0xff))).toBe(false);
        for (let i = 0; i < signature.length; i++) {
          const flipped = Uint8Array.from(signature);
          flipped[i] = (flipped[i] as number) ^ (1 << i % 8);
          expect(verifier.verify(ROOT, flipped), `byte ${i}`).toBe(false);
        }
      }
    });
  }

  it("ed25519 signing matches RFC 8032 §7.1 TEST 2", () => {
    const key = keyPairFromSeed("ed25519", fromHex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"));
    const signature = signRoot(key, Uint8Array.of(0x72));
    expect(toHex(signature)).toBe(
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    );
  });

  it("is deterministic for both schemes (RFC 8032, RFC 6979)", () => {
    expect(toHex(signRoot(ED, ROOT))).toBe(toHex(signRoot(ED, ROOT)));
    expect(toHex(signRoot(K1, ROOT))).toBe(toHex(signRoot(K1, ROOT)));
  });
});

describe("secp256k1 signatures are Ethereum-style r || s || v", () => {
  const roots = Array.from({ length: 64 }, (_, i) => taggedHash("secp-root", String(i)));
  const signatures = roots.map((root) => signRoot(K1, root));

  it("are 65 bytes with v in {27, 28}, both values occurring", () => {
    const vs = new Set(signatures.map((signature) => signature[64]));
    for (const signature of signatures) expect(signature).toHaveLength(65);
    expect(vs).toEqual(new Set([27, 28]));
  });

  it("have low s (s <= n/2)", () => {
    for (const signature of signatures) {
      const s = BigInt(`0x${toHex(signature.subarray(32, 64))}`);
      expect(s > 0n && s <= N / 2n).toBe(true);
    }
  });

  it("recover the signer's key the way ecrecover does (noble recovery from r, s, v - 27)", () => {
    for (const [i, signature] of signatures.entries()) {
      const recovered = Uint8Array.of((signature[64] as number) - 27, ...signature.subarray(0, 64));
      const key = secp256k1.recoverPublicKey(recovered, roots[i] as Uint8Array, { prehash: false });
      expect(toHex(key)).toBe(toHex(K1.publicKey));
      // Also the uncompressed form a contract hashes into an address.
      const point = secp256k1.Point.fromBytes(key);
      expect(toHex(point.toBytes(false).subarray(1))).toHaveLength(128);
    }
  });

  it("the root is keccak-256 of the preimage, as ecrecover expects", () => {
    const body = encodeCanonical({ x: 1 });
    expect(toHex(signingRoot("secp256k1", "commitment", "c", body))).toBe(toHex(keccak_256(signingPreimage("commitment", "c", body))));
    expect(toHex(signingRoot("ed25519", "commitment", "c", body))).toBe(toHex(sha256(signingPreimage("commitment", "c", body))));
  });

  it("reject high s, a flipped v, and v outside {27, 28}", () => {
    const verifier = publicKey("secp256k1", K1.publicKey);
    for (const [i, signature] of signatures.slice(0, 8).entries()) {
      const root = roots[i] as Uint8Array;
      const s = BigInt(`0x${toHex(signature.subarray(32, 64))}`);
      const high = Uint8Array.from(signature);
      high.set(fromHex((N - s).toString(16).padStart(64, "0")), 32);
      high[64] = (signature[64] as number) === 27 ? 28 : 27;
      // The high-s twin is a valid ECDSA signature of the same key: only the low-s rule stops it.
      expect(secp256k1.verify(high.subarray(0, 64), root, K1.publicKey, { prehash: false, lowS: false })).toBe(true);
      expect(verifier.verify(root, high)).toBe(false);
      const flipped = Uint8Array.from(signature);
      flipped[64] = (signature[64] as number) === 27 ? 28 : 27;
      expect(verifier.verify(root, flipped)).toBe(false);
      for (const v of [0, 1, 26, 29, 255]) {
        const bad = Uint8Array.from(signature);
        bad[64] = v;
        expect(verifier.verify(root, bad)).toBe(false);
      }
    }
  });
});

describe("signing roots: domain separation", () => {
  const body = encodeCanonical({ t: "commitment", v: 1, chain: "alpha", node: "node-01" });

  it("the preimage is CBOR ['concord/sig', version, kind, chain, body]", () => {
    expect(toHex(signingPreimage("commitment", "alpha", body))).toBe(toHex(encodeCanonical(["concord/sig", 1, "commitment", "alpha", body])));
  });

  it("every kind and every chain gives a different root, for both schemes", () => {
    for (const scheme of ["ed25519", "secp256k1"] as const) {
      const roots = new Set<string>();
      for (const kind of MESSAGE_KINDS) for (const chain of ["alpha", "beta"]) roots.add(toHex(signingRoot(scheme, kind, chain, body)));
      expect(roots.size).toBe(MESSAGE_KINDS.length * 2);
    }
  });

  it("a signature for one kind or chain never verifies as another kind or chain", () => {
    for (const key of [ED, K1]) {
      const signature = signRoot(key, signingRoot(key.scheme, "commitment", "alpha", body));
      for (const verifier of verifiers(key)) {
        expect(verifier.verify(signingRoot(key.scheme, "commitment", "alpha", body), signature)).toBe(true);
        for (const kind of MESSAGE_KINDS.filter((k) => k !== "commitment")) {
          expect(verifier.verify(signingRoot(key.scheme, kind, "alpha", body), signature), kind).toBe(false);
        }
        expect(verifier.verify(signingRoot(key.scheme, "commitment", "beta", body), signature)).toBe(false);
        // Nor as the raw body, nor under the other scheme's hash of the same preimage.
        expect(verifier.verify(body, signature)).toBe(false);
        const otherScheme = key.scheme === "ed25519" ? "secp256k1" : "ed25519";
        expect(verifier.verify(signingRoot(otherScheme, "commitment", "alpha", body), signature)).toBe(false);
      }
    }
  });

  it("chain ids cannot be shifted into the body: the preimage is length-prefixed CBOR", () => {
    const a = signingPreimage("commitment", "ab", encodeCanonical("c"));
    const b = signingPreimage("commitment", "a", encodeCanonical("bc"));
    expect(toHex(a)).not.toBe(toHex(b));
  });
});

describe("publicKey: keys are checked once, at load", () => {
  it("accepts valid keys of both schemes", () => {
    expect(publicKey("ed25519", ED.publicKey).scheme).toBe("ed25519");
    expect(publicKey("secp256k1", K1.publicKey).bytes).toEqual(K1.publicKey);
  });

  it("rejects ed25519 keys that are small-order, mixed-order or not canonical (KEY_INVALID)", () => {
    const smallOrder = ["0100000000000000000000000000000000000000000000000000000000000000", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"];
    const torsion = ed25519.Point.fromBytes(fromHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"));
    const mixed = ed25519.Point.fromBytes(ED.publicKey).add(torsion).toBytes();
    const p = 2n ** 255n - 19n;
    const nonCanonical = fromHex((p + 1n).toString(16).padStart(64, "0")).reverse();
    for (const path of ["node", "noble"] as const) {
      for (const hex of smallOrder) expect(codeOf(() => publicKey("ed25519", fromHex(hex), { ed25519Path: path }))).toBe("KEY_INVALID");
      expect(codeOf(() => publicKey("ed25519", mixed, { ed25519Path: path }))).toBe("KEY_INVALID");
      expect(codeOf(() => publicKey("ed25519", nonCanonical, { ed25519Path: path }))).toBe("KEY_INVALID");
      expect(codeOf(() => publicKey("ed25519", new Uint8Array(31), { ed25519Path: path }))).toBe("KEY_INVALID");
      expect(codeOf(() => publicKey("ed25519", new Uint8Array(33), { ed25519Path: path }))).toBe("KEY_INVALID");
    }
  });

  it("rejects secp256k1 keys that are uncompressed, off the curve or the wrong length (KEY_INVALID)", () => {
    const uncompressed = secp256k1.getPublicKey(K1.secretKey, false);
    expect(codeOf(() => publicKey("secp256k1", uncompressed))).toBe("KEY_INVALID");
    const offCurve = Uint8Array.from(K1.publicKey);
    offCurve[0] = 0x04;
    expect(codeOf(() => publicKey("secp256k1", offCurve))).toBe("KEY_INVALID");
    expect(codeOf(() => publicKey("secp256k1", Uint8Array.of(0x02, ...new Uint8Array(32))))).toBe("KEY_INVALID");
    expect(codeOf(() => publicKey("secp256k1", ED.publicKey))).toBe("KEY_INVALID");
    expect(codeOf(() => publicKey("rsa" as "ed25519", ED.publicKey))).toBe("KEY_INVALID");
  });
});

/**
 * Signatures built with the secret scalar that probe where verifiers differ. Every one must get
 * the same answer from node:crypto and noble, and that answer is the pinned rule's
 * (src/crypto/schemes.ts).
 */
describe("ed25519 pinned rule: node:crypto and noble agree on constructed edge cases", () => {
  const secret = taggedHash("edge-secret");
  const { scalar: a, pointBytes: A } = ed25519.utils.getExtendedPublicKey(secret);
  const message = taggedHash("edge-message");
  const node = publicKey("ed25519", A, { ed25519Path: "node" });
  const noble = publicKey("ed25519", A, { ed25519Path: "noble" });
  const le = (bytes: Uint8Array) => BigInt(`0x${toHex(Uint8Array.from(bytes).reverse())}`);
  const toLe = (n: bigint) => fromHex(n.toString(16).padStart(64, "0")).reverse();
  const challenge = (R: Uint8Array) => le(sha512(Uint8Array.of(...R, ...A, ...message))) % L;
  const signature = (R: Uint8Array, S: bigint) => Uint8Array.of(...R, ...toLe(S));
  // The eight points of order dividing 8, canonical encodings.
  const torsion = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
  ].map(fromHex);
  const both = (sig: Uint8Array) => [node.verify(message, sig), noble.verify(message, sig)];

  it("an honest signature verifies on both paths", () => {
    expect(both(ed25519.sign(message, secret))).toEqual([true, true]);
  });

  it("R = identity with S = k·a (cofactorless equation holds) is rejected by both: OpenSSL refuses it", () => {
    const R = torsion[0] as Uint8Array;
    const sig = signature(R, (challenge(R) * a) % L);
    // noble's own verify accepts it: the pinned rule has to exclude it explicitly.
    expect(ed25519.verify(sig, message, A, { zip215: false })).toBe(true);
    expect(both(sig)).toEqual([false, false]);
  });

  it("R with a small-order component (passes only the cofactored equation) is rejected by both", () => {
    const r = 0x1234_5678_9abc_def0n;
    for (const [i, t] of torsion.entries()) {
      if (i === 0) continue;
      const R = ed25519.Point.BASE.multiply(r).add(ed25519.Point.fromBytes(t)).toBytes();
      const sig = signature(R, (r + challenge(R) * a) % L);
      expect(ed25519.verify(sig, message, A, { zip215: false }), `T${i} cofactored`).toBe(true);
      expect(both(sig), `T${i}`).toEqual([false, false]);
    }
  });

  it("R of small order with S = k·a is rejected by both", () => {
    for (const t of torsion.slice(1)) expect(both(signature(t, (challenge(t) * a) % L))).toEqual([false, false]);
  });

  it("S + L (non-canonical S) and S = L are rejected by both", () => {
    const honest = ed25519.sign(message, secret);
    const R = honest.subarray(0, 32);
    const S = le(honest.subarray(32));
    expect(both(signature(R, S + L))).toEqual([false, false]);
    expect(both(signature(R, L))).toEqual([false, false]);
    expect(both(signature(R, 0n))).toEqual([false, false]);
  });

  it("non-canonical encodings of R are rejected by both", () => {
    const p = 2n ** 255n - 19n;
    // The identity written as y = 1 + p, and as (x = 0, sign bit set).
    const unreduced = toLe(1n + p);
    const negativeZero = Uint8Array.from(torsion[0] as Uint8Array);
    negativeZero[31] = 0x80;
    for (const R of [unreduced, negativeZero]) expect(both(signature(R, (challenge(R) * a) % L))).toEqual([false, false]);
    // A valid signature whose R has the sign bit flipped.
    const honest = ed25519.sign(message, secret);
    const flipped = Uint8Array.from(honest);
    flipped[31] = (flipped[31] as number) ^ 0x80;
    expect(both(flipped)).toEqual([false, false]);
  });
});

describe("ed25519 signing through node:crypto", () => {
  it("gives noble's bytes (RFC 8032 signatures are deterministic) on random keys and roots", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed, root) => {
        const key = keyPairFromSeed("ed25519", seed);
        expect(toHex(signRoot(key, root))).toBe(toHex(ed25519.sign(root, seed)));
      }),
      { seed: 8032, numRuns: 300 },
    );
  });
});
