/**
 * Generates the protocol test vectors in spec/vectors/ from the reference code:
 *   npm run vectors        (writes the files)
 * Every byte derives from fixed labels, so two runs write identical files; test/spec/vectors.test.ts
 * regenerates them in memory and fails if a committed byte differs. The format is documented in
 * spec/vectors/README.md. Each expected value is computed by the public function another
 * implementation must match, and each invalid case is checked against the code it was built to
 * raise, so the generator never writes a surprise.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ed25519 } from "@noble/curves/ed25519.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { keyPairFromSeed, publicKey, signingPreimage, signingRoot, signRoot, type KeyPair } from "../src/crypto/schemes.ts";
import type { ErrorCode } from "../src/errors.ts";
import { drawCommittee, requestSubnet } from "../src/quorum/committee.ts";
import { createRegistry, registryConfigToJson, type RegistryConfig } from "../src/quorum/registry.ts";
import { verifyBundle } from "../src/quorum/verify.ts";
import { fromHex, taggedHash, toHex } from "../src/wire/hash.ts";
import { bodyBytes } from "../src/wire/ids.ts";
import { decodeMessage, encodeMessage } from "../src/wire/messages.ts";
import type { Message, SchemeName } from "../src/wire/types.ts";
import { testKey, testNetwork, type TestNetwork } from "../test/helpers/fixtures.ts";
import { bundleCases, invalidEncodings, sampleMessages, sampleNetwork } from "../test/spec/samples.ts";
import { batchVectors } from "./vectors/batches.ts";
import { envelopeCases } from "./vectors/envelopes.ts";
import { policyVectors } from "./vectors/policies.ts";
import { samplerVectors } from "./vectors/sampler.ts";
import { edgeBundleCases, edgeEncodingCases, registryVectors } from "./vectors/wire-edges.ts";
import { codeOf } from "./vectors/format.ts";

export interface VectorCase {
  name: string;
  /** Why the case exists (optional; runners ignore it). */
  note?: string;
  input: unknown;
  expected?: unknown;
  expectedError?: ErrorCode;
}

export interface VectorFile {
  description: string;
  cases: VectorCase[];
}

export const VECTOR_DIR = fileURLToPath(new URL("../spec/vectors/", import.meta.url));

/** A message (or any value) as vector JSON: byte strings as lowercase hex, the rest as is. */
export function toVectorJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return toHex(value);
  if (Array.isArray(value)) return value.map(toVectorJson);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, toVectorJson(item)]));
  }
  return value;
}

/** The file's text: two-space JSON and a final newline. */
export function renderVectorFile(file: VectorFile): string {
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** Runs `fn`; returns the ConcordError code it throws, or undefined. Anything else propagates. */
function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`gen-vectors: ${what}`);
}

// ---------------------------------------------------------------------------------------------

function encodingVectors(): VectorFile {
  const net = sampleNetwork();
  const samples = sampleMessages(net);
  const cases: VectorCase[] = samples.map(({ name, message }) => {
    const bytes = encodeMessage(message);
    check(toHex(encodeMessage(decodeMessage(bytes, message.t))) === toHex(bytes), `${name} does not round-trip`);
    return { name, input: { kind: message.t, message: toVectorJson(message) }, expected: { hex: toHex(bytes) } };
  });
  for (const invalid of invalidEncodings(samples)) {
    const code = codeOf(() => (invalid.kind ? decodeMessage(invalid.bytes, invalid.kind) : decodeMessage(invalid.bytes)));
    check(code === invalid.code, `${invalid.name}: expected ${invalid.code}, got ${code ?? "no error"}`);
    cases.push({ name: invalid.name, input: { kind: invalid.kind ?? null, hex: toHex(invalid.bytes) }, expectedError: invalid.code });
  }
  // The edges spec/ states in words (scripts/vectors/wire-edges.ts), each with a note.
  cases.push(...edgeEncodingCases(samples, net));
  // Envelopes (spec/03, "Envelopes"): the list of items a gossip payload carries (scripts/vectors/envelopes.ts).
  cases.push(...envelopeCases(samples));
  return {
    description:
      "Canonical encoding (deterministic CBOR, RFC 8949 §4.2.1) of every message kind, and bytes the strict decoder must reject. " +
      "Valid: input.message is the message in its logical form (src/wire/types.ts; byte strings as hex, evidence as integer lists, " +
      "absent optional fields omitted), expected.hex its canonical bytes; decoding expected.hex as input.kind gives input.message back. " +
      "Invalid: decode input.hex, followed by zero bytes up to input.size bytes in all when input.size is present, expecting input.kind " +
      "(null: any kind); expectedError is the code. Envelopes (input.op = \"envelope\"): read input.hex (zero-padded to input.size when present) " +
      "as an envelope, a CBOR list of 2 to 64 non-empty byte strings in shortest-form heads; expected.items are the items' bytes in order, " +
      "expectedError the code of a refusal (the items are not decoded). A note, when present, says what the case decides.",
    cases,
  };
}

