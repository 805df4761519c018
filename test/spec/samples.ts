/**
 * Deterministic sample messages of every kind, signed with keys derived from labels
 * (test/helpers/fixtures.ts). The vector generator, the wire tests, the fuzzer, the property
 * tests and the core benchmark all start from these, so every one of them covers every kind
 * and every optional field.
 */
import { decode as cborDecode, encode as cborEncode, rfc8949EncodeOptions } from "cborg";
import { signMessage } from "../../src/crypto/sign.ts";
import type { ErrorCode } from "../../src/errors.ts";
import { commitOutput, signClose, signNoAgreement, signOutput, signRequest } from "../../src/quorum/attest.ts";
import { equivocationOf } from "../../src/quorum/equivocation.ts";
import { openRequest, type RequestContext } from "../../src/quorum/rules.ts";
import { taggedHash, toHex } from "../../src/wire/hash.ts";
import { MAX_KIND_BYTES } from "../../src/wire/limits.ts";
import { encodeMessage } from "../../src/wire/messages.ts";
import { commitmentOfReveal, requestId } from "../../src/wire/ids.ts";
import type {
  AgreedBundle,
  CommitClose,
  Evidence,
  InferenceRequest,
  Message,
  MessageKind,
  NoAgreement,
  OutputCommitment,
  OutputReveal,
  SchemeName,
  SignedOutput,
} from "../../src/wire/types.ts";
import { requestBody, runRequest, salt, testNetwork, testRequest, type TestNetwork } from "../helpers/fixtures.ts";

export interface Sample {
  name: string;
  message: Message;
}

/**
 * The sample network: 9 nodes, every third one on secp256k1, weights 1..3, so committees and
 * bundles mix both schemes.
 */
export function sampleNetwork(): TestNetwork {
  return testNetwork(9, {
    schemes: (i): SchemeName => (i % 3 === 2 ? "secp256k1" : "ed25519"),
    weights: (i) => 1 + (i % 3),
  });
}

export const SAMPLE_EVIDENCE: Evidence = { tokens: [0, 17, 4_294_967_295, 9], margins: [1_000_000, 0, 42, 4_294_967_295] };

/** A valid commit-reveal bundle (n=7, k=5) where every member answers `output`. */
export function commitRevealBundle(net: TestNetwork, request: InferenceRequest, output = "Paris"): { bundle: AgreedBundle; context: RequestContext } {
  const { collector, context } = runRequest(net, request, () => ({ output }));
  if (!collector.bundle) throw new Error("sample: the committee did not agree");
  return { bundle: collector.bundle, context };
}

