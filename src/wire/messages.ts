/**
 * Canonical encoding of every message kind (spec/03-encoding.md): `encodeMessage` writes
 * deterministic CBOR, `decodeMessage` reads it back strictly and throws a typed error
 * (WIRE_DECODE, WIRE_OVERSIZED, WIRE_SCHEMA, WIRE_VERSION, WIRE_KIND, WIRE_NON_CANONICAL)
 * for anything that is not exactly the canonical bytes of a valid message.
 */
import { ConcordError } from "../errors.ts";
import {
  decodeStrict,
  encodeCanonical,
  listItemRanges,
  mapEntryRanges,
  mapWithout,
  readBytes,
  readList,
  readMap,
  readOneOf,
  readText,
  readUint,
  sameData,
  schemaError,
  type EntryRange,
  type WireMap,
} from "./cbor.ts";
import {
  HASH_BYTES,
  MAX_CHAIN_ID_BYTES,
  MAX_COMMITTEE,
  MAX_INPUT_BYTES,
  MAX_KIND_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_MODEL_ID_BYTES,
  MAX_NODE_ID_BYTES,
  MAX_OUTPUT_BYTES,
  MAX_PARAM_DEPTH,
  MAX_PARAM_ENTRIES,
  MAX_PARAM_TEXT_BYTES,
  MAX_POLICY_ID_BYTES,
  MAX_TOKENS,
  MAX_VOTES_PER_BUNDLE,
  MIN_SIGNATURE_BYTES,
  PROTOCOL_VERSION,
  SALT_BYTES,
} from "./limits.ts";
import { MAX_BATCH_SIGNATURE_BYTES, parseSignature } from "./signature.ts";
import type {
  AgreedBundle,
  BundledRequest,
  Bytes,
  Cluster,
  CommitClose,
  CommitmentRef,
  EquivocationEvidence,
  Evidence,
  InferenceRequest,
  InferenceRequestBody,
  Message,
  MessageKind,
  NoAgreement,
  Outcome,
  OutputCommitment,
  OutputReveal,
  PolicyParamValue,
  PolicyParams,
  PolicyRef,
  SamplingParams,
  SignedOutput,
} from "./types.ts";

/** Identifiers (node, chain): ASCII letters, digits, '.', '_' and '-'. */
export const IDENTIFIER = /^[A-Za-z0-9._-]+$/;
const POLICY_ID = /^[a-z0-9][a-z0-9-]*$/;

export const MESSAGE_KINDS: readonly MessageKind[] = [
  "request",
  "commitment",
  "close",
  "reveal",
  "output",
  "bundle",
  "no-agreement",
  "equivocation",
];

// ---------------------------------------------------------------------------------------------
// Evidence: tokens and margins travel as packed big-endian u32 arrays (4 bytes a step).

function packU32(values: readonly number[]): Bytes {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((value, i) => view.setUint32(i * 4, value));
  return out;
}

function unpackU32(bytes: Bytes): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Array<number>(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint32(i * 4);
  return out;
}

/** Evidence as it travels: tokens and margins packed. */
export function wireEvidence(evidence: Evidence): WireMap {
  if (evidence.tokens.length !== evidence.margins.length) throw new Error("evidence: tokens and margins differ in length");
  for (const value of [...evidence.tokens, ...evidence.margins]) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new Error("evidence values must be u32 integers");
  }
  return { tokens: packU32(evidence.tokens), margins: packU32(evidence.margins) };
}

function readEvidence(value: unknown, path: string): Evidence {
  const map = readMap(value, path, ["tokens", "margins"]);
  const tokens = readBytes(map.tokens, `${path}.tokens`, 0, MAX_TOKENS * 4);
  const margins = readBytes(map.margins, `${path}.margins`, 0, MAX_TOKENS * 4);
  if (tokens.length % 4 !== 0 || tokens.length !== margins.length) {
    throw schemaError(path, "tokens and margins must be packed u32 arrays of equal length");
  }
  return { tokens: unpackU32(tokens), margins: unpackU32(margins) };
}

