/**
 * Batch signatures (spec/04-signing.md, "Batch signatures"): a Merkle tree over signing roots,
 * one signature over its root, and a self-contained signature field per message. Properties with
 * fast-check (fixed seeds): every leaf of a random tree verifies, any flipped bit does not.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { batchLevels, batchPath, batchRootFromPath, batchSigningPreimage, signBatch, verifySignature } from "../../../src/crypto/batch.ts";
import { publicKey, signRoot } from "../../../src/crypto/schemes.ts";
import { messageSigningRoot, signMessage, signMessages, verifyMessage } from "../../../src/crypto/sign.ts";
import { commitmentBody } from "../../../src/quorum/attest.ts";
import { bytesEqual, taggedHash, toHex } from "../../../src/wire/hash.ts";
import { MAX_KIND_BYTES } from "../../../src/wire/limits.ts";
import { decodeMessage, encodeMessage } from "../../../src/wire/messages.ts";
import { MAX_BATCH_LEAVES, MAX_BATCH_SIGNATURE_BYTES, batchDepth, encodeBatchSignature, parseSignature } from "../../../src/wire/signature.ts";
import type { OutputCommitment, SchemeName } from "../../../src/wire/types.ts";
import { CHAIN, testKey } from "../../helpers/fixtures.ts";

const RUNS = Number(process.env["CONCORD_PROPERTY_RUNS"] ?? 40);
const roots = (count: number, label = "leaf") => Array.from({ length: count }, (_, i) => taggedHash("batch-test", label, String(i)));

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[bit >> 3] = (out[bit >> 3] as number) ^ (1 << (bit & 7));
  return out;
}

describe("batch tree", () => {
  it("has depth(count) levels above the leaves, a node without a right sibling paired with zero", () => {
    expect([1, 2, 3, 4, 5, 64, 65, 1024].map(batchDepth)).toEqual([0, 1, 2, 2, 3, 6, 7, 10]);
    const three = roots(3);
    const levels = batchLevels(three);
    expect(levels.map((level) => level.length)).toEqual([3, 2, 1]);
    expect(toHex(batchPath(levels, 2)[0] as Uint8Array)).toBe("00".repeat(32));
    for (let i = 0; i < 3; i++) expect(toHex(batchRootFromPath(three[i] as Uint8Array, i, batchPath(levels, i)))).toBe(toHex((levels[2] as Uint8Array[])[0] as Uint8Array));
  });

  it("refuses batches of 0 and of more than 1,024 leaves (a caller's mistake)", () => {
    expect(() => batchLevels([])).toThrow();
    expect(() => batchLevels(roots(MAX_BATCH_LEAVES + 1))).toThrow();
    expect(() => signBatch(testKey("node-00"), CHAIN, [roots(1)[0] as Uint8Array, roots(1)[0] as Uint8Array])).toThrow(/twice/);
  });

  it("signs ['concord/batch', 1, chain, root, count]", () => {
    expect(toHex(batchSigningPreimage(CHAIN, new Uint8Array(32), 2)).startsWith("85")).toBe(true);
  });
});

describe("signature field forms", () => {
  it("reads plain signatures of 64 and 65 bytes, batch signatures by their layout, nothing else", () => {
    expect(parseSignature(new Uint8Array(64))?.form).toBe("plain");
    expect(parseSignature(new Uint8Array(65))?.form).toBe("plain");
    for (const length of [0, 63, 66, 67, 68 + 32, MAX_BATCH_SIGNATURE_BYTES + 1]) expect(parseSignature(new Uint8Array(length)), `length ${length}`).toBeUndefined();
    const path = roots(3);
    const batch = encodeBatchSignature(new Uint8Array(64), 5, 4, path);
    expect(parseSignature(batch)).toMatchObject({ form: "batch", count: 5, index: 4 });
    // Index not below count, count 0, a path one hash short or long: not a batch signature.
    expect(parseSignature(encodeBatchSignature(new Uint8Array(64), 5, 5, path))).toBeUndefined();
    expect(parseSignature(encodeBatchSignature(new Uint8Array(64), 0, 0, []))).toBeUndefined();
    expect(parseSignature(encodeBatchSignature(new Uint8Array(65), 5, 0, path.slice(0, 2)))).toBeUndefined();
    expect(parseSignature(encodeBatchSignature(new Uint8Array(65), 5, 0, [...path, ...path]))).toBeUndefined();
    expect(parseSignature(encodeBatchSignature(new Uint8Array(65), 1, 0, []))).toMatchObject({ form: "batch", count: 1 });
  });
});

for (const scheme of ["ed25519", "secp256k1"] as SchemeName[]) {
  describe(`batch signatures, ${scheme}`, () => {
    const key = testKey("node-00", scheme);
    const verifier = publicKey(scheme, key.publicKey);

    it("property: every leaf of a random tree verifies, and any flipped bit of its signature field does not", () => {
      fc.assert(
        fc.property(fc.integer({ min: 2, max: 70 }), fc.nat(), fc.nat(), fc.string(), (count, pick, bit, label) => {
          const leaves = roots(count, label);
          const sigs = signBatch(key, CHAIN, leaves);
          sigs.forEach((sig, i) => expect(verifySignature(verifier, CHAIN, leaves[i] as Uint8Array, sig)).toBe(true));
          const i = pick % count;
          const sig = sigs[i] as Uint8Array;
          expect(verifySignature(verifier, CHAIN, leaves[i] as Uint8Array, flipBit(sig, bit % (sig.length * 8)))).toBe(false);
          // Another leaf's field, another leaf under this field, another chain: false.
          const other = (i + 1) % count;
          expect(verifySignature(verifier, CHAIN, leaves[other] as Uint8Array, sig)).toBe(false);
          expect(verifySignature(verifier, CHAIN, flipBit(leaves[i] as Uint8Array, bit % 256), sig)).toBe(false);
          expect(verifySignature(verifier, "other-chain", leaves[i] as Uint8Array, sig)).toBe(false);
        }),
        { numRuns: RUNS, seed: 15_2 },
      );
    });

    it("the verified-batch cache changes no answer: a forged leaf under a cached batch still fails", () => {
      const leaves = roots(5, "cache");
      const sigs = signBatch(key, CHAIN, leaves);
      expect(verifySignature(verifier, CHAIN, leaves[0] as Uint8Array, sigs[0] as Uint8Array)).toBe(true);
      expect(verifySignature(verifier, CHAIN, leaves[0] as Uint8Array, sigs[0] as Uint8Array)).toBe(true);
      // The cached signature with a path that leads another leaf to the same root: impossible
      // without a collision, so any other leaf fails with or without the cache.
      const parsed = parseSignature(sigs[1] as Uint8Array);
      if (parsed?.form !== "batch") throw new Error("not a batch signature");
      expect(verifySignature(verifier, CHAIN, taggedHash("forged"), sigs[1] as Uint8Array)).toBe(false);
      // A fresh key object (no cache) answers the same.
      const fresh = publicKey(scheme, key.publicKey);
      sigs.forEach((sig, i) => expect(verifySignature(fresh, CHAIN, leaves[i] as Uint8Array, sig)).toBe(true));
    });

    it("a batch signature never verifies as a plain one and vice versa", () => {
      const leaves = roots(2, "forms");
      const [sig] = signBatch(key, CHAIN, leaves);
      const parsed = parseSignature(sig as Uint8Array);
      if (parsed?.form !== "batch") throw new Error("not a batch signature");
      expect(verifySignature(verifier, CHAIN, leaves[0] as Uint8Array, parsed.sig)).toBe(false);
      const plain = signRoot(key, leaves[0] as Uint8Array);
      expect(verifySignature(verifier, CHAIN, leaves[0] as Uint8Array, encodeBatchSignature(plain, 1, 0, []))).toBe(false);
    });
  });
}

describe("size limits hold with the longest batch field", () => {
  it("a commitment and a close of 64 entries, with 64-byte ids and a 389-byte field, fit their kinds' limits", () => {
    const sig = new Uint8Array(MAX_BATCH_SIGNATURE_BYTES);
    const chain = "c".repeat(64);
    const hash = new Uint8Array(32);
    const commitment = encodeMessage({ t: "commitment", v: 1, chain, request: hash, node: "n".repeat(64), commitment: hash, sig });
    expect(commitment.length).toBeLessThanOrEqual(MAX_KIND_BYTES.commitment);
    const commitments = Array.from({ length: 64 }, (_, i) => ({ node: `${String(i).padStart(2, "0")}${"n".repeat(62)}`, commitment: hash }));
    expect(encodeMessage({ t: "close", v: 1, chain, request: hash, commitments, sig }).length).toBeLessThanOrEqual(MAX_KIND_BYTES.close);
  });
});

describe("signMessages", () => {
  const key = testKey("node-00");
  const verifier = publicKey("ed25519", key.publicKey);
  const bodies = [0, 1, 2].map((i) => commitmentBody({ chain: CHAIN, request: taggedHash("request", String(i)), node: "node-00", output: "Paris" }, taggedHash("salt", String(i))));

  it("signs each body once under one signature; the messages decode, round-trip and verify alone", () => {
    const signed = signMessages<OutputCommitment>(key, bodies);
    for (const message of signed) {
      const decoded = decodeMessage(encodeMessage(message), "commitment");
      expect(bytesEqual(encodeMessage(decoded), encodeMessage(message))).toBe(true);
      expect(verifyMessage(verifier, decoded)).toBe(true);
    }
    const sigs = signed.map((m) => parseSignature(m.sig));
    expect(new Set(sigs.map((s) => (s?.form === "batch" ? toHex(s.sig) : "plain"))).size).toBe(1);
  });

  it("one body gets a plain signature, byte for byte signMessage's", () => {
    const [one] = signMessages<OutputCommitment>(key, bodies.slice(0, 1));
    expect(toHex((one as OutputCommitment).sig)).toBe(toHex(signMessage<OutputCommitment>(key, bodies[0] as (typeof bodies)[0]).sig));
  });

  it("the guard sees every root before the one signature: refusing one signs nothing", () => {
    const seen: string[] = [];
    const refused = toHex(messageSigningRoot("ed25519", bodies[2] as (typeof bodies)[0]));
    expect(() =>
      signMessages<OutputCommitment>(key, bodies, (root) => {
        seen.push(toHex(root));
        if (toHex(root) === refused) throw new Error("refused");
      }),
    ).toThrow("refused");
    expect(seen).toHaveLength(3);
  });

  it("the decoder refuses a signature field of neither form (WIRE_SCHEMA)", () => {
    const [message] = signMessages<OutputCommitment>(key, bodies);
    const bad = { ...(message as OutputCommitment), sig: (message as OutputCommitment).sig.subarray(0, 100) };
    expect(() => decodeMessage(encodeMessage(bad), "commitment")).toThrow(expect.objectContaining({ code: "WIRE_SCHEMA" }));
  });
});
