/**
 * spec/vectors/batches.json: batch signatures (spec/04-signing.md, "Batch signatures"). Trees of
 * 1, 2, 3, 5 and 64 leaves with every path; batch signing under both schemes; verification of
 * valid fields and of a wrong index, path, count, leaf and chain; decoding of the field's forms;
 * bundles whose votes and close are batch-signed; equivocation evidence across and within
 * batches. Every byte derives from labels (spec/vectors/README.md, "Derivations").
 */
import { batchLevels, batchPath, batchSigningPreimage, batchSigningRoot, signBatch, verifySignature } from "../../src/crypto/batch.ts";
import { signMessages } from "../../src/crypto/sign.ts";
import { publicKey } from "../../src/crypto/schemes.ts";
import { commitmentBody } from "../../src/quorum/attest.ts";
import { createRegistry, registryConfigToJson } from "../../src/quorum/registry.ts";
import { equivocationOf, verifyEquivocation } from "../../src/quorum/equivocation.ts";
import { verifyBundle } from "../../src/quorum/verify.ts";
import { taggedHash, toHex } from "../../src/wire/hash.ts";
import { decodeMessage, encodeMessage } from "../../src/wire/messages.ts";
import { encodeBatchSignature, parseSignature } from "../../src/wire/signature.ts";
import type { AgreedBundle, CommitClose, EquivocationEvidence, OutputCommitment, OutputReveal, SchemeName } from "../../src/wire/types.ts";
import { batchedRun, fillerRequest } from "../../test/helpers/batches.ts";
import { CHAIN, salt, testKey, testRequest } from "../../test/helpers/fixtures.ts";
import { sampleNetwork } from "../../test/spec/samples.ts";
import { codeOf, type NotedCase, type NotedFile } from "./format.ts";

/** Signing roots of the trees: H("batch-vector-leaf", decimal(count), decimal(i)). */
export function vectorLeaves(count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => taggedHash("batch-vector-leaf", String(count), String(i)));
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`batch vectors: ${what}`);
}

function treeCases(): NotedCase[] {
  return [1, 2, 3, 5, 64].map((count) => {
    const leaves = vectorLeaves(count);
    const levels = batchLevels(leaves);
    const root = (levels[levels.length - 1] as Uint8Array[])[0] as Uint8Array;
    return {
      name: `tree-${count}`,
      input: { op: "tree", leaves: leaves.map(toHex) },
      expected: { root: toHex(root), paths: leaves.map((_, i) => batchPath(levels, i).map(toHex)) },
    };
  });
}

function signCases(): NotedCase[] {
  const cases: NotedCase[] = [];
  for (const scheme of ["ed25519", "secp256k1"] as SchemeName[]) {
    const key = testKey("node-00", scheme);
    for (const count of [1, 3]) {
      const leaves = vectorLeaves(count);
      const levels = batchLevels(leaves);
      const root = (levels[levels.length - 1] as Uint8Array[])[0] as Uint8Array;
      const signatures = signBatch(key, CHAIN, leaves);
      const named = count === 1 ? { name: `sign-${scheme}-${count}`, note: "a batch of one is signed plainly: the field is the plain signature of the leaf's signing root" } : { name: `sign-${scheme}-${count}` };
      cases.push({
        ...named,
        input: { op: "sign", scheme, seed: toHex(key.secretKey), chain: CHAIN, leaves: leaves.map(toHex) },
        expected: {
          preimage: toHex(batchSigningPreimage(CHAIN, root, count)),
          signedRoot: toHex(batchSigningRoot(scheme, CHAIN, root, count)),
          signatures: signatures.map(toHex),
        },
      });
    }
  }
  return cases;
}

