/**
 * Strict readers for policy parameters (a CBOR-able tree: integers, text, booleans, lists, maps).
 * Unknown keys, wrong types and out-of-range values all throw POLICY_PARAMS, so two verifiers
 * never read one parameter map two ways.
 */
import { ConcordError } from "../errors.ts";
import type { PolicyParamValue, PolicyParams } from "../wire/types.ts";

/** Throws POLICY_PARAMS for `policy`, naming the offending `path`. */
export function paramsError(policy: string, path: string, problem: string): ConcordError {
  return new ConcordError("POLICY_PARAMS", `invalid ${policy} parameters`, { details: `${path}: ${problem}` });
}

export function isParamMap(value: PolicyParamValue | undefined): value is PolicyParams {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Rejects any key of `params` not in `allowed`. */
export function checkKeys(policy: string, path: string, params: PolicyParams, allowed: readonly string[]): void {
  for (const key of Object.keys(params)) {
    if (!allowed.includes(key)) throw paramsError(policy, path ? `${path}.${key}` : key, "unknown key");
  }
}

/** An integer in [min, max], or `fallback` when absent. */
export function readInt(
  policy: string,
  params: PolicyParams,
  key: string,
  range: { min: number; max: number; fallback: number },
  path = "",
): number {
  const value = params[key];
  const where = path ? `${path}.${key}` : key;
  if (value === undefined) return range.fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) throw paramsError(policy, where, "not an integer");
  if (value < range.min || value > range.max) throw paramsError(policy, where, `not in [${range.min}, ${range.max}]`);
  return value;
}

/** An optional integer in [min, max]; undefined when absent. */
export function readOptionalInt(
  policy: string,
  params: PolicyParams,
  key: string,
  range: { min: number; max: number },
  path = "",
): number | undefined {
  if (params[key] === undefined) return undefined;
  return readInt(policy, params, key, { ...range, fallback: 0 }, path);
}

export function readBool(policy: string, params: PolicyParams, key: string, fallback: boolean, path = ""): boolean {
  const value = params[key];
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw paramsError(policy, path ? `${path}.${key}` : key, "not a boolean");
  return value;
}

export function readEnum<T extends string>(
  policy: string,
  params: PolicyParams,
  key: string,
  choices: readonly T[],
  fallback: T,
  path = "",
): T {
  const value = params[key];
  if (value === undefined) return fallback;
  const found = choices.find((choice) => choice === value);
  if (found === undefined) throw paramsError(policy, path ? `${path}.${key}` : key, `not one of ${choices.join("|")}`);
  return found;
}

/** A nested map, or an empty one when absent. */
export function readMap(policy: string, params: PolicyParams, key: string, path = ""): PolicyParams {
  const value = params[key];
  if (value === undefined) return {};
  if (!isParamMap(value)) throw paramsError(policy, path ? `${path}.${key}` : key, "not a map");
  return value;
}
