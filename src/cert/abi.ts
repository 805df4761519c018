/**
 * The certificate's ABI encoding (spec/11-certificate.md, "Encoding"): what a contract receives.
 *
 *   struct Vote { uint256 member; bytes32 salt; bytes evidence; bytes32 r; bytes32 s; uint8 v; }
 *   struct Certificate { bytes request; bytes members; bytes output; Vote[] votes; }
 *
 * The certificate's bytes are `abi.encode(certificate)`: a call `f(Certificate)` carries exactly
 * them after its selector, and a contract may also `abi.decode` them from `bytes`. The decoder
 * here is strict: it accepts only the canonical encoding (what `abi.encode` writes), so one
 * certificate has one byte string; Solidity's decoder also accepts other offsets for the same
 * values, which changes nothing a verifier decides (nothing keys on the certificate's bytes).
 */
import { ConcordError } from "../errors.ts";
import type { Bytes } from "../wire/types.ts";

/** One supporter's signature and what the contract needs to rebuild the message it signed. */
export interface CertificateVote {
  /** Index of the signer in the certificate's member list (registry order, by node id). */
  member: number;
  /** Commit-reveal: the salt the commitment hides the output under; direct: 32 zero bytes. */
  salt: Bytes;
  /** The vote's evidence as canonical CBOR (its wire form), or empty when the vote has none. */
  evidence: Bytes;
  r: Bytes;
  s: Bytes;
  /** 27 + recovery id. */
  v: number;
}

export interface Certificate {
  /** The request body: canonical CBOR of the InferenceRequest without `sig`; its hash is the id. */
  request: Bytes;
  /** Every registry member, in id order, packed: u32be(weight) || signer(20) || u8(len id) || id. */
  members: Bytes;
  /** The agreed output, UTF-8. */
  output: Bytes;
  /** Supporters' votes in ascending member order (node id order). */
  votes: CertificateVote[];
}

const WORD = 32;

const invalid = (details: string) => new ConcordError("CERT_INVALID", "invalid certificate", { details });

function word(value: number | bigint): Bytes {
  const out = new Uint8Array(WORD);
  let rest = BigInt(value);
  for (let i = WORD - 1; i >= 0 && rest > 0n; i--) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return out;
}

function concat(parts: readonly Bytes[]): Bytes {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** `bytes`: its length, then its bytes padded with zeros to a whole number of words. */
function encodeBytes(bytes: Bytes): Bytes {
  const padded = new Uint8Array(Math.ceil(bytes.length / WORD) * WORD);
  padded.set(bytes);
  return concat([word(bytes.length), padded]);
}

type Field = { static: Bytes } | { dynamic: Bytes };

/** A tuple: static fields in place, dynamic ones as offsets (from the tuple's start) to their tails. */
function encodeTuple(fields: readonly Field[]): Bytes {
  const heads: Bytes[] = [];
  const tails: Bytes[] = [];
  let tailOffset = fields.reduce((total, field) => total + ("static" in field ? field.static.length : WORD), 0);
  for (const field of fields) {
    if ("static" in field) {
      heads.push(field.static);
    } else {
      heads.push(word(tailOffset));
      tails.push(field.dynamic);
      tailOffset += field.dynamic.length;
    }
  }
  return concat([...heads, ...tails]);
}

function fixed32(bytes: Bytes, what: string): Bytes {
  if (bytes.length !== WORD) throw invalid(`${what} must be 32 bytes`);
  return bytes;
}

function encodeVote(vote: CertificateVote): Bytes {
  if (!Number.isSafeInteger(vote.member) || vote.member < 0) throw invalid("vote member must be a non-negative integer");
  if (!Number.isInteger(vote.v) || vote.v < 0 || vote.v > 255) throw invalid("vote v must fit a uint8");
  return encodeTuple([
    { static: word(vote.member) },
    { static: fixed32(vote.salt, "salt") },
    { dynamic: encodeBytes(vote.evidence) },
    { static: fixed32(vote.r, "r") },
    { static: fixed32(vote.s, "s") },
    { static: word(vote.v) },
  ]);
}

/** `abi.encode(certificate)`: the certificate's bytes. */
export function encodeCertificate(certificate: Certificate): Bytes {
  const votes = concat([word(certificate.votes.length), encodeTuple(certificate.votes.map((vote) => ({ dynamic: encodeVote(vote) })))]);
  const tuple = encodeTuple([
    { dynamic: encodeBytes(certificate.request) },
    { dynamic: encodeBytes(certificate.members) },
    { dynamic: encodeBytes(certificate.output) },
    { dynamic: votes },
  ]);
  return concat([word(WORD), tuple]);
}

/** Reads words of `bytes` with bounds checks; every failure is CERT_INVALID. */
class Reader {
  readonly bytes: Bytes;
  constructor(bytes: Bytes) {
    this.bytes = bytes;
  }

  slice(offset: number, length: number): Bytes {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > this.bytes.length) throw invalid("out of bounds");
    return this.bytes.subarray(offset, offset + length);
  }

  /** A word as a number; anything at or above 2^32 is refused (no field of a valid certificate is that large). */
  uint(offset: number, what: string): number {
    const bytes = this.slice(offset, WORD);
    for (let i = 0; i < WORD - 4; i++) if (bytes[i] !== 0) throw invalid(`${what} out of range`);
    return new DataView(bytes.buffer, bytes.byteOffset + WORD - 4, 4).getUint32(0);
  }

  /** `bytes` whose offset word sits at `at`, the offset counted from `base`. */
  dynamicBytes(base: number, at: number, what: string): Bytes {
    const start = base + this.uint(at, `${what} offset`);
    const length = this.uint(start, `${what} length`);
    return this.slice(start + WORD, length);
  }
}

/** Decodes a certificate; CERT_INVALID unless `bytes` are exactly `abi.encode` of one. */
export function decodeCertificate(bytes: Bytes): Certificate {
  const reader = new Reader(bytes);
  const base = reader.uint(0, "certificate offset");
  const request = reader.dynamicBytes(base, base, "request");
  const members = reader.dynamicBytes(base, base + WORD, "members");
  const output = reader.dynamicBytes(base, base + 2 * WORD, "output");
  const votesAt = base + reader.uint(base + 3 * WORD, "votes offset");
  const count = reader.uint(votesAt, "vote count");
  // Every vote takes at least eight words: refuse a count the bytes cannot hold before looping.
  if (count * 8 * WORD > bytes.length) throw invalid("more votes than bytes");
  const elements = votesAt + WORD;
  const votes: CertificateVote[] = [];
  for (let i = 0; i < count; i++) {
    const at = elements + reader.uint(elements + i * WORD, "vote offset");
    const v = reader.uint(at + 5 * WORD, "v");
    if (v > 255) throw invalid("v out of range");
    votes.push({
      member: reader.uint(at, "member"),
      salt: reader.slice(at + WORD, WORD),
      evidence: reader.dynamicBytes(at, at + 2 * WORD, "evidence"),
      r: reader.slice(at + 3 * WORD, WORD),
      s: reader.slice(at + 4 * WORD, WORD),
      v,
    });
  }
  const certificate: Certificate = { request, members, output, votes };
  // Canonical form: the offsets, lengths and padding abi.encode writes, and nothing after.
  const canonical = encodeCertificate(certificate);
  if (canonical.length !== bytes.length || canonical.some((byte, i) => byte !== bytes[i])) throw invalid("not the canonical ABI encoding");
  return certificate;
}
