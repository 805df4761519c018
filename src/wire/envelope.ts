/**
 * Envelopes (spec/03-encoding.md, "Envelopes"): several messages of one topic in one gossip
 * payload. A signer that flushes a batch, or a pool that closes many requests at once, would
 * otherwise pay the transport's cost per message (a gossip message, its id, framing, encryption
 * and a wakeup at every receiver); in an envelope it pays once per flush.
 *
 * The encoding is a CBOR list of 2 to MAX_ENVELOPE_ITEMS byte strings, each the canonical
 * encoding of one message, in shortest-form heads and nothing after the list. A single message
 * is a CBOR map, so the first byte's major type (4: list, 5: map) tells the two apart. An
 * envelope changes no message and no rule: every item is decoded and judged exactly as if it had
 * arrived alone.
 */
import { assert, ConcordError } from "../errors.ts";
import { MAX_ENVELOPE_ITEMS, MAX_MESSAGE_BYTES } from "./limits.ts";
import type { Bytes } from "./types.ts";

const MAJOR_LIST = 4;
const MAJOR_BYTES = 2;

const envelopeError = (details: string) => new ConcordError("WIRE_DECODE", "not a valid envelope", { details });

/** Whether a gossip payload is an envelope (a CBOR list) rather than one message (a CBOR map). */
export function isEnvelope(payload: Bytes): boolean {
  return payload.length > 0 && (payload[0] as number) >> 5 === MAJOR_LIST;
}

/** The shortest CBOR head of `major` with `argument` (below 2^32: envelopes are under 4 MiB). */
function writeHead(out: Uint8Array, at: number, major: number, argument: number): number {
  const type = major << 5;
  if (argument < 24) {
    out[at] = type | argument;
    return at + 1;
  }
  if (argument < 0x100) {
    out[at] = type | 24;
    out[at + 1] = argument;
    return at + 2;
  }
  if (argument < 0x10000) {
    out[at] = type | 25;
    out[at + 1] = argument >> 8;
    out[at + 2] = argument & 0xff;
    return at + 3;
  }
  out[at] = type | 26;
  new DataView(out.buffer, out.byteOffset + at + 1, 4).setUint32(0, argument);
  return at + 5;
}

const headBytes = (argument: number) => (argument < 24 ? 1 : argument < 0x100 ? 2 : argument < 0x10000 ? 3 : 5);

/** Bytes an item of this length takes in an envelope: its head and itself. */
export const envelopeItemBytes = (length: number): number => headBytes(length) + length;

/** Bytes an envelope of items of these sizes takes. */
export function envelopeBytes(itemLengths: readonly number[]): number {
  return itemLengths.reduce((sum, length) => sum + envelopeItemBytes(length), headBytes(itemLengths.length));
}

/**
 * Encodes 2..MAX_ENVELOPE_ITEMS non-empty encoded messages as one envelope (the caller keeps it
 * within MAX_MESSAGE_BYTES: gossip refuses to publish more).
 * @example encodeEnvelope([a, b])[0] // 0x82: a list of two
 */
export function encodeEnvelope(items: readonly Bytes[]): Bytes {
  assert(items.length >= 2 && items.length <= MAX_ENVELOPE_ITEMS, `an envelope holds 2..${MAX_ENVELOPE_ITEMS} messages, not ${items.length}`);
  assert(items.every((item) => item.length > 0), "an envelope holds no empty item");
  const out = new Uint8Array(envelopeBytes(items.map((item) => item.length)));
  let at = writeHead(out, 0, MAJOR_LIST, items.length);
  for (const item of items) {
    at = writeHead(out, at, MAJOR_BYTES, item.length);
    out.set(item, at);
    at += item.length;
  }
  return out;
}

/** Reads a shortest-form head of `major` at `at`; refuses any other. */
function readHead(bytes: Bytes, at: number, major: number, what: string): { argument: number; end: number } {
  if (at >= bytes.length) throw envelopeError(`truncated before ${what}`);
  const initial = bytes[at] as number;
  if (initial >> 5 !== major) throw envelopeError(`${what}: major type ${initial >> 5}, expected ${major}`);
  const info = initial & 0x1f;
  if (info < 24) return { argument: info, end: at + 1 };
  const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : 0;
  if (size === 0) throw envelopeError(`${what}: length of ${info === 27 ? "8 bytes" : "indefinite or reserved form"}`);
  if (at + 1 + size > bytes.length) throw envelopeError(`truncated in ${what}'s head`);
  let argument = 0;
  for (let i = 1; i <= size; i++) argument = argument * 256 + (bytes[at + i] as number);
  if (argument < (size === 1 ? 24 : size === 2 ? 0x100 : 0x10000)) throw envelopeError(`${what}: head not in shortest form`);
  return { argument, end: at + 1 + size };
}

/**
 * The items of an envelope, strictly (each a copy, so that keeping one keeps no other): a list of
 * 2..MAX_ENVELOPE_ITEMS non-empty byte strings in shortest-form heads, nothing after it, at most
 * MAX_MESSAGE_BYTES in all. Every failure is WIRE_DECODE (reject). The items themselves are
 * not decoded here.
 */
export function envelopeItems(payload: Bytes): Bytes[] {
  if (payload.length > MAX_MESSAGE_BYTES) {
    throw new ConcordError("WIRE_OVERSIZED", "envelope over size limit", { details: `${payload.length} > ${MAX_MESSAGE_BYTES} bytes` });
  }
  const { argument: count, end } = readHead(payload, 0, MAJOR_LIST, "envelope");
  if (count < 2 || count > MAX_ENVELOPE_ITEMS) throw envelopeError(`${count} items, expected 2..${MAX_ENVELOPE_ITEMS}`);
  const items: Bytes[] = [];
  let at = end;
  for (let i = 0; i < count; i++) {
    const { argument: length, end: start } = readHead(payload, at, MAJOR_BYTES, `item ${i}`);
    if (length === 0) throw envelopeError(`item ${i} is empty`);
    if (start + length > payload.length) throw envelopeError(`item ${i} truncated`);
    // A copy, and a plain Uint8Array even out of a Buffer (gossip hands Buffers): Buffer's slice is a view.
    items.push(new Uint8Array(payload.subarray(start, start + length)));
    at = start + length;
  }
  if (at !== payload.length) throw envelopeError(`${payload.length - at} bytes after the last item`);
  return items;
}
