/**
 * Vectors that decide the edges spec/ states in words (issue 17): wire ranges and list limits,
 * where the decoder's depth, item and size limits fall, the codes for a missing or wrong `t`/`v`
 * (top level and nested), integral floats, malformed UTF-8 against a length limit, the order of
 * verifyBundle's checks, and the registry file. They extend encoding.json and bundles.json and
 * make registry.json. Every case is checked against the code it was built to raise.
 */
import { decode as cborDecode, encode as cborEncode, rfc8949EncodeOptions } from "cborg";
import { signMessage } from "../../src/crypto/sign.ts";
import type { ErrorCode } from "../../src/errors.ts";
import { commitOutput, signClose, signNoAgreement, signRequest } from "../../src/quorum/attest.ts";
import { createRegistry, registryConfigFromJson, registryConfigToJson, type RegistryJson } from "../../src/quorum/registry.ts";
import { openRequest } from "../../src/quorum/rules.ts";
import { taggedHash, toHex } from "../../src/wire/hash.ts";
import { commitmentOfReveal } from "../../src/wire/ids.ts";
import { MAX_CBOR_ITEMS, MAX_CBOR_DEPTH } from "../../src/wire/cbor.ts";
import { MAX_MESSAGE_BYTES, MAX_MODEL_ID_BYTES, MAX_PARAM_ENTRIES, MAX_PARAM_TEXT_BYTES } from "../../src/wire/limits.ts";
import { decodeMessage, encodeMessage } from "../../src/wire/messages.ts";
import type { AgreedBundle, CommitClose, InferenceRequest, Message, MessageKind, OutputReveal } from "../../src/wire/types.ts";
import { requestBody, runRequest, salt, testKey, testRequest, type TestNetwork } from "../../test/helpers/fixtures.ts";
import { SAMPLE_EVIDENCE, type Sample } from "../../test/spec/samples.ts";
import { codeOf, type NotedCase } from "./format.ts";

type Raw = Record<string, unknown>;

function fail(name: string, what: string): never {
  throw new Error(`gen-vectors: ${name}: ${what}`);
}

const canonical = (value: unknown): Uint8Array => cborEncode(value, rfc8949EncodeOptions);
/** A message's wire map (evidence packed, byte strings as Uint8Array), for editing. */
const rawOf = (message: Message): Raw => cborDecode(encodeMessage(message), { useMaps: false }) as Raw;

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Replaces the one occurrence of `from` (at a byte boundary) in `bytes`; fails if there is not exactly one. */
function replaceOnce(name: string, bytes: Uint8Array, from: Uint8Array, to: Uint8Array): Uint8Array {
  const hex = toHex(bytes);
  const pattern = toHex(from);
  const hits: number[] = [];
  for (let at = hex.indexOf(pattern); at >= 0; at = hex.indexOf(pattern, at + 1)) if (at % 2 === 0) hits.push(at / 2);
  if (hits.length !== 1) fail(name, `pattern ${pattern} found ${hits.length} times`);
  const at = hits[0] as number;
  return concat(bytes.subarray(0, at), to, bytes.subarray(at + from.length));
}

/** A CBOR text string with raw (possibly malformed) UTF-8 bytes. */
function rawText(bytes: Uint8Array): Uint8Array {
  if (bytes.length > 255) throw new Error("rawText: short strings only");
  return concat(bytes.length < 24 ? Uint8Array.of(0x60 + bytes.length) : Uint8Array.of(0x78, bytes.length), bytes);
}

const repeatBytes = (pattern: number[], times: number): Uint8Array => Uint8Array.from(Array.from({ length: times }, () => pattern).flat());

// ---------------------------------------------------------------------------------------------
// encoding.json

/** An invalid encoding: `hex`, then zero bytes up to `size` bytes in all when given. */
interface EdgeEncoding {
  name: string;
  note: string;
  kind: MessageKind | null;
  bytes: Uint8Array;
  size?: number;
  code: ErrorCode;
}

/** The bytes an encoding case stands for: `hex`, zero-padded to `size` when given. */
function encodingBytes(hex: Uint8Array, size?: number): Uint8Array {
  if (size === undefined) return hex;
  if (size < hex.length) throw new Error("encoding vector: size below the hex length");
  const out = new Uint8Array(size);
  out.set(hex);
  return out;
}

