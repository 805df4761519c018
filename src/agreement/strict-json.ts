/**
 * A strict JSON reader for policy inputs (RFC 8259 grammar, nothing more): duplicate keys (at any
 * depth), lone surrogates (raw or escaped), leading zeros, trailing commas, comments, non-JSON
 * whitespace and anything after the value are all rejected, so every implementation reads one text
 * one way. Depth and size are capped. A number is kept as its source text, or, for a key the
 * schema declares with `decimals`, read exactly into fixed point (decimal.ts), never through a
 * float.
 *
 * Invalid input returns undefined; it never throws.
 */

import { scaleDecimal, scaleParts } from "./decimal.ts";
import type { Scaled } from "./decimal.ts";

/** A JSON number, kept as its source text. */
export interface JsonNumber {
  readonly number: string;
}

/** Markers for containers the reader checked but did not keep. */
export const JSON_ARRAY: unique symbol = Symbol("json array");
export const JSON_OBJECT: unique symbol = Symbol("json object");
/** A number at a fixed-point key whose value needs more than 38 digits there. */
export const NUMBER_OUT_OF_RANGE: unique symbol = Symbol("number out of range");

/**
 * A member value as read: a string's value, a boolean, null, a number (its text, or its fixed-point
 * value at a key the schema gives `decimals`), or a marker.
 */
export type JsonMember =
  | string
  | boolean
  | null
  | JsonNumber
  | Scaled
  | typeof JSON_ARRAY
  | typeof JSON_OBJECT
  | typeof NUMBER_OUT_OF_RANGE;

/** The keys a reader keeps, by slot. Build with `jsonObjectSchema`. */
export interface JsonObjectSchema {
  readonly slots: ReadonlyMap<string, number>;
  readonly names: readonly string[];
  /** Per slot: read a number there at this many decimals, or -1 to keep its text. */
  readonly decimals: readonly number[];
  /** Per slot: the key is plain printable ASCII, so its raw text can be matched in place. */
  readonly plain: readonly boolean[];
}

/**
 * A schema keeping `names` (slot = index). `decimals[i] >= 0` reads a number at key i as fixed
 * point with that many decimals.
 */
export function jsonObjectSchema(names: readonly string[], decimals: readonly number[] = []): JsonObjectSchema {
  return {
    slots: new Map(names.map((name, index) => [name, index])),
    names,
    decimals: names.map((_, index) => decimals[index] ?? -1),
    plain: names.map((name) => /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/.test(name)),
  };
}

/**
 * Learned key order for reading many objects of one shape: `next[s]` is the slot that followed
 * slot s last time (`next[size]`: the first slot), so a key is usually matched in place without
 * building a string. Only speed depends on it, never the result.
 */
export function keyOrderHint(schema: JsonObjectSchema): number[] {
  return new Array<number>(schema.names.length + 1).fill(-1);
}

export interface StrictJsonLimits {
  /** Longest accepted text, in UTF-16 code units. */
  maxChars: number;
  /** Deepest nesting of arrays and objects (the top-level object is depth 1). */
  maxDepth: number;
}

export const DEFAULT_JSON_LIMITS: StrictJsonLimits = { maxChars: 65_536, maxDepth: 16 };

export interface JsonObjectRead {
  /** Members whose key is in the schema, at the schema's index; undefined where absent. */
  values: (JsonMember | undefined)[];
  /** How many keys the schema does not name. */
  extraKeys: number;
}

class JsonSyntax extends Error {}
const FAIL = new JsonSyntax("invalid JSON");

// Reader state: one parse at a time (parsing is synchronous and never re-entered).
let src = "";
let pos = 0;
let end = 0;
let depthLimit = 0;

function skipWhitespace(): void {
  const text = src;
  let at = pos;
  while (at < end) {
    const c = text.charCodeAt(at);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) at++;
    else break;
  }
  pos = at;
}

function readHex4(): number {
  if (pos + 4 > end) throw FAIL;
  let value = 0;
  for (let i = 0; i < 4; i++) {
    const c = src.charCodeAt(pos + i);
    let digit: number;
    if (c >= 0x30 && c <= 0x39) digit = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) digit = c - 0x57;
    else if (c >= 0x41 && c <= 0x46) digit = c - 0x37;
    else throw FAIL;
    value = value * 16 + digit;
  }
  pos += 4;
  return value;
}

