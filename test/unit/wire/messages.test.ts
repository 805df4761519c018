import { decode, encode, rfc8949EncodeOptions } from "cborg";
import { describe, expect, it } from "vitest";
import { fromHex, toHex } from "../../../src/wire/hash.ts";
import { MAX_KIND_BYTES, MAX_MESSAGE_BYTES, MAX_OUTPUT_BYTES } from "../../../src/wire/limits.ts";
import { decodeMessage, encodeMessage, MESSAGE_KINDS, toWire } from "../../../src/wire/messages.ts";
import type { Message, MessageKind } from "../../../src/wire/types.ts";
import { sampleMessages, sampleNetwork } from "../../spec/samples.ts";
import { codeOf } from "../../helpers/errors.ts";

const net = sampleNetwork();
const samples = sampleMessages(net);

function sample(name: string): Message {
  const found = samples.find((s) => s.name === name);
  if (!found) throw new Error(`no sample ${name}`);
  return found.message;
}


type Raw = Record<string, unknown>;

/** The wire map of a message as plain CBOR data (no checks), to be edited and re-encoded. */
function raw(message: Message): Raw {
  return decode(encodeMessage(message), { useMaps: false }) as Raw;
}

const canonical = (value: unknown): Uint8Array => encode(value, rfc8949EncodeOptions);

/** A CBOR map written with its entries in the given key order (each entry canonical). */
function mapInOrder(value: Raw, keys: readonly string[]): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.of(0xa0 + keys.length)];
  for (const key of keys) parts.push(canonical(key), canonical(value[key]));
  return concat(...parts);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Replaces the first occurrence of `from` (hex) in `bytes` with `to` (hex). */
function replaceHex(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const hex = toHex(bytes);
  const at = hex.indexOf(from);
  if (at < 0 || at % 2 !== 0) throw new Error(`pattern ${from} not found`);
  return fromHex(hex.slice(0, at) + to + hex.slice(at + from.length));
}

const cborText = (text: string): string => toHex(canonical(text));

describe("encodeMessage / decodeMessage: round trip", () => {
  it("covers every message kind", () => {
    expect(new Set(samples.map((s) => s.message.t))).toEqual(new Set(MESSAGE_KINDS));
  });

  for (const { name, message } of samples) {
    it(`round-trips ${name}`, () => {
      const bytes = encodeMessage(message);
      const decoded = decodeMessage(bytes, message.t);
      expect(decoded).toEqual(message);
      expect(decodeMessage(bytes)).toEqual(message);
      expect(toHex(encodeMessage(decoded))).toBe(toHex(bytes));
      expect(bytes.length).toBeLessThanOrEqual(MAX_KIND_BYTES[message.t]);
    });
  }

  it("omits absent optional fields and keeps present ones", () => {
    const plain = decodeMessage(encodeMessage(sample("request")), "request");
    expect(Object.hasOwn(plain, "weights")).toBe(false);
    const weighted = decodeMessage(encodeMessage(sample("request-weights-unicode")), "request");
    expect(weighted.weights).toHaveLength(32);
    expect(weighted.input).toBe("Ünïcödé ✓ 東京 🚀");
    const reveal = decodeMessage(encodeMessage(sample("reveal")), "reveal");
    expect(Object.hasOwn(reveal, "evidence")).toBe(false);
    const withEvidence = decodeMessage(encodeMessage(sample("reveal-evidence")), "reveal");
    expect(withEvidence.evidence).toEqual({ tokens: [0, 17, 4_294_967_295, 9], margins: [1_000_000, 0, 42, 4_294_967_295] });
    const direct = decodeMessage(encodeMessage(sample("bundle-direct-evidence")), "bundle");
    expect(Object.hasOwn(direct, "close")).toBe(false);
    expect(direct.outputs[0]?.evidence?.tokens).toHaveLength(4);
    const crBundle = decodeMessage(encodeMessage(sample("bundle-commit-reveal")), "bundle");
    expect(crBundle.close?.commitments).toHaveLength(7);
  });

  it("packs evidence as big-endian u32 byte strings on the wire", () => {
    const wire = toWire(sample("reveal-evidence")) as { evidence: { tokens: Uint8Array; margins: Uint8Array } };
    expect(toHex(wire.evidence.tokens)).toBe("0000000000000011ffffffff00000009");
    expect(toHex(wire.evidence.margins)).toBe("000f4240000000000000002affffffff");
  });

  it("writes map keys in RFC 8949 §4.2.1 order (shorter keys first, then bytewise)", () => {
    const keys = Object.keys(decode(encodeMessage(sample("commitment")), { useMaps: false }) as Raw);
    expect(keys).toEqual(["t", "v", "sig", "node", "chain", "request", "commitment"]);
  });
});