function validEdges(net: TestNetwork): { name: string; note: string; message: Message }[] {
  const base = testRequest(net);
  const context = openRequest(base, net.registry, net.policies);
  const first = context.committee[0] as string;
  const key = net.keys.get(first);
  if (!key) throw new Error("gen-vectors: no key");
  const emptyEvidence = commitOutput(key, { chain: base.chain, request: context.id, node: first, output: "", evidence: { tokens: [], margins: [] } }, salt(first)).reveal;
  const nested = { a: { b: { c: { d: 1 } } }, l: [[[1]]] };
  const wide = Object.fromEntries(Array.from({ length: MAX_PARAM_ENTRIES - 1 }, (_, i) => [`k${String(i).padStart(2, "0")}`, i]));
  const refs = Array.from({ length: 64 }, (_, i) => ({ node: `m-${String(i).padStart(2, "0")}`, commitment: taggedHash("vector-commitment", String(i)) }));
  const close64 = signMessage<CommitClose>(net.sequencer, { t: "close", v: 1, chain: base.chain, request: context.id, commitments: refs });
  const a = taggedHash("vector-output", "a");
  const b = taggedHash("vector-output", "b");
  const anyOrder = signNoAgreement(net.sequencer, { t: "no-agreement", v: 1, chain: base.chain, request: context.id, reason: "exhausted", clusters: [{ outputHash: a, members: ["node-01"] }, { outputHash: b, members: ["node-02", "node-03"] }] });
  return [
    { name: "request-model-id-any-text", note: "The model id has no pattern: any text of at most 128 bytes of UTF-8.", message: testRequest(net, { model: "org/model-7B:q4_K_M @v2 \u00e9" }) },
    { name: "request-empty-model-id", note: "Even the empty text is a model id on the wire (no node serves it).", message: testRequest(net, { model: "" }) },
    { name: "request-model-id-128-bytes", note: "128 bytes of UTF-8 (64 two-byte characters) is the largest model id.", message: testRequest(net, { model: "\u00e9".repeat(MAX_MODEL_ID_BYTES / 2) }) },
    { name: "request-n-k-zero-on-the-wire", note: "n and k are 0..64 on the wire; the threshold rule (REQUEST_INVALID) is the request rules', not the decoder's.", message: testRequest(net, { n: 0, k: 0 }) },
    { name: "request-empty-input-on-the-wire", note: "The empty input decodes; the request rules refuse it (REQUEST_INVALID).", message: testRequest(net, { input: "" }) },
    {
      name: "request-largest-values",
      note: "The largest value of every bounded request field.",
      message: testRequest(net, { n: 64, k: 64, deadline: Number.MAX_SAFE_INTEGER, sampling: { temperatureMilli: 100_000, topK: 1 << 24, topPPpm: 1_000_000, maxTokens: 8192 } }),
    },
    { name: "request-params-depth-4", note: "The params map is depth 1 and each map or list inside adds 1: four levels, maps or lists, are allowed.", message: testRequest(net, { policy: { id: "exact", version: 1, params: nested } }) },
    { name: "request-params-64-entries-and-1-kib-text", note: "64 entries per map or list and 1 KiB per text (keys included) are allowed.", message: testRequest(net, { policy: { id: "exact", version: 1, params: { ...wide, ["t".repeat(MAX_PARAM_TEXT_BYTES)]: "x".repeat(MAX_PARAM_TEXT_BYTES) } } }) },
    { name: "reveal-empty-evidence", note: "Evidence of zero steps (two empty byte strings) is well-formed.", message: emptyEvidence },
    { name: "close-64-commitments", note: "A close lists at most 64 commitments (MAX_COMMITTEE); the decoder does not know the committee.", message: close64 },
    { name: "no-agreement-clusters-in-any-order", note: "The decoder does not check the clusters' order (the signer's policy fixes it), only that each member list is sorted.", message: anyOrder },
  ];
}