// ---------------------------------------------------------------------------------------------
// Common fields.

/** A value from the wire, for an error's details: never calls anything the value defines. */
function describe(value: unknown): string {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return String(value);
  return value instanceof Uint8Array ? "bytes" : Array.isArray(value) ? "a list" : "a map";
}

/**
 * `t`, `v` and `chain` of a message. decodeMessage has already checked the top level's `t`
 * (WIRE_KIND) and `v` (WIRE_VERSION), so a mismatch here is a nested message's (a bundle's
 * request, close, reveals and outputs; an equivocation's pair): a field of the outer message,
 * hence WIRE_SCHEMA (spec/03-encoding.md), whatever its other keys.
 */
function readHeader(map: WireMap, path: string, kind: MessageKind): { v: number; chain: string } {
  if (map.t !== kind) throw schemaError(`${path}.t`, `expected ${kind}`);
  if (map.v !== PROTOCOL_VERSION) throw schemaError(`${path}.v`, `expected ${PROTOCOL_VERSION}, got ${describe(map.v)}`);
  return { v: PROTOCOL_VERSION, chain: readText(map.chain, `${path}.chain`, MAX_CHAIN_ID_BYTES, IDENTIFIER) };
}

const readNode = (value: unknown, path: string): string => readText(value, path, MAX_NODE_ID_BYTES, IDENTIFIER);
const readHash = (value: unknown, path: string): Bytes => readBytes(value, path, HASH_BYTES);
/** A plain or batch signature (signature.ts): any other bytes are a schema error, so each has one encoding. */
function readSig(value: unknown, path: string): Bytes {
  const bytes = readBytes(value, path, MIN_SIGNATURE_BYTES, MAX_BATCH_SIGNATURE_BYTES);
  if (parseSignature(bytes) === undefined) throw schemaError(path, "neither a plain nor a batch signature");
  return bytes;
}
const readOutput = (value: unknown, path: string): string => readText(value, path, MAX_OUTPUT_BYTES);

function readSortedNodes(value: unknown, path: string): string[] {
  const nodes = readList(value, path, MAX_COMMITTEE, readNode);
  assertStrictlySorted(nodes.map((node) => node), path);
  return nodes;
}

/** Lists keyed by node are sorted by node id with no repeats: one encoding per set. */
function assertStrictlySorted(keys: readonly string[], path: string): void {
  for (let i = 1; i < keys.length; i++) {
    if ((keys[i - 1] as string) >= (keys[i] as string)) throw schemaError(path, "must be sorted by node id without repeats");
  }
}

// ---------------------------------------------------------------------------------------------
// Policy parameters: a bounded tree of integers, text, booleans, lists and maps.

function readParamValue(value: unknown, path: string, depth: number): PolicyParamValue {
  if (typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw schemaError(path, "parameters are integers (fixed point), never floats");
    return value;
  }
  if (typeof value === "string") return readText(value, path, MAX_PARAM_TEXT_BYTES);
  if (depth >= MAX_PARAM_DEPTH) throw schemaError(path, `nested deeper than ${MAX_PARAM_DEPTH}`);
  if (Array.isArray(value)) return readList(value, path, MAX_PARAM_ENTRIES, (item, p) => readParamValue(item, p, depth + 1));
  return readParamMap(value, path, depth + 1);
}

function readParamMap(value: unknown, path: string, depth: number): PolicyParams {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw schemaError(path, "expected a map");
  }
  const keys = Object.keys(value);
  if (keys.length > MAX_PARAM_ENTRIES) throw schemaError(path, `more than ${MAX_PARAM_ENTRIES} entries`);
  const out: PolicyParams = {};
  for (const key of keys) {
    readText(key, `${path}.<key>`, MAX_PARAM_TEXT_BYTES);
    out[key] = readParamValue((value as WireMap)[key], `${path}.${key}`, depth);
  }
  return out;
}