describe("decodeMessage: strict rejections", () => {
  const commitment = sample("commitment");
  const bytes = encodeMessage(commitment);
  const wire = raw(commitment);
  const keys = Object.keys(wire);

  it("rejects a map whose keys are not in canonical order (WIRE_NON_CANONICAL)", () => {
    const swapped = [keys[1], keys[0], ...keys.slice(2)] as string[];
    expect(codeOf(() => decodeMessage(mapInOrder(wire, swapped), "commitment"))).toBe("WIRE_NON_CANONICAL");
    expect(codeOf(() => decodeMessage(mapInOrder(wire, [...keys].reverse()), "commitment"))).toBe("WIRE_NON_CANONICAL");
    // The same map in canonical order is the canonical encoding.
    expect(toHex(mapInOrder(wire, keys))).toBe(toHex(bytes));
  });

  it("rejects non-minimal integers and lengths (WIRE_DECODE)", () => {
    // v = 1 as a one-byte-argument integer (0x18 0x01) instead of 0x01.
    expect(codeOf(() => decodeMessage(replaceHex(bytes, "617601", "61761801"), "commitment"))).toBe("WIRE_DECODE");
    // The 32-byte request id with its length in two bytes (0x59 0x0020) instead of one.
    expect(codeOf(() => decodeMessage(replaceHex(bytes, `${cborText("request")}5820`, `${cborText("request")}590020`), "commitment"))).toBe("WIRE_DECODE");
    // The map header with its count in one extra byte.
    expect(codeOf(() => decodeMessage(concat(Uint8Array.of(0xb8, keys.length), bytes.subarray(1)), "commitment"))).toBe("WIRE_DECODE");
  });

  it("rejects indefinite-length items (WIRE_DECODE)", () => {
    const indefiniteMap = concat(Uint8Array.of(0xbf), bytes.subarray(1), Uint8Array.of(0xff));
    expect(codeOf(() => decodeMessage(indefiniteMap, "commitment"))).toBe("WIRE_DECODE");
    // The chain id as an indefinite-length text string made of one chunk.
    const chain = cborText(commitment.chain);
    expect(codeOf(() => decodeMessage(replaceHex(bytes, chain, `7f${chain}ff`), "commitment"))).toBe("WIRE_DECODE");
  });

  it("rejects duplicate keys (WIRE_DECODE)", () => {
    const duplicated = concat(Uint8Array.of(0xa0 + keys.length + 1), bytes.subarray(1), canonical("v"), canonical(1));
    expect(codeOf(() => decodeMessage(duplicated, "commitment"))).toBe("WIRE_DECODE");
    const duplicatedFirst = concat(Uint8Array.of(0xa0 + keys.length + 1), canonical("t"), canonical("commitment"), bytes.subarray(1));
    expect(codeOf(() => decodeMessage(duplicatedFirst, "commitment"))).toBe("WIRE_DECODE");
  });

  it("rejects unknown keys (WIRE_SCHEMA), at the top and nested", () => {
    expect(codeOf(() => decodeMessage(canonical({ ...wire, extra: 0 }), "commitment"))).toBe("WIRE_SCHEMA");
    const request = raw(sample("request"));
    const sampling = { ...(request.sampling as Raw), seed: 1 };
    expect(codeOf(() => decodeMessage(canonical({ ...request, sampling }), "request"))).toBe("WIRE_SCHEMA");
  });

  it("rejects missing keys (WIRE_SCHEMA)", () => {
    for (const key of keys.filter((k) => k !== "t" && k !== "v")) {
      const { [key]: _dropped, ...rest } = wire;
      expect(codeOf(() => decodeMessage(canonical(rest), "commitment")), key).toBe("WIRE_SCHEMA");
    }
    const { t: _t, ...noKind } = wire;
    expect(codeOf(() => decodeMessage(canonical(noKind)))).toBe("WIRE_SCHEMA");
  });

  it("rejects another protocol version (WIRE_VERSION), even with other keys", () => {
    expect(codeOf(() => decodeMessage(canonical({ ...wire, v: 2 }), "commitment"))).toBe("WIRE_VERSION");
    expect(codeOf(() => decodeMessage(canonical({ ...wire, v: 0 })))).toBe("WIRE_VERSION");
    expect(codeOf(() => decodeMessage(canonical({ ...wire, v: 2, newField: "x" })))).toBe("WIRE_VERSION");
    expect(codeOf(() => decodeMessage(canonical({ ...wire, v: "1" }), "commitment"))).toBe("WIRE_VERSION");
  });

  it("rejects a message of another kind than expected (WIRE_KIND), whatever its keys", () => {
    for (const kind of MESSAGE_KINDS.filter((k) => k !== "commitment")) {
      expect(codeOf(() => decodeMessage(bytes, kind)), kind).toBe("WIRE_KIND");
    }
    for (const { name, message } of samples) {
      const other: MessageKind = message.t === "request" ? "reveal" : "request";
      expect(codeOf(() => decodeMessage(encodeMessage(message), other)), name).toBe("WIRE_KIND");
    }
    // A kind no one knows, decoded without an expected kind.
    expect(codeOf(() => decodeMessage(canonical({ ...wire, t: "vote" })))).toBe("WIRE_SCHEMA");
  });

  it("rejects floats: integral ones as non-canonical, fractional ones by the schema", () => {
    // v = 1.0 as a half-precision float (0xf9 0x3c00).
    expect(codeOf(() => decodeMessage(replaceHex(bytes, "617601", "6176f93c00"), "commitment"))).toBe("WIRE_NON_CANONICAL");
    // v = 1.0 as a double.
    expect(codeOf(() => decodeMessage(replaceHex(bytes, "617601", "6176fb3ff0000000000000"), "commitment"))).toBe("WIRE_NON_CANONICAL");
    const request = raw(sample("request"));
    expect(codeOf(() => decodeMessage(canonical({ ...request, n: 7.5 }), "request"))).toBe("WIRE_SCHEMA");
    expect(codeOf(() => decodeMessage(canonical({ ...request, deadline: 1e300 }), "request"))).toBe("WIRE_SCHEMA");
    const params = { id: "exact", version: 1, params: { theta: 0.5 } };
    expect(codeOf(() => decodeMessage(canonical({ ...request, policy: params }), "request"))).toBe("WIRE_SCHEMA");
    expect(codeOf(() => decodeMessage(Uint8Array.of(0xf9, 0x7e, 0x00)))).toBe("WIRE_DECODE"); // NaN
    expect(codeOf(() => decodeMessage(Uint8Array.of(0xf9, 0x7c, 0x00)))).toBe("WIRE_DECODE"); // Infinity
  });

  it("rejects tags anywhere (WIRE_DECODE)", () => {
    expect(codeOf(() => decodeMessage(concat(Uint8Array.of(0xd8, 0x18), bytes), "commitment"))).toBe("WIRE_DECODE");
    expect(codeOf(() => decodeMessage(concat(Uint8Array.of(0xc0), bytes)))).toBe("WIRE_DECODE");
    // The signature wrapped in tag 2 (bignum).
    expect(codeOf(() => decodeMessage(replaceHex(bytes, `${cborText("sig")}5840`, `${cborText("sig")}c25840`), "commitment"))).toBe("WIRE_DECODE");
  });

  it("rejects other CBOR simple values (WIRE_DECODE): undefined, unassigned simple values", () => {
    expect(codeOf(() => decodeMessage(canonical({ ...wire, v: null }), "commitment"))).toBe("WIRE_VERSION");
    expect(codeOf(() => decodeMessage(replaceHex(bytes, "617601", "6176f7"), "commitment"))).toBe("WIRE_DECODE");
    expect(codeOf(() => decodeMessage(replaceHex(bytes, "617601", "6176f0"), "commitment"))).toBe("WIRE_DECODE");
  });

  it("rejects trailing bytes and truncation (WIRE_DECODE)", () => {
    expect(codeOf(() => decodeMessage(concat(bytes, Uint8Array.of(0x00)), "commitment"))).toBe("WIRE_DECODE");
    expect(codeOf(() => decodeMessage(concat(bytes, bytes), "commitment"))).toBe("WIRE_DECODE");
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(codeOf(() => decodeMessage(bytes.subarray(0, cut), "commitment")), `cut at ${cut}`).toBe("WIRE_DECODE");
    }
  });

  it("rejects oversized messages before decoding them (WIRE_OVERSIZED)", () => {
    const limit = MAX_KIND_BYTES.commitment;
    expect(codeOf(() => decodeMessage(new Uint8Array(limit + 1), "commitment"))).toBe("WIRE_OVERSIZED");
    expect(codeOf(() => decodeMessage(new Uint8Array(MAX_MESSAGE_BYTES + 1)))).toBe("WIRE_OVERSIZED");
    // A well-formed commitment padded past its kind's limit, decoded without an expected kind.
    const padded = canonical({ ...wire, pad: new Uint8Array(limit) });
    expect(codeOf(() => decodeMessage(padded))).toBe("WIRE_OVERSIZED");
    expect(codeOf(() => decodeMessage(padded, "commitment"))).toBe("WIRE_OVERSIZED");
    // Field limits inside a message that fits its kind: the schema.
    const reveal = raw(sample("reveal"));
    expect(codeOf(() => decodeMessage(canonical({ ...reveal, output: "x".repeat(MAX_OUTPUT_BYTES + 1) }), "reveal"))).toBe("WIRE_SCHEMA");
    expect(codeOf(() => decodeMessage(canonical({ ...reveal, output: "é".repeat(MAX_OUTPUT_BYTES / 2 + 1) }), "reveal"))).toBe("WIRE_SCHEMA");
    expect(codeOf(() => decodeMessage(canonical({ ...reveal, output: "x".repeat(MAX_OUTPUT_BYTES) }), "reveal"))).toBe("ok");
  });

  it("rejects malformed UTF-8: non-canonical in free text, a schema error in identifiers", () => {
    const reveal = encodeMessage(sample("reveal"));
    const output = cborText("Paris");
    for (const bad of ["ff", "c328", "eda080", "c080", "f888"]) {
      const text = `65${bad}${"61".repeat(5 - bad.length / 2)}`;
      expect(codeOf(() => decodeMessage(replaceHex(reveal, output, text), "reveal")), bad).toBe("WIRE_NON_CANONICAL");
    }
    // A valid U+FFFD in an output is fine: only its malformed look-alikes are rejected.
    expect(codeOf(() => decodeMessage(encodeMessage({ ...sample("reveal"), output: "\uFFFD" } as Message), "reveal"))).toBe("ok");
    // So is an output that starts with U+FEFF (a byte order mark to some readers): it is kept.
    const withMark = { ...sample("reveal"), output: "\uFEFFParis" } as Message;
    expect(decodeMessage(encodeMessage(withMark), "reveal")).toEqual(withMark);
    const chain = cborText(commitment.chain);
    expect(codeOf(() => decodeMessage(replaceHex(bytes, chain, `6c${"ff"}${chain.slice(4)}`), "commitment"))).toBe("WIRE_SCHEMA");
  });

  it("rejects '__proto__' keys without touching any prototype", () => {
    const proto = toHex(canonical("__proto__"));
    const request = encodeMessage(sample("request"));
    const emptyParams = `${toHex(canonical("params"))}a0`;
    const withProto = replaceHex(request, emptyParams, `${toHex(canonical("params"))}a1${proto}a1617801`);
    expect(codeOf(() => decodeMessage(withProto, "request"))).toBe("WIRE_NON_CANONICAL");
    const topLevel = concat(Uint8Array.of(0xa0 + keys.length + 1), bytes.subarray(1), canonical("__proto__"), canonical({ t: "close" }));
    expect(codeOf(() => decodeMessage(topLevel, "commitment"))).not.toBe("ok");
    expect(Object.hasOwn(Object.prototype, "x")).toBe(false);
    expect(Object.hasOwn(Object.prototype, "t")).toBe(false);
  });

  it("reports a version that is a map or a list without calling anything on it (WIRE_VERSION)", () => {
    // {"t": "commitment", "v": {"toString": 0}}: String(v) would throw a TypeError.
    const mapVersion = canonical({ t: "commitment", v: { toString: 0 } });
    const listVersion = canonical({ t: "commitment", v: [{ toString: 0 }] });
    for (const bytes of [mapVersion, listVersion]) {
      expect(codeOf(() => decodeMessage(bytes))).toBe("WIRE_VERSION");
      expect(codeOf(() => decodeMessage(bytes, "commitment"))).toBe("WIRE_VERSION");
    }
    // Inside a message, a nested message's version is a field of the outer one (spec/03).
    const nested = canonical({ ...raw(sample("bundle-commit-reveal")), close: { ...raw(sample("close")), v: { toString: 0 } } });
    expect(codeOf(() => decodeMessage(nested, "bundle"))).toBe("WIRE_SCHEMA");
  });

  it("rejects anything that is not a map of the right shape (WIRE_SCHEMA)", () => {
    expect(codeOf(() => decodeMessage(canonical([1, 2, 3])))).toBe("WIRE_SCHEMA");
    expect(codeOf(() => decodeMessage(canonical("commitment")))).toBe("WIRE_SCHEMA");
    expect(codeOf(() => decodeMessage(canonical([1]), "commitment"))).toBe("WIRE_SCHEMA");
    expect(codeOf(() => decodeMessage("not bytes" as unknown as Uint8Array))).toBe("WIRE_SCHEMA");
    expect(codeOf(() => decodeMessage(new Uint8Array(0)))).toBe("WIRE_DECODE");
  });
});