function invalidEdges(samples: readonly Sample[], net: TestNetwork): EdgeEncoding[] {
  const find = (name: string): Message => samples.find((s) => s.name === name)?.message ?? fail(name, "no sample");
  const commitment = find("commitment");
  const wire = rawOf(commitment);
  const { t: _t, ...noKind } = wire;
  const { v: _v, ...noVersion } = wire;
  const request = find("request") as InferenceRequest;
  const requestBytes = encodeMessage(request);
  const rawRequest = rawOf(request);
  const bundle = find("bundle-commit-reveal") as AgreedBundle;
  const rawBundle = rawOf(bundle);
  const directBundle = rawOf(find("bundle-direct-evidence"));
  const noAgreement = rawOf(find("no-agreement-exhausted"));
  const equivocation = rawOf(find("equivocation-commitments"));
  const close = rawBundle.close as Raw;
  const text = (s: string) => canonical(s);
  const key = (name: string, value: number[]) => concat(text(name), Uint8Array.from(value));
  const model = text(request.model);
  const withModel = (name: string, bytes: Uint8Array) => replaceOnce(name, requestBytes, concat(text("model"), model), concat(text("model"), rawText(bytes)));
  const outcome = rawBundle.outcome as Raw;
  const clusters = noAgreement.clusters as Raw[];
  const { outputs: _outputs, ...withoutOutputs } = rawBundle;
  const { reveals: _reveals, ...withoutReveals } = directBundle;
  const refs = Array.from({ length: 65 }, (_, i) => ({ node: `m-${String(i).padStart(2, "0")}`, commitment: taggedHash("vector-commitment", String(i)) }));
  return [
    { name: "any-kind-over-max-message-bytes", note: "With no expected kind the limit is MAX_MESSAGE_BYTES = 4 MiB - 64 KiB: one byte more is refused before decoding.", kind: null, bytes: new Uint8Array(0), size: MAX_MESSAGE_BYTES + 1, code: "WIRE_OVERSIZED" },
    { name: "any-kind-at-max-message-bytes", note: "MAX_MESSAGE_BYTES bytes pass the size check (then 0x00 is one item and the rest trailing bytes).", kind: null, bytes: new Uint8Array(0), size: MAX_MESSAGE_BYTES, code: "WIRE_DECODE" },
    { name: "bundle-over-max-message-bytes", note: "A bundle's limit is MAX_MESSAGE_BYTES too.", kind: "bundle", bytes: new Uint8Array(0), size: MAX_MESSAGE_BYTES + 1, code: "WIRE_OVERSIZED" },
    { name: "cbor-nesting-at-limit", note: `The top-level item is at depth 0 and an item inside a list or map one deeper: 64 nested lists put the innermost item at depth ${MAX_CBOR_DEPTH}, allowed (then not a map).`, kind: null, bytes: concat(repeatBytes([0x81], 64), Uint8Array.of(0x00)), code: "WIRE_SCHEMA" },
    { name: "cbor-nesting-over-limit", note: "65 nested lists put an item at depth 65: WIRE_DECODE.", kind: null, bytes: concat(repeatBytes([0x81], 65), Uint8Array.of(0x00)), code: "WIRE_DECODE" },
    { name: "cbor-items-at-limit", note: `Items are counted at every depth, the top-level item and map keys included: a list of 2^18 - 1 zeros is ${MAX_CBOR_ITEMS} items, allowed (then not a map).`, kind: null, bytes: Uint8Array.of(0x9a, 0x00, 0x03, 0xff, 0xff), size: 5 + MAX_CBOR_ITEMS - 1, code: "WIRE_SCHEMA" },
    { name: "cbor-items-over-limit", note: "A list of 2^18 zeros is 2^18 + 1 items: WIRE_DECODE.", kind: null, bytes: Uint8Array.of(0x9a, 0x00, 0x04, 0x00, 0x00), size: 5 + MAX_CBOR_ITEMS, code: "WIRE_DECODE" },
    { name: "missing-kind-expected", note: "With an expected kind, a map without t is not that kind: WIRE_KIND (with any kind: WIRE_SCHEMA, missing-kind).", kind: "commitment", bytes: canonical(noKind), code: "WIRE_KIND" },
    { name: "kind-not-text-expected", note: "A t that is not text is not the expected kind: WIRE_KIND.", kind: "commitment", bytes: canonical({ ...wire, t: 1 }), code: "WIRE_KIND" },
    { name: "kind-not-text-any-kind", note: "With any kind, a t that is not one of the eight kinds is WIRE_SCHEMA.", kind: null, bytes: canonical({ ...wire, t: 1 }), code: "WIRE_SCHEMA" },
    { name: "unknown-kind-with-other-version", note: "t is checked before v: an unknown kind with v = 2 is WIRE_SCHEMA.", kind: null, bytes: canonical({ ...wire, t: "vote", v: 2 }), code: "WIRE_SCHEMA" },
    { name: "missing-version", note: "A missing v is a missing key: WIRE_SCHEMA (only a v that is present and not 1 is WIRE_VERSION).", kind: "commitment", bytes: canonical(noVersion), code: "WIRE_SCHEMA" },
    { name: "missing-version-any-kind", note: "The same without an expected kind.", kind: null, bytes: canonical(noVersion), code: "WIRE_SCHEMA" },
    { name: "version-as-text", note: "v = '1' (text) is not the integer 1: WIRE_VERSION.", kind: "commitment", bytes: canonical({ ...wire, v: "1" }), code: "WIRE_VERSION" },
    { name: "version-fraction", note: "v = 1.5 (a half-precision float) is WIRE_VERSION, checked before the canonical form.", kind: "commitment", bytes: replaceOnce("version-fraction", encodeMessage(commitment), key("v", [0x01]), key("v", [0xf9, 0x3e, 0x00])), code: "WIRE_VERSION" },
    { name: "not-a-map-expected-kind", note: "A top level that is not a map, with an expected kind: WIRE_SCHEMA.", kind: "commitment", bytes: canonical(["commitment", 1]), code: "WIRE_SCHEMA" },
    { name: "nested-close-of-another-kind", note: "Inside a message, a nested message's t is a field: a close slot holding t = 'commitment' (with a close's keys) is WIRE_SCHEMA.", kind: "bundle", bytes: canonical({ ...rawBundle, close: { ...close, t: "commitment" } }), code: "WIRE_SCHEMA" },
    { name: "nested-close-other-version", note: "A nested message's v other than 1 is WIRE_SCHEMA (WIRE_VERSION is for the top level).", kind: "bundle", bytes: canonical({ ...rawBundle, close: { ...close, v: 2 } }), code: "WIRE_SCHEMA" },
    { name: "nested-request-of-another-kind", note: "A bundle's request with t = 'output' is WIRE_SCHEMA.", kind: "bundle", bytes: canonical({ ...rawBundle, request: { ...(rawBundle.request as Raw), t: "output" } }), code: "WIRE_SCHEMA" },
    { name: "nested-equivocation-other-version", note: "An equivocation's message with v = 2 is WIRE_SCHEMA.", kind: "equivocation", bytes: canonical({ ...equivocation, first: { ...(equivocation.first as Raw), v: 2 } }), code: "WIRE_SCHEMA" },
    { name: "float-integral-in-integer-field", note: "n = 7.0 (a half-precision float) satisfies the schema and is then WIRE_NON_CANONICAL.", kind: "request", bytes: replaceOnce("float-integral-in-integer-field", requestBytes, key("n", [0x07]), key("n", [0xf9, 0x47, 0x00])), code: "WIRE_NON_CANONICAL" },
    { name: "float-negative-zero-in-integer-field", note: "k = -0.0 reads as the integer 0 and is WIRE_NON_CANONICAL.", kind: "request", bytes: replaceOnce("float-negative-zero", requestBytes, key("k", [0x05]), key("k", [0xf9, 0x80, 0x00])), code: "WIRE_NON_CANONICAL" },
    { name: "float-integral-above-2-pow-53", note: "An integral float beyond 2^53 - 1 (deadline = 2^60 as a double) is out of the integer range: WIRE_SCHEMA.", kind: "request", bytes: replaceOnce("float-integral-above-2-pow-53", requestBytes, key("deadline", [0x19, 0x27, 0x10]), key("deadline", [0xfb, 0x43, 0xb0, 0, 0, 0, 0, 0, 0])), code: "WIRE_SCHEMA" },
    { name: "float-integral-policy-param", note: "An integral float in the policy params reads as an integer: WIRE_NON_CANONICAL.", kind: "request", bytes: replaceOnce("float-integral-policy-param", encodeMessage(testRequest(net, { policy: { id: "exact", version: 1, params: { x: 1 } } })), key("x", [0x01]), key("x", [0xf9, 0x3c, 0x00])), code: "WIRE_NON_CANONICAL" },
    { name: "n-above-64", note: "n is 0..64 on the wire.", kind: "request", bytes: canonical({ ...rawRequest, n: 65 }), code: "WIRE_SCHEMA" },
    { name: "k-above-64", note: "k is 0..64 on the wire.", kind: "request", bytes: canonical({ ...rawRequest, k: 65 }), code: "WIRE_SCHEMA" },
    { name: "model-id-129-bytes", note: "A model id longer than 128 bytes of UTF-8.", kind: "request", bytes: canonical({ ...rawRequest, model: "m".repeat(MAX_MODEL_ID_BYTES + 1) }), code: "WIRE_SCHEMA" },
    { name: "malformed-utf8-limit-after-decoding", note: "43 bytes 0xFF decode to 43 U+FFFD, 129 bytes of UTF-8: over the model id's 128, so WIRE_SCHEMA (limits apply to the decoded text).", kind: "request", bytes: withModel("malformed-43", repeatBytes([0xff], 43)), code: "WIRE_SCHEMA" },
    { name: "malformed-utf8-within-limit", note: "42 bytes 0xFF decode to 126 bytes: within the limit, so the malformed text is WIRE_NON_CANONICAL.", kind: "request", bytes: withModel("malformed-42", repeatBytes([0xff], 42)), code: "WIRE_NON_CANONICAL" },
    { name: "malformed-utf8-maximal-subpart", note: "F0 9F 98 (a 4-byte sequence cut short) is one maximal subpart, one U+FFFD: 15 of them (45 bytes) decode to 45 bytes, WIRE_NON_CANONICAL (one U+FFFD per byte would be 135 bytes, WIRE_SCHEMA).", kind: "request", bytes: withModel("malformed-subpart", repeatBytes([0xf0, 0x9f, 0x98], 15)), code: "WIRE_NON_CANONICAL" },
    { name: "malformed-utf8-overlong-lead", note: "E0 80 is two maximal subparts (E0 cannot be followed by 80), two U+FFFD: 22 of them (44 bytes) decode to 132 bytes, WIRE_SCHEMA.", kind: "request", bytes: withModel("malformed-overlong", repeatBytes([0xe0, 0x80], 22)), code: "WIRE_SCHEMA" },
    { name: "close-65-commitments", note: "A close lists at most 64 commitments.", kind: "close", bytes: canonical({ ...rawOf(find("close")), commitments: refs }), code: "WIRE_SCHEMA" },
    { name: "bundle-supporters-not-sorted", note: "An outcome's supporters are strictly sorted at decode.", kind: "bundle", bytes: canonical({ ...rawBundle, outcome: { ...outcome, supporters: [...(outcome.supporters as string[])].reverse() } }), code: "WIRE_SCHEMA" },
    { name: "no-agreement-members-not-sorted", note: "A cluster's members are strictly sorted at decode.", kind: "no-agreement", bytes: canonical({ ...noAgreement, clusters: clusters.map((c) => ({ ...c, members: [...(c.members as string[])].reverse() })) }), code: "WIRE_SCHEMA" },
    { name: "bundle-without-outputs", note: "A bundle carries both reveals and outputs (the other mode's list empty): a missing key is WIRE_SCHEMA.", kind: "bundle", bytes: canonical(withoutOutputs), code: "WIRE_SCHEMA" },
    { name: "bundle-direct-without-reveals", note: "The same for a direct-mode bundle without its empty reveals.", kind: "bundle", bytes: canonical(withoutReveals), code: "WIRE_SCHEMA" },
    { name: "policy-params-maps-depth-5", note: "Five levels of maps (the params map and four inside).", kind: "request", bytes: canonical({ ...rawRequest, policy: { id: "exact", version: 1, params: { a: { b: { c: { d: { e: 1 } } } } } } }), code: "WIRE_SCHEMA" },
    { name: "policy-params-lists-depth-5", note: "Lists count as maps do: the params map and four nested lists.", kind: "request", bytes: canonical({ ...rawRequest, policy: { id: "exact", version: 1, params: { l: [[[[1]]]] } } }), code: "WIRE_SCHEMA" },
    { name: "policy-params-65-entries", note: "At most 64 entries per params map.", kind: "request", bytes: canonical({ ...rawRequest, policy: { id: "exact", version: 1, params: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i])) } }), code: "WIRE_SCHEMA" },
    { name: "policy-params-list-65-items", note: "At most 64 items per params list.", kind: "request", bytes: canonical({ ...rawRequest, policy: { id: "exact", version: 1, params: { l: Array.from({ length: 65 }, (_, i) => i) } } }), code: "WIRE_SCHEMA" },
    { name: "policy-params-text-1025-bytes", note: "At most 1 KiB per params text.", kind: "request", bytes: canonical({ ...rawRequest, policy: { id: "exact", version: 1, params: { t: "x".repeat(MAX_PARAM_TEXT_BYTES + 1) } } }), code: "WIRE_SCHEMA" },
  ];
}