// ---------------------------------------------------------------------------------------------

const SIGNED_KINDS = ["request", "commitment", "close", "output", "no-agreement"] as const;

function signingVectors(): VectorFile {
  const cases: VectorCase[] = [];
  const samples = sampleMessages(sampleNetwork());
  const schemes: SchemeName[] = ["ed25519", "secp256k1"];
  // Roots: the bodies of the sample messages, under both schemes.
  for (const { name, message } of samples) {
    if (!("sig" in message)) continue;
    const body = bodyBytes(message);
    for (const scheme of schemes) {
      cases.push({
        name: `root-${scheme}-${name}`,
        input: { op: "root", scheme, kind: message.t, chain: message.chain, body: toHex(body) },
        expected: { preimage: toHex(signingPreimage(message.t, message.chain, body)), root: toHex(signingRoot(scheme, message.t, message.chain, body)) },
      });
    }
  }
  // The same body under every other kind and another chain: every root differs.
  const commitment = samples.find((s) => s.name === "commitment")?.message as Message & { sig: Uint8Array };
  const body = bodyBytes(commitment);
  for (const kind of SIGNED_KINDS) {
    for (const chain of ["concord-test", "concord-other"]) {
      if (kind === "commitment" && chain === "concord-test") continue;
      cases.push({
        name: `root-ed25519-commitment-body-as-${kind}-on-${chain}`,
        input: { op: "root", scheme: "ed25519", kind, chain, body: toHex(body) },
        expected: { preimage: toHex(signingPreimage(kind, chain, body)), root: toHex(signingRoot("ed25519", kind, chain, body)) },
      });
    }
  }
  // Keys from labels (test/helpers/fixtures.ts testKey) and the signatures they make.
  const root = signingRoot("ed25519", "commitment", "concord-test", body);
  const keys: [string, KeyPair][] = [];
  for (const scheme of schemes) for (const label of ["sequencer", "node-00", "node-01"]) keys.push([label, testKey(label, scheme)]);
  for (const [label, key] of keys) {
    cases.push({ name: `key-${key.scheme}-${label}`, input: { op: "key", scheme: key.scheme, label, seed: toHex(key.secretKey) }, expected: { publicKey: toHex(key.publicKey) } });
    const keyRoot = signingRoot(key.scheme, "commitment", "concord-test", body);
    cases.push({
      name: `sign-${key.scheme}-${label}`,
      input: { op: "sign", scheme: key.scheme, seed: toHex(key.secretKey), root: toHex(keyRoot) },
      expected: { signature: toHex(signRoot(key, keyRoot)) },
    });
  }
  const n = secp256k1.Point.Fn.ORDER;
  for (const [name, seed] of [
    ["zero", "00".repeat(32)],
    ["group-order", n.toString(16).padStart(64, "0")],
    ["above-group-order", "ff".repeat(32)],
  ] as const) {
    check(codeOf(() => keyPairFromSeed("secp256k1", fromHex(seed))) === "KEY_INVALID", `secp256k1 seed ${name}`);
    cases.push({ name: `key-secp256k1-invalid-seed-${name}`, input: { op: "key", scheme: "secp256k1", label: null, seed }, expectedError: "KEY_INVALID" });
  }
  cases.push(...verifyVectors(root));
  return {
    description:
      "Signing roots, keys and signatures (src/crypto/schemes.ts). op=root: preimage = CBOR ['concord/sig', 1, kind, chain, body], " +
      "root = SHA-256(preimage) for ed25519, keccak-256(preimage) for secp256k1. op=key: the public key of a 32-byte seed " +
      "(ed25519: RFC 8032 secret key; secp256k1: the scalar, public key compressed); label is how the seed was derived " +
      "(README). op=sign: the deterministic signature (ed25519 RFC 8032; secp256k1 RFC 6979, low s, r || s || v with v = 27 + recovery id). " +
      "op=verify: whether the signature is valid for the root under the pinned rules; expectedError KEY_INVALID when the key is refused at load.",
    cases,
  };
}

