/**
 * Envelope vectors (spec/03-encoding.md, "Envelopes"), in encoding.json with `op: "envelope"`:
 * the envelope step alone, which reads a gossip payload that is a CBOR list into its items (the
 * items are not decoded by this step). Valid cases expect the items; invalid ones the code. Every
 * byte derives from the sample messages or fixed labels (spec/vectors/README.md, "Derivations"),
 * every valid case round-trips through encodeEnvelope, and every invalid case is checked against
 * the code it was built to raise.
 */
import { encodeEnvelope, envelopeItems } from "../../src/wire/envelope.ts";
import { taggedHash, toHex } from "../../src/wire/hash.ts";
import { MAX_ENVELOPE_ITEMS, MAX_MESSAGE_BYTES } from "../../src/wire/limits.ts";
import { encodeMessage } from "../../src/wire/messages.ts";
import type { Sample } from "../../test/spec/samples.ts";
import { codeOf, type NotedCase } from "./format.ts";

function fail(name: string, what: string): never {
  throw new Error(`gen-vectors: ${name}: ${what}`);
}

export const concat = (...parts: (Uint8Array | readonly number[])[]): Uint8Array => Uint8Array.from(parts.flatMap((part) => [...part]));

/**
 * A CBOR head in shortest form (major type, argument below 2^32), written independently of
 * src/wire/envelope.ts: the vectors and test/unit/wire/envelope.test.ts check that code with it.
 */
export function head(major: number, argument: number): number[] {
  const type = major << 5;
  if (argument < 24) return [type | argument];
  if (argument < 0x100) return [type | 24, argument];
  if (argument < 0x10000) return [type | 25, argument >> 8, argument & 0xff];
  return [type | 26, (argument >>> 24) & 0xff, (argument >> 16) & 0xff, (argument >> 8) & 0xff, argument & 0xff];
}

/** A CBOR byte string in its shortest head. */
export const bstr = (bytes: Uint8Array): Uint8Array => concat(head(2, bytes.length), bytes);

/** `H("vector-envelope-item", decimal(i))`: 32-byte items. */
const labelItem = (i: number): Uint8Array => taggedHash("vector-envelope-item", String(i));

/** `length` bytes: `H("vector-envelope-bytes", decimal(length), decimal(j))` for j = 0, 1, … concatenated, cut to `length`. */
function labelBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let at = 0, j = 0; at < length; at += 32, j++) out.set(taggedHash("vector-envelope-bytes", String(length), String(j)).subarray(0, length - at), at);
  return out;
}

interface EnvelopeCase {
  name: string;
  note: string;
  bytes: Uint8Array;
}

interface InvalidEnvelopeCase extends EnvelopeCase {
  /** Zero bytes after `bytes` up to this many in all (a 4 MiB input in a few characters). */
  size?: number;
  code: "WIRE_DECODE" | "WIRE_OVERSIZED";
}

function padded(bytes: Uint8Array, size: number | undefined): Uint8Array {
  if (size === undefined) return bytes;
  const out = new Uint8Array(size);
  out.set(bytes);
  return out;
}

