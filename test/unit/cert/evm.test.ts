/**
 * The Solidity verifier (contracts/ConcordCertificate.sol), compiled by solc and run on an
 * in-process EVM, against spec/vectors/certificates.json: every valid certificate is accepted
 * with what verifyCertificate establishes, every invalid one is refused with the error that maps
 * to its code. Then the example consumer (contracts/ConcordAnswers.sol) end to end: ask, a
 * committee agrees, settle with the certificate, and each way settling must fail.
 */
import { readFileSync } from "node:fs";
import type { Address } from "@ethereumjs/util";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeCertificate, type Certificate } from "../../../src/cert/abi.ts";
import { certificateOf } from "../../../src/cert/derive.ts";
import { certificateMembers, packMembers, registryRoot } from "../../../src/cert/registry-root.ts";
import { verifyCertificate } from "../../../src/cert/verify.ts";
import type { KeyPair } from "../../../src/crypto/schemes.ts";
import { commitOutput } from "../../../src/quorum/attest.ts";
import { drawCommittee } from "../../../src/quorum/committee.ts";
import { fromHex, taggedHash, toHex, utf8 } from "../../../src/wire/hash.ts";
import { bodyBytes, requestId } from "../../../src/wire/ids.ts";
import type { Bytes, InferenceRequestBody } from "../../../src/wire/types.ts";
import type { VectorFile } from "../../../scripts/gen-vectors.ts";
import { runRequest, salt, testNetwork, testRequest, type TestNetwork } from "../../helpers/fixtures.ts";
import { blockHash, compileContracts, concatBytes, selector, TestChain, word } from "../../helpers/evm.ts";

const TIMEOUT = 120_000;
const CERTIFICATE_TYPE = "(bytes,bytes,bytes,(uint256,bytes32,bytes,bytes32,bytes32,uint8)[])";
const VERIFY = selector(`verify(${CERTIFICATE_TYPE})`);
const SETTLE = selector(`settle(${CERTIFICATE_TYPE})`);
const ASK = selector("ask(string)");
const ANSWER_OF = selector("answerOf(bytes32)");

/** The library's errors, by the code verifyCertificate raises for the same failure. */
const ERRORS: Record<string, string> = {
  "CertificateInvalid()": "CERT_INVALID",
  "RegistryMismatch()": "REGISTRY_MISMATCH",
  "RequestInvalid()": "REQUEST_INVALID",
  "TooFewVotes()": "POLICY_MISMATCH",
  "DuplicateVote(uint256)": "DUPLICATE",
  "NotInCommittee(uint256)": "NOT_IN_COMMITTEE",
  "SigInvalid(uint256)": "SIG_INVALID",
};
const CODE_BY_SELECTOR = new Map(Object.entries(ERRORS).map(([signature, code]) => [toHex(selector(signature)), code]));

/** The code a revert maps to: a library error, or CERT_INVALID for an ABI decoding revert (no data). */
function revertCode(data: Bytes): string {
  if (data.length === 0) return "CERT_INVALID";
  const code = CODE_BY_SELECTOR.get(toHex(data.subarray(0, 4)));
  if (!code) throw new Error(`unexpected revert data ${toHex(data)}`);
  return code;
}

/** The `Verified` struct the library returns, as the vectors write it (hex, numbers, signer count). */
function readVerified(data: Bytes) {
  const at = (i: number) => data.subarray(32 * i, 32 * i + 32);
  const num = (i: number) => Number(BigInt(`0x${toHex(at(i))}`));
  const policyId = at(5);
  const idLength = policyId.findIndex((byte) => byte === 0);
  return {
    requestId: toHex(at(0)),
    outputHash: toHex(at(1)),
    direct: num(2) === 1,
    n: num(3),
    k: num(4),
    policyId: new TextDecoder().decode(policyId.subarray(0, idLength === -1 ? 32 : idLength)),
    policyVersion: num(6),
    modelHash: toHex(at(7)),
    inputHash: toHex(at(8)),
    entropy: toHex(at(9)),
    deadline: num(10),
    signers: num(11),
  };
}

const MODEL_HASH = keccak_256(utf8("synthetic-v1"));