function verifyVectors(root: Uint8Array): VectorCase[] {
  const cases: VectorCase[] = [];
  const push = (name: string, scheme: SchemeName, key: Uint8Array, message: Uint8Array, signature: Uint8Array) => {
    let valid: boolean | undefined;
    const code = codeOf(() => {
      const verifier = publicKey(scheme, key);
      valid = verifier.verify(message, signature);
      // Both ed25519 paths must agree on every vector.
      if (scheme === "ed25519") check(publicKey(scheme, key, { ed25519Path: "noble" }).verify(message, signature) === valid, `${name}: paths differ`);
    });
    const input = { op: "verify", scheme, publicKey: toHex(key), root: toHex(message), signature: toHex(signature) };
    cases.push(code ? { name, input, expectedError: code } : { name, input, expected: { valid } });
  };
  const ed = testKey("node-00", "ed25519");
  const k1 = testKey("node-00", "secp256k1");
  const edSig = signRoot(ed, root);
  const k1Root = signingRoot("secp256k1", "commitment", "concord-test", root);
  const k1Sig = signRoot(k1, k1Root);
  push("verify-ed25519-valid", "ed25519", ed.publicKey, root, edSig);
  push("verify-ed25519-other-root", "ed25519", ed.publicKey, taggedHash("other-root"), edSig);
  push("verify-ed25519-flipped-bit", "ed25519", ed.publicKey, root, Uint8Array.from(edSig, (b, i) => (i === 40 ? b ^ 1 : b)));
  push("verify-ed25519-wrong-length", "ed25519", ed.publicKey, root, edSig.subarray(0, 63));
  const L = ed25519.Point.Fn.ORDER;
  const le = (bytes: Uint8Array) => BigInt(`0x${toHex(Uint8Array.from(bytes).reverse())}`);
  const toLe = (value: bigint) => fromHex(value.toString(16).padStart(64, "0")).reverse();
  push("verify-ed25519-s-plus-l", "ed25519", ed.publicKey, root, Uint8Array.of(...edSig.subarray(0, 32), ...toLe(le(edSig.subarray(32)) + L)));
  // R = identity and S = k·a: the equation holds; the pinned rule refuses it.
  const { scalar } = ed25519.utils.getExtendedPublicKey(ed.secretKey);
  const identity = ed25519.Point.ZERO.toBytes();
  const k = le(sha512Of(identity, ed.publicKey, root)) % L;
  push("verify-ed25519-identity-r", "ed25519", ed.publicKey, root, Uint8Array.of(...identity, ...toLe((k * scalar) % L)));
  // R with a small-order component and S = r + k·a: only the cofactored equation holds.
  const torsion = ed25519.Point.fromBytes(fromHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"));
  const r = 0x1234_5678_9abc_def0n;
  const mixedR = ed25519.Point.BASE.multiply(r).add(torsion).toBytes();
  const km = le(sha512Of(mixedR, ed.publicKey, root)) % L;
  push("verify-ed25519-mixed-order-r", "ed25519", ed.publicKey, root, Uint8Array.of(...mixedR, ...toLe((r + km * scalar) % L)));
  push("verify-ed25519-small-order-key", "ed25519", fromHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"), root, edSig);
  push("verify-ed25519-mixed-order-key", "ed25519", ed25519.Point.fromBytes(ed.publicKey).add(torsion).toBytes(), root, edSig);
  push("verify-secp256k1-valid", "secp256k1", k1.publicKey, k1Root, k1Sig);
  push("verify-secp256k1-other-root", "secp256k1", k1.publicKey, root, k1Sig);
  const s = BigInt(`0x${toHex(k1Sig.subarray(32, 64))}`);
  const n = secp256k1.Point.Fn.ORDER;
  const flippedV = (k1Sig[64] as number) === 27 ? 28 : 27;
  push("verify-secp256k1-high-s", "secp256k1", k1.publicKey, k1Root, Uint8Array.of(...k1Sig.subarray(0, 32), ...fromHex((n - s).toString(16).padStart(64, "0")), flippedV));
  push("verify-secp256k1-flipped-v", "secp256k1", k1.publicKey, k1Root, Uint8Array.of(...k1Sig.subarray(0, 64), flippedV));
  push("verify-secp256k1-v-zero", "secp256k1", k1.publicKey, k1Root, Uint8Array.of(...k1Sig.subarray(0, 64), (k1Sig[64] as number) - 27));
  push("verify-secp256k1-without-v", "secp256k1", k1.publicKey, k1Root, k1Sig.subarray(0, 64));
  push("verify-secp256k1-uncompressed-key", "secp256k1", secp256k1.getPublicKey(k1.secretKey, false), k1Root, k1Sig);
  return cases;
}

function sha512Of(...parts: Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return sha512(joined);
}

// ---------------------------------------------------------------------------------------------

function committeeVectors(): VectorFile {
  const registries: [string, TestNetwork][] = [
    ["equal-weights-9", testNetwork(9)],
    ["weights-1-to-3", sampleNetwork()],
    ["one-heavy-node-20", testNetwork(20, { weights: (i) => (i === 0 ? 30 : 1) })],
    ["max-weights", testNetwork(6, { weights: (i) => (i % 2 === 0 ? 2 ** 32 - 1 : 1 + i) })],
    ["varied-weights-64", testNetwork(64, { weights: (i) => ((i * 7919) % 1000) + 1 })],
  ];
  const cases: VectorCase[] = [];
  for (const [name, net] of registries) {
    // Listed in reverse id order: the draw sorts by id, whatever order the registry file uses.
    const nodes = net.config.nodes.map((node) => ({ id: node.id, weight: node.weight })).reverse();
    const size = nodes.length;
    const sizes = [...new Set([1, Math.min(5, size), Math.min(7, size), size])];
    for (let i = 0; i < 3; i++) {
      const id = taggedHash("vector-request", name, String(i));
      for (const n of sizes) {
        cases.push({ name: `${name}-request-${i}-n-${n}`, input: { nodes, request: toHex(id), n }, expected: { committee: drawCommittee(net.registry, id, n) } });
      }
    }
    const id = taggedHash("vector-request", name, "invalid");
    for (const n of [size + 1, 0]) {
      check(codeOf(() => drawCommittee(net.registry, id, n)) === "REQUEST_INVALID", `${name} n=${n}`);
      cases.push({ name: `${name}-n-${n}-invalid`, input: { nodes, request: toHex(id), n }, expectedError: "REQUEST_INVALID" });
    }
  }
  // Subnets (spec/05): the draw walks the request's subnet only. expected.subnet is the request's
  // subnet, expected.subnetMembers every subnet's ids in id order.
  const split: [string, TestNetwork, number][] = [
    ["equal-weights-9-subnets-2", testNetwork(9), 2],
    ["varied-weights-64-subnets-4", testNetwork(64, { weights: (i) => ((i * 7919) % 1000) + 1 }), 4],
  ];
  for (const [name, net, subnets] of split) {
    const registry = createRegistry({ ...net.config, subnets });
    const nodes = net.config.nodes.map((node) => ({ id: node.id, weight: node.weight })).reverse();
    const subnetMembers = registry.subnetMembers.map((members) => members.map((member) => member.id));
    const smallest = Math.min(...subnetMembers.map((members) => members.length));
    for (let i = 0; i < 3; i++) {
      const id = taggedHash("vector-request", name, String(i));
      const subnet = requestSubnet(id, subnets);
      const size = subnetMembers[subnet]?.length ?? 0;
      for (const n of [...new Set([1, Math.min(7, smallest), size])]) {
        cases.push({ name: `${name}-request-${i}-n-${n}`, input: { nodes, subnets, request: toHex(id), n }, expected: { subnet, subnetMembers, committee: drawCommittee(registry, id, n) } });
      }
      // The registry could seat n, the request's subnet cannot.
      check(codeOf(() => drawCommittee(registry, id, size + 1)) === "REQUEST_INVALID", `${name} subnet n=${size + 1}`);
      if (i === 0) cases.push({ name: `${name}-request-${i}-n-${size + 1}-larger-than-subnet`, input: { nodes, subnets, request: toHex(id), n: size + 1 }, expectedError: "REQUEST_INVALID" });
    }
  }
  return {
    description:
      "Committee draws (src/quorum/committee.ts drawCommittee). input.nodes are the registry's node ids and stake weights " +
      "(keys play no part in the draw; the list is in no particular order), input.request the request id, input.n the " +
      "committee size; expected.committee is the committee in draw order. expectedError REQUEST_INVALID when n is 0 or " +
      "larger than the registry. Cases with input.subnets (S > 1) also expect subnetMembers (each subnet's ids in id order, " +
      "spec/05 Subnets) and subnet (the request's subnet); the committee is drawn from that subnet alone, and REQUEST_INVALID " +
      "when n is larger than it.",
    cases,
  };
}

// ---------------------------------------------------------------------------------------------

function bundleVectors(): VectorFile {
  const net = sampleNetwork();
  const json = registryConfigToJson(net.config);
  const cases: VectorCase[] = [];
  const push = (name: string, registryConfig: RegistryConfig, bundleBytes: Uint8Array, intended: ErrorCode | undefined, note?: string) => {
    let outcome: unknown;
    const code = codeOf(() => {
      // The registry is loaded first: one refused at load (CONFIG) verifies nothing.
      const registry = createRegistry(registryConfig);
      outcome = toVectorJson(verifyBundle(decodeMessage(bundleBytes, "bundle"), registry, net.policies).outcome);
    });
    check(code === intended, `bundle ${name}: expected ${intended ?? "valid"}, got ${code ?? "valid"}`);
    const input = { registry: registryConfigToJson(registryConfig), bundle: toHex(bundleBytes) };
    const named = note === undefined ? { name } : { name, note };
    cases.push(code ? { ...named, input, expectedError: code } : { ...named, input, expected: outcome });
  };
  for (const c of bundleCases(net)) push(c.name, net.config, encodeMessage(c.bundle), c.wireCode ?? c.code);
  const valid = bundleCases(net)[0];
  if (!valid) throw new Error("gen-vectors: no valid bundle");
  const otherSequencer = { ...net.config, sequencer: { scheme: "ed25519" as const, publicKey: testKey("other-sequencer").publicKey } };
  push("registry-with-another-sequencer", otherSequencer, encodeMessage(valid.bundle), "SIG_INVALID");
  push("registry-on-another-chain", { ...net.config, chain: "other-chain" }, encodeMessage(valid.bundle), "CHAIN_MISMATCH");
  // One key, one member (spec/05): a key under two ids would be two votes for one holder.
  const twin = net.config.nodes[0];
  if (!twin) throw new Error("gen-vectors: empty sample registry");
  push("registry-with-one-key-under-two-ids", { ...net.config, nodes: [...net.config.nodes, { ...twin, id: "node-09" }] }, encodeMessage(valid.bundle), "CONFIG");
  const sequencerAsNode = { id: "node-09", scheme: net.config.sequencer.scheme, publicKey: net.config.sequencer.publicKey, weight: 1 };
  push("registry-with-the-sequencer-key-on-a-node", { ...net.config, nodes: [...net.config.nodes, sequencerAsNode] }, encodeMessage(valid.bundle), "CONFIG");
  // The order and codes of verifyBundle's checks that spec/08 decides (scripts/vectors/wire-edges.ts).
  for (const edge of edgeBundleCases(net)) push(edge.name, net.config, encodeMessage(edge.bundle), edge.code, edge.note);
  check(JSON.stringify(json) === JSON.stringify(registryConfigToJson(net.config)), "registry JSON is stable");
  return {
    description:
      "Bundle verification (src/quorum/verify.ts verifyBundle with the default policy registry): decode input.bundle as a bundle, " +
      "then verify it against input.registry (the registry file's JSON, loaded first: CONFIG if it is refused). Valid: expected is the outcome (output, outputHash, " +
      "supporters). Invalid: expectedError is the first code raised, decoding included.",
    cases,
  };
}

// ---------------------------------------------------------------------------------------------

/** Every generated vector file, by file name, in a fixed order. */
export function buildVectors(): Map<string, VectorFile> {
  return new Map([
    ["encoding.json", encodingVectors()],
    ["signing.json", signingVectors()],
    ["committee.json", committeeVectors()],
    ["bundles.json", bundleVectors()],
    ["registry.json", registryVectors(sampleNetwork())],
    ["policies.json", policyVectors()],
    ["sampler.json", samplerVectors()],
    ["batches.json", batchVectors()],
  ]);
}

function main(): void {
  for (const [name, file] of buildVectors()) {
    const path = resolve(VECTOR_DIR, name);
    writeFileSync(path, renderVectorFile(file));
    console.log(`wrote ${path} (${file.cases.length} cases)`);
  }
}

if (import.meta.main) main();
