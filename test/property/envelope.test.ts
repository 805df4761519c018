/**
 * Properties of envelopes (spec/03-encoding.md, "Envelopes"), with fast-check (fixed seeds):
 *   1. encodeEnvelope / envelopeItems round-trip any 2..64 non-empty items, and the length is
 *      envelopeBytes;
 *   2. arbitrary bytes (plain, after a list head, or a valid envelope mutated) never make
 *      envelopeItems throw anything but a ConcordError, always a reject;
 *   3. the encoding is unique: whatever envelopeItems accepts, encodeEnvelope writes back byte for
 *      byte (no second spelling of one envelope gets a second gossip id), and it is a list.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isConcordError } from "../../src/errors.ts";
import { encodeEnvelope, envelopeBytes, envelopeItems, isEnvelope } from "../../src/wire/envelope.ts";
import { toHex } from "../../src/wire/hash.ts";
import { MAX_ENVELOPE_ITEMS } from "../../src/wire/limits.ts";

const RUNS = Number(process.env["CONCORD_PROPERTY_RUNS"] ?? 2_000);

/** Item lengths around every head width's edges, and some plain ones. */
const itemBytes = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }) },
  { weight: 2, arbitrary: fc.constantFrom(23, 24, 255, 256).chain((length) => fc.uint8Array({ minLength: length, maxLength: length })) },
  { weight: 1, arbitrary: fc.constantFrom(65_535, 65_536).map((length) => new Uint8Array(length).fill(length & 0xff)) },
);
const envelopes = fc.array(itemBytes, { minLength: 2, maxLength: MAX_ENVELOPE_ITEMS });

/**
 * Runs envelopeItems on `bytes`: a non-ConcordError fails the property; so does an accepted
 * input that encodeEnvelope would not write back identically.
 */
function readStrictly(bytes: Uint8Array): void {
  let read: Uint8Array[];
  try {
    read = envelopeItems(bytes);
  } catch (error) {
    if (!isConcordError(error)) throw new Error(`untyped ${(error as Error)?.name}: ${(error as Error)?.message} on ${toHex(bytes.subarray(0, 64))}`);
    expect(["WIRE_DECODE", "WIRE_OVERSIZED"]).toContain(error.code);
    expect(error.action).toBe("reject");
    return;
  }
  expect(isEnvelope(bytes)).toBe(true);
  expect(read.length).toBeGreaterThanOrEqual(2);
  expect(read.length).toBeLessThanOrEqual(MAX_ENVELOPE_ITEMS);
  expect(read.every((part) => part.length > 0)).toBe(true);
  expect(toHex(encodeEnvelope(read))).toBe(toHex(bytes));
}

/** One edit of a valid envelope: a bit flip, a byte set, an insert, a delete, a truncation. */
const edit = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant("set" as const), at: fc.nat(), value: fc.constantFrom(0x00, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1f, 0x40, 0x58, 0x5f, 0x60, 0x80, 0x98, 0x9f, 0xa0, 0xff) }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
);
type Edit = typeof edit extends fc.Arbitrary<infer T> ? T : never;

function apply(bytes: Uint8Array, change: Edit): Uint8Array {
  const at = change.at % (bytes.length + 1);
  switch (change.op) {
    case "flip": {
      const out = Uint8Array.from(bytes);
      if (out.length > 0) out[at % out.length] = (out[at % out.length] as number) ^ (1 << change.bit);
      return out;
    }
    case "set": {
      const out = Uint8Array.from(bytes);
      if (out.length > 0) out[at % out.length] = change.value;
      return out;
    }
    case "insert":
      return Uint8Array.of(...bytes.subarray(0, at), ...change.bytes, ...bytes.subarray(at));
    case "delete":
      return Uint8Array.of(...bytes.subarray(0, at), ...bytes.subarray(at + change.count));
    case "truncate":
      return bytes.subarray(0, at);
  }
}

describe("envelope round trip", () => {
  it("any 2..64 non-empty items come back in order, byte for byte, in envelopeBytes bytes", () => {
    fc.assert(
      fc.property(envelopes, (items) => {
        const envelope = encodeEnvelope(items);
        expect(envelope.length).toBe(envelopeBytes(items.map((item) => item.length)));
        expect(isEnvelope(envelope)).toBe(true);
        expect(envelopeItems(envelope).map(toHex)).toEqual(items.map(toHex));
      }),
      { seed: 301, numRuns: 300 },
    );
  });
});

describe("envelopeItems on hostile bytes", () => {
  it("random bytes: only ConcordErrors, and anything accepted is the unique encoding", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2_048 }), (bytes) => readStrictly(bytes)), { seed: 302, numRuns: RUNS });
  });

  it("random bytes after a list head of any form (major type 4, every additional information)", () => {
    const listed = fc.tuple(fc.integer({ min: 0x80, max: 0x9f }), fc.uint8Array({ maxLength: 1_024 })).map(([initial, rest]) => Uint8Array.of(initial, ...rest));
    fc.assert(fc.property(listed, (bytes) => readStrictly(bytes)), { seed: 303, numRuns: RUNS });
  });

  it("random byte-string items behind a count head: mostly well-formed, sometimes not", () => {
    // Items as CBOR byte strings with random heads: an item count that may not match, lengths
    // that may overrun, so the reader gets deep into the payload before refusing it.
    const head = fc.oneof(fc.integer({ min: 0x40, max: 0x57 }).map((initial) => [initial]), fc.tuple(fc.constantFrom(0x58, 0x59, 0x5a, 0x5b, 0x5f), fc.uint8Array({ minLength: 0, maxLength: 8 })).map(([initial, rest]) => [initial, ...rest]));
    const part = fc.tuple(head, fc.uint8Array({ maxLength: 30 })).map(([h, body]) => [...h, ...body]);
    const payload = fc.tuple(fc.integer({ min: 0, max: 70 }), fc.array(part, { maxLength: 70 })).map(([count, parts]) => {
      const countHead = count < 24 ? [0x80 | count] : [0x98, count];
      return Uint8Array.from([...countHead, ...parts.flat()]);
    });
    fc.assert(fc.property(payload, (bytes) => readStrictly(bytes)), { seed: 304, numRuns: RUNS });
  });

  it("valid envelopes with one to three edits: only ConcordErrors, and anything accepted is the unique encoding", () => {
    const small = fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 2, maxLength: MAX_ENVELOPE_ITEMS });
    fc.assert(
      fc.property(small, fc.array(edit, { minLength: 1, maxLength: 3 }), (items, edits) => {
        readStrictly(edits.reduce(apply, encodeEnvelope(items)));
      }),
      { seed: 305, numRuns: RUNS },
    );
  });
});
