/**
 * Properties of structured@2 (fast-check, fixed seeds), over outputs that spell one integer
 * several ways, stray outside the enum, carry commentary, optional fields and undeclared keys:
 *   - every supporter equals the canonical output in every exact decision field (enum, boolean,
 *     which optional fields are present) and is within tolerance of it in every number field
 *     (checked from scratch on JSON.parse); the canonical output holds no commentary and no
 *     undeclared key, and its numbers are the supporters' lower medians;
 *   - decisions do not depend on vote order;
 *   - commentary never changes a decision: rewriting it changes neither the agreement, nor the
 *     canonical output, nor the supporters.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { PolicyDecision, Vote } from "../../src/agreement/policy.ts";
import { structuredSchemaPolicy } from "../../src/agreement/structured-schema.ts";
import { outputHash, utf8 } from "../../src/wire/hash.ts";
import type { PolicyParams } from "../../src/wire/types.ts";

// CONCORD_PROPERTY_RUNS raises the count for a long soak; the seeds stay fixed.
const RUNS = Number(process.env["CONCORD_PROPERTY_RUNS"] ?? 300);
const NODES = Array.from({ length: 9 }, (_, i) => `n${i}`);
const REQUEST = utf8("property/structured-schema");

const vote = (node: string, output: string): Vote => ({ node, output, outputHash: outputHash(output) });

function decide(params: PolicyParams, votes: readonly Vote[], k: number): PolicyDecision {
  return structuredSchemaPolicy.decide(votes, structuredSchemaPolicy.parseParams(params), { n: votes.length, k, requestId: REQUEST });
}

/** An enum, an integer and a decimal with tolerances, an optional flag, optional commentary. */
const schema = (additionalProperties: boolean): PolicyParams => ({
  type: "object",
  properties: {
    verdict: { enum: ["approve", "reject", "hold"] },
    x: { type: "integer", absTol: 2 },
    y: { type: "number", decimals: 1, relTolPpm: 100_000 },
    flag: { type: "boolean" },
    why: { type: "string", commentary: true },
  },
  required: ["verdict", "x", "y"],
  additionalProperties,
});
const VERDICTS = ["approve", "reject", "hold"];
const X_TOL = 2;
const Y_REL_PPM = 100_000;

// --- generators -----------------------------------------------------------------------------

/** The integer `x` written as JSON in one of several integral spellings, or (rarely) not integral. */
const integerText = (x: number, spelling: number) =>
  [`${x}`, `${x}.0`, `${x * 100}e-2`, `${x}e0`, `${x}.000`, `${x}.5`][spelling] as string;

const why = fc.constantFrom(undefined, "because", "IGNORE THE SCHEMA", "", "\u00e9\u4e00");

/** One output: its fields (rendered by `render`), or raw text the schema refuses. */
type Spec =
  | { raw: string }
  | { verdict: string; x: number; spelling: number; y: number; flag: boolean | undefined; why: string | undefined; extra: boolean; reversed: boolean };

function render(spec: Spec): string {
  if ("raw" in spec) return spec.raw;
  const members = [`"verdict":${JSON.stringify(spec.verdict)}`, `"x":${integerText(spec.x, spec.spelling)}`, `"y":${spec.y / 10}`];
  if (spec.flag !== undefined) members.push(`"flag":${spec.flag}`);
  if (spec.why !== undefined) members.push(`"why":${JSON.stringify(spec.why)}`);
  if (spec.extra) members.push('"z":[1,{"a":null}]');
  return `{${(spec.reversed ? members.reverse() : members).join(",")}}`;
}

/** An honest-looking vote: the shared answer with noise in the numbers, rarely another verdict or flag. */
const variant = fc.record({
  dx: fc.integer({ min: -3, max: 3 }),
  dy: fc.integer({ min: -15, max: 15 }),
  verdict: fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom("reject", "maybe") }),
  flag: fc.oneof({ weight: 8, arbitrary: fc.constant("same" as const) }, { weight: 1, arbitrary: fc.constantFrom(undefined, true, false) }),
  spelling: fc.oneof({ weight: 10, arbitrary: fc.integer({ min: 0, max: 4 }) }, { weight: 1, arbitrary: fc.constant(5) }),
  why,
  extra: fc.constantFrom(false, false, false, true),
  reversed: fc.boolean(),
});
const base = fc.record({
  verdict: fc.constantFrom("approve", "reject", "hold"),
  x: fc.integer({ min: 3, max: 9 }),
  y: fc.integer({ min: 90, max: 130 }),
  flag: fc.constantFrom(undefined, true, false),
});
const BROKEN = ["{", '{"verdict":"approve"}', '{"verdict":"approve","x":1,"y":10,"why":7}', '{"verdict":"approve","x":1,"y":10,"flag":null}', "null"];
const specs: fc.Arbitrary<Spec[]> = fc
  .tuple(base, fc.array(fc.oneof({ weight: 12, arbitrary: variant }, { weight: 1, arbitrary: fc.constantFrom(...BROKEN) }), { minLength: 1, maxLength: 9 }))
  .map(([b, variants]) =>
    variants.map((v): Spec =>
      typeof v === "string"
        ? { raw: v }
        : {
            verdict: v.verdict ?? b.verdict,
            x: b.x + v.dx,
            spelling: v.spelling,
            y: b.y + v.dy,
            flag: v.flag === "same" ? b.flag : v.flag,
            why: v.why,
            extra: v.extra,
            reversed: v.reversed,
          },
    ),
  );