function readPolicy(value: unknown, path: string): PolicyRef {
  const map = readMap(value, path, ["id", "version", "params"]);
  return {
    id: readText(map.id, `${path}.id`, MAX_POLICY_ID_BYTES, POLICY_ID),
    version: readUint(map.version, `${path}.version`, 0xffff),
    params: readParamMap(map.params, `${path}.params`, 1),
  };
}

function readSampling(value: unknown, path: string): SamplingParams {
  const map = readMap(value, path, ["temperatureMilli", "topK", "topPPpm", "maxTokens"]);
  const sampling = {
    temperatureMilli: readUint(map.temperatureMilli, `${path}.temperatureMilli`, 100_000),
    topK: readUint(map.topK, `${path}.topK`, 1 << 24),
    topPPpm: readUint(map.topPPpm, `${path}.topPPpm`, 1_000_000),
    maxTokens: readUint(map.maxTokens, `${path}.maxTokens`, MAX_TOKENS),
  };
  if (sampling.topPPpm === 0) throw schemaError(`${path}.topPPpm`, "must be positive (1,000,000 = no top-p filter)");
  if (sampling.maxTokens === 0) throw schemaError(`${path}.maxTokens`, "must be positive");
  return sampling;
}

// ---------------------------------------------------------------------------------------------
// Message kinds. Each has `read` (wire map -> message, strict) and `wire` (message -> wire map).

const REQUEST_KEYS = ["t", "v", "chain", "entropy", "model", "input", "sampling", "policy", "mode", "n", "k", "deadline"];

function readRequest(value: unknown, path = "request"): InferenceRequest {
  const map = readMap(value, path, [...REQUEST_KEYS, "sig"], ["weights"]);
  return { ...readRequestBody(map, path), sig: readSig(map.sig, `${path}.sig`) };
}

/** A bundle's request: the body, signed only in direct mode (spec/08-verification.md). */
function readBundledRequest(value: unknown, path: string): BundledRequest {
  const map = readMap(value, path, REQUEST_KEYS, ["weights", "sig"]);
  const body = readRequestBody(map, path);
  return map.sig === undefined ? body : { ...body, sig: readSig(map.sig, `${path}.sig`) };
}

function readRequestBody(map: WireMap, path: string): InferenceRequestBody {
  const header = readHeader(map, path, "request");
  const request: InferenceRequestBody = {
    t: "request",
    ...header,
    entropy: readHash(map.entropy, `${path}.entropy`),
    model: readText(map.model, `${path}.model`, MAX_MODEL_ID_BYTES),
    input: readText(map.input, `${path}.input`, MAX_INPUT_BYTES),
    sampling: readSampling(map.sampling, `${path}.sampling`),
    policy: readPolicy(map.policy, `${path}.policy`),
    mode: readOneOf(map.mode, `${path}.mode`, ["commit-reveal", "direct"] as const),
    n: readUint(map.n, `${path}.n`, MAX_COMMITTEE),
    k: readUint(map.k, `${path}.k`, MAX_COMMITTEE),
    deadline: readUint(map.deadline, `${path}.deadline`),
  };
  if (map.weights !== undefined) request.weights = readHash(map.weights, `${path}.weights`);
  return request;
}

function wireRequest(request: BundledRequest): WireMap {
  const { weights, ...rest } = request;
  return weights === undefined ? { ...rest } : { ...rest, weights };
}

function readCommitment(value: unknown, path = "commitment"): OutputCommitment {
  const map = readMap(value, path, ["t", "v", "chain", "request", "node", "commitment", "sig"]);
  return {
    t: "commitment",
    ...readHeader(map, path, "commitment"),
    request: readHash(map.request, `${path}.request`),
    node: readNode(map.node, `${path}.node`),
    commitment: readHash(map.commitment, `${path}.commitment`),
    sig: readSig(map.sig, `${path}.sig`),
  };
}

function readCommitmentRef(value: unknown, path: string): CommitmentRef {
  const map = readMap(value, path, ["node", "commitment"]);
  return { node: readNode(map.node, `${path}.node`), commitment: readHash(map.commitment, `${path}.commitment`) };
}

