/**
 * The ed25519 edge cases of "Taming the many EdDSAs" (Chalkias, Garillot, Nikolaenko 2020),
 * run through both verification paths. The pinned rule (src/crypto/schemes.ts):
 *   - a key is accepted at load only if it is a canonical encoding of a point of the prime-order
 *     subgroup other than the identity (else KEY_INVALID, which counts as "reject");
 *   - a signature verifies iff R is a canonical encoding of a point other than the identity,
 *     S < L, and [S]B = R + [k]A exactly (cofactorless).
 * Both paths must give the same answer on every case, and that answer must be the rule's.
 * The vectors are a committed copy (spec/vectors/ed25519-speccheck.json) so a clean clone runs it.
 */
import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { publicKey } from "../../src/crypto/schemes.ts";
import { isConcordError } from "../../src/errors.ts";
import { fromHex, toHex } from "../../src/wire/hash.ts";

interface SpeccheckCase {
  message: string;
  pub_key: string;
  signature: string;
}

const FILE = new URL("../../spec/vectors/ed25519-speccheck.json", import.meta.url);
const SHARED = new URL("../../../shared/vectors/ed25519-speccheck.json", import.meta.url);
const vectors = JSON.parse(readFileSync(FILE, "utf8")) as { source: string; note: string; cases: SpeccheckCase[] };

type Answer = "accept" | "reject";
const Point = ed25519.Point;
const L = Point.Fn.ORDER;

/** Each path's answer: KEY_INVALID at load is a reject, like a false from verify. */
function answer(path: "node" | "noble", key: Uint8Array, message: Uint8Array, signature: Uint8Array): Answer {
  try {
    return publicKey("ed25519", key, { ed25519Path: path }).verify(message, signature) ? "accept" : "reject";
  } catch (error) {
    if (isConcordError(error, "KEY_INVALID")) return "reject";
    throw error;
  }
}

const le = (bytes: Uint8Array): bigint => BigInt(`0x${toHex(Uint8Array.from(bytes).reverse())}`);
const toLe = (n: bigint): Uint8Array => fromHex(n.toString(16).padStart(64, "0")).reverse();

/** The pinned rule written out once more, directly on curve arithmetic: the oracle. */
function pinnedRule(key: Uint8Array, message: Uint8Array, signature: Uint8Array): Answer {
  if (key.length !== 32 || signature.length !== 64) return "reject";
  let A;
  let R;
  try {
    A = Point.fromBytes(key, false);
    R = Point.fromBytes(signature.subarray(0, 32), false);
  } catch {
    return "reject";
  }
  // Canonical encodings only: decoding then encoding gives back the same bytes.
  if (toHex(A.toBytes()) !== toHex(key) || toHex(R.toBytes()) !== toHex(signature.subarray(0, 32))) return "reject";
  if (A.is0() || !A.isTorsionFree() || A.isSmallOrder()) return "reject";
  if (R.is0()) return "reject";
  const S = le(signature.subarray(32));
  if (S >= L) return "reject";
  const k = le(sha512(Uint8Array.of(...signature.subarray(0, 32), ...key, ...message))) % L;
  const left = S === 0n ? Point.ZERO : Point.BASE.multiply(S);
  const right = R.add(k === 0n ? Point.ZERO : A.multiply(k));
  return left.equals(right) ? "accept" : "reject";
}

/**
 * The answer for each case under the pinned rule, and why. Keys 0-5, 8, 9 are small-order or
 * have a torsion component, so they never load; 6 and 7 have S >= L.
 */
const PINNED: { answer: Answer; why: string }[] = [
  { answer: "reject", why: "small-order A (and small-order R, S = 0): KEY_INVALID" },
  { answer: "reject", why: "small-order A: KEY_INVALID" },
  { answer: "reject", why: "mixed-order A: KEY_INVALID" },
  { answer: "reject", why: "mixed-order A: KEY_INVALID (OpenSSL alone would accept)" },
  { answer: "reject", why: "mixed-order A: KEY_INVALID (only the cofactored equation holds)" },
  { answer: "reject", why: "mixed-order A: KEY_INVALID" },
  { answer: "reject", why: "S >= L: non-canonical scalar" },
  { answer: "reject", why: "S >= L: non-canonical scalar" },
  { answer: "reject", why: "mixed-order A: KEY_INVALID (R is a non-canonical encoding too)" },
  { answer: "reject", why: "mixed-order A: KEY_INVALID (R is a non-canonical encoding too)" },
];

describe("ed25519 speccheck vectors (Chalkias, Garillot, Nikolaenko 2020)", () => {
  it("the committed copy names its source and matches ../shared when that exists", () => {
    expect(vectors.source).toContain("Taming the many EdDSAs");
    expect(vectors.cases).toHaveLength(PINNED.length);
    if (existsSync(SHARED)) expect(readFileSync(FILE, "utf8")).toBe(readFileSync(SHARED, "utf8"));
  });

  for (const [i, c] of vectors.cases.entries()) {
    const pinned = PINNED[i] as (typeof PINNED)[number];
    it(`case ${i}: node:crypto and noble both ${pinned.answer} (${pinned.why})`, () => {
      const [key, message, signature] = [fromHex(c.pub_key), fromHex(c.message), fromHex(c.signature)];
      const node = answer("node", key, message, signature);
      const noble = answer("noble", key, message, signature);
      expect(node).toBe(noble);
      expect(node).toBe(pinned.answer);
      expect(pinnedRule(key, message, signature)).toBe(pinned.answer);
    });
  }

  // The file's note says "OpenSSL 3 accepts 0,1,2,3": that was OpenSSL before 3.5. The OpenSSL
  // 3.5 in Node 24 also refuses small-order A and R, so raw it accepts only case 3, whose key
  // has a torsion component: the load-time key check is what makes the answer version-proof.
  it("without the key check, raw node:crypto would accept case 3 (why keys are checked at load)", () => {
    const spki = (key: Uint8Array) =>
      createPublicKey({ key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), key]), format: "der", type: "spki" });
    const accepted = vectors.cases.flatMap((c, i) => (nodeVerify(null, fromHex(c.message), spki(fromHex(c.pub_key)), fromHex(c.signature)) ? [i] : []));
    expect(accepted).toContain(3);
    expect(accepted.filter((i) => i > 3)).toEqual([]);
  });
});