/** The cases issue 17 adds to encoding.json, valid and invalid, each checked here. */
export function edgeEncodingCases(samples: readonly Sample[], net: TestNetwork): NotedCase[] {
  const cases: NotedCase[] = [];
  for (const { name, note, message } of validEdges(net)) {
    const bytes = encodeMessage(message);
    const code = codeOf(() => decodeMessage(bytes, message.t));
    if (code) fail(name, `does not decode: ${code}`);
    if (toHex(encodeMessage(decodeMessage(bytes, message.t))) !== toHex(bytes)) fail(name, "does not round-trip");
    cases.push({ name, note, input: { kind: message.t, message: vectorJson(message) }, expected: { hex: toHex(bytes) } });
  }
  for (const edge of invalidEdges(samples, net)) {
    const bytes = encodingBytes(edge.bytes, edge.size);
    const code = codeOf(() => (edge.kind ? decodeMessage(bytes, edge.kind) : decodeMessage(bytes)));
    if (code !== edge.code) fail(edge.name, `expected ${edge.code}, got ${code ?? "no error"}`);
    const input = edge.size === undefined ? { kind: edge.kind, hex: toHex(edge.bytes) } : { kind: edge.kind, hex: toHex(edge.bytes), size: edge.size };
    cases.push({ name: edge.name, note: edge.note, input, expectedError: edge.code });
  }
  return cases;
}

function vectorJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return toHex(value);
  if (Array.isArray(value)) return value.map(vectorJson);
  if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, vectorJson(v)]));
  return value;
}

// ---------------------------------------------------------------------------------------------
// bundles.json

export interface EdgeBundle {
  name: string;
  note: string;
  bundle: AgreedBundle;
  /** The first code: decoding's when the bundle cannot be encoded validly, else verifyBundle's. */
  code: ErrorCode;
}

/** Bundles that decide the order and the codes of verifyBundle's checks (spec/08). */
export function edgeBundleCases(net: TestNetwork): EdgeBundle[] {
  const request = testRequest(net);
  const { collector, context, reveals } = runRequest(net, request, () => ({ output: "Paris" }));
  const valid = collector.bundle;
  const directRequest = testRequest(net, { mode: "direct" });
  const validDirect = runRequest(net, directRequest, () => ({ output: "Paris", evidence: SAMPLE_EVIDENCE })).collector.bundle;
  if (!valid || !validDirect) throw new Error("gen-vectors: the committee did not agree");
  const close = valid.close as CommitClose;
  const { k } = request;
  const outsider = [...net.keys.keys()].find((id) => !context.members.has(id)) as string;
  const outsiderKey = net.keys.get(outsider);
  if (!outsiderKey) throw new Error("gen-vectors: no outsider");
  const outsiderCommitment = commitOutput(outsiderKey, { chain: request.chain, request: context.id, node: outsider, output: "Paris" }, salt(outsider)).commitment;
  const everyCommitment = [...reveals.map(commitmentOfReveal), outsiderCommitment].sort((a, b) => (a.node < b.node ? -1 : 1));
  const listed = valid.reveals.map(commitmentOfReveal);
  const { sig: _sig, ...directBody } = directRequest;
  const withReveal = (index: number, change: Partial<OutputReveal>): AgreedBundle => ({ ...valid, reveals: valid.reveals.map((r, i) => (i === index ? { ...r, ...change } : r)) });
  const body = (overrides: Parameters<typeof requestBody>[0]) => {
    const { sig: _s, ...rest } = signRequest(net.sequencer, requestBody(overrides));
    return rest;
  };
  return [
    { name: "close-lists-fewer-than-k", note: "A close listing k - 1 commitments: REQUEST_INVALID (checked before its members).", bundle: { ...valid, close: signClose(net.sequencer, request.chain, context.id, listed.slice(0, k - 1)) }, code: "REQUEST_INVALID" },
    { name: "close-lists-more-than-n", note: "A close listing n + 1 commitments (the committee and an outsider): REQUEST_INVALID, the count before membership.", bundle: { ...valid, close: signClose(net.sequencer, request.chain, context.id, everyCommitment) }, code: "REQUEST_INVALID" },
    { name: "close-lists-a-node-twice", note: "A node listed twice never reaches the close rules: the decoder requires the list strictly sorted (WIRE_SCHEMA).", bundle: { ...valid, close: { ...close, commitments: [close.commitments[0] as CommitClose["commitments"][number], ...close.commitments] } }, code: "WIRE_SCHEMA" },
    { name: "close-on-another-chain", note: "A nested close on another chain decodes; the close rules refuse it: CHAIN_MISMATCH.", bundle: { ...valid, close: signClose(net.sequencer, "other-chain", context.id, reveals.map(commitmentOfReveal)) }, code: "CHAIN_MISMATCH" },
    { name: "reveal-on-another-chain", note: "A reveal on another chain: CHAIN_MISMATCH, before its commitment is opened.", bundle: withReveal(0, { chain: "other-chain" }), code: "CHAIN_MISMATCH" },
    { name: "direct-request-without-signature", note: "A direct-mode bundle whose request has no signature: BUNDLE_INVALID (the bundle's form, before the request rules).", bundle: { ...validDirect, request: directBody }, code: "BUNDLE_INVALID" },
    { name: "direct-request-without-signature-bad-threshold", note: "The form is checked before the threshold: still BUNDLE_INVALID.", bundle: { ...validDirect, request: { ...directBody, k: 3 } }, code: "BUNDLE_INVALID" },
    { name: "request-empty-input", note: "An empty input: REQUEST_INVALID (after the threshold, before the policy).", bundle: { ...valid, request: body({ input: "" }) }, code: "REQUEST_INVALID" },
    { name: "request-n-zero", note: "n = 0 decodes; the threshold rule refuses it: REQUEST_INVALID.", bundle: { ...valid, request: body({ n: 0, k: 0 }) }, code: "REQUEST_INVALID" },
    { name: "request-retired-policy", note: "semantic@1 is retired: verifyBundle (live) is POLICY_RETIRED.", bundle: { ...valid, request: body({ policy: { id: "semantic", version: 1, params: {} } }) }, code: "POLICY_RETIRED" },
    { name: "request-baseline-policy", note: "first-wins@1 is a baseline: a request naming it is POLICY_PARAMS.", bundle: { ...valid, request: body({ policy: { id: "first-wins", version: 1, params: {} } }) }, code: "POLICY_PARAMS" },
  ];
}