function readClose(value: unknown, path = "close"): CommitClose {
  const map = readMap(value, path, ["t", "v", "chain", "request", "commitments", "sig"]);
  const commitments = readList(map.commitments, `${path}.commitments`, MAX_COMMITTEE, readCommitmentRef);
  assertStrictlySorted(commitments.map((ref) => ref.node), `${path}.commitments`);
  return {
    t: "close",
    ...readHeader(map, path, "close"),
    request: readHash(map.request, `${path}.request`),
    commitments,
    sig: readSig(map.sig, `${path}.sig`),
  };
}

function readReveal(value: unknown, path = "reveal"): OutputReveal {
  const map = readMap(value, path, ["t", "v", "chain", "request", "node", "output", "salt", "commitmentSig"], ["evidence"]);
  const reveal: OutputReveal = {
    t: "reveal",
    ...readHeader(map, path, "reveal"),
    request: readHash(map.request, `${path}.request`),
    node: readNode(map.node, `${path}.node`),
    output: readOutput(map.output, `${path}.output`),
    salt: readBytes(map.salt, `${path}.salt`, SALT_BYTES),
    commitmentSig: readSig(map.commitmentSig, `${path}.commitmentSig`),
  };
  if (map.evidence !== undefined) reveal.evidence = readEvidence(map.evidence, `${path}.evidence`);
  return reveal;
}

function wireWithEvidence<T extends { evidence?: Evidence }>(message: T): WireMap {
  const { evidence, ...rest } = message;
  return evidence === undefined ? { ...rest } : { ...rest, evidence: wireEvidence(evidence) };
}

function readSignedOutput(value: unknown, path = "output"): SignedOutput {
  const map = readMap(value, path, ["t", "v", "chain", "request", "node", "output", "sig"], ["evidence"]);
  const output: SignedOutput = {
    t: "output",
    ...readHeader(map, path, "output"),
    request: readHash(map.request, `${path}.request`),
    node: readNode(map.node, `${path}.node`),
    output: readOutput(map.output, `${path}.output`),
    sig: readSig(map.sig, `${path}.sig`),
  };
  if (map.evidence !== undefined) output.evidence = readEvidence(map.evidence, `${path}.evidence`);
  return output;
}

function readOutcome(value: unknown, path: string): Outcome {
  const map = readMap(value, path, ["output", "outputHash", "supporters"]);
  return {
    output: readOutput(map.output, `${path}.output`),
    outputHash: readHash(map.outputHash, `${path}.outputHash`),
    supporters: readSortedNodes(map.supporters, `${path}.supporters`),
  };
}

function readBundle(value: unknown, path = "bundle"): AgreedBundle {
  const map = readMap(value, path, ["t", "v", "chain", "request", "reveals", "outputs", "outcome"], ["close"]);
  const reveals = readList(map.reveals, `${path}.reveals`, MAX_VOTES_PER_BUNDLE, (item, p) => readReveal(item, p));
  const outputs = readList(map.outputs, `${path}.outputs`, MAX_VOTES_PER_BUNDLE, (item, p) => readSignedOutput(item, p));
  assertStrictlySorted(reveals.map((r) => r.node), `${path}.reveals`);
  assertStrictlySorted(outputs.map((o) => o.node), `${path}.outputs`);
  const bundle: AgreedBundle = {
    t: "bundle",
    ...readHeader(map, path, "bundle"),
    request: readBundledRequest(map.request, `${path}.request`),
    reveals,
    outputs,
    outcome: readOutcome(map.outcome, `${path}.outcome`),
  };
  if (map.close !== undefined) bundle.close = readClose(map.close, `${path}.close`);
  return bundle;
}

function wireBundle(bundle: AgreedBundle): WireMap {
  const { close, request, reveals, outputs, ...rest } = bundle;
  const wire = {
    ...rest,
    request: wireRequest(request),
    reveals: reveals.map((reveal) => wireWithEvidence(reveal)),
    outputs: outputs.map((output) => wireWithEvidence(output)),
  };
  return close === undefined ? wire : { ...wire, close };
}

