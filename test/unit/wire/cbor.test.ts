import { decode, encode, rfc8949EncodeOptions } from "cborg";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeStrict, encodeCanonical, MAX_CBOR_DEPTH, MAX_CBOR_ITEMS, readBytes, readList, readMap, readOneOf, readText, readUint, sameData } from "../../../src/wire/cbor.ts";
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
    expect(decodeStrict(encodeCanonical({ a: [1, "x", new Uint8Array(2)] }), 100)).toEqual({ value: { a: [1, "x", new Uint8Array(2)] }, canonical: true });
  });

  it("reads byte strings as copies, plain Uint8Arrays even out of a Buffer", () => {
    const bytes = Buffer.from(encodeCanonical({ b: Uint8Array.of(1, 2) }));
    const { value } = decodeStrict(bytes, 100) as { value: { b: Uint8Array } };
    expect(Object.getPrototypeOf(value.b)).toBe(Uint8Array.prototype);
    bytes.fill(0);
    expect([...value.b]).toEqual([1, 2]);
  });

  it("keeps a leading U+FEFF in text: it is text like any other, and re-encodes to the same bytes", () => {
    const bytes = encodeCanonical("\uFEFFhello");
    expect(toHex(bytes).startsWith("68efbbbf")).toBe(true);
    expect(decodeStrict(bytes, 100)).toEqual({ value: "\uFEFFhello", canonical: true });
  });

  it("reads well-formed but non-canonical items, flagged: unsorted keys, floats, malformed UTF-8", () => {
    expect(decodeStrict(Uint8Array.of(0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02), 100)).toEqual({ value: { b: 1, a: 2 }, canonical: false });
    expect(decodeStrict(Uint8Array.of(0xf9, 0x3c, 0x00), 100)).toEqual({ value: 1, canonical: false });
    expect(decodeStrict(Uint8Array.of(0xfa, 0x3f, 0xc0, 0x00, 0x00), 100)).toEqual({ value: 1.5, canonical: false });
    expect(decodeStrict(Uint8Array.of(0xf9, 0x00, 0x01), 100)).toEqual({ value: 2 ** -24, canonical: false });
    expect(decodeStrict(Uint8Array.of(0x62, 0xc3, 0x28), 100)).toEqual({ value: "\uFFFD(", canonical: false });
  });

  it("refuses what is not one well-formed item of the subset (WIRE_DECODE)", () => {
    const refused: [string, number[]][] = [
      ["empty", []],
      ["trailing byte", [0x01, 0x01]],
      ["truncated text", [0x63, 0x61]],
      ["truncated head", [0x19, 0x01]],
      ["non-minimal integer", [0x18, 0x17]],
      ["non-minimal length", [0x59, 0x00, 0x01, 0x00]],
      ["non-minimal 8-byte integer", [0x1b, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]],
      ["reserved information", [0x1c]],
      ["indefinite list", [0x9f, 0xff]],
      ["break", [0xff]],
      ["tag", [0xc1, 0x00]],
      ["undefined", [0xf7]],
      ["simple value", [0xf8, 0x20]],
      ["NaN", [0xf9, 0x7e, 0x00]],
      ["infinity", [0xfb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0]],
      ["integer key", [0xa1, 0x01, 0x01]],
      ["repeated key", [0xa2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02]],
      ["list longer than the bytes", [0x9a, 0xff, 0xff, 0xff, 0xff]],
      ["map longer than the bytes", [0xbb, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
      ["2^53", [0x1b, 0x00, 0x20, 0, 0, 0, 0, 0, 0]],
      ["-2^53", [0x3b, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
      ["too deep", [...Array(MAX_CBOR_DEPTH + 1).fill(0x81), 0x00]],
    ];
    // More items than any message holds, refused as soon as the count passes the bound.
    const emptyMaps = (count: number) => {
      const bytes = new Uint8Array(5 + count).fill(0xa0);
      bytes[0] = 0x9a;
      new DataView(bytes.buffer).setUint32(1, count);
      return bytes;
    };
    // The list is an item too: MAX_CBOR_ITEMS - 1 maps in it make MAX_CBOR_ITEMS items.
    expect(decodeStrict(emptyMaps(MAX_CBOR_ITEMS - 1), 1 << 20).canonical).toBe(true);
    expect(codeOf(() => decodeStrict(emptyMaps(MAX_CBOR_ITEMS), 1 << 20))).toBe("WIRE_DECODE");
    for (const [name, bytes] of refused) expect(codeOf(() => decodeStrict(Uint8Array.from(bytes), 100)), name).toBe("WIRE_DECODE");
    expect(decodeStrict(Uint8Array.from([...Array(MAX_CBOR_DEPTH).fill(0x81), 0x00]), 100).canonical).toBe(true);
    expect(decodeStrict(Uint8Array.of(0x1b, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 100).value).toBe(Number.MAX_SAFE_INTEGER);
    expect(decodeStrict(Uint8Array.of(0x3b, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe), 100).value).toBe(-Number.MAX_SAFE_INTEGER);
  });
});

/** Values of the data model messages use, nested. */
const dataValue = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small" },
    fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
    fc.constantFrom(0, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, -24, -25),
    fc.string({ unit: "grapheme", maxLength: 40 }),
    fc.string({ maxLength: 40 }).map((s) => `\uFEFF${s}`),
    fc.uint8Array({ maxLength: 40 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("node"), { maxLength: 4 }),
    fc.dictionary(fc.string({ unit: "grapheme", maxLength: 8 }).filter((k) => k !== "__proto__"), tie("node"), { maxKeys: 5 }),
  ),
})).node;