describe("property: both paths agree with the pinned rule on random keys, messages and mutated signatures", () => {
  const torsion = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
  ].map((hex) => Point.fromBytes(fromHex(hex)));

  type Mutation =
    | { kind: "none" }
    | { kind: "flip"; bit: number }
    | { kind: "byte"; index: number; value: number }
    | { kind: "s-plus-l" }
    | { kind: "random"; bytes: Uint8Array }
    | { kind: "torsion-r"; t: number }
    | { kind: "forge-r"; t: number; r: bigint }
    | { kind: "identity-r" }
    | { kind: "torsion-key"; t: number };

  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.constant<Mutation>({ kind: "none" }),
    fc.integer({ min: 0, max: 511 }).map((bit): Mutation => ({ kind: "flip", bit })),
    fc.record({ index: fc.integer({ min: 0, max: 63 }), value: fc.integer({ min: 0, max: 255 }) }).map((m): Mutation => ({ kind: "byte", ...m })),
    fc.constant<Mutation>({ kind: "s-plus-l" }),
    fc.uint8Array({ minLength: 64, maxLength: 64 }).map((bytes): Mutation => ({ kind: "random", bytes })),
    fc.integer({ min: 0, max: 7 }).map((t): Mutation => ({ kind: "torsion-r", t })),
    fc.record({ t: fc.integer({ min: 0, max: 7 }), r: fc.bigInt({ min: 1n, max: L - 1n }) }).map((m): Mutation => ({ kind: "forge-r", ...m })),
    fc.constant<Mutation>({ kind: "identity-r" }),
    fc.integer({ min: 1, max: 7 }).map((t): Mutation => ({ kind: "torsion-key", t })),
  );

  it("holds on every seeded run", () => {
    const counts = new Map<string, number>();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 64 }), mutation, (secret, message, m) => {
        const { scalar: a, pointBytes } = ed25519.utils.getExtendedPublicKey(secret);
        let key: Uint8Array = pointBytes;
        let signature: Uint8Array = ed25519.sign(message, secret);
        const challenge = (R: Uint8Array) => le(sha512(Uint8Array.of(...R, ...key, ...message))) % L;
        switch (m.kind) {
          case "none":
            break;
          case "flip":
            signature[m.bit >> 3] = (signature[m.bit >> 3] as number) ^ (1 << (m.bit & 7));
            break;
          case "byte":
            signature[m.index] = m.value;
            break;
          case "s-plus-l":
            signature.set(toLe(le(signature.subarray(32)) + L), 32);
            break;
          case "random":
            signature = m.bytes;
            break;
          case "torsion-r": {
            // A small-order R with S = k·a: only an equation check can tell.
            const R = (torsion[m.t] as (typeof torsion)[number]).toBytes();
            signature = Uint8Array.of(...R, ...toLe((challenge(R) * a) % L));
            break;
          }
          case "forge-r": {
            // R = rB + T with S = r + k·a: the cofactored equation holds, the cofactorless one only for T = 0.
            const R = Point.BASE.multiply(m.r).add(torsion[m.t] as (typeof torsion)[number]).toBytes();
            signature = Uint8Array.of(...R, ...toLe((m.r + challenge(R) * a) % L));
            break;
          }
          case "identity-r": {
            const R = Point.ZERO.toBytes();
            signature = Uint8Array.of(...R, ...toLe((challenge(R) * a) % L));
            break;
          }
          case "torsion-key":
            key = Point.fromBytes(key).add(torsion[m.t] as (typeof torsion)[number]).toBytes();
            break;
        }
        const node = answer("node", key, message, signature);
        const noble = answer("noble", key, message, signature);
        const oracle = pinnedRule(key, message, signature);
        counts.set(`${m.kind}:${node}`, (counts.get(`${m.kind}:${node}`) ?? 0) + 1);
        expect(noble).toBe(node);
        expect(oracle).toBe(node);
        if (m.kind === "none" || (m.kind === "forge-r" && m.t === 0)) expect(node).toBe("accept");
        if (m.kind === "identity-r" || m.kind === "torsion-r" || m.kind === "torsion-key" || m.kind === "s-plus-l") expect(node).toBe("reject");
      }),
      { seed: 0xed25519, numRuns: 500 },
    );
    // The run exercised both answers and every mutation family.
    expect([...counts.keys()].filter((k) => k.endsWith(":accept")).length).toBeGreaterThan(0);
    expect(new Set([...counts.keys()].map((k) => k.split(":")[0])).size).toBe(9);
  }, 60_000);
});