export function envelopeCases(samples: readonly Sample[]): NotedCase[] {
  const encoded = (name: string): Uint8Array => {
    const sample = samples.find((s) => s.name === name);
    if (!sample) fail(name, "no such sample");
    return encodeMessage(sample.message);
  };
  const request = encoded("request");
  const direct = encoded("request-direct");
  const reveal = encoded("reveal");
  const revealEvidence = encoded("reveal-evidence");
  const labelled = (count: number) => Array.from({ length: count }, (_, i) => labelItem(i));
  const small = labelBytes(5);
  const other = labelBytes(3);
  const two = encodeEnvelope([request, direct]);

  const valid: EnvelopeCase[] = [
    { name: "envelope-two-requests", note: "The sample request and the sample direct request, each its canonical encoding as a byte string.", bytes: two },
    { name: "envelope-two-reveals", note: "Two reveals: one with evidence; the items are the messages' bytes unchanged.", bytes: encodeEnvelope([reveal, revealEvidence]) },
    { name: "envelope-23-items", note: "The largest count in the one-byte head (0x97).", bytes: encodeEnvelope(labelled(23)) },
    { name: "envelope-24-items", note: "The smallest count in a two-byte head (0x98 0x18).", bytes: encodeEnvelope(labelled(24)) },
    { name: "envelope-64-items", note: "MAX_ENVELOPE_ITEMS items.", bytes: encodeEnvelope(labelled(MAX_ENVELOPE_ITEMS)) },
    {
      name: "envelope-item-length-heads",
      note: "Items of 1, 23, 24, 255 and 256 bytes: every length head up to three bytes at its edges (0x41, 0x57, 0x58 0x18, 0x58 0xff, 0x59 0x01 0x00).",
      bytes: encodeEnvelope([1, 23, 24, 255, 256].map(labelBytes)),
    },
    { name: "envelope-identical-items", note: "The same item twice is well formed: repeats are for the receiver's seen-before rule, not this step.", bytes: encodeEnvelope([request, request]) },
  ];

  const countOf = (count: number, items: Uint8Array[]) => concat(head(4, count), ...items.map(bstr));
  const invalid: InvalidEnvelopeCase[] = [
    { name: "envelope-no-items", note: "A list of 0 items.", bytes: Uint8Array.of(0x80), code: "WIRE_DECODE" },
    { name: "envelope-one-item", note: "A list of 1 item: a lone message travels alone, as a map.", bytes: countOf(1, [request]), code: "WIRE_DECODE" },
    { name: "envelope-65-items", note: "MAX_ENVELOPE_ITEMS + 1 items.", bytes: countOf(MAX_ENVELOPE_ITEMS + 1, labelled(MAX_ENVELOPE_ITEMS + 1)), code: "WIRE_DECODE" },
    { name: "envelope-count-head-not-shortest", note: "A count of 2 written in a one-byte argument (0x98 0x02).", bytes: concat([0x98, 0x02], bstr(request), bstr(direct)), code: "WIRE_DECODE" },
    { name: "envelope-count-head-8-bytes", note: "A count in an 8-byte argument (0x9b), whatever its value.", bytes: concat([0x9b, 0, 0, 0, 0, 0, 0, 0, 2], bstr(request), bstr(direct)), code: "WIRE_DECODE" },
    { name: "envelope-indefinite-list", note: "An indefinite-length list (0x9f … 0xff).", bytes: concat([0x9f], bstr(request), bstr(direct), [0xff]), code: "WIRE_DECODE" },
    { name: "envelope-length-head-not-shortest", note: "An item of 5 bytes whose length is written in a one-byte argument (0x58 0x05).", bytes: concat([0x82, 0x58, 0x05], small, bstr(other)), code: "WIRE_DECODE" },
    { name: "envelope-length-head-8-bytes", note: "An item length in an 8-byte argument (0x5b).", bytes: concat([0x82, 0x5b, 0, 0, 0, 0, 0, 0, 0, 5], small, bstr(other)), code: "WIRE_DECODE" },
    { name: "envelope-indefinite-item", note: "An indefinite-length byte string (0x5f chunks 0xff) as an item.", bytes: concat([0x82, 0x5f], bstr(small), [0xff], bstr(other)), code: "WIRE_DECODE" },
    { name: "envelope-empty-item", note: "An empty byte string as an item.", bytes: concat([0x82, 0x40], bstr(other)), code: "WIRE_DECODE" },
    { name: "envelope-text-item", note: "A text string as an item (major type 3), its bytes those of a valid item.", bytes: concat([0x82], head(3, small.length), small, bstr(other)), code: "WIRE_DECODE" },
    { name: "envelope-unwrapped-messages", note: "Two messages as maps in the list instead of byte strings holding their encodings.", bytes: concat([0x82], request, direct), code: "WIRE_DECODE" },
    { name: "envelope-truncated-in-item", note: "The two-requests envelope without its last byte.", bytes: two.subarray(0, two.length - 1), code: "WIRE_DECODE" },
    { name: "envelope-truncated-in-head", note: "The second item's length head cut after its first argument byte (0x59 0x01).", bytes: concat([0x82], bstr(small), [0x59, 0x01]), code: "WIRE_DECODE" },
    { name: "envelope-missing-item", note: "A count of 3 with two items.", bytes: countOf(3, [request, direct]), code: "WIRE_DECODE" },
    { name: "envelope-trailing-byte", note: "The two-requests envelope followed by one zero byte.", bytes: concat(two, [0x00]), code: "WIRE_DECODE" },
    {
      name: "envelope-oversized",
      note: "Well formed but MAX_MESSAGE_BYTES + 1 bytes: a 1-byte item, then a zero item filling the rest.",
      bytes: concat([0x82], bstr(Uint8Array.of(1)), head(2, MAX_MESSAGE_BYTES - 7)),
      size: MAX_MESSAGE_BYTES + 1,
      code: "WIRE_OVERSIZED",
    },
  ];

  const cases: NotedCase[] = [];
  for (const c of valid) {
    const items = envelopeItems(c.bytes);
    if (toHex(encodeEnvelope(items)) !== toHex(c.bytes)) fail(c.name, "does not round-trip");
    cases.push({ name: c.name, note: c.note, input: { op: "envelope", hex: toHex(c.bytes) }, expected: { items: items.map(toHex) } });
  }
  for (const c of invalid) {
    const code = codeOf(() => envelopeItems(padded(c.bytes, c.size)));
    if (code !== c.code) fail(c.name, `expected ${c.code}, got ${code ?? "no error"}`);
    const input = c.size === undefined ? { op: "envelope", hex: toHex(c.bytes) } : { op: "envelope", hex: toHex(c.bytes), size: c.size };
    cases.push({ name: c.name, note: c.note, input, expectedError: c.code });
  }
  return cases;
}
