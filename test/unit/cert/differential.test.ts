/**
 * Differential test of the two verifiers: certificates mutated field by field (bit flips in the
 * request body, the member list, the output, a vote's salt, evidence or signature; v and member
 * indexes changed; votes dropped, repeated, swapped; fields cut short or lengthened), re-encoded
 * canonically, then verified by verifyCertificate and by the Solidity library on the EVM: both
 * must accept with the same result or refuse with the same code. Then raw byte flips anywhere in
 * the ABI bytes: TypeScript throws only typed errors, and what it accepts the EVM accepts.
 * Seeded: every run checks the same inputs.
 */
import type { Address } from "@ethereumjs/util";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeCertificate, type Certificate, type CertificateVote } from "../../../src/cert/abi.ts";
import { certificateOf } from "../../../src/cert/derive.ts";
import { registryRoot } from "../../../src/cert/registry-root.ts";
import { verifyCertificate } from "../../../src/cert/verify.ts";
import { isConcordError } from "../../../src/errors.ts";
import { toHex, utf8 } from "../../../src/wire/hash.ts";
import type { Bytes } from "../../../src/wire/types.ts";
import { mulberry32 } from "../../../src/sim/prng.ts";
import { compileContracts, concatBytes, selector, TestChain, word } from "../../helpers/evm.ts";
import { runRequest, testNetwork, testRequest } from "../../helpers/fixtures.ts";

const MUTATIONS = Number(process.env["CERT_DIFF_MUTATIONS"] ?? 400);
const VERIFY = selector("verify((bytes,bytes,bytes,(uint256,bytes32,bytes,bytes32,bytes32,uint8)[]))");
const CODES = new Map(
  [
    ["CertificateInvalid()", "CERT_INVALID"],
    ["RegistryMismatch()", "REGISTRY_MISMATCH"],
    ["RequestInvalid()", "REQUEST_INVALID"],
    ["TooFewVotes()", "POLICY_MISMATCH"],
    ["DuplicateVote(uint256)", "DUPLICATE"],
    ["NotInCommittee(uint256)", "NOT_IN_COMMITTEE"],
    ["SigInvalid(uint256)", "SIG_INVALID"],
  ].map(([signature, code]) => [toHex(selector(signature as string)), code as string]),
);