/** Every message kind, with and without each optional field. Names are stable: vectors use them. */
export function sampleMessages(net: TestNetwork): Sample[] {
  const request = testRequest(net);
  const weighted = testRequest(net, { weights: taggedHash("weights", "synthetic-v1"), input: "Ünïcödé ✓ 東京 🚀" });
  const withParams = testRequest(net, {
    policy: { id: "semantic", version: 2, params: { thetaPpm: 900_000, level: "word", strict: true, list: [1, "a", false], nested: { x: 0 } } },
    sampling: { temperatureMilli: 700, topK: 40, topPPpm: 950_000, maxTokens: 8192 },
  });
  const directRequest = testRequest(net, { mode: "direct" });
  const context = openRequest(request, net.registry, net.policies);
  const directContext = openRequest(directRequest, net.registry, net.policies);
  const [first, second] = context.committee as [string, string];
  const attestation = { chain: request.chain, request: context.id, node: first, output: "Paris" };
  const keyOf = (node: string) => {
    const key = net.keys.get(node);
    if (!key) throw new Error(`sample: no key for ${node}`);
    return key;
  };
  const plain = commitOutput(keyOf(first), attestation, salt(first));
  const withEvidence = commitOutput(keyOf(second), { ...attestation, node: second, evidence: SAMPLE_EVIDENCE }, salt(second));
  const other = commitOutput(keyOf(first), { ...attestation, output: "Lyon" }, salt("other"));
  // The close lists every member; the second member's commitment is the one with evidence, so
  // both sample reveals open a listed commitment.
  const commitments: OutputCommitment[] = context.committee.map((node) =>
    node === second ? withEvidence.commitment : commitOutput(keyOf(node), { ...attestation, node }, salt(node)).commitment,
  );
  const close = signClose(net.sequencer, request.chain, context.id, commitments);
  const directNode = directContext.committee[0] as string;
  const directAttestation = { chain: request.chain, request: directContext.id, node: directNode, output: "Paris" };
  const output = signOutput(keyOf(directNode), directAttestation);
  const outputWithEvidence = signOutput(keyOf(directNode), { ...directAttestation, evidence: SAMPLE_EVIDENCE });
  const outputOther = signOutput(keyOf(directNode), { ...directAttestation, output: "Lyon" });
  const crBundle = commitRevealBundle(net, request).bundle;
  const directBundle = runRequest(net, directRequest, () => ({ output: "Paris", evidence: SAMPLE_EVIDENCE })).collector.bundle;
  const split = runRequest(net, request, (_node, i) => ({ output: i % 2 === 0 ? "Paris" : "Lyon" })).collector.noAgreement;
  if (!directBundle || !split) throw new Error("sample: runs did not end as expected");
  const noAgreement: NoAgreement = signNoAgreement(net.sequencer, split);
  const deadline: NoAgreement = signNoAgreement(net.sequencer, { ...split, reason: "deadline", clusters: [] });
  const equivocation = equivocationOf(plain.commitment, other.commitment);
  const outputEquivocation = equivocationOf(output, outputOther);
  const mixedEquivocation = equivocationOf(outputWithEvidence, output);
  if (!equivocation || !outputEquivocation || !mixedEquivocation) throw new Error("sample: no equivocation");
  const reveal: OutputReveal = plain.reveal;
  return [
    { name: "request", message: request },
    { name: "request-weights-unicode", message: weighted },
    { name: "request-policy-params", message: withParams },
    { name: "request-direct", message: directRequest },
    { name: "commitment", message: plain.commitment },
    { name: "commitment-secp256k1", message: commitments.find((c) => c.sig.length === 65) ?? plain.commitment },
    { name: "close", message: close },
    { name: "reveal", message: reveal },
    { name: "reveal-evidence", message: withEvidence.reveal },
    { name: "output", message: output },
    { name: "output-evidence", message: outputWithEvidence },
    { name: "bundle-commit-reveal", message: crBundle },
    { name: "bundle-direct-evidence", message: directBundle },
    { name: "no-agreement-exhausted", message: noAgreement },
    { name: "no-agreement-deadline", message: deadline },
    { name: "equivocation-commitments", message: equivocation },
    { name: "equivocation-outputs", message: outputEquivocation },
    { name: "equivocation-outputs-evidence", message: mixedEquivocation },
  ];
}

/** One bundle for verifyBundle: valid (no code) or invalid in exactly one way. */
export interface BundleCase {
  name: string;
  bundle: AgreedBundle;
  /** The code verifyBundle throws on the bundle object; absent for a valid bundle. */
  code?: ErrorCode;
  /** When the bundle cannot even be encoded validly: the code decodeMessage throws on its bytes. */
  wireCode?: ErrorCode | undefined;
}

const flip = (bytes: Uint8Array, index = 0): Uint8Array => {
  const out = Uint8Array.from(bytes);
  out[index] = (out[index] as number) ^ 0x01;
  return out;
};

const byNode = <T extends { node: string }>(items: readonly T[]): T[] => [...items].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));

/**
 * Valid bundles (commit-reveal and direct, mixed schemes, evidence) and each way a bundle can be
 * invalid, with the error code it must raise. Shared by test/unit/quorum/verify.test.ts, the
 * vector generator and the fuzzer.
 */
