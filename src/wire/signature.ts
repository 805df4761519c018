/**
 * The two forms of a signature field (spec/04-signing.md, "Batch signatures"), read from its
 * bytes alone: a plain signature (64 bytes ed25519, 65 secp256k1) or a batch signature
 * `sig || count (u16 BE) || index (u16 BE) || path`, where `path` is depth(count) sibling
 * hashes of 32 bytes. The length tells the forms and the schemes apart (a batch signature is at
 * least 68 bytes, and its length less 4 is 0 or 1 mod 32), so every field that carries a
 * signature keeps one type and one encoding; only verification looks inside.
 *
 * @example
 * const parsed = parseSignature(message.sig); // { form: "batch", sig, count, index, path } or { form: "plain", sig }
 */
import { HASH_BYTES, MAX_SIGNATURE_BYTES, MIN_SIGNATURE_BYTES } from "./limits.ts";
import type { Bytes } from "./types.ts";

/** Most leaves one batch signature covers: 2^10, so a path has at most 10 hashes. */
export const MAX_BATCH_LEAVES = 1024;
/** Messages a signer batches by default before signing at once (a node's signBatchMax, a pool's signBatchMax). */
export const DEFAULT_BATCH_MAX = 64;
/** Bytes of count and index after the signature. */
const BATCH_HEADER_BYTES = 4;
/** Longest batch signature: a secp256k1 signature, the header and a path of 10 hashes. */
export const MAX_BATCH_SIGNATURE_BYTES = MAX_SIGNATURE_BYTES + BATCH_HEADER_BYTES + 10 * HASH_BYTES;

export type ParsedSignature =
  | { form: "plain"; sig: Bytes }
  | { form: "batch"; sig: Bytes; count: number; index: number; path: Bytes[] };

/** Levels of a batch tree of `count` leaves: the least d with 2^d ≥ count (0 for one leaf). */
export function batchDepth(count: number): number {
  let depth = 0;
  while (1 << depth < count) depth++;
  return depth;
}

/**
 * The form of a signature field, or undefined when its bytes are neither: a length no form has,
 * a count outside 1..MAX_BATCH_LEAVES, an index not below the count, or a path whose length is
 * not depth(count) hashes. Exactly one encoding per (signature, count, index, path).
 */
export function parseSignature(bytes: Bytes): ParsedSignature | undefined {
  if (bytes.length >= MIN_SIGNATURE_BYTES && bytes.length <= MAX_SIGNATURE_BYTES) return { form: "plain", sig: bytes };
  if (bytes.length > MAX_BATCH_SIGNATURE_BYTES) return undefined;
  const rest = (bytes.length - BATCH_HEADER_BYTES) % HASH_BYTES;
  const sigBytes = rest === MIN_SIGNATURE_BYTES % HASH_BYTES ? MIN_SIGNATURE_BYTES : rest === MAX_SIGNATURE_BYTES % HASH_BYTES ? MAX_SIGNATURE_BYTES : 0;
  if (sigBytes === 0 || bytes.length < sigBytes + BATCH_HEADER_BYTES) return undefined;
  const count = ((bytes[sigBytes] as number) << 8) | (bytes[sigBytes + 1] as number);
  const index = ((bytes[sigBytes + 2] as number) << 8) | (bytes[sigBytes + 3] as number);
  if (count < 1 || count > MAX_BATCH_LEAVES || index >= count) return undefined;
  const depth = batchDepth(count);
  if (bytes.length !== sigBytes + BATCH_HEADER_BYTES + depth * HASH_BYTES) return undefined;
  const path: Bytes[] = [];
  for (let level = 0; level < depth; level++) {
    const start = sigBytes + BATCH_HEADER_BYTES + level * HASH_BYTES;
    path.push(bytes.subarray(start, start + HASH_BYTES));
  }
  return { form: "batch", sig: bytes.subarray(0, sigBytes), count, index, path };
}

/** The bytes of a batch signature; the inverse of parseSignature. */
export function encodeBatchSignature(sig: Bytes, count: number, index: number, path: readonly Bytes[]): Bytes {
  const out = new Uint8Array(sig.length + BATCH_HEADER_BYTES + path.length * HASH_BYTES);
  out.set(sig, 0);
  out[sig.length] = count >> 8;
  out[sig.length + 1] = count & 0xff;
  out[sig.length + 2] = index >> 8;
  out[sig.length + 3] = index & 0xff;
  path.forEach((hash, level) => out.set(hash, sig.length + BATCH_HEADER_BYTES + level * HASH_BYTES));
  return out;
}
