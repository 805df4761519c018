/**
 * Properties of semantic@2 (fast-check, fixed seeds), over near-duplicate texts that keep
 * gaining and losing guard tokens (numbers in several spellings, negations, directions, terms):
 *   - every supporter carries exactly the canonical output's guard signature and is within theta
 *     of it, by a from-scratch multiset overlap in integers; nobody else is; and the canonical
 *     output is a medoid (no output reaches more votes);
 *   - decisions do not depend on vote order;
 *   - an added honest reveal (identical to the canonical output) never lowers its support.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GUARD_CLASSES, guardSignature, words } from "../../src/agreement/guards.ts";
import type { PolicyDecision, Vote } from "../../src/agreement/policy.ts";
import { semanticGuardedPolicy } from "../../src/agreement/semantic-guarded.ts";
import { normalizeText } from "../../src/agreement/similarity.ts";
import { outputHash, utf8 } from "../../src/wire/hash.ts";
import type { PolicyParams } from "../../src/wire/types.ts";

// CONCORD_PROPERTY_RUNS raises the count for a long soak; the seeds stay fixed.
const RUNS = Number(process.env["CONCORD_PROPERTY_RUNS"] ?? 300);
const NODES = Array.from({ length: 9 }, (_, i) => `n${i}`);
const REQUEST = utf8("property/semantic-guarded");

const vote = (node: string, output: string): Vote => ({ node, output, outputHash: outputHash(output) });

function decide(params: PolicyParams, votes: readonly Vote[], k: number): PolicyDecision {
  return semanticGuardedPolicy.decide(votes, semanticGuardedPolicy.parseParams(params), { n: votes.length, k, requestId: REQUEST });
}

// --- generators -----------------------------------------------------------------------------

/** Words with no guard token, and guard tokens in the spellings honest outputs mix. */
const FILLER = ["the", "fee", "cap", "is", "of", "a", "rate", "The", "FEE"];
const GUARDED = [
  "5", "5%", "5 percent", "5k", "5,000", "5000", "-5", "0.05", "1.2.3", "2024-01-15",
  "not", "no", "yes", "don't", "cannot", "never",
  "more", "less", "increase", "decreased", "buy", "sold",
  "alice", "Bob", "approve", "new york",
];
const TERMS = ["alice", "bob", "approve", "New York"];

const token = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...FILLER) }, { weight: 1, arbitrary: fc.constantFrom(...GUARDED) });
const separator = fc.constantFrom(" ", " ", " ", "  ", ", ", "\n", ". ");

/** A text from tokens, with noisy separators and an optional final mark. */
const render = (tokens: readonly string[], separators: readonly string[], end: string) =>
  tokens.map((t, i) => (i === 0 ? t : `${separators[i % separators.length] ?? " "}${t}`)).join("") + end;

/** Edits that turn one base text into an honest-looking or flipped variant. */
const edit = fc.record({ op: fc.integer({ min: 0, max: 2 }), at: fc.nat(), token });
function mutate(base: readonly string[], edits: readonly { op: number; at: number; token: string }[]): string[] {
  const out = [...base];
  for (const { op, at, token: t } of edits) {
    const i = out.length === 0 ? 0 : at % (out.length + 1);
    if (op === 0) out.splice(i, 0, t);
    else if (op === 1) out.splice(i, 1);
    else out.splice(i, 1, t);
  }
  return out;
}

/** A committee's outputs: variants of one base text (0..2 edits each), a few unrelated. */
const outputs = fc
  .tuple(
    fc.array(token, { minLength: 0, maxLength: 8 }),
    fc.array(
      fc.oneof(
        { weight: 6, arbitrary: fc.array(edit, { maxLength: 2 }).map((edits) => ({ edits, fresh: undefined as string[] | undefined })) },
        { weight: 1, arbitrary: fc.array(token, { maxLength: 6 }).map((fresh) => ({ edits: [], fresh })) },
      ),
      { minLength: 1, maxLength: 9 },
    ),
    fc.array(separator, { minLength: 1, maxLength: 4 }),
    fc.constantFrom("", ".", "!"),
  )
  .map(([base, variants, separators, end]) => variants.map((v) => render(v.fresh ?? mutate(base, v.edits), separators, end)));