/** Reads a string starting at its opening quote. */
function readString(): string {
  pos++;
  let out = "";
  let runStart = pos;
  for (;;) {
    if (pos >= end) throw FAIL;
    const c = src.charCodeAt(pos);
    if (c === 0x22) {
      out = out.length === 0 ? src.slice(runStart, pos) : out + src.slice(runStart, pos);
      pos++;
      return out;
    }
    if (c < 0x20) throw FAIL;
    if (c >= 0xd800 && c <= 0xdfff) {
      // A raw surrogate must be a well-formed pair.
      const next = pos + 1 < end ? src.charCodeAt(pos + 1) : 0;
      if (c > 0xdbff || next < 0xdc00 || next > 0xdfff) throw FAIL;
      pos += 2;
      continue;
    }
    if (c !== 0x5c) {
      pos++;
      continue;
    }
    out += src.slice(runStart, pos);
    pos++;
    if (pos >= end) throw FAIL;
    const e = src.charCodeAt(pos);
    pos++;
    switch (e) {
      case 0x22: out += '"'; break;
      case 0x5c: out += "\\"; break;
      case 0x2f: out += "/"; break;
      case 0x62: out += "\b"; break;
      case 0x66: out += "\f"; break;
      case 0x6e: out += "\n"; break;
      case 0x72: out += "\r"; break;
      case 0x74: out += "\t"; break;
      case 0x75: {
        const unit = readHex4();
        if (unit >= 0xd800 && unit <= 0xdbff) {
          if (src.charCodeAt(pos) !== 0x5c || src.charCodeAt(pos + 1) !== 0x75) throw FAIL;
          pos += 2;
          const low = readHex4();
          if (low < 0xdc00 || low > 0xdfff) throw FAIL;
          out += String.fromCharCode(unit, low);
        } else if (unit >= 0xdc00 && unit <= 0xdfff) {
          throw FAIL;
        } else {
          out += String.fromCharCode(unit);
        }
        break;
      }
      default:
        throw FAIL;
    }
    runStart = pos;
  }
}

function readDigits(): void {
  const start = pos;
  while (pos < end) {
    const c = src.charCodeAt(pos);
    if (c >= 0x30 && c <= 0x39) pos++;
    else break;
  }
  if (pos === start) throw FAIL;
}

/**
 * Reads a number; with `decimals >= 0` returns its fixed-point value (decimal.ts), gathering the
 * digits while checking the grammar, else its text.
 */
function readNumber(decimals: number): JsonNumber | Scaled | typeof NUMBER_OUT_OF_RANGE {
  const start = pos;
  const negative = src.charCodeAt(pos) === 0x2d;
  if (negative) pos++;
  let mantissa = 0;
  let significant = 0;
  let exponent = 0;
  let long = false;
  let c = src.charCodeAt(pos);
  if (c === 0x30) {
    pos++;
  } else {
    if (!(c >= 0x31 && c <= 0x39)) throw FAIL;
    do {
      if (significant < 15) mantissa = mantissa * 10 + (c - 0x30);
      else long = true;
      significant++;
      c = src.charCodeAt(++pos);
    } while (c >= 0x30 && c <= 0x39);
  }
  if (src.charCodeAt(pos) === 0x2e) {
    c = src.charCodeAt(++pos);
    if (!(c >= 0x30 && c <= 0x39)) throw FAIL;
    do {
      exponent--;
      if (significant > 0 || c !== 0x30) {
        if (significant < 15) mantissa = mantissa * 10 + (c - 0x30);
        else long = true;
        significant++;
      }
      c = src.charCodeAt(++pos);
    } while (c >= 0x30 && c <= 0x39);
  }
  c = src.charCodeAt(pos);
  if (c === 0x65 || c === 0x45) {
    c = src.charCodeAt(++pos);
    const expNegative = c === 0x2d;
    if (c === 0x2b || c === 0x2d) c = src.charCodeAt(++pos);
    if (!(c >= 0x30 && c <= 0x39)) throw FAIL;
    let value = 0;
    let digits = 0;
    do {
      value = value * 10 + (c - 0x30);
      digits++;
      c = src.charCodeAt(++pos);
    } while (c >= 0x30 && c <= 0x39);
    if (digits > 9) long = true;
    exponent += expNegative ? -value : value;
  }
  if (decimals < 0) return { number: src.slice(start, pos) };
  const scaled = long
    ? scaleDecimal(src.slice(start, pos), decimals)
    : scaleParts(negative, mantissa, significant, exponent, decimals);
  return scaled ?? NUMBER_OUT_OF_RANGE;
}

function readLiteral(word: string): void {
  if (src.startsWith(word, pos)) pos += word.length;
  else throw FAIL;
}