function readCluster(value: unknown, path: string): Cluster {
  const map = readMap(value, path, ["outputHash", "members"]);
  return { outputHash: readHash(map.outputHash, `${path}.outputHash`), members: readSortedNodes(map.members, `${path}.members`) };
}

function readNoAgreement(value: unknown, path = "no-agreement"): NoAgreement {
  const map = readMap(value, path, ["t", "v", "chain", "request", "reason", "clusters", "sig"]);
  return {
    t: "no-agreement",
    ...readHeader(map, path, "no-agreement"),
    request: readHash(map.request, `${path}.request`),
    reason: readOneOf(map.reason, `${path}.reason`, ["deadline", "exhausted"] as const),
    clusters: readList(map.clusters, `${path}.clusters`, MAX_COMMITTEE, readCluster),
    sig: readSig(map.sig, `${path}.sig`),
  };
}

function readAttested(value: unknown, path: string): OutputCommitment | SignedOutput {
  const kind = readMap(value, path, ["t"], ["v", "chain", "request", "node", "commitment", "output", "evidence", "sig"]).t;
  if (kind === "commitment") return readCommitment(value, path);
  if (kind === "output") return readSignedOutput(value, path);
  throw schemaError(`${path}.t`, "expected a commitment or a signed output");
}

function readEquivocation(value: unknown, path = "equivocation"): EquivocationEvidence {
  const map = readMap(value, path, ["t", "v", "chain", "first", "second"]);
  return {
    t: "equivocation",
    ...readHeader(map, path, "equivocation"),
    first: readAttested(map.first, `${path}.first`),
    second: readAttested(map.second, `${path}.second`),
  };
}

function wireAttested(message: OutputCommitment | SignedOutput): WireMap {
  return message.t === "output" ? wireWithEvidence(message) : { ...message };
}

const readers: { [K in MessageKind]: (value: unknown) => Extract<Message, { t: K }> } = {
  request: (value) => readRequest(value),
  commitment: (value) => readCommitment(value),
  close: (value) => readClose(value),
  reveal: (value) => readReveal(value),
  output: (value) => readSignedOutput(value),
  bundle: (value) => readBundle(value),
  "no-agreement": (value) => readNoAgreement(value),
  equivocation: (value) => readEquivocation(value),
};

/** The wire form of a message: the value that is CBOR-encoded (evidence packed, absent fields omitted). */
export function toWire(message: Message): WireMap {
  switch (message.t) {
    case "request":
      return wireRequest(message);
    case "reveal":
    case "output":
      return wireWithEvidence(message);
    case "bundle":
      return wireBundle(message);
    case "equivocation":
      return { ...message, first: wireAttested(message.first), second: wireAttested(message.second) };
    default:
      return { ...message };
  }
}

/** Canonical bytes of a message. */
export function encodeMessage(message: Message): Bytes {
  return encodeCanonical(toWire(message));
}

/**
 * The body bytes (canonical encoding without `sig`) of signed messages decodeMessage built, cut
 * from the bytes they were decoded from: ids and signing roots of what arrives are then hashed
 * without encoding the message again (bodyBytes in ids.ts reads this). Keyed by the object, so
 * it holds only while decoded messages are not mutated; nothing here or downstream mutates one.
 */
const decodedBodies = new WeakMap<object, Bytes>();

/** The body bytes of a message (or a bundle's request, close or output) decodeMessage built. */
export function decodedBody(message: object): Bytes | undefined {
  return decodedBodies.get(message);
}

/** The same for what a decoded reveal opens to: the canonical {output, evidence} (ids.ts payloadHash). */
const decodedPayloads = new WeakMap<OutputReveal, Bytes>();

export function decodedPayload(reveal: OutputReveal): Bytes | undefined {
  return decodedPayloads.get(reveal);
}

/** `"evidence": null`, encoded: a reveal without evidence opens to a payload with a null one. */
const NULL_EVIDENCE_ENTRY = Uint8Array.of(0x68, ...new TextEncoder().encode("evidence"), 0xf6);