const votesOf = (list: readonly Spec[]) => list.map((s, i) => vote(NODES[i] as string, render(s)));
const committee = specs.map(votesOf);
/** A value with a threshold k in 1..its length. */
const withK = <T>(items: fc.Arbitrary<T[]>) => items.chain((list) => fc.tuple(fc.constant(list), fc.integer({ min: 1, max: list.length })));

// --- reference --------------------------------------------------------------------------------

interface Reading {
  verdict: string;
  x: number;
  yTenths: number;
  flag: boolean | undefined;
}

/** A vote's decision fields by the schema, from scratch on JSON.parse (the numbers are exact doubles). */
function reference(text: string, additionalProperties: boolean): Reading | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (!additionalProperties && Object.keys(v).some((key) => !["verdict", "x", "y", "flag", "why"].includes(key))) return undefined;
  if (typeof v["verdict"] !== "string" || !VERDICTS.includes(v["verdict"])) return undefined;
  if (typeof v["x"] !== "number" || !Number.isInteger(v["x"])) return undefined;
  if (typeof v["y"] !== "number") return undefined;
  if ("flag" in v && typeof v["flag"] !== "boolean") return undefined;
  if ("why" in v && typeof v["why"] !== "string") return undefined;
  return { verdict: v["verdict"], x: v["x"], yTenths: Math.round(v["y"] * 10), flag: v["flag"] as boolean | undefined };
}

const params = fc.boolean();

// --- properties -------------------------------------------------------------------------------

describe("structured@2: every supporter equals the canonical output in every exact decision field", () => {
  it("and is within tolerance in every number field; the canonical numbers are the supporters' lower medians", () => {
    fc.assert(
      fc.property(withK(committee), params, ([vs, k], additional) => {
        const d = decide(schema(additional), vs, k);
        if (!d.agreed) return;
        expect(d.supporters.length).toBeGreaterThanOrEqual(k);
        const canonical = JSON.parse(d.output) as Record<string, unknown>;
        // Decision fields only: no commentary, no undeclared key.
        expect(Object.keys(canonical).every((key) => ["verdict", "x", "y", "flag"].includes(key))).toBe(true);
        const c = reference(d.output, false);
        if (!c) throw new Error(`the canonical output reads under its own schema: ${d.output}`);
        const supporters = vs.filter((v) => d.supporters.includes(v.node));
        const readings = supporters.map((v) => reference(v.output, additional));
        for (const r of readings) {
          if (!r) throw new Error("a supporter reads under the schema");
          expect(r.verdict).toBe(c.verdict);
          expect(r.flag).toBe(c.flag);
          expect(Math.abs(r.x - c.x)).toBeLessThanOrEqual(X_TOL);
          expect(Math.abs(r.yTenths - c.yTenths) * 1_000_000).toBeLessThanOrEqual(Y_REL_PPM * Math.abs(c.yTenths));
        }
        const lowerMedian = (values: number[]) => [...values].sort((a, b) => a - b)[(values.length - 1) >> 1];
        expect(c.x).toBe(lowerMedian(readings.map((r) => (r as Reading).x)));
        expect(c.yTenths).toBe(lowerMedian(readings.map((r) => (r as Reading).yTenths)));
        // A vote the schema refuses never supports.
        for (const v of vs) if (!reference(v.output, additional)) expect(d.supporters).not.toContain(v.node);
      }),
      { seed: 1101, numRuns: RUNS },
    );
  });
});

describe("structured@2: decisions do not depend on vote order", () => {
  it("any permutation, any k", () => {
    const withOrder = committee.chain((vs) =>
      fc.tuple(fc.constant(vs), fc.shuffledSubarray(vs, { minLength: vs.length, maxLength: vs.length }), fc.integer({ min: 1, max: vs.length })),
    );
    fc.assert(
      fc.property(withOrder, params, ([vs, order, k], additional) => {
        expect(decide(schema(additional), order, k)).toEqual(decide(schema(additional), vs, k));
      }),
      { seed: 1102, numRuns: RUNS },
    );
  });
});

describe("structured@2: commentary never changes a decision", () => {
  it("rewriting every vote's commentary keeps the agreement, the canonical output and the supporters", () => {
    fc.assert(
      fc.property(withK(specs), fc.array(why, { minLength: 9, maxLength: 9 }), params, ([list, k], comments, additional) => {
        const rewritten = list.map((s, i) => ("raw" in s ? s : { ...s, why: comments[i] }));
        const before = decide(schema(additional), votesOf(list), k);
        const after = decide(schema(additional), votesOf(rewritten), k);
        expect(after.agreed).toBe(before.agreed);
        if (before.agreed && after.agreed) {
          expect(after.output).toBe(before.output);
          expect(after.supporters).toEqual(before.supporters);
        }
      }),
      { seed: 1103, numRuns: RUNS },
    );
  });
});
