/**
 * Properties of the agreement policies (fast-check, fixed seeds):
 *   - decisions do not depend on vote order (every policy but first-wins);
 *   - exact, and seeded without fork tolerance, never accept two different outputs over two
 *     subsets of one set of votes when k > n/2;
 *   - semantic, structured and fork-tolerant seeded: every agreed output is within the tolerance
 *     of at least k committee outputs (checked with independent reference code);
 *   - an added honest reveal (identical to the canonical output) never lowers its support.
 */
import fc from "fast-check";
import { distance } from "fastest-levenshtein";
import { describe, expect, it } from "vitest";
import { exactPolicy } from "../../src/agreement/exact.ts";
import type { AgreementPolicy, DecideContext, PolicyDecision, Vote } from "../../src/agreement/policy.ts";
import { seededPolicy } from "../../src/agreement/seeded.ts";
import { semanticPolicy } from "../../src/agreement/semantic.ts";
import { normalizeText } from "../../src/agreement/similarity.ts";
import { structuredPolicy } from "../../src/agreement/structured.ts";
import { outputHash, utf8 } from "../../src/wire/hash.ts";
import type { Evidence, PolicyParams } from "../../src/wire/types.ts";

// CONCORD_PROPERTY_RUNS raises the count for a long soak; the seeds stay fixed.
const RUNS = Number(process.env["CONCORD_PROPERTY_RUNS"] ?? 300);
const NODES = Array.from({ length: 9 }, (_, i) => `n${i}`);
const REQUEST = utf8("property/agreement");

function vote(node: string, output: string, evidence?: Evidence): Vote {
  return evidence ? { node, output, outputHash: outputHash(output), evidence } : { node, output, outputHash: outputHash(output) };
}

function decide<P>(policy: AgreementPolicy<P>, params: PolicyParams, votes: readonly Vote[], k: number): PolicyDecision {
  const context: DecideContext = { n: votes.length, k, requestId: REQUEST };
  return policy.decide(votes, policy.parseParams(params), context);
}

/** Votes for the first `count` nodes from per-node outputs. */
const committee = <T>(outputs: fc.Arbitrary<T>, min = 1, max = 9): fc.Arbitrary<T[]> =>
  fc.array(outputs, { minLength: min, maxLength: max });

/** A permutation of `items`. */
const shuffled = <T>(items: T[]): fc.Arbitrary<T[]> =>
  fc.shuffledSubarray(items, { minLength: items.length, maxLength: items.length });

// --- generators -----------------------------------------------------------------------------

/** Seeded evidence from a small pool, so duplicates, forks and near ties are common. */
const seededOutput = fc
  .record({
    tokens: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 0, maxLength: 4 }),
    margins: fc.array(fc.constantFrom(0, 400, 900, 1_000, 1_001, 5_000), { minLength: 4, maxLength: 4 }),
    textVariant: fc.constantFrom("", "", "", "."),
    broken: fc.constantFrom(false, false, false, false, false, true),
  })
  .map(({ tokens, margins, textVariant, broken }) => ({
    output: tokens.map((t) => `t${t}`).join(" ") + textVariant,
    evidence: broken ? undefined : { tokens, margins: margins.slice(0, tokens.length) },
  }));

function seededVotes(outputs: { output: string; evidence: Evidence | undefined }[]): Vote[] {
  return outputs.map((o, i) => vote(NODES[i] as string, o.output, o.evidence));
}

/** Short texts over a tiny alphabet with case and spacing noise. */
const semanticText = fc
  .array(fc.constantFrom("a", "b", "A", " ", "  ", "ab", "ba", "\n"), { minLength: 0, maxLength: 10 })
  .map((parts) => parts.join(""));

const semanticParams = fc.record({
  thetaPpm: fc.constantFrom(0, 500_000, 600_000, 750_000, 800_000, 1_000_000),
  unit: fc.constantFrom("char", "word"),
  normalize: fc.record({ caseFold: fc.boolean() }),
});

/** Schema for structured properties: one label, two numbers with tolerances, one optional bool. */
const STRUCTURED: PolicyParams = {
  fields: {
    label: { type: "label" },
    x: { type: "number", decimals: 0, absTol: 2 },
    y: { type: "number", decimals: 1, relTolPpm: 100_000 },
    flag: { type: "bool", optional: true },
  },
};
const X_TOL = 2;
const Y_REL_PPM = 100_000;

const structuredOutput = fc.oneof(
  {
    weight: 9,
    arbitrary: fc
      .record({
        label: fc.constantFrom("up", "down"),
        x: fc.integer({ min: 0, max: 12 }),
        y: fc.integer({ min: 90, max: 130 }),
        flag: fc.constantFrom(undefined, true),
      })
      .map(({ label, x, y, flag }) => JSON.stringify(flag === undefined ? { label, x, y: y / 10 } : { y: y / 10, flag, x, label })),
  },
  { weight: 1, arbitrary: fc.constantFrom("{", '{"label":"up"}', '{"label":"up","x":1,"y":1,"z":0}', "null") },
);

