/**
 * Envelopes (spec/03-encoding.md, "Envelopes"): a CBOR list of 2..MAX_ENVELOPE_ITEMS non-empty
 * byte strings, shortest-form heads, nothing after it, at most MAX_MESSAGE_BYTES. Round trips at
 * every count and length head width, and each refusal the spec lists with its code.
 */
import { describe, expect, it } from "vitest";
import { ConcordError } from "../../../src/errors.ts";
import { encodeEnvelope, envelopeBytes, envelopeItems, isEnvelope } from "../../../src/wire/envelope.ts";
import { bstr, concat, head } from "../../../scripts/vectors/envelopes.ts";
import { taggedHash, toHex } from "../../../src/wire/hash.ts";
import { MAX_ENVELOPE_ITEMS, MAX_MESSAGE_BYTES } from "../../../src/wire/limits.ts";
import { encodeMessage } from "../../../src/wire/messages.ts";
import { codeOf } from "../../helpers/errors.ts";
import { testNetwork, testRequest } from "../../helpers/fixtures.ts";

/** `length` bytes derived from `label` (tagged hashes, concatenated). */
function item(label: string, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let at = 0, block = 0; at < length; at += 32, block++) out.set(taggedHash("envelope-test", label, String(block)).subarray(0, length - at), at);
  return out;
}

const items = (count: number, length = 5) => Array.from({ length: count }, (_, i) => item(`item-${i}`, length));

describe("encodeEnvelope and envelopeItems round trip", () => {
  it.each([
    [2, [0x82]],
    [23, [0x97]],
    [24, [0x98, 0x18]],
    [64, [0x98, 0x40]],
  ])("%i items: count head %j, items back in order, byte for byte", (count, countHead) => {
    const sent = items(count);
    const envelope = encodeEnvelope(sent);
    expect([...envelope.subarray(0, countHead.length)]).toEqual(countHead);
    expect(toHex(envelope)).toBe(toHex(concat(countHead, ...sent.map(bstr))));
    expect(envelopeItems(envelope).map(toHex)).toEqual(sent.map(toHex));
  });

  it.each([
    [1, [0x41]],
    [23, [0x57]],
    [24, [0x58, 24]],
    [255, [0x58, 0xff]],
    [256, [0x59, 0x01, 0x00]],
    [65535, [0x59, 0xff, 0xff]],
    [65536, [0x5a, 0x00, 0x01, 0x00, 0x00]],
  ])("an item of %i bytes: length head %j", (length, lengthHead) => {
    const first = item("long", length);
    const envelope = encodeEnvelope([first, Uint8Array.of(7)]);
    expect([...envelope.subarray(1, 1 + lengthHead.length)]).toEqual(lengthHead);
    expect(envelope.length).toBe(1 + lengthHead.length + length + 2);
    const [back, second] = envelopeItems(envelope);
    expect(toHex(back as Uint8Array)).toBe(toHex(first));
    expect([...(second as Uint8Array)]).toEqual([7]);
  });

  it("carries real messages unchanged: each item is the message's canonical encoding", () => {
    const net = testNetwork(5);
    const encoded = ["a", "b", "c"].map((input) => encodeMessage(testRequest(net, { input, n: 5, k: 4 })));
    expect(envelopeItems(encodeEnvelope(encoded)).map(toHex)).toEqual(encoded.map(toHex));
  });

  it("returns copies: changing the payload afterwards changes no item", () => {
    const envelope = encodeEnvelope(items(3));
    const read = envelopeItems(envelope);
    envelope.fill(0);
    expect(read.map(toHex)).toEqual(items(3).map(toHex));
  });

  it("reads an envelope at a Buffer's offset into a larger allocation", () => {
    const envelope = encodeEnvelope(items(4));
    const pooled = Buffer.alloc(envelope.length + 10);
    pooled.set(envelope, 7);
    expect(envelopeItems(pooled.subarray(7, 7 + envelope.length)).map(toHex)).toEqual(items(4).map(toHex));
  });
});