function verifyCases(): NotedCase[] {
  const cases: NotedCase[] = [];
  const push = (name: string, note: string, scheme: SchemeName, chain: string, leaf: Uint8Array, signature: Uint8Array, expectValid: boolean) => {
    const key = testKey("node-00", scheme);
    const valid = verifySignature(publicKey(scheme, key.publicKey), chain, leaf, signature);
    check(valid === expectValid, `${name}: expected ${expectValid}`);
    cases.push({ name, note, input: { op: "verify", scheme, publicKey: toHex(key.publicKey), chain, signingRoot: toHex(leaf), signature: toHex(signature) }, expected: { valid } });
  };
  for (const scheme of ["ed25519", "secp256k1"] as SchemeName[]) {
    const key = testKey("node-00", scheme);
    const leaves = vectorLeaves(5);
    const sigs = signBatch(key, CHAIN, leaves);
    const sig = sigs[2] as Uint8Array;
    const parsed = parseSignature(sig);
    if (parsed?.form !== "batch") throw new Error("batch vectors: not a batch signature");
    const field = (edit: { count?: number; index?: number; path?: Uint8Array[]; sig?: Uint8Array }) =>
      encodeBatchSignature(edit.sig ?? parsed.sig, edit.count ?? parsed.count, edit.index ?? parsed.index, edit.path ?? parsed.path);
    push(`verify-${scheme}-valid`, "leaf 2 of a batch of 5", scheme, CHAIN, leaves[2] as Uint8Array, sig, true);
    push(`verify-${scheme}-wrong-index`, "leaf 2's path with index 3: another root", scheme, CHAIN, leaves[2] as Uint8Array, field({ index: 3 }), false);
    push(`verify-${scheme}-wrong-path`, "one bit of the path's second hash flipped", scheme, CHAIN, leaves[2] as Uint8Array, field({ path: parsed.path.map((hash, level) => (level === 1 ? Uint8Array.from(hash, (b, i) => (i === 0 ? b ^ 1 : b)) : hash)) }), false);
    push(`verify-${scheme}-wrong-count`, "count 6 for a batch of 5 (same depth): the signed root covers the count", scheme, CHAIN, leaves[2] as Uint8Array, field({ count: 6 }), false);
    push(`verify-${scheme}-wrong-leaf`, "leaf 3's signing root under leaf 2's field", scheme, CHAIN, leaves[3] as Uint8Array, sig, false);
    push(`verify-${scheme}-wrong-root`, "a signing root in no batch under a valid field", scheme, CHAIN, taggedHash("batch-vector-other"), sig, false);
    push(`verify-${scheme}-cross-chain`, "the same field checked on another chain", scheme, "concord-other", leaves[2] as Uint8Array, sig, false);
    push(`verify-${scheme}-plain-signature-in-batch-form`, "the plain signature of the leaf, wrapped as a batch of one", scheme, CHAIN, leaves[2] as Uint8Array, encodeBatchSignature((signBatch(key, CHAIN, [leaves[2] as Uint8Array])[0]) as Uint8Array, 1, 0, []), false);
  }
  return cases;
}

function decodeCases(): NotedCase[] {
  const net = sampleNetwork();
  const node = "node-00";
  const key = net.keys.get(node);
  if (!key) throw new Error("batch vectors: no key");
  const bodies = [0, 1, 2].map((i) => commitmentBody({ chain: CHAIN, request: i === 0 ? taggedHash("batch-vector-request", "0") : fillerRequest(node, i), node, output: "Paris" }, salt(node)));
  const [commitment] = signMessages<OutputCommitment>(key, bodies);
  const bytes = encodeMessage(commitment as OutputCommitment);
  // node-00 is on ed25519: the field's header starts at byte 64.
  const cases: NotedCase[] = [{ name: "decode-commitment-batch-signed", input: { op: "decode", kind: "commitment", hex: toHex(bytes) }, expected: { valid: true } }];
  const invalid = (name: string, note: string, edit: (sig: Uint8Array) => Uint8Array) => {
    const sig = edit((commitment as OutputCommitment).sig);
    const hex = toHex(encodeMessage({ ...(commitment as OutputCommitment), sig }));
    const code = codeOf(() => decodeMessage(Buffer.from(hex, "hex"), "commitment"));
    check(code === "WIRE_SCHEMA", `${name}: ${code ?? "decoded"}`);
    cases.push({ name, note, input: { op: "decode", kind: "commitment", hex }, expectedError: "WIRE_SCHEMA" });
  };
  invalid("decode-batch-path-one-hash-short", "count 3 needs a path of 2 hashes", (sig) => sig.subarray(0, sig.length - 32));
  invalid("decode-batch-index-not-below-count", "index 3 in a batch of 3", (sig) => Uint8Array.from(sig, (b, i) => (i === 64 + 3 ? 3 : b)));
  invalid("decode-batch-count-zero", "count 0", (sig) => Uint8Array.from(sig, (b, i) => (i === 64 || i === 65 ? 0 : b)));
  invalid("decode-batch-count-over-1024", "count 1025 (a path of 11 hashes would follow)", (sig) => Uint8Array.from(sig, (b, i) => (i === 64 ? 4 : i === 65 ? 1 : b)));
  invalid("decode-signature-66-bytes", "a length neither form has", (sig) => sig.subarray(0, 66));
  return cases;
}