// --- reference checks -------------------------------------------------------------------------

/** The semantic definition, from scratch: fastest-levenshtein over normalized texts. */
function semanticWithin(a: string, b: string, params: { thetaPpm: number; unit: string; normalize: { caseFold: boolean } }): boolean {
  const na = normalizeText(a, params.normalize);
  const nb = normalizeText(b, params.normalize);
  let sa = na;
  let sb = nb;
  if (params.unit === "word") {
    const ids = new Map<string, string>();
    const encode = (text: string) =>
      text === ""
        ? ""
        : text
            .split(" ")
            .map((w) => {
              if (!ids.has(w)) ids.set(w, String.fromCharCode(0x4e00 + ids.size));
              return ids.get(w) as string;
            })
            .join("");
    sa = encode(na);
    sb = encode(nb);
  }
  const len = Math.max([...sa].length, [...sb].length);
  const d = distance(sa, sb);
  return (len - d) * 1_000_000 >= params.thetaPpm * len;
}

/** Structured tolerance, from scratch on JSON.parse (the generated numbers are exact in doubles). */
function structuredSupports(output: string, canonical: string): boolean {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(output) as Record<string, unknown>;
  } catch {
    return false;
  }
  const c = JSON.parse(canonical) as Record<string, unknown>;
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  if (Object.keys(v).some((key) => !["label", "x", "y", "flag"].includes(key))) return false;
  if (v["label"] !== c["label"] || v["flag"] !== c["flag"]) return false;
  if (typeof v["x"] !== "number" || typeof v["y"] !== "number") return false;
  const dx = Math.abs(v["x"] - (c["x"] as number));
  const dyTenths = Math.abs(Math.round(v["y"] * 10) - Math.round((c["y"] as number) * 10));
  const cyTenths = Math.abs(Math.round((c["y"] as number) * 10));
  return dx <= X_TOL && dyTenths * 1_000_000 <= Y_REL_PPM * cyTenths;
}

/** Seeded support, from scratch: exact duplicate, or a corroborated fork within eps. */
/** The fork rule, restated: m = max(2, n - k + 1) exact producers must claim the near tie. */
function seededSupports(v: Vote, canonicalProducers: Vote[], epsPpm: number, minProducers: number): boolean {
  const c = canonicalProducers[0];
  if (!c?.evidence || !v.evidence) return false;
  const ct = c.evidence.tokens;
  const vt = v.evidence.tokens;
  const same = ct.length === vt.length && ct.every((t, i) => t === vt[i]);
  if (same && v.output === c.output) return true;
  if (epsPpm === 0 || canonicalProducers.length < minProducers) return false;
  let d = 0;
  while (d < ct.length && d < vt.length && ct[d] === vt[d]) d++;
  if (d >= ct.length || d >= vt.length) return false;
  if ((v.evidence.margins[d] as number) > epsPpm) return false;
  return canonicalProducers.filter((p) => (p.evidence?.margins[d] as number) <= epsPpm).length >= minProducers;
}

// --- properties -------------------------------------------------------------------------------

describe("decisions do not depend on vote order", () => {
  const check = <P>(policy: AgreementPolicy<P>, params: PolicyParams, votes: Vote[], order: Vote[], k: number) => {
    expect(decide(policy, params, order, k)).toEqual(decide(policy, params, votes, k));
  };
  const withOrder = (votes: fc.Arbitrary<Vote[]>) =>
    votes.chain((vs) => fc.tuple(fc.constant(vs), shuffled(vs), fc.integer({ min: 1, max: vs.length })));

  it("exact@1", () => {
    const votes = committee(fc.constantFrom("A", "B", "C")).map((outs) => outs.map((o, i) => vote(NODES[i] as string, o)));
    fc.assert(fc.property(withOrder(votes), ([vs, order, k]) => check(exactPolicy, {}, vs, order, k)), { seed: 101, numRuns: RUNS });
  });

  it("seeded@1, with and without fork tolerance", () => {
    fc.assert(
      fc.property(withOrder(committee(seededOutput).map(seededVotes)), fc.constantFrom(0, 1_000), ([vs, order, k], epsPpm) =>
        check(seededPolicy, { epsPpm }, vs, order, k),
      ),
      { seed: 102, numRuns: RUNS },
    );
  });

  it("semantic@1", () => {
    const votes = committee(semanticText).map((outs) => outs.map((o, i) => vote(NODES[i] as string, o)));
    fc.assert(
      fc.property(withOrder(votes), semanticParams, ([vs, order, k], params) => check(semanticPolicy, params, vs, order, k)),
      { seed: 103, numRuns: RUNS },
    );
  });

  it("structured@1", () => {
    const votes = committee(structuredOutput).map((outs) => outs.map((o, i) => vote(NODES[i] as string, o)));
    fc.assert(fc.property(withOrder(votes), ([vs, order, k]) => check(structuredPolicy, STRUCTURED, vs, order, k)), {
      seed: 104,
      numRuns: RUNS,
    });
  });
});