describe("decodeMessage: field rules (WIRE_SCHEMA)", () => {
  const schemaCases: [string, Message, (wire: Raw) => Raw][] = [
    ["sig too short", sample("commitment"), (w) => ({ ...w, sig: new Uint8Array(63) })],
    ["sig too long", sample("commitment"), (w) => ({ ...w, sig: new Uint8Array(66) })],
    ["request id not 32 bytes", sample("commitment"), (w) => ({ ...w, request: new Uint8Array(31) })],
    ["node id with a space", sample("commitment"), (w) => ({ ...w, node: "node 01" })],
    ["empty node id", sample("commitment"), (w) => ({ ...w, node: "" })],
    ["node id over 64 bytes", sample("commitment"), (w) => ({ ...w, node: "n".repeat(65) })],
    ["chain as bytes", sample("commitment"), (w) => ({ ...w, chain: new Uint8Array(4) })],
    ["salt not 32 bytes", sample("reveal"), (w) => ({ ...w, salt: new Uint8Array(16) })],
    ["evidence lengths differ", sample("reveal-evidence"), (w) => ({ ...w, evidence: { tokens: new Uint8Array(8), margins: new Uint8Array(4) } })],
    ["evidence not u32-packed", sample("reveal-evidence"), (w) => ({ ...w, evidence: { tokens: new Uint8Array(3), margins: new Uint8Array(3) } })],
    ["close not sorted by node", sample("close"), (w) => ({ ...w, commitments: [...(w.commitments as unknown[])].reverse() })],
    ["close lists a node twice", sample("close"), (w) => ({ ...w, commitments: [(w.commitments as unknown[])[0], ...(w.commitments as unknown[])] })],
    ["negative integer", sample("request"), (w) => ({ ...w, deadline: -1 })],
    ["n above the largest committee", sample("request"), (w) => ({ ...w, n: 65 })],
    ["unknown mode", sample("request"), (w) => ({ ...w, mode: "fast" })],
    ["policy id with capitals", sample("request"), (w) => ({ ...w, policy: { id: "Exact", version: 1, params: {} } })],
    ["topPPpm zero", sample("request"), (w) => ({ ...w, sampling: { ...(w.sampling as Raw), topPPpm: 0 } })],
    ["maxTokens zero", sample("request"), (w) => ({ ...w, sampling: { ...(w.sampling as Raw), maxTokens: 0 } })],
    ["policy params nested too deep", sample("request"), (w) => ({ ...w, policy: { id: "exact", version: 1, params: { a: { b: { c: { d: { e: 1 } } } } } } })],
    ["policy params with bytes", sample("request"), (w) => ({ ...w, policy: { id: "exact", version: 1, params: { a: new Uint8Array(1) } } })],
    ["no-agreement with an unknown reason", sample("no-agreement-exhausted"), (w) => ({ ...w, reason: "bored" })],
    ["supporters not sorted", sample("bundle-commit-reveal"), (w) => ({ ...w, outcome: { ...(w.outcome as Raw), supporters: [...((w.outcome as Raw).supporters as string[])].reverse() } })],
    ["bundle reveals not sorted", sample("bundle-commit-reveal"), (w) => ({ ...w, reveals: [...(w.reveals as unknown[])].reverse() })],
    ["equivocation of a reveal", sample("equivocation-commitments"), (w) => ({ ...w, first: raw(sample("reveal")) })],
    ["nested request of another kind", sample("bundle-direct-evidence"), (w) => ({ ...w, request: raw(sample("commitment")) })],
  ];
  for (const [name, message, edit] of schemaCases) {
    it(`rejects ${name}`, () => {
      expect(codeOf(() => decodeMessage(canonical(edit(raw(message))), message.t))).toBe("WIRE_SCHEMA");
    });
  }

  it("accepts the largest values each field allows", () => {
    const request = raw(sample("request"));
    const edges = { ...request, n: 64, k: 64, deadline: Number.MAX_SAFE_INTEGER, sampling: { temperatureMilli: 100_000, topK: 1 << 24, topPPpm: 1_000_000, maxTokens: 8192 } };
    expect(codeOf(() => decodeMessage(canonical(edges), "request"))).toBe("ok");
    expect(codeOf(() => decodeMessage(canonical({ ...edges, deadline: Number.MAX_SAFE_INTEGER + 1 }), "request"))).toBe("WIRE_SCHEMA");
    // Policy parameters: four levels of maps (the params map and three nested) are allowed.
    const deep = { ...request, policy: { id: "exact", version: 1, params: { a: { b: { c: { d: 1 } } } } } };
    expect(codeOf(() => decodeMessage(canonical(deep), "request"))).toBe("ok");
  });
});
