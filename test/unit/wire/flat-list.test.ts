/**
 * encodeFlatList writes the bytes encodeCanonical gives for a flat list of non-negative
 * integers, text and bytes (signing preimages), at every head size, and refuses what the
 * general encoder would write differently (negative or unsafe integers).
 */
import { describe, expect, it } from "vitest";
import { encodeCanonical, encodeFlatList } from "../../../src/wire/cbor.ts";
import { mulberry32 } from "../../../src/sim/prng.ts";
import { toHex } from "../../../src/wire/hash.ts";

/** Hex of both: the general encoder hands back a Buffer for some lengths, this a Uint8Array. */
const same = (items: (number | string | Uint8Array)[]) => expect(toHex(encodeFlatList(items))).toBe(toHex(encodeCanonical(items)));

const SIZES = [0, 1, 23, 24, 255, 256, 65_535, 65_536];

describe("encodeFlatList", () => {
  it("gives encodeCanonical's bytes for integers, text and bytes at every head size", () => {
    const integers = [0, 1, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 5, Number.MAX_SAFE_INTEGER];
    for (const value of integers) same([value]);
    for (const size of SIZES) {
      const text = "é".repeat(size >> 1) + "a".repeat(size & 1);
      same([text]);
      const bytes = new Uint8Array(size).fill(7);
      same([bytes]);
    }
    const many = Array.from({ length: 300 }, (_, i) => i);
    same(many);
    same([]);
  });

  it("matches on seeded random preimages", () => {
    const random = mulberry32(0xf1a7);
    for (let round = 0; round < 500; round++) {
      const items = Array.from({ length: Math.floor(random() * 8) }, () => {
        const pick = random();
        if (pick < 0.33) return Math.floor(random() * 2 ** Math.floor(random() * 53));
        if (pick < 0.66) return String.fromCodePoint(...Array.from({ length: Math.floor(random() * 40) }, () => 0x20 + Math.floor(random() * 0x2000)));
        return Uint8Array.from({ length: Math.floor(random() * 300) }, () => Math.floor(random() * 256));
      });
      same(items);
    }
  });

  it("refuses negative, fractional and unsafe integers", () => {
    for (const value of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, Number.NaN]) expect(() => encodeFlatList([value])).toThrow(/safe non-negative integer/);
  });
});
