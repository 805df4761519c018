/**
 * Deterministic CBOR (RFC 8949 §4.2.1): the encoder (cborg, with a faster key sorter), a strict
 * decoder that checks canonical form on the bytes as it reads them, and the reading helpers
 * every message schema is built from.
 */
import { encode, rfc8949EncodeOptions, Token } from "cborg";
import { ConcordError } from "../errors.ts";
import type { Bytes } from "./types.ts";

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

/**
 * Canonical CBOR bytes of a value built from maps with text keys, lists, ints, text and bytes.
 * Those (and booleans and null) are written directly, one pass into a reused buffer: every
 * message signed, checked, hashed or published is encoded, and cborg's general encoder (tokens,
 * then bytes) was the largest single cost after the hashes. Anything else (floats, undefined,
 * Maps, typed arrays other than bytes) goes to cborg, as before. Both give the same bytes
 * (test/unit/wire/cbor.test.ts, and every vector).
 */
export function encodeCanonical(value: unknown): Bytes {
  writer.at = 0;
  if (!writer.value(value)) return encode(value, canonicalOptions);
  const out = new Uint8Array(writer.at);
  out.set(writer.buf.subarray(0, writer.at));
  return out;
}

/** The direct encoder behind encodeCanonical; `value` returns false for what it leaves to cborg. */
class CanonicalWriter {
  buf = Buffer.allocUnsafe(4096);
  at = 0;

  #room(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + bytes));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  /** The shortest head of `major` with `argument` (a safe non-negative integer). */
  head(major: number, argument: number): void {
    this.#room(9);
    const type = major << 5;
    const buf = this.buf;
    if (argument < 24) buf[this.at++] = type | argument;
    else if (argument < 0x100) {
      buf[this.at++] = type | 24;
      buf[this.at++] = argument;
    } else if (argument < 0x10000) {
      buf[this.at++] = type | 25;
      buf.writeUInt16BE(argument, this.at);
      this.at += 2;
    } else if (argument < 0x100000000) {
      buf[this.at++] = type | 26;
      buf.writeUInt32BE(argument, this.at);
      this.at += 4;
    } else {
      buf[this.at++] = type | 27;
      buf.writeUInt32BE(Math.floor(argument / 0x100000000), this.at);
      buf.writeUInt32BE(argument >>> 0, this.at + 4);
      this.at += 8;
    }
  }

  text(text: string): void {
    if (text.length < LONG_TEXT) {
      const length = Buffer.byteLength(text, "utf8");
      this.head(3, length);
      this.#room(length);
      this.at += this.buf.write(text, this.at, length, "utf8");
      return;
    }
    // Long text in one pass: encoded past the largest head, then moved up to its shortest head
    // (measuring first cost a second pass, slow on text beyond Latin-1).
    this.#room(9 + 3 * text.length);
    const start = this.at + 9;
    const { written } = utf8Encoder.encodeInto(text, this.buf.subarray(start));
    this.head(3, written);
    this.buf.copyWithin(this.at, start, start + written);
    this.at += written;
  }

  value(value: unknown): boolean {
    switch (typeof value) {
      case "number":
        if (!Number.isSafeInteger(value) || Object.is(value, -0)) return false;
        if (value >= 0) this.head(0, value);
        else this.head(1, -1 - value);
        return true;
      case "string":
        this.text(value);
        return true;
      case "boolean":
        this.#room(1);
        this.buf[this.at++] = value ? 0xf5 : 0xf4;
        return true;
      case "object":
        break;
      default:
        return false;
    }
    if (value === null) {
      this.#room(1);
      this.buf[this.at++] = 0xf6;
      return true;
    }
    if (value instanceof Uint8Array) {
      this.head(2, value.length);
      this.#room(value.length);
      this.buf.set(value, this.at);
      this.at += value.length;
      return true;
    }
    if (Array.isArray(value)) {
      this.head(4, value.length);
      return value.every((item) => this.value(item));
    }
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) return false;
    const keys = Object.keys(value).sort(compareTextKeys);
    this.head(5, keys.length);
    for (const key of keys) {
      const item = (value as Record<string, unknown>)[key];
      if (item === undefined) return false;
      this.text(key);
      if (!this.value(item)) return false;
    }
    return true;
  }
}

const writer = new CanonicalWriter();
/** Text this long (UTF-16 units) or longer is encoded in one pass (CanonicalWriter.text). */
const LONG_TEXT = 64;
const utf8Encoder = new TextEncoder();