// ---------------------------------------------------------------------------------------------
// registry.json

/** Registry files (the JSON form, src/quorum/registry.ts) and what loading them gives. */
export function registryVectors(net: TestNetwork): { description: string; cases: NotedCase[] } {
  const json = registryConfigToJson(net.config);
  const nodes = json.nodes;
  const first = nodes[0] as RegistryJson["nodes"][number];
  const withNodes = (list: unknown[]): unknown => ({ ...json, nodes: list });
  const withFirst = (change: Record<string, unknown>): unknown => withNodes([{ ...first, ...change }, ...nodes.slice(1)]);
  const without = (field: string): unknown => withNodes([Object.fromEntries(Object.entries(first).filter(([k]) => k !== field)), ...nodes.slice(1)]);
  const secp = nodes.find((n) => n.scheme === "secp256k1") as RegistryJson["nodes"][number];
  const other = testKey("vector-node-09");
  const smallOrder = "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a";
  const cases: [string, string, unknown, boolean][] = [
    ["sample-network", "The sample network of bundles.json: members in id order.", json, true],
    ["listed-in-any-order", "The file may list nodes in any order; the draw walks them by id.", withNodes([...nodes].reverse()), true],
    ["hex-in-upper-case", "Keys are hex in either case.", { ...json, sequencer: { ...json.sequencer, publicKey: json.sequencer.publicKey.toUpperCase() }, nodes: nodes.map((n) => ({ ...n, publicKey: n.publicKey.toUpperCase() })) }, true],
    ["unknown-fields-ignored", "Fields other than chain, sequencer, nodes (and a node's id, scheme, publicKey, weight) are ignored.", { ...json, comment: "x", nodes: nodes.map((n) => ({ ...n, label: "gpu" })) }, true],
    ["largest-weight", "A weight of 2^32 - 1 is allowed.", withFirst({ weight: 2 ** 32 - 1 }), true],
    ["no-nodes", "A registry without nodes loads (every draw is then REQUEST_INVALID).", withNodes([]), true],
    ["another-node", "One more node with its own key.", withNodes([...nodes, { id: "node-09", scheme: "ed25519", publicKey: toHex(other.publicKey), weight: 1 }]), true],
    ["duplicate-node-id", "A node id listed twice.", withNodes([...nodes, { ...first, publicKey: toHex(other.publicKey) }]), false],
    ["one-key-under-two-ids", "One key, one member: the same key under two ids.", withNodes([...nodes, { ...first, id: "node-09" }]), false],
    ["sequencer-key-on-a-node", "No node holds the sequencer's key.", withNodes([...nodes, { id: "node-09", ...json.sequencer, weight: 1 }]), false],
    ["weight-zero", "Weights are integers in 1..2^32 - 1.", withFirst({ weight: 0 }), false],
    ["weight-2-pow-32", "Weights are integers in 1..2^32 - 1.", withFirst({ weight: 2 ** 32 }), false],
    ["weight-fraction", "Weights are integers.", withFirst({ weight: 1.5 }), false],
    ["weight-as-text", "A weight is a JSON number.", withFirst({ weight: "1" }), false],
    ["weight-missing", "Every node has a weight.", without("weight"), false],
    ["id-missing", "Every node has an id.", without("id"), false],
    ["id-not-identifier", "Node ids are identifiers (ASCII letters, digits, '.', '_', '-').", withFirst({ id: "node 00" }), false],
    ["id-65-bytes", "Node ids are at most 64 bytes.", withFirst({ id: "n".repeat(65) }), false],
    ["chain-not-identifier", "The chain id is an identifier.", { ...json, chain: "concord test" }, false],
    ["unknown-scheme", "Schemes are ed25519 and secp256k1.", withFirst({ scheme: "rsa" }), false],
    ["key-not-hex", "Keys are hex.", withFirst({ publicKey: "zz" }), false],
    ["key-with-0x", "Hex without 0x.", withFirst({ publicKey: `0x${first.publicKey}` }), false],
    ["key-small-order", "An ed25519 key outside the prime-order subgroup is refused at load (04-signing.md).", withFirst({ publicKey: smallOrder }), false],
    ["key-31-bytes", "An ed25519 key is 32 bytes.", withFirst({ publicKey: first.publicKey.slice(2) }), false],
    ["secp256k1-key-uncompressed", "secp256k1 keys are 33-byte compressed points.", withNodes(nodes.map((n) => (n.id === secp.id ? { ...n, publicKey: `04${"00".repeat(64)}` } : n))), false],
    ["sequencer-key-invalid", "The sequencer's key is validated too.", { ...json, sequencer: { ...json.sequencer, publicKey: smallOrder } }, false],
    ["nodes-not-a-list", "nodes is a list.", { ...json, nodes: {} }, false],
    ["not-an-object", "The file holds one JSON object.", [json], false],
    ["subnets-1", "subnets: 1 is the default: one subnet, the whole registry.", { ...json, subnets: 1 }, true],
    ["subnets-2", "Nine nodes dealt into two subnets (05-committee.md, Subnets): heaviest first, then by H(\"concord/subnet-order\", id), in a snake.", { ...json, subnets: 2 }, true],
    ["subnets-as-many-as-nodes", "S may equal the node count: one member a subnet.", { ...json, subnets: nodes.length }, true],
    ["subnets-more-than-nodes", "More subnets than nodes loads; the empty subnet's requests are REQUEST_INVALID (their committee cannot be seated).", { ...json, subnets: nodes.length + 1 }, true],
    ["subnets-zero", "subnets is an integer in 1..64.", { ...json, subnets: 0 }, false],
    ["subnets-65", "subnets is an integer in 1..64.", { ...json, subnets: 65 }, false],
    ["subnets-fraction", "subnets is an integer.", { ...json, subnets: 1.5 }, false],
    ["subnets-as-text", "subnets is a JSON number.", { ...json, subnets: "2" }, false],
  ];
  return {
    description:
      "Loading a registry file (spec/05-committee.md; src/quorum/registry.ts registryConfigFromJson, then createRegistry). input is the " +
      "file's JSON value; expected.members the node ids in id order (the order the committee draw walks), and where the file names " +
      "subnets, expected.subnetMembers each subnet's ids in id order; or expectedError CONFIG.",
    cases: cases.map(([name, note, input, ok]) => {
      let expected: { members: string[]; subnetMembers?: string[][] } | undefined;
      const code = codeOf(() => {
        const registry = createRegistry(registryConfigFromJson(input));
        expected = { members: registry.members.map((m) => m.id) };
        // Only where the file names subnets, so the cases before subnets stay byte for byte.
        if ((input as { subnets?: unknown }).subnets !== undefined) expected.subnetMembers = registry.subnetMembers.map((members) => members.map((m) => m.id));
      });
      if (ok ? code !== undefined : code !== "CONFIG") fail(`registry.json ${name}`, `expected ${ok ? "a registry" : "CONFIG"}, got ${code ?? "a registry"}`);
      return ok ? { name, note, input, expected } : { name, note, input, expectedError: "CONFIG" as const };
    }),
  };
}
