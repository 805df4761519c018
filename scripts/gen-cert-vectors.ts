/**
 * Generates spec/vectors/certificates.json (spec/11-certificate.md) from the reference code:
 *   npm run vectors        (runs scripts/gen-vectors.ts, then this script)
 * Every byte derives from fixed labels, so two runs write identical files;
 * test/spec/certificate-vectors.test.ts regenerates the file in memory and fails if a committed
 * byte differs, and runs every case through certificateOf / verifyCertificate;
 * test/unit/cert/evm.test.ts runs every verify case through the Solidity library on an EVM.
 * Each case is checked against the code it was built to raise, so the generator never writes a
 * surprise.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { certificateOf } from "../src/cert/derive.ts";
import { encodeCertificate, type Certificate, type CertificateVote } from "../src/cert/abi.ts";
import { certificateMembers, packMembers, registryRoot, registryRootOf, unpackMembers, type CertificateMember } from "../src/cert/registry-root.ts";
import { verifyCertificate } from "../src/cert/verify.ts";
import type { KeyPair } from "../src/crypto/schemes.ts";
import type { ErrorCode } from "../src/errors.ts";
import { commitOutput, signOutput } from "../src/quorum/attest.ts";
import { drawCommittee } from "../src/quorum/committee.ts";
import { createRegistry, registryConfigToJson } from "../src/quorum/registry.ts";
import { verifyBundle } from "../src/quorum/verify.ts";
import { encodeCanonical } from "../src/wire/cbor.ts";
import { fromHex, taggedHash, toHex, utf8 } from "../src/wire/hash.ts";
import { bodyBytes, requestId } from "../src/wire/ids.ts";
import { encodeMessage, wireEvidence } from "../src/wire/messages.ts";
import type { AgreedBundle, Evidence, InferenceRequest, InferenceRequestBody, SchemeName } from "../src/wire/types.ts";
import { runRequest, salt, testKey, testNetwork, testRequest, type TestNetwork } from "../test/helpers/fixtures.ts";
import { renderVectorFile, toVectorJson, VECTOR_DIR, type VectorCase, type VectorFile } from "./gen-vectors.ts";
import { codeOf } from "./vectors/format.ts";

export const CERTIFICATE_VECTOR_FILE = "certificates.json";

/** Runs `fn`; returns the ConcordError code it throws, or undefined. Anything else propagates. */
function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`gen-cert-vectors: ${what}`);
}

/** A 9-node secp256k1 registry, weights 1, 2, 3 repeating: the draw is not uniform. */
function secpNetwork(size = 9, schemes: (i: number) => SchemeName = () => "secp256k1"): TestNetwork {
  return testNetwork(size, { schemes, weights: (i) => 1 + (i % 3) });
}

/** Runs a request to agreement; each committee member answers `answer(node, index)` (undefined: silent). */
function agree(net: TestNetwork, request: InferenceRequest, answer: (node: string, index: number) => { output: string; evidence?: Evidence } | undefined): AgreedBundle {
  const { collector } = runRequest(net, request, answer);
  if (!collector.bundle) throw new Error("gen-cert-vectors: the committee did not agree");
  verifyBundle(collector.bundle, net.registry, net.policies);
  return collector.bundle;
}

const evidenceOf = (length: number, label: string): Evidence => ({
  tokens: Array.from({ length }, (_, i) => (taggedHash("vector-token", label, String(i))[0] as number) * 131 + i),
  margins: Array.from({ length }, (_, i) => ((taggedHash("vector-margin", label, String(i))[1] as number) * 3_907) % 1_000_001),
});

/** A committee member's vote for `output`, signed by `signer` (its own key unless given). */
function voteOf(net: TestNetwork, request: InferenceRequest, member: string, output: string, options: { signer?: KeyPair; evidence?: Evidence } = {}): CertificateVote {
  const members = certificateMembers(net.registry);
  const index = members.findIndex((m) => m.id === member);
  check(index >= 0, `no member ${member}`);
  const key = options.signer ?? (net.keys.get(member) as KeyPair);
  const attestation = { chain: request.chain, request: requestId(request), node: member, output, ...(options.evidence ? { evidence: options.evidence } : {}) };
  const evidence = options.evidence ? encodeCanonical(wireEvidence(options.evidence)) : new Uint8Array(0);
  if (request.mode === "direct") {
    const sig = signOutput(key, attestation).sig;
    return { member: index, salt: new Uint8Array(32), evidence, r: sig.subarray(0, 32), s: sig.subarray(32, 64), v: sig[64] as number };
  }
  const sig = commitOutput(key, attestation, salt(member)).commitment.sig;
  return { member: index, salt: salt(member), evidence, r: sig.subarray(0, 32), s: sig.subarray(32, 64), v: sig[64] as number };
}

