/**
 * Exact fixed-point numbers for policies: a JSON number becomes an integer count of
 * 10^-decimals units, read from its decimal digits (never through a float), rounded half to even
 * beyond `decimals` fractional digits. Comparisons and tolerances are integer arithmetic.
 *
 * A value is a `Scaled`: a JS number when |v| <= 2^50 (an exact integer there, and differences of
 * two such stay exact), else a bigint. Each value has exactly one representation, and `<`/`>`
 * compare numbers and bigints exactly, so the split only saves BigInt work on the common case.
 */

export type Scaled = number | bigint;

/** Largest scaled magnitude accepted: 38 decimal digits. */
export const MAX_SCALED_DIGITS = 38;

const SMALL = 2 ** 50;
const SMALL_BIG = BigInt(SMALL);
const POW10: number[] = [1];
for (let i = 1; i <= 15; i++) POW10.push((POW10[i - 1] as number) * 10);
const POW10_BIG: bigint[] = Array.from({ length: MAX_SCALED_DIGITS + 1 }, (_, i) => 10n ** BigInt(i));

/** The one representation of an integer value. */
export function toScaled(value: bigint): Scaled {
  return value <= SMALL_BIG && value >= -SMALL_BIG ? Number(value) : value;
}

export function scaledToBigint(value: Scaled): bigint {
  return typeof value === "bigint" ? value : BigInt(value);
}

/**
 * The JSON number `text` times 10^decimals as an exact integer, rounded half to even when the
 * number has more fractional digits than `decimals`; undefined when the result would have more
 * than 38 digits. `text` must match the JSON number grammar.
 *
 * @example scaleDecimal("101.2500001", 6) // 101250000
 * @example scaleDecimal("-2.5e-6", 6)      // -2 (half to even)
 * @example scaleDecimal("1e30", 6)         // 1000000000000000000000000000000000000n
 */
export function scaleDecimal(text: string, decimals: number): Scaled | undefined {
  // Fast path: up to 15 significant digits accumulate exactly in a double's integer range.
  const length = text.length;
  let i = 0;
  const negative = text.charCodeAt(0) === 0x2d;
  if (negative) i++;
  let mantissa = 0;
  let significant = 0;
  let exponent = 0;
  let fraction = false;
  for (; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      fraction = true;
      continue;
    }
    if (c === 0x65 || c === 0x45) break;
    if (fraction) exponent--;
    if (significant === 0 && c === 0x30) continue;
    if (significant === 15) return scaleDecimalDigits(text, decimals);
    mantissa = mantissa * 10 + (c - 0x30);
    significant++;
  }
  if (i < length) {
    const expText = text.slice(i + 1);
    if (expText.length > 10) return scaleDecimalDigits(text, decimals);
    exponent += Number(expText);
  }
  return scaleParts(negative, mantissa, significant, exponent, decimals);
}

/**
 * `scaleDecimal` from already gathered parts: the value is (-1)^negative * mantissa * 10^exponent,
 * `mantissa` an integer of `significant` <= 15 digits.
 */
export function scaleParts(
  negative: boolean,
  mantissa: number,
  significant: number,
  exponent: number,
  decimals: number,
): Scaled | undefined {
  if (mantissa === 0) return 0;
  const shift = exponent + decimals;
  if (shift >= 0) {
    if (significant + shift > MAX_SCALED_DIGITS) return undefined;
    if (significant + shift <= 15) {
      const value = mantissa * (POW10[shift] as number);
      return negative ? -value : value;
    }
    const big = BigInt(mantissa) * (POW10_BIG[shift] as bigint);
    return toScaled(negative ? -big : big);
  }
  const cut = -shift;
  if (cut > significant) return 0; // below a tenth of a unit
  const unit = POW10[cut] as number;
  let quotient = Math.floor(mantissa / unit);
  let remainder = mantissa - quotient * unit;
  if (remainder < 0) {
    quotient--;
    remainder += unit;
  } else if (remainder >= unit) {
    quotient++;
    remainder -= unit;
  }
  const magnitude = 2 * remainder > unit || (2 * remainder === unit && quotient % 2 === 1) ? quotient + 1 : quotient;
  return negative && magnitude !== 0 ? -magnitude : magnitude;
}