describe("isEnvelope", () => {
  it("is true for a list (major type 4), whatever follows", () => {
    expect(isEnvelope(encodeEnvelope(items(2)))).toBe(true);
    expect(isEnvelope(Uint8Array.of(0x80))).toBe(true);
    expect(isEnvelope(Uint8Array.of(0x9f))).toBe(true);
  });

  it("is false for a message (a map), for empty bytes and for any other major type", () => {
    expect(isEnvelope(encodeMessage(testRequest(testNetwork(5), { n: 5, k: 4 })))).toBe(false);
    expect(isEnvelope(Uint8Array.of(0xa0))).toBe(false);
    expect(isEnvelope(new Uint8Array(0))).toBe(false);
    for (const initial of [0x00, 0x20, 0x40, 0x60, 0xa0, 0xc0, 0xe0, 0x7f, 0xbf, 0xff]) expect(isEnvelope(Uint8Array.of(initial)), initial.toString(16)).toBe(false);
  });
});

describe("envelopeItems refuses what the spec refuses", () => {
  const one = Uint8Array.of(0xaa);
  const two = Uint8Array.of(0xbb, 0xcc);
  const valid = encodeEnvelope([one, two]);
  const refused: [string, Uint8Array, "WIRE_DECODE" | "WIRE_OVERSIZED"][] = [
    ["empty bytes", new Uint8Array(0), "WIRE_DECODE"],
    ["0 items", Uint8Array.of(0x80), "WIRE_DECODE"],
    ["1 item", concat([0x81], bstr(one)), "WIRE_DECODE"],
    ["65 items", concat([0x98, 65], ...items(65, 1).map(bstr)), "WIRE_DECODE"],
    ["256 items announced (refused before reading any)", Uint8Array.of(0x99, 0x01, 0x00), "WIRE_DECODE"],
    ["a count head not in shortest form (2 in one extra byte)", concat([0x98, 0x02], bstr(one), bstr(two)), "WIRE_DECODE"],
    ["a count head not in shortest form (24 in two extra bytes)", concat([0x99, 0x00, 24], ...items(24, 1).map(bstr)), "WIRE_DECODE"],
    ["a count head of 8 bytes", concat([0x9b, 0, 0, 0, 0, 0, 0, 0, 2], bstr(one), bstr(two)), "WIRE_DECODE"],
    ["a count head with reserved information 28", concat([0x9c], bstr(one), bstr(two)), "WIRE_DECODE"],
    ["an indefinite-length list", concat([0x9f], bstr(one), bstr(two), [0xff]), "WIRE_DECODE"],
    ["a length head not in shortest form (1 in one extra byte)", concat([0x82, 0x58, 0x01, 0xaa], bstr(two)), "WIRE_DECODE"],
    ["a length head not in shortest form (255 in two extra bytes)", concat([0x82, 0x59, 0x00, 0xff], item("x", 255), bstr(two)), "WIRE_DECODE"],
    ["a length head not in shortest form (65535 in four extra bytes)", concat([0x82, 0x5a, 0x00, 0x00, 0xff, 0xff], item("x", 65535), bstr(two)), "WIRE_DECODE"],
    ["a length head of 8 bytes", concat([0x82, 0x5b, 0, 0, 0, 0, 0, 0, 0, 1, 0xaa], bstr(two)), "WIRE_DECODE"],
    ["an indefinite-length byte string", concat([0x82, 0x5f, 0x41, 0xaa, 0xff], bstr(two)), "WIRE_DECODE"],
    ["an empty item", concat([0x82, 0x40], bstr(two)), "WIRE_DECODE"],
    ["an empty last item", concat([0x82], bstr(one), [0x40]), "WIRE_DECODE"],
    ["an item that is a text string", concat([0x82, 0x61, 0x61], bstr(two)), "WIRE_DECODE"],
    ["an item that is a map (a message not wrapped in a byte string)", concat([0x82], encodeMessage(testRequest(testNetwork(5), { n: 5, k: 4 })), bstr(two)), "WIRE_DECODE"],
    ["an item that is a list", concat([0x82, 0x81, 0x41, 0xaa], bstr(two)), "WIRE_DECODE"],
    ["an item that is an integer", concat([0x82, 0x01], bstr(two)), "WIRE_DECODE"],
    ["truncated in the count head", Uint8Array.of(0x98), "WIRE_DECODE"],
    ["truncated in a length head", concat([0x82], bstr(one), [0x59, 0x01]), "WIRE_DECODE"],
    ["truncated before an item's head", concat([0x82], bstr(one)), "WIRE_DECODE"],
    ["truncated in an item", valid.subarray(0, valid.length - 1), "WIRE_DECODE"],
    ["an item longer than the payload (4-byte length)", concat([0x82], bstr(one), [0x5a, 0xff, 0xff, 0xff, 0xff, 0x00]), "WIRE_DECODE"],
    ["a byte after the last item", concat(valid, [0x00]), "WIRE_DECODE"],
    ["a whole second envelope after the first", concat(valid, valid), "WIRE_DECODE"],
    ["a map, not a list", Uint8Array.of(0xa0), "WIRE_DECODE"],
  ];

  it.each(refused)("%s: %s", (_, bytes, code) => {
    expect(codeOf(() => envelopeItems(bytes))).toBe(code);
  });

  it("every refusal is a reject (the sender is penalized)", () => {
    for (const [name, bytes] of refused) {
      try {
        envelopeItems(bytes);
        throw new Error(`accepted: ${name}`);
      } catch (error) {
        expect(error, name).toBeInstanceOf(ConcordError);
        expect((error as ConcordError).action, name).toBe("reject");
      }
    }
  });

  it("refuses more than MAX_MESSAGE_BYTES (WIRE_OVERSIZED), and reads an envelope of exactly that many", () => {
    // Two items: one byte, then what fills the envelope to the limit (heads: 1 + 1 + 5 bytes).
    const fill = MAX_MESSAGE_BYTES - 8;
    expect(envelopeBytes([1, fill])).toBe(MAX_MESSAGE_BYTES);
    const largest = encodeEnvelope([Uint8Array.of(1), new Uint8Array(fill).fill(2)]);
    expect(largest.length).toBe(MAX_MESSAGE_BYTES);
    expect(envelopeItems(largest).map((part) => part.length)).toEqual([1, fill]);
    const over = encodeEnvelope([Uint8Array.of(1), new Uint8Array(fill + 1).fill(2)]);
    expect(over.length).toBe(MAX_MESSAGE_BYTES + 1);
    expect(codeOf(() => envelopeItems(over))).toBe("WIRE_OVERSIZED");
  });
});