const ORDER = secp256k1.Point.Fn.ORDER;
const bigintOf = (bytes: Uint8Array) => BigInt(`0x${toHex(bytes)}`);
const bytes32Of = (value: bigint) => fromHex(value.toString(16).padStart(64, "0"));

/** A request body with chosen fields, unsigned: for requests no sequencer would sign. */
function rawRequestBody(overrides: Partial<InferenceRequestBody>, base: InferenceRequest): Uint8Array {
  const { sig: _sig, ...body } = base;
  return bodyBytes({ ...body, ...overrides } as InferenceRequest);
}

export function certificateVectors(): VectorFile {
  const cases: VectorCase[] = [];
  const deriveCase = (name: string, net: TestNetwork, bundle: AgreedBundle, intended?: ErrorCode): Certificate | undefined => {
    let certificate: Certificate | undefined;
    const code = codeOf(() => {
      certificate = certificateOf(bundle, net.registry);
    });
    check(code === intended, `derive ${name}: expected ${intended ?? "a certificate"}, got ${code ?? "a certificate"}`);
    const input = { op: "derive", registry: registryConfigToJson(net.config), bundle: toHex(encodeMessage(bundle)) };
    if (code || !certificate) {
      cases.push({ name: `derive-${name}`, input, expectedError: code as ErrorCode });
      return undefined;
    }
    cases.push({ name: `derive-${name}`, input, expected: { certificate: toHex(encodeCertificate(certificate)), registryRoot: toHex(registryRoot(net.registry)) } });
    return certificate;
  };
  const verifyCase = (name: string, certificate: Certificate | Uint8Array, root: Uint8Array, intended?: ErrorCode): void => {
    const bytes = certificate instanceof Uint8Array ? certificate : encodeCertificate(certificate);
    let verified: unknown;
    const code = codeOf(() => {
      verified = toVectorJson(verifyCertificate(bytes, root));
    });
    check(code === intended, `verify ${name}: expected ${intended ?? "valid"}, got ${code ?? "valid"}`);
    const input = { op: "verify", certificate: toHex(bytes), registryRoot: toHex(root) };
    cases.push(code ? { name: `verify-${name}`, input, expectedError: code } : { name: `verify-${name}`, input, expected: verified });
  };
  const derived = (name: string, net: TestNetwork, bundle: AgreedBundle): Certificate => {
    const certificate = deriveCase(name, net, bundle);
    if (!certificate) throw new Error(`gen-cert-vectors: ${name} has no certificate`);
    verifyCase(name, certificate, registryRoot(net.registry));
    return certificate;
  };

  // --- Valid certificates, each derived from a verified bundle and then verified.
  const net = secpNetwork();
  const root = registryRoot(net.registry);
  const request = testRequest(net);
  const exact = derived("commit-reveal-exact", net, agree(net, request, () => ({ output: "Paris" })));
  const seededRequest = testRequest(net, {
    policy: { id: "seeded", version: 1, params: { epsPpm: 0 } },
    sampling: { temperatureMilli: 700, topK: 40, topPPpm: 950_000, maxTokens: 64 },
    weights: taggedHash("weights", "synthetic-v1"),
  });
  const seededEvidence = evidenceOf(24, "seeded");
  derived("commit-reveal-seeded-with-evidence-and-weights", net, agree(net, seededRequest, () => ({ output: "Paris, on the Seine", evidence: seededEvidence })));
  const directRequest = testRequest(net, { mode: "direct", input: "Capital of France, one word?" });
  const direct = derived("direct-exact", net, agree(net, directRequest, () => ({ output: "Paris" })));
  derived("direct-with-evidence", net, agree(net, testRequest(net, { mode: "direct", input: "Evidence, please" }), () => ({ output: "Paris", evidence: evidenceOf(8, "direct") })));
  // Long text: 2-byte CBOR lengths for the output, the evidence and the signed body.
  const long = `${"Ünïcödé ✓ 東京 🚀 ".repeat(14)}end`;
  const longEvidence = evidenceOf(40, "long");
  derived("commit-reveal-long-output", net, agree(net, testRequest(net, { input: "Say it at length" }), () => ({ output: long, evidence: longEvidence })));
  derived("direct-long-output", net, agree(net, testRequest(net, { mode: "direct", input: "Say it at length, signed" }), () => ({ output: long, evidence: longEvidence })));
  // Two members answer otherwise: the certificate carries the k that agree.
  derived("commit-reveal-with-dissenters", net, agree(net, testRequest(net, { input: "Dissent" }), (_node, i) => ({ output: i < 2 ? "Lyon" : "Paris" })));
  // A mixed registry: ed25519 members count for the draw, never as signers.
  const mixed = secpNetwork(9, (i) => (i % 4 === 1 ? "ed25519" : "secp256k1"));
  let mixedRequest = testRequest(mixed, { input: "mixed 0" });
  for (let i = 1; !drawCommittee(mixed.registry, requestId(mixedRequest), 7).some((node) => mixed.registry.byId.get(node)?.scheme === "ed25519"); i++) {
    mixedRequest = testRequest(mixed, { input: `mixed ${i}` });
  }
  // Its ed25519 member stays silent, so the bundle's supporters are the secp256k1 ones.
  const mixedCertificate = derived("mixed-registry", mixed, agree(mixed, mixedRequest, (node) => (mixed.registry.byId.get(node)?.scheme === "ed25519" ? undefined : { output: "Paris" })));
  // n = 31, k = 21 on a 40-node registry: one-byte-argument CBOR heads for n and k.
  const large = secpNetwork(40);
  derived("n31-k21", large, agree(large, testRequest(large, { n: 31, k: 21, input: "Large committee" }), () => ({ output: "Paris" })));

  // More than k votes verify too: every committee member's vote.
  const committee = drawCommittee(net.registry, requestId(request), request.n);
  const everyVote = [...committee].sort().map((node) => voteOf(net, request, node, "Paris"));
  verifyCase("all-seven-votes", { ...exact, votes: everyVote }, root);

  // --- No certificate: too few supporters signed the canonical output on secp256k1 keys.
  const sample = testNetwork(9, { schemes: (i) => (i % 3 === 2 ? "secp256k1" : "ed25519"), weights: (i) => 1 + (i % 3) });
  deriveCase("too-few-secp256k1-supporters", sample, agree(sample, testRequest(sample), () => ({ output: "Paris" })), "CERT_UNSUPPORTED");
  const semanticRequest = testRequest(net, { policy: { id: "semantic", version: 2, params: {} }, input: "Which city is the capital of France?" });
  deriveCase(
    "supporters-with-other-text",
    net,
    agree(net, semanticRequest, (_node, i) => ({ output: i % 2 === 0 ? "The capital of France is Paris." : "The capital of France is Paris!" })),
    "CERT_UNSUPPORTED",
  );

  // --- Invalid certificates: one thing wrong each, from the commit-reveal one unless named.
  const votes = exact.votes;
  const first = votes[0] as CertificateVote;
  const withVote = (i: number, vote: CertificateVote) => ({ ...exact, votes: votes.map((v, j) => (j === i ? vote : v)) });
  verifyCase("bad-signature", withVote(0, { ...first, r: Uint8Array.from(first.r, (b, i) => (i === 31 ? b ^ 1 : b)) }), root, "SIG_INVALID");
  // The other s of the pair: ecrecover still gives the signer; the low-s rule refuses it.
  verifyCase("high-s", withVote(0, { ...first, s: bytes32Of(ORDER - bigintOf(first.s)), v: first.v === 27 ? 28 : 27 }), root, "SIG_INVALID");
  verifyCase("flipped-v", withVote(0, { ...first, v: first.v === 27 ? 28 : 27 }), root, "SIG_INVALID");
  verifyCase("v-zero", withVote(0, { ...first, v: first.v - 27 }), root, "SIG_INVALID");
  verifyCase("s-zero", withVote(0, { ...first, s: new Uint8Array(32) }), root, "SIG_INVALID");
  verifyCase("duplicate-member", withVote(1, first), root, "DUPLICATE");
  verifyCase("votes-out-of-order", { ...exact, votes: [votes[1] as CertificateVote, first, ...votes.slice(2)] }, root, "DUPLICATE");
  const memberIds = certificateMembers(net.registry).map((m) => m.id);
  const firstId = memberIds[first.member] as string;
  verifyCase("outsider-signature", withVote(0, voteOf(net, request, firstId, "Paris", { signer: testKey("outsider", "secp256k1") })), root, "SIG_INVALID");
  verifyCase("member-signs-for-another", withVote(0, voteOf(net, request, firstId, "Paris", { signer: net.keys.get(memberIds.find((id) => !committee.includes(id)) as string) as KeyPair })), root, "SIG_INVALID");
  const outsider = memberIds.find((id) => !committee.includes(id)) as string;
  const extra = voteOf(net, request, outsider, "Paris");
  verifyCase("member-not-in-committee", { ...exact, votes: [...votes, extra].sort((a, b) => a.member - b.member) }, root, "NOT_IN_COMMITTEE");
  verifyCase("member-index-beyond-the-list", { ...exact, votes: [...votes, { ...(votes[4] as CertificateVote), member: memberIds.length }] }, root, "CERT_INVALID");
  verifyCase("too-few-votes", { ...exact, votes: votes.slice(0, 4) }, root, "POLICY_MISMATCH");
  verifyCase("no-votes", { ...exact, votes: [] }, root, "POLICY_MISMATCH");
  verifyCase("wrong-output", { ...exact, output: utf8("Lyon") }, root, "SIG_INVALID");
  verifyCase("wrong-salt", withVote(0, { ...first, salt: taggedHash("test-salt", "other") }), root, "SIG_INVALID");
  verifyCase("evidence-added", withVote(0, { ...first, evidence: encodeCanonical(wireEvidence(evidenceOf(2, "added"))) }), root, "SIG_INVALID");
  const directFirst = direct.votes[0] as CertificateVote;
  verifyCase("direct-wrong-output", { ...direct, output: utf8("Lyon") }, root, "SIG_INVALID");
  verifyCase("direct-evidence-added", { ...direct, votes: [{ ...directFirst, evidence: encodeCanonical(wireEvidence(evidenceOf(2, "added"))) }, ...direct.votes.slice(1)] }, root, "SIG_INVALID");
  // Another request's body: its committee happens to hold these voters, but no vote signed its id.
  verifyCase("another-request", { ...exact, request: bodyBytes(testRequest(net, { input: "What is the capital of Italy?" })) }, root, "SIG_INVALID");
  verifyCase("mixed-registry-ed25519-vote", mixedEd25519Vote(mixed, mixedRequest, mixedCertificate), registryRoot(mixed.registry), "SIG_INVALID");

  // The registry root: the contract's one stored word.
  const config = net.config;
  const heavier = createRegistry({ ...config, nodes: config.nodes.map((node, i) => (i === 0 ? { ...node, weight: node.weight + 1 } : node)) });
  verifyCase("wrong-registry-root", exact, registryRoot(heavier), "REGISTRY_MISMATCH");
  verifyCase("registry-of-another-chain", exact, registryRoot(createRegistry({ ...config, chain: "other-chain" })), "REGISTRY_MISMATCH");
  const members = certificateMembers(net.registry);
  const retouched = (change: (list: CertificateMember[]) => CertificateMember[]) => ({ ...exact, members: packMembers(change(members.map((m) => ({ ...m })))) });
  verifyCase("member-weight-changed", retouched((list) => list.map((m, i) => (i === 0 ? { ...m, weight: m.weight + 1 } : m))), root, "REGISTRY_MISMATCH");
  verifyCase("members-reordered", retouched((list) => [list[1] as CertificateMember, list[0] as CertificateMember, ...list.slice(2)]), root, "REGISTRY_MISMATCH");
  verifyCase("signer-addresses-swapped", retouched((list) => list.map((m, i) => (i === 0 ? { ...m, signer: (list[1] as CertificateMember).signer } : i === 1 ? { ...m, signer: (list[0] as CertificateMember).signer } : m))), root, "REGISTRY_MISMATCH");
  verifyCase("member-missing", retouched((list) => list.slice(0, -1)), root, "REGISTRY_MISMATCH");
  verifyCase("member-weight-zero", retouched((list) => list.map((m, i) => (i === 0 ? { ...m, weight: 0 } : m))), root, "CERT_INVALID");
  verifyCase("members-cut-short", { ...exact, members: exact.members.subarray(0, exact.members.length - 1) }, root, "CERT_INVALID");
  // A fabricated request body passes the root (the chain is right) and fails the threshold rule.
  verifyCase("request-k-not-above-half", { ...exact, request: rawRequestBody({ k: 3 }, request) }, root, "REQUEST_INVALID");
  verifyCase("request-n-beyond-registry", { ...exact, request: rawRequestBody({ n: 10, k: 7 }, request) }, root, "REQUEST_INVALID");
  verifyCase("request-on-another-chain", { ...exact, request: rawRequestBody({ chain: "other-chain" }, request) }, root, "REGISTRY_MISMATCH");
  // Bodies that are not a request.
  const body = exact.request;
  verifyCase("request-cut-short", { ...exact, request: body.subarray(0, body.length - 1) }, root, "CERT_INVALID");
  verifyCase("request-trailing-byte", { ...exact, request: Uint8Array.of(...body, 0) }, root, "CERT_INVALID");
  verifyCase("request-is-a-commitment", { ...exact, request: bodyBytes(commitOutput(net.keys.get(firstId) as KeyPair, { chain: request.chain, request: requestId(request), node: firstId, output: "Paris" }, salt(firstId)).commitment) }, root, "CERT_INVALID");
  verifyCase("request-policy-id-too-long", { ...exact, request: rawRequestBody({ policy: { id: "x".repeat(33), version: 1, params: {} } }, request) }, root, "CERT_INVALID");
  verifyCase("request-float-in-params", { ...exact, request: withFloatParam(request) }, root, "CERT_INVALID");
  // ABI bytes cut short: no verifier reads past the end.
  const abi = encodeCertificate(exact);
  verifyCase("abi-cut-short", abi.subarray(0, abi.length - 32), root, "CERT_INVALID");

  // Self-checks: the registry root from the packed list matches, and unpacking round-trips.
  check(toHex(registryRootOf(utf8(net.registry.chain), unpackMembers(exact.members).map((m) => m.entry))) === toHex(root), "registry root from the packed list");
  return {
    description:
      "Certificates (spec/11-certificate.md; src/cert). op=derive: load input.registry (the registry file's JSON), decode input.bundle " +
      "(a verified AgreedBundle, hex), derive its certificate (certificateOf): expected.certificate is its ABI encoding (hex), " +
      "expected.registryRoot the registry root; CERT_UNSUPPORTED when fewer than k supporters on secp256k1 keys signed exactly the " +
      "canonical output. op=verify: verify input.certificate (ABI bytes, hex) against input.registryRoot with verifyCertificate or the " +
      "Solidity library: expected is what it establishes (requestId, outputHash, output as hex, direct, n, k, policyId, policyVersion, " +
      "modelHash, inputHash, entropy, deadline, signers), expectedError the first code raised in the order of spec/11-certificate.md.",
    cases,
  };
}

