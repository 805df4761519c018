import { createHash } from "node:crypto";
import fc from "fast-check";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { describe, expect, it } from "vitest";
import { bytesEqual, compareBytes, fromHex, sha256, toHex, utf8 } from "../../../src/wire/hash.ts";

describe("sha256", () => {
  it("matches the FIPS 180-2 test vectors", () => {
    expect(toHex(sha256(""))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(toHex(sha256("abc"))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("agrees with noble on arbitrary chunked input and returns a fresh 32-byte array", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 4 }), (parts) => {
        const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const part of parts) {
          joined.set(part, at);
          at += part.length;
        }
        const digest = sha256(...parts);
        expect(digest).toHaveLength(32);
        expect(digest.byteOffset).toBe(0);
        expect(digest.buffer.byteLength).toBe(32);
        expect(toHex(digest)).toBe(toHex(nobleSha256(joined)));
      }),
      { seed: 0x5eed, numRuns: 200 },
    );
    expect(toHex(sha256(utf8("é")))).toBe(createHash("sha256").update("é", "utf8").digest("hex"));
  });
});

describe("hex and byte helpers", () => {
  it("round-trips hex, including subarrays", () => {
    const bytes = Uint8Array.of(0, 1, 0xab, 0xff);
    expect(toHex(bytes)).toBe("0001abff");
    expect(toHex(bytes.subarray(1, 3))).toBe("01ab");
    expect(fromHex("0001ABff")).toEqual(bytes);
    expect(fromHex("")).toEqual(new Uint8Array(0));
  });

  it("rejects odd-length and non-hex text", () => {
    expect(() => fromHex("abc")).toThrow(TypeError);
    expect(() => fromHex("zz")).toThrow(TypeError);
    expect(() => fromHex("0x00")).toThrow(TypeError);
  });

  it("compares bytes bytewise, shorter prefix first", () => {
    expect(compareBytes(Uint8Array.of(1), Uint8Array.of(1, 0))).toBeLessThan(0);
    expect(compareBytes(Uint8Array.of(2), Uint8Array.of(1, 0xff))).toBeGreaterThan(0);
    expect(compareBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(0);
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1))).toBe(false);
  });
});