describe("encodeEnvelope", () => {
  it("asserts 2..64 non-empty items (a caller's mistake: a lone message travels alone)", () => {
    for (const count of [0, 1, MAX_ENVELOPE_ITEMS + 1]) expect(() => encodeEnvelope(items(count)), String(count)).toThrow(/assertion failed/);
    expect(() => encodeEnvelope([Uint8Array.of(1), new Uint8Array(0)])).toThrow(/assertion failed/);
    expect(codeOf(() => encodeEnvelope(items(MAX_ENVELOPE_ITEMS)))).toBe("ok");
  });

  it("envelopeItems returns plain copies, even out of a Buffer: keeping an item keeps nothing else", () => {
    const received = Buffer.from(encodeEnvelope([Uint8Array.of(1, 2, 3), Uint8Array.of(4, 5)]));
    const read = envelopeItems(received);
    received.fill(0);
    expect(read.map((item) => [...item])).toEqual([[1, 2, 3], [4, 5]]);
    for (const item of read) {
      expect(Buffer.isBuffer(item)).toBe(false);
      expect(item.buffer.byteLength).toBe(item.length);
    }
  });
});

describe("envelopeBytes", () => {
  it("is the encoded length, at every head width", () => {
    const cases: number[][] = [
      [1, 1],
      [23, 24],
      [24, 255, 256],
      [65535, 65536, 1],
      Array.from({ length: 23 }, (_, i) => i + 1),
      Array.from({ length: 24 }, (_, i) => i + 1),
      Array.from({ length: 64 }, (_, i) => (i * 37) % 300 + 1),
    ];
    for (const lengths of cases) {
      const envelope = encodeEnvelope(lengths.map((length, i) => item(`bytes-${i}`, length)));
      expect(envelopeBytes(lengths), lengths.join(",")).toBe(envelope.length);
    }
  });
});
