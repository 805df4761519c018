/**
 * src/cert in TypeScript: the ABI codec, the request reader against the strict wire decoder, the
 * registry root against RFC 6962's Merkle tree hash, derivation from bundles, and (fast-check,
 * fixed seed) the mirrored committee draw against drawCommittee on random weighted registries.
 */
import fc from "fast-check";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { describe, expect, it } from "vitest";
import { decodeCertificate, encodeCertificate, type Certificate } from "../../../src/cert/abi.ts";
import { certificateOf } from "../../../src/cert/derive.ts";
import { certificateMembers, ethereumAddress, membersRoot, packMembers, registryRoot, unpackMembers, ZERO_ADDRESS } from "../../../src/cert/registry-root.ts";
import { readCertifiedRequest } from "../../../src/cert/request.ts";
import { verifyCertificate } from "../../../src/cert/verify.ts";
import { commitOutput } from "../../../src/quorum/attest.ts";
import { drawCommittee } from "../../../src/quorum/committee.ts";
import { createRegistry } from "../../../src/quorum/registry.ts";
import { taggedHash, toHex, utf8 } from "../../../src/wire/hash.ts";
import { bodyBytes, requestId } from "../../../src/wire/ids.ts";
import { encodeMessage } from "../../../src/wire/messages.ts";
import { codeOf } from "../../helpers/errors.ts";
import type { KeyPair } from "../../../src/crypto/schemes.ts";
import type { Bytes, InferenceRequest } from "../../../src/wire/types.ts";
import { runRequest, salt, testNetwork, testRequest, type TestNetwork } from "../../helpers/fixtures.ts";

const secpNetwork = (size = 9) => testNetwork(size, { schemes: () => "secp256k1", weights: (i) => 1 + (i % 3) });


function derive(net: TestNetwork, request: InferenceRequest, output = "Paris"): Certificate {
  const { collector } = runRequest(net, request, () => ({ output }));
  if (!collector.bundle) throw new Error("no agreement");
  return certificateOf(collector.bundle, net.registry);
}

describe("ABI encoding", () => {
  const net = secpNetwork();
  const certificate = derive(net, testRequest(net));
  const bytes = encodeCertificate(certificate);

  it("round-trips, and starts with the tuple's offset as abi.encode writes it", () => {
    expect(toHex(bytes.subarray(0, 32))).toBe(`${"00".repeat(31)}20`);
    expect(bytes.length % 32).toBe(0);
    expect(toHex(encodeCertificate(decodeCertificate(bytes)))).toBe(toHex(bytes));
  });

  it("refuses trailing bytes, a moved offset, a v beyond uint8 and bytes cut short (CERT_INVALID)", () => {
    expect(codeOf(() => decodeCertificate(Uint8Array.of(...bytes, ...new Uint8Array(32))))).toBe("CERT_INVALID");
    const moved = Uint8Array.from(bytes);
    moved[31] = 0x40;
    expect(codeOf(() => decodeCertificate(moved))).toBe("CERT_INVALID");
    expect(codeOf(() => decodeCertificate(bytes.subarray(0, bytes.length - 1)))).toBe("CERT_INVALID");
    expect(codeOf(() => encodeCertificate({ ...certificate, votes: [{ ...(certificate.votes[0] as Certificate["votes"][0]), v: 256 }] }))).toBe("CERT_INVALID");
  });
});

describe("reading the request", () => {
  const net = secpNetwork();

  it("gives the fields the strict decoder reads, with and without the weights digest and parameters", () => {
    const requests = [
      testRequest(net),
      testRequest(net, { mode: "direct", weights: taggedHash("weights", "w"), input: "Ünïcödé ✓ 東京 🚀".repeat(40) }),
      testRequest(net, { policy: { id: "semantic", version: 2, params: { thetaPpm: 900_000, level: "word", strict: true, list: [1, "a", false], nested: { x: 0 } } } }),
      testRequest(testNetwork(40, { schemes: () => "secp256k1" }), { n: 31, k: 21, deadline: 1_900_000_000_000, sampling: { temperatureMilli: 700, topK: 40, topPPpm: 950_000, maxTokens: 8192 } }),
    ];
    for (const request of requests) {
      const read = readCertifiedRequest(bodyBytes(request));
      expect(toHex(read.requestId)).toBe(toHex(requestId(request)));
      expect(new TextDecoder().decode(read.chain)).toBe(request.chain);
      expect(read).toMatchObject({ direct: request.mode === "direct", n: request.n, k: request.k, policyVersion: request.policy.version, deadline: request.deadline });
      expect(new TextDecoder().decode(read.policyId)).toBe(request.policy.id);
      expect(toHex(read.inputHash)).toBe(toHex(keccak_256(utf8(request.input))));
      expect(toHex(read.modelHash)).toBe(toHex(keccak_256(utf8(request.model))));
      expect(toHex(read.entropy)).toBe(toHex(request.entropy));
    }
  });

  it("refuses a signed request (sig is one key too many) and bytes that are no request", () => {
    const request = testRequest(net);
    expect(codeOf(() => readCertifiedRequest(encodeMessage(request)))).toBe("CERT_INVALID");
    expect(codeOf(() => readCertifiedRequest(new Uint8Array(0)))).toBe("CERT_INVALID");
  });
});