/** A vote by an ed25519 committee member of the mixed registry, spliced into its certificate in member order. */
function mixedEd25519Vote(net: TestNetwork, request: InferenceRequest, certificate: Certificate): Certificate {
  const members = certificateMembers(net.registry);
  const committee = drawCommittee(net.registry, requestId(request), request.n);
  const id = committee.find((node) => net.registry.byId.get(node)?.scheme === "ed25519") as string;
  const index = members.findIndex((m) => m.id === id);
  const template = certificate.votes[0] as CertificateVote;
  const votes = [...certificate.votes, { ...template, member: index, salt: salt(id) }].sort((a, b) => a.member - b.member);
  return { ...certificate, votes };
}

/** The request body with a float (CBOR 0xf9, half precision 1.0) as a policy parameter's value. */
function withFloatParam(request: InferenceRequest): Uint8Array {
  const marker = "float-here";
  const body = rawRequestBody({ policy: { id: "exact", version: 1, params: { x: marker } } }, request);
  const needle = utf8(marker);
  const at = Buffer.from(body).indexOf(Buffer.from(needle));
  check(at > 0, "float marker");
  // Replace the text item (head 0x6a + 10 bytes) by a 3-byte float; the map's byte length changes, nothing else.
  return Uint8Array.of(...body.subarray(0, at - 1), 0xf9, 0x3c, 0x00, ...body.subarray(at + needle.length));
}

function main(): void {
  const path = resolve(VECTOR_DIR, CERTIFICATE_VECTOR_FILE);
  const file = certificateVectors();
  writeFileSync(path, renderVectorFile(file));
  console.log(`wrote ${path} (${file.cases.length} cases)`);
}

if (import.meta.main) main();