/** {output, evidence} cut from the reveal map at `at`: its "output" entry, then "evidence" (keys in canonical order). */
function rememberPayload(reveal: OutputReveal, bytes: Bytes, at: number): void {
  const entries = mapEntryRanges(bytes, at);
  const output = entries.get("output") as EntryRange;
  const evidence = entries.get("evidence");
  const evidenceEntry = evidence === undefined ? NULL_EVIDENCE_ENTRY : bytes.subarray(evidence.start, evidence.end);
  const payload = new Uint8Array(1 + (output.end - output.start) + evidenceEntry.length);
  payload[0] = 0xa2;
  payload.set(bytes.subarray(output.start, output.end), 1);
  payload.set(evidenceEntry, 1 + output.end - output.start);
  decodedPayloads.set(reveal, payload);
}

function rememberBodies(message: Message, bytes: Bytes): void {
  switch (message.t) {
    case "request":
    case "commitment":
    case "close":
    case "output":
    case "no-agreement":
      decodedBodies.set(message, mapWithout(bytes, 0, "sig"));
      return;
    case "reveal":
      rememberPayload(message, bytes, 0);
      return;
    case "bundle": {
      const entries = mapEntryRanges(bytes, 0);
      const request = entries.get("request") as EntryRange;
      decodedBodies.set(message.request, mapWithout(bytes, request.valueStart, "sig"));
      const close = entries.get("close");
      if (message.close && close) decodedBodies.set(message.close, mapWithout(bytes, close.valueStart, "sig"));
      if (message.reveals.length > 0) {
        const reveals = listItemRanges(bytes, (entries.get("reveals") as EntryRange).valueStart);
        message.reveals.forEach((reveal, i) => rememberPayload(reveal, bytes, (reveals[i] as [number, number])[0]));
      }
      if (message.outputs.length > 0) {
        const outputs = listItemRanges(bytes, (entries.get("outputs") as EntryRange).valueStart);
        message.outputs.forEach((output, i) => decodedBodies.set(output, mapWithout(bytes, (outputs[i] as [number, number])[0], "sig")));
      }
      return;
    }
    default:
      return;
  }
}

/**
 * Decodes one message, strictly. With `expected`, any other kind is WIRE_KIND. Every failure is
 * a ConcordError; the bytes are never trusted further than they have been checked.
 */
export function decodeMessage<K extends MessageKind>(bytes: Bytes, expected: K): Extract<Message, { t: K }>;
export function decodeMessage(bytes: Bytes): Message;
export function decodeMessage(bytes: Bytes, expected?: MessageKind): Message {
  const { value, canonical } = decodeStrict(bytes, expected ? MAX_KIND_BYTES[expected] : MAX_MESSAGE_BYTES);
  const isMap = typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
  const kind = expected ?? readOneOf(isMap ? (value as WireMap).t : undefined, "$.t", MESSAGE_KINDS);
  // Kind and version before the schema: a message of another kind or of another protocol
  // version has other keys, and must be reported as what it is, not as a schema error.
  if (isMap && (value as WireMap).t !== kind) {
    throw new ConcordError("WIRE_KIND", "unexpected message kind", { details: `$: expected ${kind}` });
  }
  if (isMap && Object.hasOwn(value as WireMap, "v") && (value as WireMap).v !== PROTOCOL_VERSION) {
    throw new ConcordError("WIRE_VERSION", "unsupported protocol version", { details: `$: ${describe((value as WireMap).v)}` });
  }
  if (bytes.length > MAX_KIND_BYTES[kind]) {
    throw new ConcordError("WIRE_OVERSIZED", "message over size limit", { details: `${kind}: ${bytes.length} > ${MAX_KIND_BYTES[kind]} bytes` });
  }
  const message = readers[kind](value);
  // Canonical bytes, and a schema reading that kept everything: together they mean that
  // encodeMessage(message) gives back exactly `bytes`, without paying for that encode.
  if (!canonical || !sameData(toWire(message), value)) {
    throw new ConcordError("WIRE_NON_CANONICAL", "not the canonical encoding", { details: kind });
  }
  rememberBodies(message, bytes);
  return message;
}
