/**
 * Properties of how the structured policy reads outputs (fast-check, fixed seeds): exact decimal
 * fixed point against a from-scratch BigInt reference, the canonical decimal text round trip, and
 * the strict JSON reader against JSON.parse.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatScaled, scaleDecimal, scaledToBigint, toScaled } from "../../src/agreement/decimal.ts";
import { JSON_ARRAY, JSON_OBJECT, jsonObjectSchema, readJsonObject } from "../../src/agreement/strict-json.ts";

const RUNS = Number(process.env["CONCORD_PROPERTY_RUNS"] ?? 500);

/** value * 10^decimals, half to even, from the JSON number text, by BigInt rationals. */
function reference(text: string, decimals: number): bigint | undefined {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!match) throw new Error(`not a JSON number: ${text}`);
  const [, sign, whole, fraction = "", exp = "0"] = match;
  const mantissa = BigInt(`${whole}${fraction}`);
  const exponent = Number(exp) - fraction.length + decimals;
  let value: bigint;
  if (exponent >= 0) {
    value = mantissa * 10n ** BigInt(exponent);
  } else {
    const unit = 10n ** BigInt(-exponent);
    const q = mantissa / unit;
    const r = mantissa % unit;
    value = 2n * r > unit || (2n * r === unit && q % 2n === 1n) ? q + 1n : q;
  }
  if (value.toString().length > 38) return undefined;
  return sign === "-" ? -value : value;
}

const digits = (min: number, max: number) =>
  fc.array(fc.constantFrom(..."0123456789"), { minLength: min, maxLength: max }).map((d) => d.join(""));
const jsonNumber = fc
  .record({
    negative: fc.boolean(),
    whole: fc.oneof(fc.constant("0"), fc.tuple(fc.constantFrom(..."123456789"), digits(0, 20)).map(([a, b]) => a + b)),
    fraction: fc.option(digits(1, 25), { nil: undefined }),
    exponent: fc.option(fc.tuple(fc.constantFrom("e", "E"), fc.constantFrom("", "+", "-"), fc.integer({ min: 0, max: 40 })), {
      nil: undefined,
    }),
  })
  .map(({ negative, whole, fraction, exponent }) => {
    let text = (negative ? "-" : "") + whole;
    if (fraction !== undefined) text += `.${fraction}`;
    if (exponent) text += `${exponent[0]}${exponent[1]}${exponent[2]}`;
    return text;
  });

describe("exact decimal fixed point", () => {
  it("scaleDecimal equals the BigInt reference (half to even, 38-digit cap), one representation per value", () => {
    fc.assert(
      fc.property(jsonNumber, fc.integer({ min: 0, max: 18 }), (text, decimals) => {
        const got = scaleDecimal(text, decimals);
        const want = reference(text, decimals);
        if (want === undefined) {
          expect(got).toBeUndefined();
          return;
        }
        expect(got).toBeDefined();
        expect(scaledToBigint(got as bigint | number)).toBe(want);
        expect(got).toBe(toScaled(want)); // a number up to 2^50, a bigint beyond
      }),
      { seed: 801, numRuns: RUNS * 4 },
    );
  });

  it("the canonical decimal text reads back to the same value", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 38n) + 1n, max: 10n ** 38n - 1n }), fc.integer({ min: 0, max: 18 }), (value, decimals) => {
        const scaled = toScaled(value);
        const text = formatScaled(scaled, decimals);
        expect(text).toMatch(/^-?(0|[1-9]\d*)(\.\d*[1-9])?$/);
        expect(scaleDecimal(text, decimals)).toBe(scaled);
      }),
      { seed: 802, numRuns: RUNS * 2 },
    );
  });
});

describe("strict JSON reading", () => {
  it("reads what JSON.stringify writes exactly as JSON.parse does", () => {
    const value = fc.jsonValue({ maxDepth: 3 });
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 6 }), value, { maxKeys: 6 }), fc.boolean(), (object, pretty) => {
        const text = pretty ? JSON.stringify(object, null, 2) : JSON.stringify(object);
        const keys = Object.keys(object);
        const read = readJsonObject(text, jsonObjectSchema(keys));
        if (!read) throw new Error(`rejected valid JSON: ${text}`);
        expect(read.extraKeys).toBe(0);
        const parsed = JSON.parse(text) as Record<string, unknown>;
        keys.forEach((key, slot) => {
          const member = read.values[slot];
          const expected = parsed[key];
          if (Array.isArray(expected)) expect(member).toBe(JSON_ARRAY);
          else if (typeof expected === "object" && expected !== null) expect(member).toBe(JSON_OBJECT);
          else if (typeof expected === "number") expect(Number((member as { number: string }).number)).toBe(expected);
          else expect(member).toBe(expected);
        });
      }),
      { seed: 901, numRuns: RUNS },
    );
  });

  it("rejects a repeated key at any depth, which JSON.parse would silently accept", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), fc.boolean(), (key, value, nested) => {
        const member = `${JSON.stringify(key)}:${JSON.stringify(value)}`;
        const object = `{${member},${member}}`;
        const text = nested ? `{"outer":${object}}` : object;
        expect(() => JSON.parse(text) as unknown).not.toThrow();
        expect(readJsonObject(text, jsonObjectSchema([]))).toBeUndefined();
      }),
      { seed: 902, numRuns: RUNS },
    );
  });
});
