/**
 * Properties of the semantic policy's building blocks (fast-check, fixed seeds): the bounded edit
 * distance against fastest-levenshtein's `distance`, the bounds used as shortcuts, the symmetry of
 * similarity under normalization, and the per-decision oracle (with its triangle-inequality and
 * detour shortcuts) against the plain definition.
 */
import fc from "fast-check";
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
} from "../../src/agreement/edit-distance.ts";
import { levenshteinMeasure } from "../../src/agreement/semantic.ts";
import { normalizeText } from "../../src/agreement/similarity.ts";

const RUNS = Number(process.env["CONCORD_PROPERTY_RUNS"] ?? 500);

/** BMP strings over a small alphabet (so code units are code points and matches are common). */
const smallText = (max: number) =>
  fc.array(fc.constantFrom("a", "b", "c", "\u00e9", "\u4e00"), { minLength: 0, maxLength: max }).map((cs) => cs.join(""));

/** A base text and edited copies of it: what honest-but-noisy outputs look like. */
function mutated(base: string, edits: { at: number; op: number; ch: string }[]): string {
  let out = base;
  for (const { at, op, ch } of edits) {
    const i = out.length === 0 ? 0 : at % (out.length + 1);
    if (op === 0) out = out.slice(0, i) + ch + out.slice(i);
    else if (op === 1) out = out.slice(0, i) + out.slice(i + 1);
    else out = out.slice(0, i) + ch + out.slice(i + 1);
  }
  return out;
}
const edit = fc.record({ at: fc.nat(), op: fc.integer({ min: 0, max: 2 }), ch: fc.constantFrom("a", "b", "x", " ") });
const family = fc
  .tuple(smallText(40), fc.array(fc.array(edit, { maxLength: 8 }), { minLength: 2, maxLength: 7 }))
  .map(([base, editSets]) => editSets.map((edits) => mutated(base, edits)));

describe("bounded edit distance", () => {
  it("equals fastest-levenshtein's distance whenever that is within the bound, else bound + 1", () => {
    fc.assert(
      fc.property(smallText(30), smallText(30), fc.integer({ min: 0, max: 35 }), (a, b, bound) => {
        const d = distance(a, b);
        expect(boundedEditDistance(codePoints(a), codePoints(b), bound)).toBe(d <= bound ? d : bound + 1);
      }),
      { seed: 501, numRuns: RUNS * 4 },
    );
  });

  it("agrees on long, similar texts (where the diagonal walk and its pruning matter)", () => {
    fc.assert(
      fc.property(family, fc.integer({ min: 0, max: 20 }), (texts, bound) => {
        const [a, b] = texts as [string, string];
        const d = distance(a, b);
        expect(boundedEditDistance(codePoints(a), codePoints(b), bound)).toBe(d <= bound ? d : bound + 1);
      }),
      { seed: 502, numRuns: RUNS * 2 },
    );
  });

  it("the adaptive-band walk never undercuts the distance, and the bag distance never exceeds it", () => {
    fc.assert(
      fc.property(family, fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 4 }), (texts, bound, halfWidth) => {
        const [a, b] = texts as [string, string];
        const d = distance(a, b);
        const upper = bandedUpperBound(codePoints(a), codePoints(b), bound, halfWidth);
        if (upper <= bound) expect(upper).toBeGreaterThanOrEqual(d);
        else expect(upper).toBe(bound + 1);
        if (d <= bound && halfWidth >= bound) expect(upper).toBe(d); // a band this wide is the full walk
        expect(bagLowerBound(histogram(codePoints(a)), histogram(codePoints(b)))).toBeLessThanOrEqual(d);
      }),
      { seed: 503, numRuns: RUNS * 2 },
    );
  });

  it("maxDistanceWithin is the largest distance that passes the normative test", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5_000_000 }), fc.integer({ min: 0, max: 1_000_000 }), (len, theta) => {
        const t = maxDistanceWithin(len, theta);
        expect(isWithinTheta(t, len, theta)).toBe(true);
        if (t + 1 <= len) expect(isWithinTheta(t + 1, len, theta)).toBe(false);
      }),
      { seed: 504, numRuns: RUNS * 4 },
    );
  });
});

describe("similarity under normalization", () => {
  const noisy = fc
    .array(fc.constantFrom("a", "B", "c\u0301", "\u00e7", " ", "\t", "\u00a0", "\u2003", "\n", "word", "WORD", "\u{1f600}"), {
      maxLength: 12,
    })
    .map((parts) => parts.join(""));

  it("normalization is idempotent", () => {
    fc.assert(
      fc.property(noisy, fc.boolean(), (text, caseFold) => {
        const once = normalizeText(text, { caseFold });
        expect(normalizeText(once, { caseFold })).toBe(once);
      }),
      { seed: 601, numRuns: RUNS },
    );
  });

  it("is symmetric, at both units, and matches the definition", () => {
    fc.assert(
      fc.property(
        noisy,
        noisy,
        fc.boolean(),
        fc.constantFrom("char", "word"),
        fc.constantFrom(0, 400_000, 700_000, 900_000, 1_000_000),
        (a, b, caseFold, unit, theta) => {
          const measure = levenshteinMeasure(unit as "char" | "word");
          const na = normalizeText(a, { caseFold });
          const nb = normalizeText(b, { caseFold });
          const ab = measure.withinThreshold(na, nb, theta);
          expect(measure.withinThreshold(nb, na, theta)).toBe(ab);
          // The definition, with every unit mapped to one BMP code unit for fastest-levenshtein.
          const ids = new Map<string, string>();
          const units = (text: string) => (unit === "word" ? (text === "" ? [] : text.split(" ")) : [...text]);
          const encode = (text: string) =>
            units(text)
              .map((u) => {
                if (!ids.has(u)) ids.set(u, String.fromCharCode(0x4e00 + ids.size));
                return ids.get(u) as string;
              })
              .join("");
          const ea = encode(na);
          const eb = encode(nb);
          const len = Math.max(ea.length, eb.length);
          expect(ab).toBe((len - distance(ea, eb)) * 1_000_000 >= theta * len);
        },
      ),
      { seed: 602, numRuns: RUNS * 2 },
    );
  });
});

describe("the per-decision oracle", () => {
  it("answers every pair as the definition does, whatever order the pairs are asked in", () => {
    // Similar texts plus unrelated ones, so near pairs, far pairs and detours all occur.
    const texts = fc.tuple(family, fc.array(smallText(40), { maxLength: 3 })).map(([near, far]) => [...near, ...far]);
    const withOrder = texts.chain((all) => {
      const distinct = [...new Set(all)];
      const pairs: [number, number][] = [];
      for (let i = 0; i < distinct.length; i++) for (let j = i + 1; j < distinct.length; j++) pairs.push([i, j]);
      return fc.tuple(fc.constant(distinct), fc.shuffledSubarray(pairs, { minLength: pairs.length, maxLength: pairs.length }));
    });
    fc.assert(
      fc.property(withOrder, fc.constantFrom(500_000, 700_000, 800_000, 900_000), fc.constantFrom("char", "word"), ([texts, pairs], theta, unit) => {
        const measure = levenshteinMeasure(unit as "char" | "word");
        const oracle = measure.prepare?.(texts, theta);
        if (!oracle) throw new Error("levenshtein has a batch path");
        for (const [i, j] of pairs) {
          expect(oracle(i, j)).toBe(measure.withinThreshold(texts[i] as string, texts[j] as string, theta));
        }
      }),
      { seed: 701, numRuns: RUNS },
    );
  });
});