describe("the Solidity verifier on an in-process EVM", () => {
  let chain: TestChain;
  const consumers = new Map<string, Address>();
  let consumerCode: Bytes;

  async function consumerFor(root: Bytes, minK = 1): Promise<Address> {
    const key = `${toHex(root)}/${minK}`;
    let address = consumers.get(key);
    if (!address) {
      address = await chain.deploy(consumerCode, concatBytes(word(root), word(MODEL_HASH), word(minK)));
      consumers.set(key, address);
    }
    return address;
  }

  beforeAll(async () => {
    consumerCode = (compileContracts().get("ConcordAnswers") as { bytecode: Bytes }).bytecode;
    chain = await TestChain.create();
  }, TIMEOUT);

  it("accepts every valid certificate of certificates.json and refuses each invalid one with its code", async () => {
    const file = JSON.parse(readFileSync(new URL("../../../spec/vectors/certificates.json", import.meta.url), "utf8")) as VectorFile;
    const cases = file.cases.filter((c) => (c.input as { op: string }).op === "verify");
    let valid = 0;
    for (const c of cases) {
      const input = c.input as { certificate: string; registryRoot: string };
      const consumer = await consumerFor(fromHex(input.registryRoot));
      const result = await chain.call(consumer, concatBytes(VERIFY, fromHex(input.certificate)));
      if (c.expectedError !== undefined) {
        expect(result.reverted, `${c.name} must revert`).toBe(true);
        expect(revertCode(result.returnValue), c.name).toBe(c.expectedError);
        continue;
      }
      expect(result.reverted, `${c.name} must verify`).toBe(false);
      const expected = c.expected as Record<string, unknown> & { signers: string[] };
      const { output: _output, signers, ...fields } = expected;
      expect(readVerified(result.returnValue), c.name).toEqual({ ...fields, signers: signers.length });
      valid++;
    }
    expect(valid).toBeGreaterThanOrEqual(10);
  }, TIMEOUT);

  it("the high-s vector is refused by the low-s rule alone: ecrecover would give the signer", async () => {
    const file = JSON.parse(readFileSync(new URL("../../../spec/vectors/certificates.json", import.meta.url), "utf8")) as VectorFile;
    const highS = file.cases.find((c) => c.name === "verify-high-s");
    expect(highS?.expectedError).toBe("SIG_INVALID");
    // Same certificate with s and v restored verifies: only (s, v) ↔ (n - s, v') differs.
    const valid = file.cases.find((c) => c.name === "verify-commit-reveal-exact");
    const [a, b] = [highS, valid].map((c) => fromHex((c?.input as { certificate: string }).certificate));
    const differing = (a as Bytes).reduce((count, byte, i) => count + (byte !== (b as Bytes)[i] ? 1 : 0), 0);
    expect(differing).toBeGreaterThan(0);
    expect(differing).toBeLessThanOrEqual(33);
  });

  it("draws the committee of drawCommittee (its Fenwick walk) on registries of skewed weights: all n votes verify", async () => {
    for (const [size, n] of [[1, 1], [2, 2], [5, 3], [13, 13], [17, 9], [40, 31], [64, 33]] as const) {
      // Weights from 1 to 2^32 - 1, spread over orders of magnitude, from a label.
      const weightOf = (i: number) => Math.max(1, Number(BigInt(`0x${toHex(taggedHash("evm-weights", String(size), String(i)).subarray(0, 4))}`) >> BigInt(i % 29)));
      const net = testNetwork(size, { schemes: () => "secp256k1", weights: weightOf });
      const request = testRequest(net, { n, k: n, input: `skewed ${size}` });
      const id = requestId(request);
      const committee = new Set(drawCommittee(net.registry, id, n));
      const members = certificateMembers(net.registry);
      const votes = members.flatMap((member, index) => {
        if (!committee.has(member.id)) return [];
        const sig = commitOutput(net.keys.get(member.id) as KeyPair, { chain: request.chain, request: id, node: member.id, output: "Paris" }, salt(member.id)).commitment.sig;
        return [{ member: index, salt: salt(member.id), evidence: new Uint8Array(0), r: sig.subarray(0, 32), s: sig.subarray(32, 64), v: sig[64] as number }];
      });
      const certificate: Certificate = { request: bodyBytes(request), members: packMembers(members), output: utf8("Paris"), votes };
      const root = registryRoot(net.registry);
      expect(verifyCertificate(encodeCertificate(certificate), root).signers.length).toBe(n);
      const result = await chain.call(await consumerFor(root), concatBytes(VERIFY, encodeCertificate(certificate)));
      expect(result.reverted, `size ${size}, n ${n}: ${toHex(result.returnValue)}`).toBe(false);
      expect(readVerified(result.returnValue).signers).toBe(n);
    }
  }, TIMEOUT);

  describe("the example consumer, ConcordAnswers", () => {
    let net: TestNetwork;
    let root: Bytes;

    beforeAll(() => {
      net = testNetwork(9, { schemes: () => "secp256k1", weights: (i) => 1 + (i % 3) });
      root = registryRoot(net.registry);
    });

    /** ABI calldata of ask(input). */
    function askCall(input: string): Bytes {
      const text = utf8(input);
      const padded = new Uint8Array(Math.ceil(text.length / 32) * 32);
      padded.set(text);
      return concatBytes(ASK, word(32), word(text.length), padded);
    }

    /** A certificate for `input`, the committee answering `output`, the request carrying `entropy`. */
    function certificateFor(input: string, output: string, overrides: Partial<Omit<InferenceRequestBody, "t" | "v">> = {}): Certificate {
      const request = testRequest(net, { input, entropy: blockHash(chain.blockNumber - 1n), ...overrides });
      const { collector } = runRequest(net, request, () => ({ output }));
      if (!collector.bundle) throw new Error("no agreement");
      return certificateOf(collector.bundle, net.registry);
    }

    async function settle(consumer: Address, certificate: Certificate) {
      return chain.call(consumer, concatBytes(SETTLE, encodeCertificate(certificate)));
    }

    const errorOf = (data: Bytes) => toHex(data.subarray(0, 4));

    it("records the first certified answer to a question it asked, and refuses what it must", async () => {
      chain.blockNumber = 500n;
      const consumer = await chain.deploy(consumerCode, concatBytes(word(root), word(MODEL_HASH), word(5)));
      const question = "What is the capital of France?";
      const certificate = certificateFor(question, "Paris");

      // Not asked yet.
      expect(errorOf((await settle(consumer, certificate)).returnValue)).toBe(toHex(selector("NotAsked(bytes32)")));
      const asked = await chain.call(consumer, askCall(question));
      expect(asked.reverted).toBe(false);
      expect(toHex(asked.returnValue)).toBe(toHex(blockHash(499)));
      expect(errorOf((await chain.call(consumer, askCall(question))).returnValue)).toBe(toHex(selector("AlreadyAsked(bytes32)")));

      // Another entropy: a request the sequencer could have ground for a friendly committee.
      const ground = certificateFor(question, "Lyon", { entropy: blockHash(7) });
      expect(errorOf((await settle(consumer, ground)).returnValue)).toBe(toHex(selector("WrongEntropy(bytes32,bytes32)")));
      // Another model, and a threshold below the consumer's minimum.
      expect(errorOf((await settle(consumer, certificateFor(question, "Paris", { model: "other-model" }))).returnValue)).toBe(toHex(selector("WrongModel(bytes32)")));
      expect(errorOf((await settle(consumer, certificateFor(question, "Paris", { n: 5, k: 4 }))).returnValue)).toBe(toHex(selector("ThresholdTooLow(uint256)")));
      // An invalid certificate: the library's error comes through.
      expect(revertCode((await settle(consumer, { ...certificate, output: utf8("Lyon") })).returnValue)).toBe("SIG_INVALID");

      const settled = await settle(consumer, certificate);
      expect(settled.reverted).toBe(false);
      const verified = verifyCertificate(encodeCertificate(certificate), root);
      expect(toHex(settled.returnValue)).toBe(toHex(verified.outputHash));
      const stored = await chain.call(consumer, concatBytes(ANSWER_OF, keccak_256(utf8(question))));
      expect(toHex(stored.returnValue)).toBe(toHex(verified.outputHash));

      // One answer per question: a second valid certificate (another request) is refused.
      const second = certificateFor(question, "Paris", { deadline: 20_000 });
      expect(toHex(verifyCertificate(encodeCertificate(second), root).requestId)).not.toBe(toHex(verified.requestId));
      expect(errorOf((await settle(consumer, second)).returnValue)).toBe(toHex(selector("AlreadyAnswered(bytes32)")));
    }, TIMEOUT);
  });
});