/** The same function over digit strings and BigInt, for long mantissas and exponents. */
function scaleDecimalDigits(text: string, decimals: number): Scaled | undefined {
  let pos = 0;
  const negative = text.charCodeAt(0) === 0x2d;
  if (negative) pos++;
  let end = text.length;
  let exponent = 0;
  const e = Math.max(text.indexOf("e"), text.indexOf("E"));
  if (e >= 0) {
    const expText = text.slice(e + 1);
    const expDigits = expText.replace(/^[+-]/, "");
    // Exponents past 9 digits make the value 0 after rounding or too large: clamp, keep the sign.
    exponent = expDigits.replace(/^0+/, "").length > 9 ? (expText.startsWith("-") ? -1e9 : 1e9) : Number(expText);
    end = e;
  }
  const dot = text.indexOf(".", pos);
  let digits: string;
  if (dot >= 0 && dot < end) {
    digits = text.slice(pos, dot) + text.slice(dot + 1, end);
    exponent -= end - dot - 1;
  } else {
    digits = text.slice(pos, end);
  }
  let lead = 0;
  while (lead < digits.length && digits.charCodeAt(lead) === 0x30) lead++;
  digits = digits.slice(lead);
  if (digits.length === 0) return 0;
  const shift = exponent + decimals;
  let magnitude: bigint;
  if (shift >= 0) {
    if (digits.length + shift > MAX_SCALED_DIGITS) return undefined;
    magnitude = BigInt(shift === 0 ? digits : digits + "0".repeat(shift));
  } else {
    const cut = -shift;
    if (cut > digits.length) return 0; // below a tenth of a unit
    const kept = digits.slice(0, digits.length - cut);
    const dropped = digits.slice(digits.length - cut);
    if (kept.length > MAX_SCALED_DIGITS + 1) return undefined;
    magnitude = kept.length === 0 ? 0n : BigInt(kept);
    const first = dropped.charCodeAt(0);
    let up: boolean;
    if (first > 0x35) up = true;
    else if (first < 0x35) up = false;
    else if (/[1-9]/.test(dropped.slice(1))) up = true;
    else up = magnitude % 2n === 1n;
    if (up) magnitude += 1n;
    if (magnitude.toString().length > MAX_SCALED_DIGITS) return undefined;
  }
  return toScaled(negative ? -magnitude : magnitude);
}

/**
 * The canonical decimal text of `scaled / 10^decimals`: no exponent, no trailing fractional
 * zeros, no "." without digits after it, "-" only for negative values, "0" for zero.
 *
 * @example formatScaled(101250000, 6) // "101.25"
 */
export function formatScaled(scaled: Scaled, decimals: number): string {
  const negative = scaled < 0;
  // Integers up to 2^50 print exactly, without exponent, through Number#toString.
  const magnitude = typeof scaled === "bigint" ? (negative ? -scaled : scaled).toString() : String(negative ? -scaled : scaled);
  const digits = magnitude.length > decimals ? magnitude : magnitude.padStart(decimals + 1, "0");
  const whole = digits.slice(0, digits.length - decimals);
  let cut = digits.length;
  while (cut > whole.length && digits.charCodeAt(cut - 1) === 0x30) cut--;
  const body = cut > whole.length ? `${whole}.${digits.slice(whole.length, cut)}` : whole;
  return negative ? `-${body}` : body;
}

/** Orders two values (numbers and bigints compare exactly). */
export function compareScaled(a: Scaled, b: Scaled): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * |value - centre| <= absTol, or |value - centre| * 1,000,000 <= relTolPpm * |centre|.
 * Exact: numbers while every product provably fits in 2^53, BigInt otherwise.
 */
export function withinTolerance(value: Scaled, centre: Scaled, absTol: number, relTolPpm: number): boolean {
  if (typeof value === "number" && typeof centre === "number") {
    const diff = Math.abs(value - centre); // both |.| <= 2^50: exact
    if (diff <= absTol) return true;
    const lhs = diff * 1_000_000;
    const rhs = relTolPpm * Math.abs(centre);
    // A double product at most MAX_SAFE is the exact product.
    if (lhs <= MAX_SAFE && rhs <= MAX_SAFE) return lhs <= rhs;
  }
  const v = scaledToBigint(value);
  const c = scaledToBigint(centre);
  const d = v > c ? v - c : c - v;
  if (d <= BigInt(absTol)) return true;
  return d * 1_000_000n <= BigInt(relTolPpm) * (c < 0n ? -c : c);
}

/**
 * Whether a JSON number text is an integer (JSON Schema's `integer`): `1`, `-0`, `1.0`, `12e1`
 * and `1200e-2` are; `1.5` and `1e-1` are not. `text` must match the JSON number grammar.
 */
export function isIntegralJsonNumber(text: string): boolean {
  const match = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!match) return false;
  const fraction = match[2] ?? "";
  let digits = (match[1] as string) + fraction;
  const trimmed = digits.replace(/0+$/, "");
  if (trimmed.replace(/^0+/, "") === "") return true; // zero
  const trailingZeros = digits.length - trimmed.length;
  digits = trimmed;
  const exponentText = match[3] ?? "0";
  // A huge exponent either way: compare as text length to stay exact.
  if (exponentText.replace(/^[+-]?0*/, "").length > 9) return !exponentText.startsWith("-");
  const exponent = Number(exponentText);
  return exponent - fraction.length + trailingZeros >= 0;
}
