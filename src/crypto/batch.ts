/**
 * Batch signatures (spec/04-signing.md, "Batch signatures"): one signature over the root of a
 * Merkle tree whose leaves are the signing roots of many messages. Each message then carries the
 * signature, its leaf's index, the batch's leaf count and its sibling path (src/wire/signature.ts),
 * so it stays self-contained: anyone checks it alone, as a plain signature.
 *
 *   leaf      = H("concord/batch-leaf", signing root)
 *   node      = H("concord/batch-node", left, right); a node without a right sibling is paired
 *               with ZERO (32 zero bytes), so a tree of `count` leaves has depth(count) levels
 *   signed    = scheme hash of cbor(["concord/batch", 1, chain, root, count])
 *
 * @example
 * const sigs = signBatch(key, "concord-test", roots);      // one signature, one field per root
 * verifySignature(publicKey, "concord-test", roots[3], sigs[3]); // true
 */
import { encodeCanonical } from "../wire/cbor.ts";
import { taggedHash, toHex } from "../wire/hash.ts";
import { HASH_BYTES, PROTOCOL_VERSION } from "../wire/limits.ts";
import { MAX_BATCH_LEAVES, batchDepth, encodeBatchSignature, parseSignature } from "../wire/signature.ts";
import type { Bytes, SchemeName } from "../wire/types.ts";
import { schemeHash, signRoot, type KeyPair, type PublicKey } from "./schemes.ts";

const ZERO: Bytes = new Uint8Array(HASH_BYTES);

export function batchLeaf(signingRoot: Bytes): Bytes {
  return taggedHash("concord/batch-leaf", signingRoot);
}

export function batchNode(left: Bytes, right: Bytes): Bytes {
  return taggedHash("concord/batch-node", left, right);
}

/** Every level of the tree over `signingRoots`, leaves first; the last level is [root]. */
export function batchLevels(signingRoots: readonly Bytes[]): Bytes[][] {
  if (signingRoots.length < 1 || signingRoots.length > MAX_BATCH_LEAVES) {
    throw new Error(`batchLevels: a batch holds 1 to ${MAX_BATCH_LEAVES} leaves, not ${signingRoots.length}`);
  }
  const levels = [signingRoots.map(batchLeaf)];
  for (let level = levels[0] as Bytes[]; level.length > 1; ) {
    const next: Bytes[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(batchNode(level[i] as Bytes, level[i + 1] ?? ZERO));
    levels.push(next);
    level = next;
  }
  return levels;
}

/** The sibling path of leaf `index`, bottom up. */
export function batchPath(levels: readonly Bytes[][], index: number): Bytes[] {
  const path: Bytes[] = [];
  for (let level = 0, i = index; level < levels.length - 1; level++, i >>= 1) path.push((levels[level] as Bytes[])[i ^ 1] ?? ZERO);
  return path;
}

/** The root a leaf's path leads to (the verifier's side of batchLevels and batchPath). */
export function batchRootFromPath(signingRoot: Bytes, index: number, path: readonly Bytes[]): Bytes {
  let node = batchLeaf(signingRoot);
  path.forEach((sibling, level) => {
    node = ((index >> level) & 1) === 0 ? batchNode(node, sibling) : batchNode(sibling, node);
  });
  return node;
}

/** cbor(["concord/batch", 1, chain, root, count]): a batch root on one chain, of one size. */
export function batchSigningPreimage(chain: string, root: Bytes, count: number): Bytes {
  return encodeCanonical(["concord/batch", PROTOCOL_VERSION, chain, root, count]);
}

/** What the key signs for a batch: the scheme's hash of the preimage (as signingRoot for one message). */
export function batchSigningRoot(scheme: SchemeName, chain: string, root: Bytes, count: number): Bytes {
  return schemeHash(scheme, batchSigningPreimage(chain, root, count));
}

/**
 * Signs the messages whose signing roots are `signingRoots` (distinct, one chain) with one
 * signature; returns each one's signature field. One root gives a plain signature: a batch of
 * one costs the same signature and 4 bytes more. The caller has passed every root through its
 * slashing protection first, exactly as for plain signatures.
 */
export function signBatch(key: KeyPair, chain: string, signingRoots: readonly Bytes[]): Bytes[] {
  if (signingRoots.length === 1) return [signRoot(key, signingRoots[0] as Bytes)];
  const seen = new Set(signingRoots.map(toHex));
  if (seen.size !== signingRoots.length) throw new Error("signBatch: a signing root appears twice");
  const levels = batchLevels(signingRoots);
  const root = (levels[levels.length - 1] as Bytes[])[0] as Bytes;
  const sig = signRoot(key, batchSigningRoot(key.scheme, chain, root, signingRoots.length));
  return signingRoots.map((_, index) => encodeBatchSignature(sig, signingRoots.length, index, batchPath(levels, index)));
}

/**
 * Batch signatures already found valid, per key: `signed root || signature` as hex, at most
 * VERIFIED_PER_KEY of them (the oldest forgotten first), so the n messages of one batch cost one
 * signature check. Only valid results are kept, and a kept one is what checking again would
 * answer, so verifySignature gives the same answer with this cache or without it.
 */
const verified = new WeakMap<PublicKey, Set<string>>();
const VERIFIED_PER_KEY = 1024;

/**
 * True iff `signature` (either form) is valid for the message whose signing root is
 * `signingRoot`, on `chain`, under `key`. Never throws.
 */
export function verifySignature(key: PublicKey, chain: string, signingRoot: Bytes, signature: Bytes): boolean {
  const parsed = parseSignature(signature);
  if (parsed === undefined) return false;
  if (parsed.form === "plain") return key.verify(signingRoot, signature);
  if (parsed.path.length !== batchDepth(parsed.count)) return false;
  const root = batchRootFromPath(signingRoot, parsed.index, parsed.path);
  const signed = batchSigningRoot(key.scheme, chain, root, parsed.count);
  const cacheKey = toHex(signed) + toHex(parsed.sig);
  let known = verified.get(key);
  if (known?.has(cacheKey)) return true;
  if (!key.verify(signed, parsed.sig)) return false;
  if (!known) verified.set(key, (known = new Set()));
  known.add(cacheKey);
  if (known.size > VERIFIED_PER_KEY) known.delete(known.values().next().value as string);
  return true;
}