export function bundleCases(net: TestNetwork): BundleCase[] {
  const request = testRequest(net);
  const { collector, context, reveals } = runRequest(net, request, () => ({ output: "Paris" }));
  const valid = collector.bundle;
  const directRequest = testRequest(net, { mode: "direct" });
  const direct = runRequest(net, directRequest, () => ({ output: "Paris", evidence: SAMPLE_EVIDENCE }));
  const validDirect = direct.collector.bundle;
  const mixedOutputs = runRequest(net, request, (_node, i) => ({ output: i === 1 ? "Lyon" : "Paris" })).collector.bundle;
  if (!valid || !validDirect || !mixedOutputs) throw new Error("sample: the committee did not agree");
  const keyOf = (node: string) => {
    const key = net.keys.get(node);
    if (!key) throw new Error(`sample: no key for ${node}`);
    return key;
  };
  const outsider = [...net.keys.keys()].find((id) => !context.members.has(id));
  if (!outsider) throw new Error("sample: the registry has no node outside the committee");
  const revealed = new Set(valid.reveals.map((r) => r.node));
  const unrevealed = reveals.find((r) => !revealed.has(r.node));
  if (!unrevealed) throw new Error("sample: every member revealed");
  const first = valid.reveals[0] as OutputReveal;
  const withReveal = (index: number, change: Partial<OutputReveal>): AgreedBundle => ({
    ...valid,
    reveals: valid.reveals.map((reveal, i) => (i === index ? { ...reveal, ...change } : reveal)),
  });
  // A close that lists only the revealed commitments, and a bundle that adds one more reveal.
  const closeOfRevealed = signClose(net.sequencer, request.chain, context.id, valid.reveals.map(commitmentOfReveal));
  const notInClose: AgreedBundle = { ...valid, close: closeOfRevealed, reveals: byNode([...valid.reveals, unrevealed]) };
  // A close, signed by the sequencer, that lists a node outside the committee.
  const outsiderPair = commitOutput(keyOf(outsider), { chain: request.chain, request: context.id, node: outsider, output: "Paris" }, salt(outsider));
  const outsiderClose = signClose(net.sequencer, request.chain, context.id, [...valid.reveals.slice(0, request.k - 1).map(commitmentOfReveal), outsiderPair.commitment]);
  const otherRequest = testRequest(net, { input: "another question" });
  const otherId = requestId(otherRequest);
  const foreignClose = signClose(net.sequencer, request.chain, otherId, valid.reveals.map(commitmentOfReveal));
  // The node's valid signature over a different commitment: right signer, wrong message.
  const otherCommitment = commitOutput(keyOf(first.node), { chain: request.chain, request: context.id, node: first.node, output: "Lyon" }, salt("other")).commitment;
  const nonSupporter = context.committee.find((node) => !valid.outcome.supporters.includes(node)) as string;
  const directFirst = validDirect.outputs[0] as SignedOutput;
  const directOutsiderId = [...net.keys.keys()].find((id) => !direct.context.members.has(id)) as string;
  const directOutsider = signOutput(keyOf(directOutsiderId), { chain: request.chain, request: direct.context.id, node: directOutsiderId, output: "Paris" });
  const foreignOutput = signOutput(keyOf(directFirst.node), { chain: request.chain, request: otherId, node: directFirst.node, output: "Paris" });
  const resignedDirect = signRequest(net.sequencer, { ...requestBody({ mode: "direct" }), deadline: directRequest.deadline });
  return [
    { name: "valid-commit-reveal", bundle: valid },
    { name: "valid-direct-evidence", bundle: validDirect },
    { name: "valid-commit-reveal-minority-ignored", bundle: mixedOutputs },
    { name: "tampered-output", bundle: withReveal(0, { output: "Lyon" }), code: "COMMITMENT_MISMATCH" },
    { name: "tampered-evidence", bundle: withReveal(0, { evidence: SAMPLE_EVIDENCE }), code: "COMMITMENT_MISMATCH" },
    { name: "wrong-salt", bundle: withReveal(0, { salt: salt("wrong") }), code: "COMMITMENT_MISMATCH" },
    { name: "reveal-of-another-node", bundle: withReveal(0, { node: unrevealed.node }), code: "COMMITMENT_MISMATCH", wireCode: firstSorted(valid.reveals, 0, unrevealed.node) },
    { name: "forged-commitment-sig", bundle: withReveal(0, { commitmentSig: flip(first.commitmentSig, 5) }), code: "SIG_INVALID" },
    { name: "commitment-sig-over-other-commitment", bundle: withReveal(0, { commitmentSig: otherCommitment.sig }), code: "SIG_INVALID" },
    { name: "reveal-not-in-close", bundle: notInClose, code: "NOT_IN_CLOSE" },
    { name: "forged-close-sig", bundle: { ...valid, close: { ...(valid.close as CommitClose), sig: flip((valid.close as CommitClose).sig, 7) } }, code: "SIG_INVALID" },
    { name: "close-signed-by-a-node", bundle: { ...valid, close: signMessage<CommitClose>(keyOf(first.node), withoutSig(valid.close as CommitClose)) }, code: "SIG_INVALID" },
    { name: "close-lists-non-member", bundle: { ...valid, close: outsiderClose }, code: "NOT_IN_COMMITTEE" },
    { name: "close-for-another-request", bundle: { ...valid, close: foreignClose }, code: "REQUEST_MISMATCH" },
    { name: "reveal-for-another-request", bundle: withReveal(0, { request: otherId }), code: "REQUEST_MISMATCH" },
    { name: "wrong-chain", bundle: { ...valid, chain: "other-chain" }, code: "CHAIN_MISMATCH" },
    { name: "request-on-wrong-chain", bundle: { ...valid, request: { ...valid.request, chain: "other-chain" } }, code: "CHAIN_MISMATCH" },
    { name: "unknown-policy", bundle: { ...valid, request: { ...valid.request, policy: { id: "no-such-policy", version: 1, params: {} } } }, code: "POLICY_UNKNOWN" },
    { name: "unknown-policy-version", bundle: { ...valid, request: { ...valid.request, policy: { id: "exact", version: 99, params: {} } } }, code: "POLICY_UNKNOWN" },
    { name: "bad-policy-params", bundle: { ...valid, request: { ...valid.request, policy: { id: "exact", version: 1, params: { x: 1 } } } }, code: "POLICY_PARAMS" },
    { name: "threshold-k-at-most-half", bundle: { ...valid, request: { ...valid.request, k: 3 } }, code: "REQUEST_INVALID" },
    { name: "threshold-k-above-n", bundle: { ...valid, request: { ...valid.request, k: 8 } }, code: "REQUEST_INVALID" },
    { name: "committee-larger-than-registry", bundle: { ...valid, request: { ...valid.request, n: net.registry.members.length + 1, k: net.registry.members.length } }, code: "REQUEST_INVALID" },
    { name: "request-changed-after-close", bundle: { ...valid, request: { ...valid.request, input: "another question" } }, code: "REQUEST_MISMATCH" },
    { name: "commit-reveal-request-with-signature", bundle: { ...valid, request }, code: "BUNDLE_INVALID" },
    { name: "duplicate-vote", bundle: { ...valid, reveals: [first, ...valid.reveals] }, code: "BUNDLE_INVALID", wireCode: "WIRE_SCHEMA" },
    { name: "too-few-votes", bundle: { ...valid, reveals: valid.reveals.slice(1) }, code: "POLICY_MISMATCH" },
    { name: "wrong-supporters", bundle: { ...valid, outcome: { ...valid.outcome, supporters: byNodeIds([...valid.outcome.supporters.slice(1), nonSupporter]) } }, code: "POLICY_MISMATCH" },
    { name: "missing-supporter", bundle: { ...valid, outcome: { ...valid.outcome, supporters: valid.outcome.supporters.slice(1) } }, code: "POLICY_MISMATCH" },
    { name: "wrong-outcome-output", bundle: { ...valid, outcome: { ...valid.outcome, output: "Lyon" } }, code: "POLICY_MISMATCH" },
    { name: "wrong-outcome-hash", bundle: { ...valid, outcome: { ...valid.outcome, outputHash: flip(valid.outcome.outputHash) } }, code: "POLICY_MISMATCH" },
    { name: "commit-reveal-without-close", bundle: withoutClose(valid), code: "BUNDLE_INVALID" },
    { name: "commit-reveal-with-outputs", bundle: { ...valid, outputs: [directFirst] }, code: "BUNDLE_INVALID" },
    { name: "direct-forged-output-sig", bundle: { ...validDirect, outputs: validDirect.outputs.map((o, i) => (i === 0 ? { ...o, sig: flip(o.sig, 3) } : o)) }, code: "SIG_INVALID" },
    { name: "direct-output-from-non-member", bundle: { ...validDirect, outputs: byNode([...validDirect.outputs, directOutsider]) }, code: "NOT_IN_COMMITTEE" },
    { name: "direct-output-for-another-request", bundle: { ...validDirect, outputs: validDirect.outputs.map((o, i) => (i === 0 ? foreignOutput : o)) }, code: "REQUEST_MISMATCH" },
    { name: "direct-tampered-output", bundle: { ...validDirect, outputs: validDirect.outputs.map((o, i) => (i === 0 ? { ...o, output: "Lyon" } : o)) }, code: "SIG_INVALID" },
    { name: "direct-forged-request-sig", bundle: { ...validDirect, request: { ...directRequest, sig: flip(directRequest.sig, 9) } }, code: "SIG_INVALID" },
    { name: "direct-request-re-signed-differently", bundle: { ...validDirect, request: { ...resignedDirect, input: "another question" } }, code: "SIG_INVALID" },
    { name: "direct-with-close", bundle: { ...validDirect, close: valid.close as CommitClose }, code: "BUNDLE_INVALID" },
    { name: "direct-with-reveals", bundle: { ...validDirect, reveals: [first] }, code: "BUNDLE_INVALID" },
  ];
}