describe("exact agreement never accepts two outputs over two subsets of one set of votes (k > n/2)", () => {
  const twoSubsets = (votes: fc.Arbitrary<Vote[]>) =>
    votes.chain((vs) =>
      fc.tuple(fc.constant(vs), fc.subarray(vs), fc.subarray(vs), fc.integer({ min: Math.floor(vs.length / 2) + 1, max: vs.length })),
    );

  it("exact@1", () => {
    const votes = committee(fc.constantFrom("A", "B"), 1, 9).map((outs) => outs.map((o, i) => vote(NODES[i] as string, o)));
    fc.assert(
      fc.property(twoSubsets(votes), ([, s1, s2, k]) => {
        const d1 = decide(exactPolicy, {}, s1, k);
        const d2 = decide(exactPolicy, {}, s2, k);
        if (d1.agreed && d2.agreed) expect(d1.output).toBe(d2.output);
      }),
      { seed: 201, numRuns: RUNS },
    );
  });

  it("seeded@1 without fork tolerance", () => {
    fc.assert(
      fc.property(twoSubsets(committee(seededOutput).map(seededVotes)), ([, s1, s2, k]) => {
        const d1 = decide(seededPolicy, {}, s1, k);
        const d2 = decide(seededPolicy, {}, s2, k);
        if (d1.agreed && d2.agreed) expect(d1.output).toBe(d2.output);
      }),
      { seed: 202, numRuns: RUNS },
    );
  });
});

describe("every agreed output is within tolerance of at least k committee outputs", () => {
  it("semantic@1: every supporter, and no one else, is within theta of the canonical text", () => {
    const votes = committee(semanticText).map((outs) => outs.map((o, i) => vote(NODES[i] as string, o)));
    fc.assert(
      fc.property(votes, semanticParams, fc.integer({ min: 1, max: 9 }), (vs, params, k) => {
        const d = decide(semanticPolicy, params, vs, k);
        if (!d.agreed) return;
        const within = vs.filter((v) => semanticWithin(v.output, d.output, params)).map((v) => v.node).sort();
        expect(d.supporters).toEqual(within);
        expect(within.length).toBeGreaterThanOrEqual(k);
        // And the canonical is a medoid: no output reaches more votes.
        for (const candidate of vs) {
          expect(vs.filter((v) => semanticWithin(v.output, candidate.output, params)).length).toBeLessThanOrEqual(within.length);
        }
      }),
      { seed: 301, numRuns: RUNS },
    );
  });

  it("structured@1: every supporter matches the labels and is within tolerance of the median output", () => {
    const votes = committee(structuredOutput).map((outs) => outs.map((o, i) => vote(NODES[i] as string, o)));
    fc.assert(
      fc.property(votes, fc.integer({ min: 1, max: 9 }), (vs, k) => {
        const d = decide(structuredPolicy, STRUCTURED, vs, k);
        if (!d.agreed) return;
        expect(d.supporters.length).toBeGreaterThanOrEqual(k);
        const supporters = vs.filter((v) => d.supporters.includes(v.node));
        for (const v of supporters) expect(structuredSupports(v.output, d.output)).toBe(true);
        // The canonical numbers are the lower medians of the supporters' values.
        const c = JSON.parse(d.output) as { x: number; y: number };
        const lowerMedian = (values: number[]) => [...values].sort((a, b) => a - b)[(values.length - 1) >> 1];
        expect(c.x).toBe(lowerMedian(supporters.map((v) => (JSON.parse(v.output) as { x: number }).x)));
        expect(c.y).toBe(lowerMedian(supporters.map((v) => (JSON.parse(v.output) as { y: number }).y)));
      }),
      { seed: 302, numRuns: RUNS },
    );
  });

  it("seeded@1 with fork tolerance: every supporter is an exact duplicate or a corroborated fork", () => {
    fc.assert(
      fc.property(committee(seededOutput).map(seededVotes), fc.integer({ min: 1, max: 9 }), (vs, k) => {
        const epsPpm = 1_000;
        const d = decide(seededPolicy, { epsPpm }, vs, k);
        if (!d.agreed) return;
        expect(d.supporters.length).toBeGreaterThanOrEqual(k);
        // Generated texts spell their tokens, so a valid vote with the canonical text is an exact producer.
        const exact = vs.filter((v) => v.output === d.output && v.evidence);
        if (exact.length === 0) throw new Error("an agreed seeded output has an exact producer");
        for (const v of vs) {
          expect(d.supporters.includes(v.node)).toBe(seededSupports(v, exact, epsPpm, Math.max(2, vs.length - k + 1)));
        }
      }),
      { seed: 303, numRuns: RUNS },
    );
  });
});

