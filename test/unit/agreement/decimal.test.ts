import { describe, expect, it } from "vitest";
import { compareScaled, formatScaled, scaleDecimal, withinTolerance } from "../../../src/agreement/decimal.ts";

describe("scaleDecimal: JSON number text to fixed point, exactly", () => {
  it("reads plain, fractional and exponent forms to the same integer", () => {
    for (const text of ["101.25", "101.250000", "1.0125e2", "10125E-2", "0.010125e4"]) expect(scaleDecimal(text, 6)).toBe(101_250_000);
    expect(scaleDecimal("0", 6)).toBe(0);
    expect(scaleDecimal("-0.0", 6)).toBe(0);
    expect(scaleDecimal("-3", 0)).toBe(-3);
  });

  it("rounds half to even beyond the declared decimals", () => {
    expect(scaleDecimal("0.5", 0)).toBe(0);
    expect(scaleDecimal("1.5", 0)).toBe(2);
    expect(scaleDecimal("2.5", 0)).toBe(2);
    expect(scaleDecimal("2.5000001", 0)).toBe(3);
    expect(scaleDecimal("-2.5", 0)).toBe(-2);
    expect(scaleDecimal("-2.5e-6", 6)).toBe(-2);
    expect(scaleDecimal("1e-7", 6)).toBe(0);
    expect(scaleDecimal("9.9999999999999999999999", 6)).toBe(10_000_000);
  });

  it("does not go through a float: 0.1 + 0.2 style values stay exact", () => {
    expect(scaleDecimal("0.3", 18)).toBe(300_000_000_000_000_000n);
    expect(scaleDecimal("0.30000000000000004", 17)).toBe(30_000_000_000_000_004n);
    expect(scaleDecimal("0.30000000000000004", 16)).toBe(3_000_000_000_000_000n);
    expect(scaleDecimal("123456789012345678901234567890", 0)).toBe(123456789012345678901234567890n);
  });

  it("keeps small values as numbers and large ones as bigints", () => {
    expect(typeof scaleDecimal("1000000000", 6)).toBe("number"); // 1e15 < 2^50
    expect(typeof scaleDecimal("2000000000", 6)).toBe("bigint"); // 2e15 > 2^50
  });

  it("refuses values past 38 digits, however they are written", () => {
    expect(scaleDecimal("1e31", 6)).toBe(10n ** 37n);
    expect(scaleDecimal("1e32", 6)).toBeUndefined();
    expect(scaleDecimal("1e999999999999", 0)).toBeUndefined();
    expect(scaleDecimal("1e-999999999999", 18)).toBe(0);
  });
});

describe("formatScaled: the canonical decimal text", () => {
  it("writes no exponent and no trailing zeros", () => {
    expect(formatScaled(101_250_000, 6)).toBe("101.25");
    expect(formatScaled(-5, 6)).toBe("-0.000005");
    expect(formatScaled(0, 6)).toBe("0");
    expect(formatScaled(7, 0)).toBe("7");
    expect(formatScaled(10n ** 37n, 6)).toBe("10000000000000000000000000000000");
  });
});

describe("withinTolerance", () => {
  it("takes the absolute or the relative tolerance (relative to the centre)", () => {
    expect(withinTolerance(105, 100, 5, 0)).toBe(true);
    expect(withinTolerance(106, 100, 5, 0)).toBe(false);
    expect(withinTolerance(106, 100, 5, 60_000)).toBe(true); // 6 * 1e6 <= 60,000 * 100
    expect(withinTolerance(107, 100, 5, 60_000)).toBe(false);
    expect(withinTolerance(-100, 100, 0, 1_000_000)).toBe(false);
  });

  it("is exact for large values (bigint path) and mixed representations", () => {
    const big = 10n ** 30n;
    expect(withinTolerance(big + 1n, big, 1, 0)).toBe(true);
    expect(withinTolerance(big + 2n, big, 1, 0)).toBe(false);
    expect(withinTolerance(big + 10n ** 24n, big, 0, 1)).toBe(true); // 1 ppm of 1e30 is 1e24
    expect(withinTolerance(2 ** 50, 2n ** 50n + 1n, 1, 0)).toBe(true);
    // At the boundary, on the number path: d * 1e6 <= 1 * (2^50 - d) holds up to d = 1,125,898,780.
    expect(withinTolerance(2 ** 50, 2 ** 50 - 1_125_898_780, 0, 1)).toBe(true);
    expect(withinTolerance(2 ** 50, 2 ** 50 - 1_125_898_781, 0, 1)).toBe(false);
    // Products past 2^53 fall back to BigInt and still decide exactly (d <= 1,124,775,131,710).
    expect(withinTolerance(2 ** 50, 2 ** 50 - 1_124_775_131_710, 0, 1_000)).toBe(true);
    expect(withinTolerance(2 ** 50, 2 ** 50 - 1_124_775_131_711, 0, 1_000)).toBe(false);
    expect(compareScaled(2n ** 60n, 2 ** 50)).toBe(1);
  });
});