/** Deeper nesting than any message schema needs (policy parameters stop at a few levels). */
export const MAX_CBOR_DEPTH = 64;

/**
 * Most items (of any kind, at any depth) one message may hold. A valid message stays far below:
 * every list in a schema holds at most 64 entries, and a bundle's 64 votes and the request it
 * carries (at most 160 KiB, so that many one-byte items) come to under 200,000. Without a bound,
 * a 4 MiB bundle of empty maps would build four million objects before its schema refused it.
 */
export const MAX_CBOR_ITEMS = 1 << 18;

/** What `decodeStrict` read, and whether `bytes` were its canonical encoding. */
export interface Decoded {
  value: unknown;
  /**
   * False when the item is well formed but not canonical: map keys out of order, a float, or a
   * text string that is not well-formed UTF-8 (read with replacement characters). Reported by
   * the caller after its schema, so a schema error in such bytes is reported as one.
   */
  canonical: boolean;
}

/**
 * Strict CBOR decode of exactly one item (the subset messages use: maps with text keys, lists,
 * integers within +-(2^53 - 1), text, bytes, booleans and null). Refused with WIRE_DECODE:
 * malformed or truncated bytes, trailing bytes, tags, indefinite lengths, undefined and other
 * simple values, NaN and infinities, integers beyond 2^53 - 1, integers and lengths not in
 * their shortest form, maps keyed by anything but text, duplicate keys, nesting deeper than
 * MAX_CBOR_DEPTH, more than MAX_CBOR_ITEMS items. Canonical form is checked on the bytes themselves, without encoding again:
 * shortest heads (above), keys in the order of their encoded bytes, no floats (no message has
 * one), text that is well-formed UTF-8 (kept byte for byte, a leading U+FEFF included).
 */
export function decodeStrict(bytes: Bytes, maxBytes: number): Decoded {
  if (!(bytes instanceof Uint8Array)) throw schemaError("$", "expected bytes");
  if (bytes.length > maxBytes) {
    throw new ConcordError("WIRE_OVERSIZED", "message over size limit", { details: `${bytes.length} > ${maxBytes} bytes` });
  }
  const reader = new CborReader(bytes);
  const value = reader.item(0);
  if (reader.pos !== bytes.length) throw decodeError(`${bytes.length - reader.pos} bytes after the item`);
  return { value, canonical: reader.canonical };
}

const decodeError = (details: string) => new ConcordError("WIRE_DECODE", "not valid CBOR", { details });

const utf8Strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Lenient = new TextDecoder("utf-8", { ignoreBOM: true });
const TWO_POW_32 = 2 ** 32;

class CborReader {
  pos = 0;
  canonical = true;
  #items = 0;
  readonly #bytes: Bytes;
  readonly #view: DataView;