describe("the registry root", () => {
  /** RFC 6962's MTH with keccak-256 and the same leaf and node prefixes. */
  function mth(leaves: Bytes[]): Bytes {
    if (leaves.length === 1) return keccak_256(Uint8Array.of(0, ...(leaves[0] as Bytes)));
    let split = 1;
    while (split * 2 < leaves.length) split *= 2;
    return keccak_256(Uint8Array.of(1, ...mth(leaves.slice(0, split)), ...mth(leaves.slice(split))));
  }

  it("the members root is RFC 6962's Merkle tree hash, for 1 to 33 members", () => {
    for (let size = 1; size <= 33; size++) {
      const entries = Array.from({ length: size }, (_, i) => utf8(`entry-${i}`));
      expect(toHex(membersRoot(entries)), `size ${size}`).toBe(toHex(mth(entries)));
    }
  });

  it("commits to ids, weights, signer addresses and the chain; ed25519 members have no signer", () => {
    const mixed = testNetwork(6, { schemes: (i) => (i % 2 === 0 ? "secp256k1" : "ed25519"), weights: (i) => i + 1 });
    const members = certificateMembers(mixed.registry);
    expect(members.map((m) => m.id)).toEqual(mixed.registry.members.map((m) => m.id));
    for (const [i, member] of members.entries()) {
      const entry = mixed.registry.members[i];
      expect(toHex(member.signer)).toBe(toHex(entry?.scheme === "secp256k1" ? ethereumAddress(entry.publicKey) : ZERO_ADDRESS));
    }
    expect(unpackMembers(packMembers(members)).map(({ id, weight }) => ({ id, weight }))).toEqual(members.map(({ id, weight }) => ({ id, weight })));
    const root = toHex(registryRoot(mixed.registry));
    const other = createRegistry({ ...mixed.config, chain: "other-chain" });
    expect(toHex(registryRoot(other))).not.toBe(root);
    const heavier = createRegistry({ ...mixed.config, nodes: mixed.config.nodes.map((n, i) => (i === 5 ? { ...n, weight: 7 } : n)) });
    expect(toHex(registryRoot(heavier))).not.toBe(root);
  });

  it("derives the Ethereum address of a secp256k1 key (the one ecrecover returns)", () => {
    // The address of the secret key 1 (the generator point), a well-known value.
    const g = Uint8Array.of(0x02, ...Buffer.from("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798", "hex"));
    expect(toHex(ethereumAddress(g))).toBe("7e5f4552091a69125d5dfcb7b8c2659029395bdf");
  });
});

describe("certificateOf", () => {
  const net = secpNetwork();

  it("carries the first k supporters by node id, and verifies against the registry root", () => {
    const request = testRequest(net);
    const certificate = derive(net, request);
    expect(certificate.votes.length).toBe(request.k);
    const members = certificateMembers(net.registry);
    const ids = certificate.votes.map((vote) => members[vote.member]?.id);
    expect(ids).toEqual([...ids].sort());
    const verified = verifyCertificate(encodeCertificate(certificate), registryRoot(net.registry));
    expect(verified.signers).toEqual(ids);
    expect(toHex(verified.requestId)).toBe(toHex(requestId(request)));
    expect(new TextDecoder().decode(verified.output)).toBe("Paris");
  });

  it("refuses a registry of another chain (CHAIN_MISMATCH)", () => {
    const { collector } = runRequest(net, testRequest(net), () => ({ output: "Paris" }));
    const other = createRegistry({ ...net.config, chain: "other-chain" });
    expect(codeOf(() => certificateOf(collector.bundle as never, other))).toBe("CHAIN_MISMATCH");
  });

  it("refuses a registry with subnets (CERT_UNSUPPORTED): the on-chain draw walks the whole registry", () => {
    const { collector } = runRequest(net, testRequest(net), () => ({ output: "Paris" }));
    const split = createRegistry({ ...net.config, subnets: 2 });
    expect(codeOf(() => certificateOf(collector.bundle as never, split))).toBe("CERT_UNSUPPORTED");
    expect(codeOf(() => certificateOf(collector.bundle as never, createRegistry({ ...net.config, subnets: 1 })))).toBe("ok");
  });
});

describe("the mirrored committee draw (property, fixed seed)", () => {
  it("every committee member drawn by drawCommittee, and no one else, can vote", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 }),
        fc.array(fc.integer({ min: 1, max: 2 ** 32 - 1 }), { minLength: 24, maxLength: 24 }),
        fc.string({ maxLength: 8 }),
        fc.integer({ min: 1, max: 24 }),
        (size, weights, label, nRaw) => {
          const net = testNetwork(size, { schemes: () => "secp256k1", weights: (i) => weights[i] as number });
          const n = Math.min(nRaw, size);
          const request = testRequest(net, { n, k: n, input: `draw ${label}` });
          const id = requestId(request);
          const committee = new Set(drawCommittee(net.registry, id, n));
          const members = certificateMembers(net.registry);
          const vote = (index: number) => {
            const node = members[index]?.id as string;
            const sig = commitOutput(net.keys.get(node) as KeyPair, { chain: request.chain, request: id, node, output: "Paris" }, salt(node)).commitment.sig;
            return { member: index, salt: salt(node), evidence: new Uint8Array(0), r: sig.subarray(0, 32), s: sig.subarray(32, 64), v: sig[64] as number };
          };
          const base = { request: bodyBytes(request), members: packMembers(members), output: utf8("Paris") };
          const root = registryRoot(net.registry);
          // All n committee votes verify...
          const votes = members.flatMap((m, i) => (committee.has(m.id) ? [vote(i)] : []));
          expect(verifyCertificate({ ...base, votes }, root).signers.length).toBe(n);
          // ...and a non-member's vote in their place is NOT_IN_COMMITTEE.
          const outsider = members.findIndex((m) => !committee.has(m.id));
          if (outsider >= 0) {
            const swapped = [...votes.slice(1), vote(outsider)].sort((a, b) => a.member - b.member);
            expect(codeOf(() => verifyCertificate({ ...base, votes: swapped }, root))).toBe("NOT_IN_COMMITTEE");
          }
        },
      ),
      { seed: 1811, numRuns: 25 },
    );
  }, 60_000);
});