/** The decoder cborg ships, strict: the reference for which bytes are well formed at all. */
const referenceDecode = (bytes: Uint8Array) =>
  decode(bytes, { strict: true, rejectDuplicateMapKeys: true, allowIndefinite: false, allowUndefined: false, allowNaN: false, allowInfinity: false, allowBigInt: false, useMaps: false, tags: [] });

const hasFloat = (value: unknown): boolean =>
  typeof value === "number" ? !Number.isSafeInteger(value) : typeof value === "object" && value !== null && !(value instanceof Uint8Array) && Object.values(value).some(hasFloat);

/** Edits of a valid encoding: byte flips, inserts, deletes, cuts. */
const edited = (bytes: Uint8Array, edits: { at: number; op: number; byte: number }[]): Uint8Array => {
  const out = [...bytes];
  for (const { at, op, byte } of edits) {
    const i = out.length === 0 ? 0 : at % out.length;
    if (op === 0) out[i] = byte;
    else if (op === 1) out.splice(i, 0, byte);
    else if (op === 2) out.splice(i, 1);
    else out.length = i;
  }
  return Uint8Array.from(out);
};

describe("decodeStrict checks canonical form on the bytes, as exactly as encoding again would", () => {
  it("reads back every canonical encoding as canonical, with the same value", () => {
    fc.assert(
      fc.property(dataValue, (value) => {
        const decoded = decodeStrict(encodeCanonical(value), 1 << 20);
        expect(decoded.canonical).toBe(true);
        expect(sameData(decoded.value, value)).toBe(true);
      }),
      { seed: 0x4e4c, numRuns: 2_000 },
    );
  });

  it("on edited and non-canonically encoded bytes: canonical only if encoding the value again gives the bytes, and well formed only where cborg's strict decoder agrees", () => {
    const input = fc.oneof(
      fc.tuple(dataValue, fc.array(fc.record({ at: fc.nat(), op: fc.integer({ min: 0, max: 3 }), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 3 })).map(([value, edits]) => edited(encodeCanonical(value), edits)),
      // Keys in insertion order and numbers as cborg writes them by default: mostly well formed, often not canonical.
      fc.tuple(dataValue, fc.double({ noNaN: true, noDefaultInfinity: true })).map(([value, float]) => encode({ z: value, a: float, [String(float)]: 1 })),
      fc.uint8Array({ maxLength: 24 }),
    );
    fc.assert(
      fc.property(input, (bytes) => {
        let ours: ReturnType<typeof decodeStrict> | undefined;
        try {
          ours = decodeStrict(bytes, 1 << 20);
        } catch (error) {
          expect(codeOf(() => { throw error; })).toBe("WIRE_DECODE");
        }
        let reference: unknown;
        let referenceOk = true;
        try {
          reference = referenceDecode(bytes);
        } catch {
          referenceOk = false;
        }
        expect(ours !== undefined, toHex(bytes)).toBe(referenceOk);
        if (ours === undefined) return;
        // Messages carry no floats, so a float is never canonical here, even in its shortest form.
        const reencoded = toHex(encodeCanonical(ours.value)) === toHex(bytes) && !hasFloat(ours.value);
        expect(ours.canonical, toHex(bytes)).toBe(reencoded);
        // cborg drops a leading U+FEFF while reading text; otherwise both read the same value.
        if (!toHex(bytes).includes("efbbbf")) expect(sameData(ours.value, reference), toHex(bytes)).toBe(true);
      }),
      { seed: 0x0c0d, numRuns: 20_000 },
    );
  });
});

describe("sameData", () => {
  it("is equality of canonical encodings", () => {
    fc.assert(
      fc.property(dataValue, dataValue, (a, b) => {
        expect(sameData(a, b)).toBe(toHex(encodeCanonical(a)) === toHex(encodeCanonical(b)));
        expect(sameData(a, a)).toBe(true);
      }),
      { seed: 0x5a3e, numRuns: 2_000 },
    );
    expect(sameData(0, -0)).toBe(false);
    expect(sameData(new Uint8Array(1), [0])).toBe(false);
    expect(sameData({ a: 1 }, { b: 1 })).toBe(false);
    expect(sameData([1], { 0: 1 })).toBe(false);
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

describe("encodeCanonical writes directly what cborg would", () => {
  it("gives cborg's RFC 8949 bytes for every value of the subset, at every head size", () => {
    const sizes = [0, 1, 23, 24, 255, 256, 65_535, 65_536];
    const integers = [0, 1, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 5, Number.MAX_SAFE_INTEGER];
    const values: unknown[] = [
      ...integers,
      ...integers.map((n) => -n - 1),
      ...sizes.map((n) => "é".repeat(n >> 1) + "a".repeat(n & 1)),
      ...sizes.map((n) => new Uint8Array(n).fill(7)),
      ...sizes.map((n) => Array.from({ length: n }, (_, i) => i % 3)),
      Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, i])),
      true,
      false,
      null,
      "\uD800 lone surrogate",
      "\uDC00 a long text with a lone surrogate, then astral \u{1F600} and CJK 共识 ".repeat(8),
      Buffer.from("a Buffer is bytes"),
      Object.assign(Object.create(null) as object, { b: 1, a: [null, true] }),
    ];
    for (const value of values) expect(toHex(encodeCanonical(value))).toBe(toHex(encode(value, rfc8949EncodeOptions)));
  });

  it("leaves the rest to cborg, with the same bytes: floats, -0, undefined, Maps, other typed arrays", () => {
    for (const value of [1.5, -0, { a: 1.25 }, [undefined], new Map([["a", 1]]), new Uint16Array([1, 2])]) {
      expect(toHex(encodeCanonical(value))).toBe(toHex(encode(value, { ...rfc8949EncodeOptions })));
    }
  });

  it("matches on random nested values (and is not disturbed by a fallback in between)", () => {
    const value = fc.letrec<{ node: unknown }>((tie) => ({
      node: fc.oneof(
        { depthSize: "small" },
        fc.maxSafeInteger(),
        fc.boolean(),
        fc.constant(null),
        fc.string({ unit: "binary", maxLength: 40 }),
        fc.string({ unit: "binary", minLength: 60, maxLength: 300 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.array(tie("node"), { maxLength: 5 }),
        fc.dictionary(fc.string({ maxLength: 10 }).filter((k) => k !== "__proto__"), tie("node"), { maxKeys: 6 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, (item) => {
        expect(toHex(encodeCanonical(item))).toBe(toHex(encode(item, rfc8949EncodeOptions)));
        encodeCanonical([1.5, item]);
        expect(toHex(encodeCanonical(item))).toBe(toHex(encode(item, rfc8949EncodeOptions)));
      }),
      { seed: 0xcb04, numRuns: 2000 },
    );
  });
});