  constructor(bytes: Bytes) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  item(depth: number): unknown {
    if (depth > MAX_CBOR_DEPTH) throw decodeError(`nested deeper than ${MAX_CBOR_DEPTH}`);
    if (++this.#items > MAX_CBOR_ITEMS) throw decodeError(`more than ${MAX_CBOR_ITEMS} items`);
    const start = this.pos;
    const initial = this.#byte();
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (major === 7) return this.#simple(info, start);
    if (info === 31) throw decodeError(`indefinite length at byte ${start}`);
    if (major === 6) throw decodeError(`tag at byte ${start}`);
    const argument = this.#argument(info, start);
    switch (major) {
      case 0:
        if (argument > Number.MAX_SAFE_INTEGER) throw decodeError(`integer beyond 2^53 - 1 at byte ${start}`);
        return argument;
      case 1:
        if (argument > Number.MAX_SAFE_INTEGER - 1) throw decodeError(`integer beyond -(2^53 - 1) at byte ${start}`);
        return -1 - argument;
      case 2:
        // A copy, as a plain Uint8Array whatever `bytes` is (Buffer's slice would be a view).
        return new Uint8Array(this.#bytes.subarray(this.pos, this.#skip(argument)));
      case 3:
        return this.#text(argument);
      case 4:
        return this.#list(argument, depth);
      default:
        return this.#map(argument, depth);
    }
  }

  /** The argument of a head, refused unless in its shortest form (RFC 8949 §4.2.1). */
  #argument(info: number, start: number): number {
    if (info < 24) return info;
    let value: number;
    let least: number;
    if (info === 24) [value, least] = [this.#byte(), 24];
    else if (info === 25) [value, least] = [this.#view.getUint16(this.#skip(2) - 2), 0x100];
    else if (info === 26) [value, least] = [this.#view.getUint32(this.#skip(4) - 4), 0x10000];
    else if (info === 27) {
      const at = this.#skip(8) - 8;
      [value, least] = [this.#view.getUint32(at) * TWO_POW_32 + this.#view.getUint32(at + 4), TWO_POW_32];
    } else throw decodeError(`reserved additional information ${info} at byte ${start}`);
    if (value < least) throw decodeError(`integer or length not in its shortest form at byte ${start}`);
    return value;
  }

  #simple(info: number, start: number): unknown {
    if (info === 20) return false;
    if (info === 21) return true;
    if (info === 22) return null;
    if (info >= 25 && info <= 27) {
      const value = info === 25 ? halfFloat(this.#view.getUint16(this.#skip(2) - 2)) : info === 26 ? this.#view.getFloat32(this.#skip(4) - 4) : this.#view.getFloat64(this.#skip(8) - 8);
      if (!Number.isFinite(value)) throw decodeError(`NaN or infinity at byte ${start}`);
      // Read on, so the schema can name a float where it expects text; canonical messages have none.
      this.canonical = false;
      return value;
    }
    throw decodeError(info === 23 ? `undefined at byte ${start}` : info === 31 ? `break at byte ${start}` : `unsupported simple value at byte ${start}`);
  }

  #text(length: number): string {
    const start = this.pos;
    const end = this.#skip(length);
    const bytes = this.#bytes;
    if (length < 32) {
      // Keys and identifiers: short ASCII, cheaper by hand than through a TextDecoder.
      let text = "";
      for (let i = start; i < end; i++) {
        const byte = bytes[i] as number;
        if (byte >= 0x80) return this.#utf8(start, end);
        text += String.fromCharCode(byte);
      }
      return text;
    }
    return this.#utf8(start, end);
  }

  #utf8(start: number, end: number): string {
    const slice = this.#bytes.subarray(start, end);
    try {
      return utf8Strict.decode(slice);
    } catch {
      this.canonical = false;
      return utf8Lenient.decode(slice);
    }
  }

  #list(count: number, depth: number): unknown[] {
    // Every item takes at least a byte: a count beyond what is left is refused before any work.
    if (count > this.#bytes.length - this.pos) throw decodeError(`list of ${count} items in ${this.#bytes.length - this.pos} bytes`);
    const list: unknown[] = [];
    for (let i = 0; i < count; i++) list.push(this.item(depth + 1));
    return list;
  }

  #map(count: number, depth: number): Record<string, unknown> {
    if (count * 2 > this.#bytes.length - this.pos) throw decodeError(`map of ${count} entries in ${this.#bytes.length - this.pos} bytes`);
    const map: Record<string, unknown> = {};
    let previousStart = -1;
    let previousEnd = -1;
    for (let i = 0; i < count; i++) {
      const keyStart = this.pos;
      const key = this.item(depth + 1);
      if (typeof key !== "string") throw decodeError(`map key that is not text at byte ${keyStart}`);
      if (Object.hasOwn(map, key)) throw decodeError(`repeated map key "${key}"`);
      // RFC 8949 §4.2.1: keys ascend in the bytewise order of their encodings.
      if (previousStart >= 0 && compareRanges(this.#bytes, previousStart, previousEnd, keyStart, this.pos) >= 0) this.canonical = false;
      previousStart = keyStart;
      previousEnd = this.pos;
      const value = this.item(depth + 1);
      // An own property, never the prototype setter.
      if (key === "__proto__") Object.defineProperty(map, key, { value, configurable: true, enumerable: true, writable: true });
      else map[key] = value;
    }
    return map;
  }

  #byte(): number {
    if (this.pos >= this.#bytes.length) throw decodeError(`truncated at byte ${this.pos}`);
    return this.#bytes[this.pos++] as number;
  }

  /** Advances past `count` bytes; returns the new position. */
  #skip(count: number): number {
    if (count > this.#bytes.length - this.pos) throw decodeError(`truncated: ${count} bytes wanted at byte ${this.pos}, ${this.#bytes.length - this.pos} left`);
    this.pos += count;
    return this.pos;
  }
}

function compareRanges(bytes: Bytes, aStart: number, aEnd: number, bStart: number, bEnd: number): number {
  const length = Math.min(aEnd - aStart, bEnd - bStart);
  for (let i = 0; i < length; i++) {
    const difference = (bytes[aStart + i] as number) - (bytes[bStart + i] as number);
    if (difference !== 0) return difference;
  }
  return aEnd - aStart - (bEnd - bStart);
}

/**
 * Reading the layout of bytes decodeStrict has accepted (well formed, canonical): where items and
 * map entries lie, so a map's canonical encoding without one entry (a message's body without its
 * signature) is cut from the bytes in hand instead of encoded again.
 */

/** The argument of the head at `at` and where the head ends. */
function head(bytes: Bytes, at: number): { argument: number; end: number } {
  const info = (bytes[at] as number) & 0x1f;
  if (info < 24) return { argument: info, end: at + 1 };
  const size = 1 << (info - 24);
  let argument = 0;
  for (let i = 1; i <= size; i++) argument = argument * 256 + (bytes[at + i] as number);
  return { argument, end: at + 1 + size };
}

/** Where the item starting at `at` ends. */
export function itemEnd(bytes: Bytes, at: number): number {
  const major = (bytes[at] as number) >> 5;
  const { argument, end } = head(bytes, at);
  if (major === 2 || major === 3) return end + argument;
  if (major !== 4 && major !== 5) return end;
  let pos = end;
  for (let i = 0, items = major === 4 ? argument : 2 * argument; i < items; i++) pos = itemEnd(bytes, pos);
  return pos;
}

/** One map entry's place: its key's first byte, its value's first byte, and the byte after it. */
export interface EntryRange {
  start: number;
  valueStart: number;
  end: number;
}

/** The entries of the map starting at `at`, by key (text keys, as every message map has). */
export function mapEntryRanges(bytes: Bytes, at: number): Map<string, EntryRange> {
  const entries = new Map<string, EntryRange>();
  const { argument: count, end } = head(bytes, at);
  let pos = end;
  for (let i = 0; i < count; i++) {
    const key = head(bytes, pos);
    const valueStart = key.end + key.argument;
    const valueEnd = itemEnd(bytes, valueStart);
    entries.set(Buffer.from(bytes.buffer, bytes.byteOffset + key.end, key.argument).toString("utf8"), { start: pos, valueStart, end: valueEnd });
    pos = valueEnd;
  }
  return entries;
}

/** Where the items of the list starting at `at` lie, as [start, end) pairs. */
export function listItemRanges(bytes: Bytes, at: number): [number, number][] {
  const { argument: count, end } = head(bytes, at);
  const items: [number, number][] = [];
  let pos = end;
  for (let i = 0; i < count; i++) {
    const itemStart = pos;
    pos = itemEnd(bytes, pos);
    items.push([itemStart, pos]);
  }
  return items;
}

/**
 * The canonical encoding of the map starting at `at` without its entry `key` (a copy): removing
 * an entry keeps the others in canonical order, so only the head's count changes.
 */
export function mapWithout(bytes: Bytes, at: number, key: string): Bytes {
  const end = itemEnd(bytes, at);
  const entry = mapEntryRanges(bytes, at).get(key);
  if (entry === undefined) return bytes.slice(at, end);
  const { argument: count, end: entriesStart } = head(bytes, at);
  const left = count - 1;
  const header = left < 24 ? [0xa0 | left] : left < 0x100 ? [0xb8, left] : [0xb9, left >> 8, left & 0xff];
  const out = new Uint8Array(header.length + (entry.start - entriesStart) + (end - entry.end));
  out.set(header, 0);
  out.set(bytes.subarray(entriesStart, entry.start), header.length);
  out.set(bytes.subarray(entry.end, end), header.length + entry.start - entriesStart);
  return out;
}

/** IEEE 754 binary16 to a number. */
function halfFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/**
 * Equality in CBOR's data model, for values built from maps, lists, numbers, text, bytes,
 * booleans and null: two such values are equal exactly when their canonical encodings are.
 */
export function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return typeof a !== "number" || Object.is(a, b);
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length && Buffer.compare(a, b) === 0;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameData(a[i], b[i])) return false;
    return true;
  }
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    if (!Object.hasOwn(b, key) || !sameData((a as WireMap)[key], (b as WireMap)[key])) return false;
  }
  return true;
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

/** UTF-8 length of a string (native: no encoding is built). */
export const utf8Length = (text: string): number => Buffer.byteLength(text, "utf8");

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
