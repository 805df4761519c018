import { distance } from "fastest-levenshtein";
import { describe, expect, it } from "vitest";
import {
  bagLowerBound,
  bandedUpperBound,
  boundedEditDistance,
  codePoints,
  histogram,
  isWithinTheta,
  maxDistanceWithin,
  wordSymbols,
} from "../../../src/agreement/edit-distance.ts";

const cp = codePoints;

describe("boundedEditDistance (Levenshtein with a cut-off)", () => {
  it("gives the textbook distances", () => {
    expect(boundedEditDistance(cp("kitten"), cp("sitting"), 10)).toBe(3);
    expect(boundedEditDistance(cp("flaw"), cp("lawn"), 10)).toBe(2);
    expect(boundedEditDistance(cp(""), cp("abc"), 10)).toBe(3);
    expect(boundedEditDistance(cp("abc"), cp(""), 10)).toBe(3);
    expect(boundedEditDistance(cp(""), cp(""), 0)).toBe(0);
    expect(boundedEditDistance(cp("same"), cp("same"), 0)).toBe(0);
  });

  it("answers bound + 1 as soon as the distance exceeds the bound", () => {
    expect(boundedEditDistance(cp("kitten"), cp("sitting"), 2)).toBe(3);
    expect(boundedEditDistance(cp("kitten"), cp("sitting"), 3)).toBe(3);
    expect(boundedEditDistance(cp("abcdef"), cp("a"), 1)).toBe(2); // the length gap alone exceeds it
  });

  it("counts code points, not UTF-16 units", () => {
    expect(cp("a\u{1f600}b")).toEqual(Int32Array.of(0x61, 0x1f600, 0x62));
    expect(boundedEditDistance(cp("\u{1f600}"), cp("\u{1f601}"), 5)).toBe(1);
    expect(distance("\u{1f600}", "\u{1f601}")).toBe(1); // same here: only the low surrogates differ
    expect(boundedEditDistance(cp("\u{1f600}"), cp("x"), 5)).toBe(1);
    expect(distance("\u{1f600}", "x")).toBe(2); // fastest-levenshtein counts units
  });

  it("matches fastest-levenshtein on 4,000-character texts with ~5% edits", () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
    const base = Array.from({ length: 4000 }, () => "abcdefgh  "[Math.floor(random() * 10)]).join("");
    const noisy = () => [...base].map((ch) => (random() < 0.05 ? (random() < 0.5 ? "" : "xy"[Math.floor(random() * 2)] + ch) : ch)).join("");
    const a = noisy();
    const b = noisy();
    const d = distance(a, b);
    expect(boundedEditDistance(cp(a), cp(b), d)).toBe(d);
    expect(boundedEditDistance(cp(a), cp(b), d - 1)).toBe(d);
    expect(bandedUpperBound(cp(a), cp(b), 4000, 16)).toBeGreaterThanOrEqual(d);
    expect(bagLowerBound(histogram(cp(a)), histogram(cp(b)))).toBeLessThanOrEqual(d);
  });
});

describe("word symbols", () => {
  it("maps each distinct word to one id shared across the texts of a decision", () => {
    const dictionary = new Map<string, number>();
    expect(wordSymbols("the cat the", dictionary)).toEqual(Int32Array.of(0, 1, 0));
    expect(wordSymbols("cat dog", dictionary)).toEqual(Int32Array.of(1, 2));
    expect(wordSymbols("", dictionary)).toEqual(new Int32Array(0));
  });
});

describe("the threshold in fixed point", () => {
  it("is inclusive and exact at the boundary", () => {
    expect(isWithinTheta(1, 5, 800_000)).toBe(true); // (5 - 1) * 1e6 == 800,000 * 5
    expect(isWithinTheta(1, 5, 800_001)).toBe(false);
    expect(isWithinTheta(0, 0, 1_000_000)).toBe(true); // both empty
    expect(maxDistanceWithin(5, 800_000)).toBe(1);
    expect(maxDistanceWithin(5, 800_001)).toBe(0);
    expect(maxDistanceWithin(4000, 900_000)).toBe(400);
    expect(maxDistanceWithin(10, 0)).toBe(10);
  });
});