/** Reads any value; containers are walked and checked but not kept. */
function readValue(depth: number, numberDecimals = -1): JsonMember {
  skipWhitespace();
  if (pos >= end) throw FAIL;
  const c = src.charCodeAt(pos);
  if (c === 0x22) return readString();
  if (c === 0x7b) {
    readObject(depth + 1, undefined, undefined, undefined);
    return JSON_OBJECT;
  }
  if (c === 0x5b) {
    readArray(depth + 1);
    return JSON_ARRAY;
  }
  if (c === 0x74) {
    readLiteral("true");
    return true;
  }
  if (c === 0x66) {
    readLiteral("false");
    return false;
  }
  if (c === 0x6e) {
    readLiteral("null");
    return null;
  }
  if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return readNumber(numberDecimals);
  throw FAIL;
}

function readArray(depth: number): void {
  if (depth > depthLimit) throw FAIL;
  pos++;
  skipWhitespace();
  if (src.charCodeAt(pos) === 0x5d) {
    pos++;
    return;
  }
  for (;;) {
    readValue(depth);
    skipWhitespace();
    const c = src.charCodeAt(pos);
    pos++;
    if (c === 0x5d) return;
    if (c !== 0x2c) throw FAIL;
  }
}

/**
 * Reads an object at its opening brace. With a schema, members it names go to `out.values`; every
 * other key only counts (and must still be unique).
 */
function readObject(
  depth: number,
  schema: JsonObjectSchema | undefined,
  out: JsonObjectRead | undefined,
  order: number[] | undefined,
): void {
  if (depth > depthLimit) throw FAIL;
  pos++;
  let others: Set<string> | undefined;
  skipWhitespace();
  if (src.charCodeAt(pos) === 0x7d) {
    pos++;
    return;
  }
  let previous = schema ? schema.names.length : 0;
  for (;;) {
    skipWhitespace();
    if (src.charCodeAt(pos) !== 0x22) throw FAIL;
    let slot = -1;
    let key: string | undefined;
    if (schema) {
      // Try the key that followed the previous one last time, in place (no string built).
      const guess = order ? (order[previous] as number) : -1;
      if (guess >= 0 && schema.plain[guess]) {
        const name = schema.names[guess] as string;
        const length = name.length;
        const start = pos + 1;
        const text = src;
        if (text.charCodeAt(start + length) === 0x22) {
          let i = 0;
          while (i < length && text.charCodeAt(start + i) === name.charCodeAt(i)) i++;
          if (i === length) {
            slot = guess;
            pos = start + length + 1;
          }
        }
      }
      if (slot < 0) {
        key = readString();
        slot = schema.slots.get(key) ?? -1;
      }
    } else {
      key = readString();
    }
    skipWhitespace();
    if (src.charCodeAt(pos) !== 0x3a) throw FAIL;
    pos++;
    if (out && schema && slot >= 0) {
      if (out.values[slot] !== undefined) throw FAIL;
      out.values[slot] = readValue(depth, schema.decimals[slot]);
      if (order) order[previous] = slot;
      previous = slot;
    } else {
      others ??= new Set<string>();
      if (others.has(key as string)) throw FAIL;
      others.add(key as string);
      readValue(depth);
      if (out) out.extraKeys++;
    }
    skipWhitespace();
    const c = src.charCodeAt(pos);
    pos++;
    if (c === 0x7d) return;
    if (c !== 0x2c) throw FAIL;
  }
}

/**
 * Parses `text` as one JSON object. Members whose key `schema` names come back at their slot
 * (scalars as read, containers as markers); other keys are only counted. Undefined when the text
 * is not a strictly valid JSON object within `limits`. `order` (from `keyOrderHint`) only speeds
 * up reading many objects with the same key order.
 *
 * @example readJsonObject('{"a": 1.50, "b": "x", "c": [1]}', jsonObjectSchema(["a", "b"], [2]))
 *   // { values: [150, "x"], extraKeys: 1 }
 */
export function readJsonObject(
  text: string,
  schema: JsonObjectSchema,
  limits: StrictJsonLimits = DEFAULT_JSON_LIMITS,
  order?: number[],
): JsonObjectRead | undefined {
  if (text.length > limits.maxChars) return undefined;
  src = text;
  pos = 0;
  end = text.length;
  depthLimit = limits.maxDepth;
  const out: JsonObjectRead = { values: new Array<JsonMember | undefined>(schema.names.length).fill(undefined), extraKeys: 0 };
  try {
    skipWhitespace();
    if (src.charCodeAt(pos) !== 0x7b) return undefined;
    readObject(1, schema, out, order);
    skipWhitespace();
    return pos === end ? out : undefined;
  } catch (error) {
    if (error instanceof JsonSyntax) return undefined;
    throw error;
  } finally {
    src = "";
  }
}