function withoutClose(bundle: AgreedBundle): AgreedBundle {
  const { close: _close, ...rest } = bundle;
  return rest;
}

function withoutSig<M extends { sig: Uint8Array }>(message: M): Omit<M, "sig"> {
  const { sig: _sig, ...body } = message;
  return body;
}

const byNodeIds = (nodes: string[]): string[] => [...nodes].sort();

/** WIRE_SCHEMA when renaming reveal `index` to `node` breaks the sorted order on the wire. */
function firstSorted(reveals: readonly OutputReveal[], index: number, node: string): ErrorCode | undefined {
  const nodes = reveals.map((r, i) => (i === index ? node : r.node));
  return nodes.every((n, i) => i === 0 || (nodes[i - 1] as string) < n) ? undefined : "WIRE_SCHEMA";
}

/** Bytes that are not the canonical encoding of a valid message, each with the code it must raise. */
export interface InvalidEncoding {
  name: string;
  bytes: Uint8Array;
  /** The kind the decoder is told to expect; absent: decode any kind. */
  kind?: MessageKind;
  code: ErrorCode;
}

type RawMap = Record<string, unknown>;
const canonicalCbor = (value: unknown): Uint8Array => cborEncode(value, rfc8949EncodeOptions);
const rawOf = (message: Message): RawMap => cborDecode(encodeMessage(message), { useMaps: false }) as RawMap;

