import { encode, rfc8949EncodeOptions } from "cborg";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeStrict, encodeCanonical, readBytes, readList, readMap, readOneOf, readText, readUint } from "../../../src/wire/cbor.ts";
import { toHex } from "../../../src/wire/hash.ts";
import { codeOf } from "../../helpers/errors.ts";


describe("encodeCanonical (RFC 8949 §4.2.1)", () => {
  it("sorts map keys by their encoded bytes: shorter keys first", () => {
    expect(toHex(encodeCanonical({ bb: 1, a: 2, c: 3 }))).toBe("a3616102616303626262" + "01");
  });

  it("writes integers and lengths in their shortest form", () => {
    expect(toHex(encodeCanonical(23))).toBe("17");
    expect(toHex(encodeCanonical(24))).toBe("1818");
    expect(toHex(encodeCanonical(256))).toBe("190100");
    expect(toHex(encodeCanonical(new Uint8Array(24)))).toBe(`5818${"00".repeat(24)}`);
  });
});

describe("decodeStrict", () => {
  it("reads one canonical item", () => {
    expect(decodeStrict(encodeCanonical({ a: [1, "x", new Uint8Array(2)] }), 100)).toEqual({ a: [1, "x", new Uint8Array(2)] });
  });

  it("refuses bytes over the limit before decoding", () => {
    expect(codeOf(() => decodeStrict(new Uint8Array(11), 10))).toBe("WIRE_OVERSIZED");
  });

  it("refuses big integers, negative integers beyond 2^53, undefined and maps keyed by integers", () => {
    expect(codeOf(() => decodeStrict(Uint8Array.of(0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 100))).toBe("WIRE_DECODE");
    expect(codeOf(() => decodeStrict(Uint8Array.of(0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 100))).toBe("WIRE_DECODE");
    expect(codeOf(() => decodeStrict(Uint8Array.of(0xf7), 100))).toBe("WIRE_DECODE");
  });
});

describe("reading helpers", () => {
  it("readMap requires exactly the known keys", () => {
    expect(readMap({ a: 1, b: 2 }, "$", ["a"], ["b"])).toEqual({ a: 1, b: 2 });
    expect(codeOf(() => readMap({ a: 1, c: 2 }, "$", ["a"], ["b"]))).toBe("WIRE_SCHEMA");
    expect(codeOf(() => readMap({ b: 2 }, "$", ["a"], ["b"]))).toBe("WIRE_SCHEMA");
    expect(codeOf(() => readMap([1], "$", []))).toBe("WIRE_SCHEMA");
    expect(codeOf(() => readMap(new Uint8Array(1), "$", []))).toBe("WIRE_SCHEMA");
    expect(codeOf(() => readMap(null, "$", []))).toBe("WIRE_SCHEMA");
  });

  it("readUint, readText, readBytes, readList and readOneOf enforce type and bounds", () => {
    expect(readUint(5, "$", 5)).toBe(5);
    for (const bad of [6, -1, 1.5, "1", Number.MAX_SAFE_INTEGER + 1]) expect(codeOf(() => readUint(bad, "$", 5))).toBe("WIRE_SCHEMA");
    expect(readText("ééé", "$", 6)).toBe("ééé");
    expect(codeOf(() => readText("éééé", "$", 6))).toBe("WIRE_SCHEMA");
    expect(codeOf(() => readText("a b", "$", 6, /^[a-z]+$/))).toBe("WIRE_SCHEMA");
    expect(codeOf(() => readBytes(new Uint8Array(3), "$", 4))).toBe("WIRE_SCHEMA");
    expect(codeOf(() => readBytes(new Uint8Array(5), "$", 2, 4))).toBe("WIRE_SCHEMA");
    expect(codeOf(() => readList([1, 2, 3], "$", 2, (x) => x))).toBe("WIRE_SCHEMA");
    expect(codeOf(() => readOneOf("c", "$", ["a", "b"]))).toBe("WIRE_SCHEMA");
  });
});

describe("encodeCanonical's key order is RFC 8949's", () => {
  it("gives the same bytes as cborg's reference sorter for maps with arbitrary Unicode keys", () => {
    const key = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: "binary", maxLength: 30 }), fc.constantFrom("a", "b", "aa", "é", "\u{1F600}", "\uFFFF", "x".repeat(23), "x".repeat(24), "x".repeat(256)));
    const value = fc.letrec<{ node: unknown }>((tie) => ({
      node: fc.oneof(
        { depthSize: "small" },
        fc.integer(),
        fc.string(),
        fc.uint8Array({ maxLength: 8 }),
        fc.array(tie("node"), { maxLength: 3 }),
        fc.dictionary(key.filter((k) => k !== "__proto__"), tie("node"), { maxKeys: 6 }),
      ),
    })).node;
    fc.assert(
      fc.property(fc.dictionary(key.filter((k) => k !== "__proto__"), value, { maxKeys: 12 }), (map) => {
        expect(toHex(encodeCanonical(map))).toBe(toHex(encode(map, rfc8949EncodeOptions)));
      }),
      { seed: 0x8949, numRuns: 1000 },
    );
  });
});
