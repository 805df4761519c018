import { distance } from "fastest-levenshtein";
import { describe, expect, it } from "vitest";
import type { Vote } from "../../../src/agreement/policy.ts";
import { semanticPolicy } from "../../../src/agreement/semantic.ts";
import { createSimilarityPolicy, normalizeText, SIMILARITY_UNICODE_VERSION, type SimilarityMeasure } from "../../../src/agreement/similarity.ts";
import { compareBytes, outputHash, utf8 } from "../../../src/wire/hash.ts";

const context = (n: number, k: number) => ({ n, k, requestId: utf8("semantic-test") });
const vote = (node: string, output: string): Vote => ({ node, output, outputHash: outputHash(output) });

describe("normalizeText", () => {
  it("runs, in this project, on the Unicode version the spec pins (a Node upgrade that changes it needs a review)", () => {
    expect(process.versions.unicode).toBe(SIMILARITY_UNICODE_VERSION);
  });

  it("applies NFC, optional lowercasing, White_Space collapse and trim", () => {
    expect(normalizeText("  Hello\u00a0\n World \u3000", { caseFold: false })).toBe("Hello World");
    expect(normalizeText("ÉCOLE\tCafe\u0301", { caseFold: true })).toBe("école café");
    expect(normalizeText("a\u0085b\u2028c\u200bd", { caseFold: false })).toBe("a b c\u200bd"); // U+200B is not White_Space
    expect(normalizeText(" \t\n", { caseFold: false })).toBe("");
  });
});

/** Decision by the definition, from all-pairs fastest-levenshtein distances: the reference. */
function referenceDecision(
  outputs: string[],
  texts: string[],
  distances: number[][],
  thetaPpm: number,
  k: number,
): { output: string; supporters: number[] } | undefined {
  const within = (i: number, j: number) => {
    const len = Math.max((texts[i] as string).length, (texts[j] as string).length);
    return (len - (distances[i]?.[j] as number)) * 1_000_000 >= thetaPpm * len;
  };
  let best: { index: number; support: number[] } | undefined;
  outputs.forEach((_, index) => {
    const support = outputs.flatMap((__, j) => (within(index, j) ? [j] : []));
    // The generated texts are distinct, so ties on support go straight to the lowest output hash.
    const lowerHash = () => compareBytes(outputHash(outputs[index] as string), outputHash(outputs[best?.index ?? 0] as string)) < 0;
    if (!best || support.length > best.support.length || (support.length === best.support.length && lowerHash())) best = { index, support };
  });
  if (!best || best.support.length < k) return undefined;
  return { output: outputs[best.index] as string, supporters: best.support };
}

describe("semantic@1 on long outputs", () => {
  let seed = 11;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
  const words = "the of model output price value network node vote agree answer market report".split(" ");
  const base = () => {
    let text = "";
    while (text.length < 4000) text += `${words[Math.floor(random() * words.length)]} `;
    return text.slice(0, 4000);
  };
  const edit = (text: string, rate: number) =>
    [...text].map((ch) => (random() < rate ? (random() < 0.5 ? "" : `${ch}${"xyz"[Math.floor(random() * 3)]}`) : ch)).join("");

  it("agrees with the all-pairs definition, an unrelated outlier included", () => {
    for (let round = 0; round < 4; round++) {
      const shared = base();
      const outputs = Array.from({ length: 7 }, () => edit(shared, 0.05 + 0.05 * random()));
      outputs[round] = base(); // an outlier at a different position each round
      const votes = outputs.map((output, i) => vote(`n${i}`, output));
      // Compared after normalization (BMP text: code units are code points here).
      const texts = outputs.map((output) => normalizeText(output, { caseFold: false }));
      const distances = texts.map((a, i) => texts.map((b, j) => (i === j ? 0 : distance(a, b))));
      for (const thetaPpm of [800_000, 850_000, 900_000]) {
        const want = referenceDecision(outputs, texts, distances, thetaPpm, 4);
        const got = semanticPolicy.decide(votes, semanticPolicy.parseParams({ thetaPpm }), context(7, 4));
        if (!want) {
          expect(got.agreed).toBe(false);
          continue;
        }
        expect(got).toMatchObject({ agreed: true, output: want.output, supporters: want.supporters.map((i) => `n${i}`) });
      }
    }
  });
});

describe("the similarity plug point", () => {
  /** A toy measure: same first word, or both empty. Symmetric, deterministic, integer-free. */
  const calls: string[] = [];
  const firstWord: SimilarityMeasure = {
    id: "first-word",
    withinThreshold(a, b) {
      calls.push(`${a}|${b}`);
      return a.split(" ")[0] === b.split(" ")[0];
    },
  };
  const policy = createSimilarityPolicy({ id: "first-word", version: 1, description: "test", measure: firstWord });

  it("builds a medoid-star policy with the shared parameters", () => {
    expect(policy.parseParams({})).toEqual({ thetaPpm: 900_000, normalize: { caseFold: false } });
    expect(() => policy.parseParams({ unit: "word" })).toThrow(/first-word@1/);
    const votes = [vote("a", "Yes, it is"), vote("b", "yes indeed"), vote("c", "No"), vote("d", "yes indeed"), vote("e", "YES  sure")];
    const decision = policy.decide(votes, policy.parseParams({ normalize: { caseFold: true } }), context(5, 3));
    // "yes indeed" has two votes, so it is the centre among the three "yes" outputs; "yes," differs.
    expect(decision).toEqual({ agreed: true, output: "yes indeed", outputHash: outputHash("yes indeed"), supporters: ["b", "d", "e"] });
  });

  it("asks the measure about each unordered pair of distinct normalized texts at most once", () => {
    calls.length = 0;
    const votes = ["a 1", "a 2", "a 3", "b 1", "b 2", "a 1"].map((output, i) => vote(`n${i}`, output));
    policy.decide(votes, policy.parseParams({}), context(6, 6));
    const pairs = calls.map((c) => c.split("|").sort().join("|"));
    expect(new Set(pairs).size).toBe(pairs.length);
    expect(pairs.length).toBeLessThanOrEqual((5 * 4) / 2);
  });
});