describe("an added honest reveal never lowers the canonical output's support", () => {
  const NEW = "z-new";
  /** Same canonical output, every earlier supporter kept, the new reveal added (others may join). */
  const checkAdded = (before: PolicyDecision, after: PolicyDecision, exactly = false) => {
    if (!before.agreed) return;
    expect(after.agreed).toBe(true);
    if (!after.agreed) return;
    expect(after.output).toBe(before.output);
    expect(after.supporters).toEqual(expect.arrayContaining([...before.supporters, NEW]));
    if (exactly) expect(after.supporters).toEqual([...before.supporters, NEW].sort());
  };

  it("exact@1", () => {
    const votes = committee(fc.constantFrom("A", "B", "C")).map((outs) => outs.map((o, i) => vote(NODES[i] as string, o)));
    fc.assert(
      fc.property(votes, fc.integer({ min: 1, max: 9 }), (vs, k) => {
        const before = decide(exactPolicy, {}, vs, k);
        if (before.agreed) checkAdded(before, decide(exactPolicy, {}, [...vs, vote(NEW, before.output)], k), true);
      }),
      { seed: 401, numRuns: RUNS },
    );
  });

  it("seeded@1 (a copy of one of the canonical's producers), with and without fork tolerance", () => {
    fc.assert(
      fc.property(committee(seededOutput).map(seededVotes), fc.integer({ min: 1, max: 9 }), fc.constantFrom(0, 1_000), (vs, k, epsPpm) => {
        const before = decide(seededPolicy, { epsPpm }, vs, k);
        if (!before.agreed) return;
        const producer = vs.find((v) => v.output === before.output && before.supporters.includes(v.node));
        if (!producer) throw new Error("an agreed seeded output has a producer");
        // A second exact producer can make forks count: support may grow by more than one.
        checkAdded(before, decide(seededPolicy, { epsPpm }, [...vs, vote(NEW, producer.output, producer.evidence)], k), epsPpm === 0);
      }),
      { seed: 402, numRuns: RUNS },
    );
  });

  it("semantic@1", () => {
    const votes = committee(semanticText).map((outs) => outs.map((o, i) => vote(NODES[i] as string, o)));
    fc.assert(
      fc.property(votes, semanticParams, fc.integer({ min: 1, max: 9 }), (vs, params, k) => {
        const before = decide(semanticPolicy, params, vs, k);
        if (before.agreed) checkAdded(before, decide(semanticPolicy, params, [...vs, vote(NEW, before.output)], k), true);
      }),
      { seed: 403, numRuns: RUNS },
    );
  });

  it("structured@1, k > n/2 (a reveal of the canonical JSON text itself)", () => {
    const votes = committee(structuredOutput).map((outs) => outs.map((o, i) => vote(NODES[i] as string, o)));
    fc.assert(
      fc.property(votes, (vs) => {
        const k = Math.floor(vs.length / 2) + 1;
        const before = decide(structuredPolicy, STRUCTURED, vs, k);
        if (before.agreed) checkAdded(before, decide(structuredPolicy, STRUCTURED, [...vs, vote(NEW, before.output)], k));
      }),
      { seed: 404, numRuns: 2 * RUNS },
    );
  });

  it("structured@1, any k, scattered values: the winning support never drops", () => {
    // With a minority quorum the median trim can settle elsewhere once the canonical values are
    // added, so the canonical numbers may move (and the new reveal may not even support them); the
    // winning support never shrinks.
    const params: PolicyParams = {
      fields: { x: { type: "number", decimals: 0, absTol: 3 }, y: { type: "number", decimals: 0, absTol: 3 } },
    };
    const point = fc.record({ x: fc.integer({ min: 0, max: 14 }), y: fc.integer({ min: 0, max: 14 }) }).map((p) => JSON.stringify(p));
    const votes = committee(point, 2, 9).map((outs) => outs.map((o, i) => vote(NODES[i] as string, o)));
    fc.assert(
      fc.property(votes, fc.integer({ min: 1, max: 9 }), (vs, k) => {
        const before = decide(structuredPolicy, params, vs, k);
        if (!before.agreed) return;
        const after = decide(structuredPolicy, params, [...vs, vote(NEW, before.output)], k);
        expect(after.agreed && after.supporters.length).toBeGreaterThanOrEqual(before.supporters.length);
      }),
      { seed: 405, numRuns: 2 * RUNS },
    );
  });
});
