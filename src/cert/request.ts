/**
 * Reads what a contract needs from a request body (spec/11-certificate.md, "Reading the
 * request"), the way the Solidity library does: a fixed walk over the canonical CBOR of
 * 03-encoding.md, whose map keys come in one order (k, n, t, v, mode, chain, input, model,
 * policy, entropy, weights?, deadline, sampling). It is no general CBOR decoder and needs none:
 * the body's hash is the request id the committee signed, so only the real body's bytes can make
 * a certificate verify, and those are canonical.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { ConcordError } from "../errors.ts";
import { taggedHash, utf8 } from "../wire/hash.ts";
import type { Bytes } from "../wire/types.ts";

/** What a certificate's request tells a contract. */
export interface CertifiedRequest {
  /** H("concord/request-id", body): SHA-256, as 03-encoding.md defines it. */
  requestId: Bytes;
  /** The chain id's UTF-8 bytes. */
  chain: Bytes;
  direct: boolean;
  n: number;
  k: number;
  /** The policy id's UTF-8 bytes (at most 32). */
  policyId: Bytes;
  policyVersion: number;
  /** keccak-256 of the model id's and of the input's UTF-8 bytes. */
  modelHash: Bytes;
  inputHash: Bytes;
  entropy: Bytes;
  deadline: number;
}

const invalid = (details: string) => new ConcordError("CERT_INVALID", "invalid certificate", { details: `request: ${details}` });

const MAJOR_UINT = 0;
const MAJOR_BYTES = 2;
const MAJOR_TEXT = 3;
const MAJOR_ARRAY = 4;
const MAJOR_MAP = 5;
const MAJOR_TAG = 6;
const MAJOR_SIMPLE = 7;

/** The largest integer or length the wire allows (03-encoding.md): 2^53 - 1. */
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** A CBOR key as it is encoded: a text head and the key's bytes. */
function key(text: string): Bytes {
  const bytes = utf8(text);
  return Uint8Array.of(0x60 | bytes.length, ...bytes);
}

const KEYS = {
  k: key("k"),
  n: key("n"),
  t: key("t"),
  v: key("v"),
  mode: key("mode"),
  chain: key("chain"),
  input: key("input"),
  model: key("model"),
  policy: key("policy"),
  id: key("id"),
  params: key("params"),
  version: key("version"),
  entropy: key("entropy"),
  weights: key("weights"),
  deadline: key("deadline"),
  sampling: key("sampling"),
};
const REQUEST = utf8("request");
const DIRECT = utf8("direct");
const COMMIT_REVEAL = utf8("commit-reveal");

function equal(a: Bytes, b: Bytes): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** A cursor over the body; every read is bounds-checked. */
class Cursor {
  readonly body: Bytes;
  p = 0;
  constructor(body: Bytes) {
    this.body = body;
  }

  /** A head: major type and argument (shortest or not: the id fixes the bytes, not this reader). */
  head(): { major: number; arg: number } {
    const initial = this.body[this.p];
    if (initial === undefined) throw invalid("cut short");
    this.p++;
    const major = initial >> 5;
    const info = initial & 31;
    if (info < 24) return { major, arg: info };
    const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (size === 0) throw invalid("indefinite length or reserved head");
    if (this.p + size > this.body.length) throw invalid("cut short");
    let arg = 0n;
    for (let i = 0; i < size; i++) arg = (arg << 8n) | BigInt(this.body[this.p + i] as number);
    this.p += size;
    if (arg > BigInt(MAX_SAFE)) throw invalid("integer or length beyond 2^53 - 1");
    return { major, arg: Number(arg) };
  }

  take(length: number): Bytes {
    if (this.p + length > this.body.length) throw invalid("cut short");
    const out = this.body.subarray(this.p, this.p + length);
    this.p += length;
    return out;
  }

  expectKey(expected: Bytes): void {
    if (!equal(this.take(expected.length), expected)) throw invalid("unexpected key");
  }


  uint(): number {
    const { major, arg } = this.head();
    if (major !== MAJOR_UINT) throw invalid("expected an unsigned integer");
    return arg;
  }

  text(): Bytes {
    const { major, arg } = this.head();
    if (major !== MAJOR_TEXT) throw invalid("expected text");
    return this.take(arg);
  }

  bytes32(): Bytes {
    const { major, arg } = this.head();
    if (major !== MAJOR_BYTES || arg !== 32) throw invalid("expected 32 bytes");
    return this.take(32);
  }

  /** Skips one item: integers, byte and text strings, lists, maps, false, true, null (no tags, no floats). */
  skip(): void {
    let pending = 1;
    while (pending > 0) {
      pending--;
      const initial = this.body[this.p] as number;
      const { major, arg } = this.head();
      if (major === MAJOR_BYTES || major === MAJOR_TEXT) this.take(arg);
      else if (major === MAJOR_ARRAY) pending += arg;
      else if (major === MAJOR_MAP) pending += 2 * arg;
      else if (major === MAJOR_TAG || (major === MAJOR_SIMPLE && (initial < 0xf4 || initial > 0xf6))) throw invalid("tag, float or unknown simple value");
    }
  }
}

/** Reads a request body; CERT_INVALID when it is not one (see the module comment). */
export function readCertifiedRequest(body: Bytes): CertifiedRequest {
  const requestId = taggedHash("concord/request-id", body);
  const cursor = new Cursor(body);
  const top = cursor.head();
  // Twelve keys, thirteen with the optional weights digest.
  if (top.major !== MAJOR_MAP || (top.arg !== 12 && top.arg !== 13)) throw invalid("expected a map of 12 or 13 entries");
  cursor.expectKey(KEYS.k);
  const k = cursor.uint();
  cursor.expectKey(KEYS.n);
  const n = cursor.uint();
  cursor.expectKey(KEYS.t);
  if (!equal(cursor.text(), REQUEST)) throw invalid("not a request");
  cursor.expectKey(KEYS.v);
  if (cursor.uint() !== 1) throw invalid("protocol version other than 1");
  cursor.expectKey(KEYS.mode);
  const mode = cursor.text();
  const direct = equal(mode, DIRECT);
  if (!direct && !equal(mode, COMMIT_REVEAL)) throw invalid("unknown mode");
  cursor.expectKey(KEYS.chain);
  const chain = cursor.text();
  cursor.expectKey(KEYS.input);
  const inputHash = keccak_256(cursor.text());
  cursor.expectKey(KEYS.model);
  const modelHash = keccak_256(cursor.text());
  cursor.expectKey(KEYS.policy);
  const policy = cursor.head();
  if (policy.major !== MAJOR_MAP || policy.arg !== 3) throw invalid("policy must be a map of 3 entries");
  cursor.expectKey(KEYS.id);
  const policyId = cursor.text();
  if (policyId.length > 32) throw invalid("policy id longer than 32 bytes");
  cursor.expectKey(KEYS.params);
  cursor.skip();
  cursor.expectKey(KEYS.version);
  const policyVersion = cursor.uint();
  cursor.expectKey(KEYS.entropy);
  const entropy = cursor.bytes32();
  if (top.arg === 13) {
    cursor.expectKey(KEYS.weights);
    cursor.bytes32();
  }
  cursor.expectKey(KEYS.deadline);
  const deadline = cursor.uint();
  cursor.expectKey(KEYS.sampling);
  cursor.skip();
  if (cursor.p !== body.length) throw invalid("bytes after the request");
  return { requestId, chain, direct, n, k, policyId, policyVersion, modelHash, inputHash, entropy, deadline };
}
