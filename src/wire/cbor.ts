/**
 * Deterministic CBOR (RFC 8949 §4.2.1) and the strict reading helpers every message schema is
 * built from. A decode is canonical only if re-encoding the decoded value gives the same bytes:
 * that one comparison rejects unsorted keys, non-minimal integers and lengths, floats standing
 * in for integers and malformed UTF-8, whatever the decoder library tolerates.
 */
import { decode, encode, rfc8949EncodeOptions, Token } from "cborg";
import { ConcordError } from "../errors.ts";
import type { Bytes } from "./types.ts";

const decodeOptions = {
  strict: true,
  rejectDuplicateMapKeys: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowNaN: false,
  allowInfinity: false,
  allowBigInt: false,
  useMaps: false,
  tags: [],
};

type MapEntry = (Token | Token[])[];
const encodedKeyOrder = rfc8949EncodeOptions.mapSorter ?? missingSorter;

function missingSorter(): never {
  throw new Error("cborg's RFC 8949 options have no map sorter");
}

/**
 * RFC 8949 §4.2.1 orders map keys by their encoded bytes. A text key's encoding is a length
 * header and then its UTF-8 bytes, and headers order by length, so text keys order by UTF-8
 * length and then bytewise: the same order, without encoding every key on every comparison
 * (which cborg's own sorter does, and which cost a fifth of every encode). Other keys fall back
 * to cborg's sorter; test/unit/wire/cbor.test.ts checks both give the same bytes.
 */
function textKeyOrder(e1: MapEntry, e2: MapEntry): number {
  const k1 = e1[0];
  const k2 = e2[0];
  if (k1 instanceof Token && k2 instanceof Token && typeof k1.value === "string" && typeof k2.value === "string") {
    return compareTextKeys(k1.value, k2.value);
  }
  return encodedKeyOrder(e1, e2);
}

const ASCII = /^[\x00-\x7f]*$/;

function compareTextKeys(a: string, b: string): number {
  if (ASCII.test(a) && ASCII.test(b)) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  const bytesA = Buffer.from(a, "utf8");
  const bytesB = Buffer.from(b, "utf8");
  return bytesA.length - bytesB.length || Buffer.compare(bytesA, bytesB);
}

const canonicalOptions = { ...rfc8949EncodeOptions, mapSorter: textKeyOrder };

/** Canonical CBOR bytes of a value built from maps with text keys, lists, ints, text and bytes. */
export function encodeCanonical(value: unknown): Bytes {
  return encode(value, canonicalOptions);
}

/** Strict CBOR decode: one item, no tags, no indefinite lengths, no undefined, no big integers. */
export function decodeStrict(bytes: Bytes, maxBytes: number): unknown {
  if (!(bytes instanceof Uint8Array)) throw schemaError("$", "expected bytes");
  if (bytes.length > maxBytes) {
    throw new ConcordError("WIRE_OVERSIZED", "message over size limit", { details: `${bytes.length} > ${maxBytes} bytes` });
  }
  try {
    return decode(bytes, decodeOptions);
  } catch (cause) {
    throw new ConcordError("WIRE_DECODE", "not valid CBOR", { details: (cause as Error).message, cause });
  }
}

export function schemaError(path: string, problem: string): ConcordError {
  return new ConcordError("WIRE_SCHEMA", "message does not match its schema", { details: `${path}: ${problem}` });
}

export type WireMap = { readonly [key: string]: unknown };

/** A map with exactly the `required` keys and any of the `optional` ones, nothing else. */
export function readMap(value: unknown, path: string, required: readonly string[], optional: readonly string[] = []): WireMap {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw schemaError(path, "expected a map");
  }
  const map = value as WireMap;
  let known = 0;
  for (const key of required) {
    if (!Object.hasOwn(map, key)) throw schemaError(path, `missing key "${key}"`);
    known++;
  }
  for (const key of optional) if (Object.hasOwn(map, key)) known++;
  if (Object.keys(map).length !== known) {
    const extra = Object.keys(map).filter((key) => !required.includes(key) && !optional.includes(key));
    throw schemaError(path, `unknown key "${extra[0] ?? "?"}"`);
  }
  return map;
}

export function readUint(value: unknown, path: string, max: number = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw schemaError(path, "expected an unsigned integer");
  if (value > max) throw schemaError(path, `must be at most ${max}`);
  return value;
}

const utf8Length = (text: string): number => Buffer.byteLength(text, "utf8");

export function readText(value: unknown, path: string, maxBytes: number, pattern?: RegExp): string {
  if (typeof value !== "string") throw schemaError(path, "expected text");
  // A UTF-16 code unit is at most 3 UTF-8 bytes: count the bytes only when it could matter.
  if (value.length > maxBytes || (value.length * 3 > maxBytes && utf8Length(value) > maxBytes)) throw schemaError(path, `longer than ${maxBytes} bytes`);
  if (pattern && !pattern.test(value)) throw schemaError(path, `does not match ${pattern}`);
  return value;
}

export function readBytes(value: unknown, path: string, minBytes: number, maxBytes: number = minBytes): Bytes {
  if (!(value instanceof Uint8Array)) throw schemaError(path, "expected bytes");
  if (value.length < minBytes || value.length > maxBytes) {
    throw schemaError(path, minBytes === maxBytes ? `expected ${minBytes} bytes` : `expected ${minBytes}..${maxBytes} bytes`);
  }
  return value;
}

export function readList<T>(value: unknown, path: string, maxItems: number, readItem: (item: unknown, path: string) => T): T[] {
  if (!Array.isArray(value)) throw schemaError(path, "expected a list");
  if (value.length > maxItems) throw schemaError(path, `more than ${maxItems} items`);
  return value.map((item, i) => readItem(item, `${path}[${i}]`));
}

export function readOneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw schemaError(path, `expected one of ${allowed.join(", ")}`);
  }
  return value as T;
}