describe("verifyCertificate and the Solidity library agree on mutated certificates", () => {
  const net = testNetwork(9, { schemes: () => "secp256k1", weights: (i) => 1 + (i % 3) });
  const root = registryRoot(net.registry);
  const certificates = (["commit-reveal", "direct"] as const).map((mode) => {
    const request = testRequest(net, { mode, input: `differential ${mode}` });
    const evidence = { tokens: [1, 2, 3, 4], margins: [9, 8, 7, 6] };
    const bundle = runRequest(net, request, () => ({ output: "Paris, France", evidence })).collector.bundle;
    if (!bundle) throw new Error("no agreement");
    return certificateOf(bundle, net.registry);
  });
  let chain: TestChain;
  let consumer: Address;

  beforeAll(async () => {
    chain = await TestChain.create();
    const code = compileContracts().get("ConcordAnswers")?.bytecode as Bytes;
    consumer = await chain.deploy(code, concatBytes(word(root), word(keccak_256(utf8("synthetic-v1"))), word(1)));
  }, 120_000);

  function typescript(bytes: Bytes): string {
    try {
      const verified = verifyCertificate(bytes, root);
      return `ok ${toHex(verified.requestId)} ${toHex(verified.outputHash)} ${verified.signers.length}`;
    } catch (error) {
      if (!isConcordError(error)) throw error;
      return error.code;
    }
  }

  async function evm(bytes: Bytes): Promise<string> {
    const result = await chain.call(consumer, concatBytes(VERIFY, bytes));
    if (!result.reverted) return `ok ${toHex(result.returnValue.subarray(0, 32))} ${toHex(result.returnValue.subarray(32, 64))} ${Number(BigInt(`0x${toHex(result.returnValue.subarray(352, 384))}`))}`;
    if (result.returnValue.length === 0) return "CERT_INVALID";
    return CODES.get(toHex(result.returnValue.subarray(0, 4))) ?? `unknown revert ${toHex(result.returnValue)}`;
  }

  function mutate(base: Certificate, random: () => number): Certificate {
    const pick = (n: number) => Math.floor(random() * n);
    const flip = (bytes: Bytes): Bytes => {
      if (bytes.length === 0) return Uint8Array.of(pick(256));
      const out = Uint8Array.from(bytes);
      const at = pick(out.length);
      out[at] = (out[at] as number) ^ (1 << pick(8));
      return out;
    };
    const cut = (bytes: Bytes): Bytes => bytes.subarray(0, pick(bytes.length + 1));
    const grow = (bytes: Bytes): Bytes => Uint8Array.of(...bytes, ...Array.from({ length: 1 + pick(4) }, () => pick(256)));
    const votes = [...base.votes];
    const j = pick(votes.length);
    const vote = votes[j] as CertificateVote;
    const withVote = (changed: CertificateVote) => ({ ...base, votes: votes.map((v, i) => (i === j ? changed : v)) });
    switch (pick(16)) {
      case 0:
        return { ...base, request: flip(base.request) };
      case 1:
        return { ...base, request: random() < 0.5 ? cut(base.request) : grow(base.request) };
      case 2:
        return { ...base, members: flip(base.members) };
      case 3:
        return { ...base, members: random() < 0.5 ? cut(base.members) : grow(base.members) };
      case 4:
        return { ...base, output: random() < 0.5 ? flip(base.output) : grow(base.output) };
      case 5:
        return withVote({ ...vote, salt: flip(vote.salt) });
      case 6:
        return withVote({ ...vote, evidence: random() < 0.3 ? new Uint8Array(0) : flip(vote.evidence) });
      case 7:
        return withVote({ ...vote, r: flip(vote.r) });
      case 8:
        return withVote({ ...vote, s: flip(vote.s) });
      case 9:
        return withVote({ ...vote, v: pick(256) });
      case 10:
        return withVote({ ...vote, member: random() < 0.5 ? Math.max(0, vote.member + (random() < 0.5 ? -1 : 1)) : pick(12) });
      case 11:
        return { ...base, votes: votes.filter((_, i) => i !== j) };
      case 12:
        return { ...base, votes: [...votes.slice(0, j + 1), vote, ...votes.slice(j + 1)] };
      case 13: {
        const other = pick(votes.length);
        [votes[j], votes[other]] = [votes[other] as CertificateVote, vote];
        return { ...base, votes };
      }
      case 14:
        return withVote({ ...vote, evidence: grow(vote.evidence) });
      default:
        return mutate(mutate(base, random), random);
    }
  }

  it(`${MUTATIONS} field mutations: the same answer from both`, async () => {
    const random = mulberry32(0x18c3);
    const seen = new Map<string, number>();
    for (let i = 0; i < MUTATIONS; i++) {
      const base = certificates[i % certificates.length] as Certificate;
      const bytes = encodeCertificate(mutate(base, random));
      const [ts, sol] = [typescript(bytes), await evm(bytes)];
      expect(sol, `mutation ${i}: ${toHex(bytes)}`).toBe(ts);
      seen.set(ts.startsWith("ok") ? "ok" : ts, (seen.get(ts.startsWith("ok") ? "ok" : ts) ?? 0) + 1);
    }
    // The mutations reach every check.
    for (const code of ["CERT_INVALID", "REGISTRY_MISMATCH", "POLICY_MISMATCH", "DUPLICATE", "NOT_IN_COMMITTEE", "SIG_INVALID"]) expect(seen.get(code) ?? 0, code).toBeGreaterThan(0);
  }, 300_000);

  it("raw byte flips in the ABI bytes: typed errors only, and what TypeScript accepts the EVM accepts alike", async () => {
    const random = mulberry32(0x18c4);
    for (let i = 0; i < MUTATIONS / 4; i++) {
      const bytes = Uint8Array.from(encodeCertificate(certificates[i % certificates.length] as Certificate));
      for (let flips = 1 + Math.floor(random() * 3); flips > 0; flips--) {
        const at = Math.floor(random() * bytes.length);
        bytes[at] = (bytes[at] as number) ^ (1 << Math.floor(random() * 8));
      }
      const ts = typescript(bytes);
      if (ts.startsWith("ok")) expect(await evm(bytes)).toBe(ts);
    }
  }, 300_000);
});