function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function withoutKey(map: RawMap, key: string): RawMap {
  return Object.fromEntries(Object.entries(map).filter(([k]) => k !== key));
}

function replaceFirst(bytes: Uint8Array, from: Uint8Array, to: Uint8Array): Uint8Array {
  const hex = toHex(bytes);
  const at = hex.indexOf(toHex(from));
  if (at < 0 || at % 2 !== 0) throw new Error("sample: pattern not found");
  return concatBytes(bytes.subarray(0, at / 2), to, bytes.subarray(at / 2 + from.length));
}

/** Every way the strict decoder rejects bytes, built from the sample messages. */
export function invalidEncodings(samples: readonly Sample[]): InvalidEncoding[] {
  const find = (name: string): Message => {
    const found = samples.find((s) => s.name === name);
    if (!found) throw new Error(`sample: no ${name}`);
    return found.message;
  };
  const commitment = find("commitment");
  const bytes = encodeMessage(commitment);
  const wire = rawOf(commitment);
  const keys = Object.keys(wire);
  const inOrder = (order: readonly string[]) => concatBytes(Uint8Array.of(0xa0 + order.length), ...order.flatMap((key) => [canonicalCbor(key), canonicalCbor(wire[key])]));
  const v1 = concatBytes(canonicalCbor("v"), canonicalCbor(1));
  const at = (prefix: string, rest: number[]) => concatBytes(canonicalCbor(prefix), Uint8Array.from(rest));
  const reveal = encodeMessage(find("reveal"));
  const request = rawOf(find("request"));
  const close = rawOf(find("close"));
  const bundle = rawOf(find("bundle-commit-reveal"));
  const chainText = canonicalCbor((commitment as OutputCommitment).chain);
  const badChain = Uint8Array.from(chainText);
  badChain[1] = 0xff;
  return [
    { name: "keys-out-of-order", bytes: inOrder([keys[1], keys[0], ...keys.slice(2)] as string[]), kind: "commitment", code: "WIRE_NON_CANONICAL" },
    { name: "keys-reversed", bytes: inOrder([...keys].reverse()), kind: "commitment", code: "WIRE_NON_CANONICAL" },
    { name: "non-minimal-integer", bytes: replaceFirst(bytes, v1, at("v", [0x18, 0x01])), kind: "commitment", code: "WIRE_DECODE" },
    { name: "non-minimal-length", bytes: replaceFirst(bytes, at("request", [0x58, 0x20]), at("request", [0x59, 0x00, 0x20])), kind: "commitment", code: "WIRE_DECODE" },
    { name: "non-minimal-map-header", bytes: concatBytes(Uint8Array.of(0xb8, keys.length), bytes.subarray(1)), kind: "commitment", code: "WIRE_DECODE" },
    { name: "indefinite-map", bytes: concatBytes(Uint8Array.of(0xbf), bytes.subarray(1), Uint8Array.of(0xff)), kind: "commitment", code: "WIRE_DECODE" },
    { name: "indefinite-text", bytes: replaceFirst(bytes, chainText, concatBytes(Uint8Array.of(0x7f), chainText, Uint8Array.of(0xff))), kind: "commitment", code: "WIRE_DECODE" },
    { name: "duplicate-key", bytes: concatBytes(Uint8Array.of(0xa0 + keys.length + 1), bytes.subarray(1), v1), kind: "commitment", code: "WIRE_DECODE" },
    { name: "unknown-key", bytes: canonicalCbor({ ...wire, extra: 0 }), kind: "commitment", code: "WIRE_SCHEMA" },
    { name: "unknown-nested-key", bytes: canonicalCbor({ ...request, sampling: { ...(request.sampling as RawMap), seed: 1 } }), kind: "request", code: "WIRE_SCHEMA" },
    { name: "missing-key", bytes: canonicalCbor(withoutKey(wire, "sig")), kind: "commitment", code: "WIRE_SCHEMA" },
    { name: "missing-kind", bytes: canonicalCbor(withoutKey(wire, "t")), code: "WIRE_SCHEMA" },
    { name: "unknown-kind", bytes: canonicalCbor({ ...wire, t: "vote" }), code: "WIRE_SCHEMA" },
    { name: "wrong-version", bytes: canonicalCbor({ ...wire, v: 2 }), kind: "commitment", code: "WIRE_VERSION" },
    { name: "future-version-other-keys", bytes: canonicalCbor({ ...wire, v: 2, newField: "x" }), code: "WIRE_VERSION" },
    { name: "wrong-kind", bytes, kind: "close", code: "WIRE_KIND" },
    { name: "wrong-kind-request", bytes, kind: "request", code: "WIRE_KIND" },
    { name: "float-integral-half", bytes: replaceFirst(bytes, v1, at("v", [0xf9, 0x3c, 0x00])), kind: "commitment", code: "WIRE_NON_CANONICAL" },
    { name: "float-integral-double", bytes: replaceFirst(bytes, v1, at("v", [0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0])), kind: "commitment", code: "WIRE_NON_CANONICAL" },
    { name: "float-fraction", bytes: canonicalCbor({ ...request, n: 7.5 }), kind: "request", code: "WIRE_SCHEMA" },
    { name: "float-policy-param", bytes: canonicalCbor({ ...request, policy: { id: "exact", version: 1, params: { theta: 0.5 } } }), kind: "request", code: "WIRE_SCHEMA" },
    { name: "nan", bytes: Uint8Array.of(0xf9, 0x7e, 0x00), code: "WIRE_DECODE" },
    { name: "tag-on-message", bytes: concatBytes(Uint8Array.of(0xd8, 0x18), bytes), kind: "commitment", code: "WIRE_DECODE" },
    { name: "tag-on-field", bytes: replaceFirst(bytes, at("sig", [0x58]), at("sig", [0xc2, 0x58])), kind: "commitment", code: "WIRE_DECODE" },
    { name: "undefined-value", bytes: replaceFirst(bytes, v1, at("v", [0xf7])), kind: "commitment", code: "WIRE_DECODE" },
    { name: "trailing-byte", bytes: concatBytes(bytes, Uint8Array.of(0x00)), kind: "commitment", code: "WIRE_DECODE" },
    { name: "two-messages", bytes: concatBytes(bytes, bytes), code: "WIRE_DECODE" },
    { name: "truncated", bytes: bytes.subarray(0, bytes.length - 1), kind: "commitment", code: "WIRE_DECODE" },
    { name: "empty", bytes: new Uint8Array(0), code: "WIRE_DECODE" },
    { name: "oversized-for-kind", bytes: new Uint8Array(MAX_KIND_BYTES.commitment + 1), kind: "commitment", code: "WIRE_OVERSIZED" },
    { name: "oversized-padded-any-kind", bytes: canonicalCbor({ ...wire, pad: new Uint8Array(MAX_KIND_BYTES.commitment) }), code: "WIRE_OVERSIZED" },
    { name: "bad-utf8-in-output", bytes: replaceFirst(reveal, canonicalCbor("Paris"), Uint8Array.of(0x65, 0xff, 0x61, 0x72, 0x69, 0x73)), kind: "reveal", code: "WIRE_NON_CANONICAL" },
    { name: "bad-utf8-surrogate-in-output", bytes: replaceFirst(reveal, canonicalCbor("Paris"), Uint8Array.of(0x65, 0xed, 0xa0, 0x80, 0x69, 0x73)), kind: "reveal", code: "WIRE_NON_CANONICAL" },
    { name: "bad-utf8-in-chain-id", bytes: replaceFirst(bytes, chainText, badChain), kind: "commitment", code: "WIRE_SCHEMA" },
    { name: "signature-too-short", bytes: canonicalCbor({ ...wire, sig: new Uint8Array(63) }), kind: "commitment", code: "WIRE_SCHEMA" },
    { name: "node-id-not-identifier", bytes: canonicalCbor({ ...wire, node: "node 01" }), kind: "commitment", code: "WIRE_SCHEMA" },
    { name: "close-not-sorted", bytes: canonicalCbor({ ...close, commitments: [...(close.commitments as unknown[])].reverse() }), kind: "close", code: "WIRE_SCHEMA" },
    { name: "bundle-reveals-not-sorted", bytes: canonicalCbor({ ...bundle, reveals: [...(bundle.reveals as unknown[])].reverse() }), kind: "bundle", code: "WIRE_SCHEMA" },
    { name: "not-a-map", bytes: canonicalCbor(["commitment", 1]), code: "WIRE_SCHEMA" },
  ];
}