function bundleCases(): NotedCase[] {
  const net = sampleNetwork();
  const registry = registryConfigToJson(net.config);
  const cases: NotedCase[] = [];
  const push = (name: string, note: string, bundle: AgreedBundle, intended: string | undefined) => {
    let outcome: unknown;
    const bytes = encodeMessage(bundle);
    const code = codeOf(() => {
      const verified = verifyBundle(decodeMessage(bytes, "bundle"), createRegistry(net.config), net.policies);
      outcome = { output: verified.outcome.output, outputHash: toHex(verified.outcome.outputHash), supporters: verified.outcome.supporters };
    });
    check(code === intended, `${name}: expected ${intended ?? "valid"}, got ${code ?? "valid"}`);
    const input = { op: "bundle", registry, bundle: toHex(bytes) };
    cases.push(code ? { name, note, input, expectedError: code } : { name, note, input, expected: outcome });
  };
  const commitReveal = batchedRun(net, testRequest(net), 5).bundle as AgreedBundle;
  push("bundle-commit-reveal-batch-signed", "every commitment signature and the close are batch signatures (batches of 5)", commitReveal, undefined);
  const direct = batchedRun(net, testRequest(net, { mode: "direct" }), 5).bundle as AgreedBundle;
  push("bundle-direct-batch-signed", "every signed output is batch-signed (batches of 5); the request's signature is plain", direct, undefined);
  const first = commitReveal.reveals[0] as OutputReveal;
  const flipLast = (sig: Uint8Array) => Uint8Array.from(sig, (b, i) => (i === sig.length - 1 ? b ^ 1 : b));
  const flipped = flipLast(first.commitmentSig);
  push("bundle-batch-signed-reveal-with-bad-path", "the first reveal's path has one bit flipped", { ...commitReveal, reveals: [{ ...first, commitmentSig: flipped }, ...commitReveal.reveals.slice(1)] }, "SIG_INVALID");
  const close = commitReveal.close as CommitClose;
  const closeSig = flipLast(close.sig);
  push("bundle-batch-signed-close-with-bad-path", "the close's path has one bit flipped", { ...commitReveal, close: { ...close, sig: closeSig } }, "SIG_INVALID");
  return cases;
}

function equivocationCases(): NotedCase[] {
  const net = sampleNetwork();
  const registry = registryConfigToJson(net.config);
  const request = testRequest(net);
  const run = batchedRun(net, request, 3);
  const node = run.context.committee[0] as string;
  const key = net.keys.get(node);
  if (!key) throw new Error("batch vectors: no key");
  const body = (output: string, id = run.context.id) => commitmentBody({ chain: CHAIN, request: id, node, output }, salt(node));
  const cases: NotedCase[] = [];
  const push = (name: string, note: string, evidence: EquivocationEvidence | undefined) => {
    if (!evidence) throw new Error(`batch vectors: ${name} is no equivocation`);
    const bytes = encodeMessage(evidence);
    const equivocator = verifyEquivocation(decodeMessage(bytes, "equivocation"), createRegistry(net.config));
    cases.push({ name, note, input: { op: "equivocation", registry, evidence: toHex(bytes) }, expected: { node: equivocator } });
  };
  const [other] = signMessages<OutputCommitment>(key, [body("x", fillerRequest(node, 50)), body("Lyon")]).slice(1);
  push("equivocation-across-two-batches", "a commitment from a batch of 3 and a different one for the same request from a batch of 2", equivocationOf(run.commitments[0] as OutputCommitment, other as OutputCommitment));
  const [a, b] = signMessages<OutputCommitment>(key, [body("Paris"), body("Lyon")]);
  push("equivocation-within-one-batch", "two leaves of one batch for one request: one signature, two votes", equivocationOf(a as OutputCommitment, b as OutputCommitment));
  return cases;
}

export function batchVectors(): NotedFile {
  return {
    description:
      "Batch signatures (spec/04-signing.md, 'Batch signatures'). op=tree: the tree over input.leaves (signing roots): leaf = H('concord/batch-leaf', root), " +
      "node = H('concord/batch-node', left, right), a node without a right sibling paired with 32 zero bytes; expected.root and each leaf's sibling path, bottom up. " +
      "op=sign: preimage = CBOR ['concord/batch', 1, chain, root, count], signedRoot its scheme hash, and each leaf's signature field sig || count (u16 BE) || index (u16 BE) || path " +
      "(a batch of one: the plain signature). op=verify: whether the field is valid for signingRoot on chain under publicKey. op=decode: decode hex as kind (a signature field of neither form " +
      "is WIRE_SCHEMA). op=bundle: decode and verifyBundle against the registry (JSON form), as bundles.json. op=equivocation: decode and verify the evidence; expected.node is the equivocator.",
    cases: [...treeCases(), ...signCases(), ...verifyCases(), ...decodeCases(), ...bundleCases(), ...equivocationCases()],
  };
}