const committee = outputs.map((outs) => outs.map((o, i) => vote(NODES[i] as string, o)));
/** A value with a threshold k in 1..its length. */
const withK = <T>(items: fc.Arbitrary<T[]>) => items.chain((list) => fc.tuple(fc.constant(list), fc.integer({ min: 1, max: list.length })));

const params = fc.record(
  {
    thetaPpm: fc.constantFrom(0, 400_000, 500_000, 600_000, 750_000, 1_000_000),
    guards: fc.subarray([...GUARD_CLASSES]),
    terms: fc.constant(TERMS),
  },
  { requiredKeys: ["thetaPpm"] },
);

// --- reference --------------------------------------------------------------------------------

/** The semantic@2 relation, from the definition: equal guard signatures, multiset overlap in integers. */
function referenceWithin(a: string, b: string, p: PolicyParams): boolean {
  const parsed = semanticGuardedPolicy.parseParams(p);
  const na = normalizeText(a, { caseFold: true });
  const nb = normalizeText(b, { caseFold: true });
  if (guardSignature(na, parsed.guards) !== guardSignature(nb, parsed.guards)) return false;
  const wa = words(na);
  const wb = words(nb);
  const counts = new Map<string, number>();
  for (const w of wa) counts.set(w, (counts.get(w) ?? 0) + 1);
  let common = 0;
  for (const w of wb) {
    const left = counts.get(w) ?? 0;
    if (left > 0) {
      common++;
      counts.set(w, left - 1);
    }
  }
  const longer = Math.max(wa.length, wb.length);
  return longer === 0 || BigInt(common) * 1_000_000n >= BigInt(parsed.thetaPpm) * BigInt(longer);
}

// --- properties -------------------------------------------------------------------------------

describe("semantic@2: every supporter carries the canonical output's guards and is within theta of it", () => {
  it("supporters are exactly the votes within theta of the canonical output, which is a medoid", () => {
    fc.assert(
      fc.property(withK(committee), params, ([vs, k], p) => {
        const d = decide(p, vs, k);
        if (!d.agreed) {
          // No agreement: then no output reaches k votes.
          for (const candidate of vs) expect(vs.filter((v) => referenceWithin(v.output, candidate.output, p)).length).toBeLessThan(k);
          return;
        }
        expect(vs.map((v) => v.output)).toContain(d.output);
        const parsed = semanticGuardedPolicy.parseParams(p);
        const canonicalSignature = guardSignature(normalizeText(d.output, { caseFold: true }), parsed.guards);
        for (const v of vs.filter((x) => d.supporters.includes(x.node))) {
          expect(guardSignature(normalizeText(v.output, { caseFold: true }), parsed.guards)).toBe(canonicalSignature);
        }
        const within = vs.filter((v) => referenceWithin(v.output, d.output, p)).map((v) => v.node).sort();
        expect(d.supporters).toEqual(within);
        expect(within.length).toBeGreaterThanOrEqual(k);
        for (const candidate of vs) {
          expect(vs.filter((v) => referenceWithin(v.output, candidate.output, p)).length).toBeLessThanOrEqual(within.length);
        }
      }),
      { seed: 1001, numRuns: RUNS },
    );
  });
});

describe("semantic@2: decisions do not depend on vote order", () => {
  it("any permutation, any k", () => {
    const withOrder = committee.chain((vs) =>
      fc.tuple(fc.constant(vs), fc.shuffledSubarray(vs, { minLength: vs.length, maxLength: vs.length }), fc.integer({ min: 1, max: vs.length })),
    );
    fc.assert(
      fc.property(withOrder, params, ([vs, order, k], p) => {
        expect(decide(p, order, k)).toEqual(decide(p, vs, k));
      }),
      { seed: 1002, numRuns: RUNS },
    );
  });
});

describe("semantic@2: an added honest reveal never lowers the canonical output's support", () => {
  it("same canonical output, same supporters plus the new one", () => {
    fc.assert(
      fc.property(withK(committee), params, ([vs, k], p) => {
        const before = decide(p, vs, k);
        if (!before.agreed) return;
        const after = decide(p, [...vs, vote("z-new", before.output)], k);
        expect(after).toMatchObject({ agreed: true, output: before.output, supporters: [...before.supporters, "z-new"].sort() });
      }),
      { seed: 1003, numRuns: RUNS },
    );
  });
});
