/**
 * Gas of checking a certificate on chain (spec/11-certificate.md): contracts/ConcordCertificate.sol
 * compiled by solc 0.8.37 (optimizer on, 200 runs, evmVersion prague) and run on @ethereumjs/evm
 * (Prague rules) through ConcordAnswers.verify. Gas is deterministic: one run is the figure.
 *
 * For commit-reveal certificates of exact@1 requests answered "Paris" (no evidence):
 *   - n=5/k=4, n=7/k=5, n=31/k=21, each with the registry exactly the committee (its smallest) and
 *     with a 64-member registry: execution gas, calldata gas (EIP-2028: 16 a non-zero byte, 4 a
 *     zero byte) and their sum, the cost a transaction pays to verify (its 21,000 base excluded);
 *   - per extra signature: the slope over 21..31 votes for one n=31/k=21 request (a certificate
 *     may carry more than k votes), against one ecrecover, whose precompile costs 3,000 gas: the
 *     floor of any scheme that checks k ECDSA signatures one by one;
 *   - per registry member: the slope between a 31- and a 64-member registry (n=31/k=21), the
 *     price of recomputing the committee draw instead of trusting a committee root;
 *   - per evidence token per signature: a vote's evidence (8 bytes a token) goes into calldata and
 *     into the hash its commitment opens to;
 *   - direct mode, n=7/k=5.
 * Run alone: `npx node bench/certificate.bench.ts`; with the others: `npm run bench certificate`.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { encodeCertificate, type Certificate, type CertificateVote } from "../src/cert/abi.ts";
import { certificateOf } from "../src/cert/derive.ts";
import { certificateMembers, registryRoot } from "../src/cert/registry-root.ts";
import type { KeyPair } from "../src/crypto/schemes.ts";
import { commitOutput } from "../src/quorum/attest.ts";
import { drawCommittee } from "../src/quorum/committee.ts";
import { encodeCanonical } from "../src/wire/cbor.ts";
import { utf8 } from "../src/wire/hash.ts";
import { requestId } from "../src/wire/ids.ts";
import { wireEvidence } from "../src/wire/messages.ts";
import type { Evidence, InferenceRequest } from "../src/wire/types.ts";
import { calldataGas, compileContracts, concatBytes, selector, solcVersion, TestChain, word } from "../test/helpers/evm.ts";
import { runRequest, salt, testNetwork, testRequest, type TestNetwork } from "../test/helpers/fixtures.ts";

const VERIFY = selector("verify((bytes,bytes,bytes,(uint256,bytes32,bytes,bytes32,bytes32,uint8)[]))");
const ECRECOVER_GAS = 3000;

interface Measured {
  execution: number;
  calldata: number;
  total: number;
}

function network(size: number): TestNetwork {
  return testNetwork(size, { schemes: () => "secp256k1" });
}

/** Every committee member's vote for "Paris", in member order (a certificate may carry more than k). */
function votesOf(net: TestNetwork, request: InferenceRequest, evidence?: Evidence): CertificateVote[] {
  const id = requestId(request);
  const committee = new Set(drawCommittee(net.registry, id, request.n));
  const evidenceBytes = evidence ? encodeCanonical(wireEvidence(evidence)) : new Uint8Array(0);
  return certificateMembers(net.registry).flatMap((member, index) => {
    if (!committee.has(member.id)) return [];
    const attestation = { chain: request.chain, request: id, node: member.id, output: "Paris", ...(evidence ? { evidence } : {}) };
    const sig = commitOutput(net.keys.get(member.id) as KeyPair, attestation, salt(member.id)).commitment.sig;
    return [{ member: index, salt: salt(member.id), evidence: evidenceBytes, r: sig.subarray(0, 32), s: sig.subarray(32, 64), v: sig[64] as number }];
  });
}

export async function run(): Promise<Record<string, number>> {
  const code = compileContracts().get("ConcordAnswers")?.bytecode;
  if (!code) throw new Error("bench: ConcordAnswers not compiled");
  const chain = await TestChain.create();
  const consumers = new Map<string, Awaited<ReturnType<TestChain["deploy"]>>>();

  async function measure(net: TestNetwork, certificate: Certificate): Promise<Measured> {
    const root = registryRoot(net.registry);
    const key = Buffer.from(root).toString("hex");
    let consumer = consumers.get(key);
    if (!consumer) {
      consumer = await chain.deploy(code as Uint8Array, concatBytes(word(root), word(keccak_256(utf8("synthetic-v1"))), word(1)));
      consumers.set(key, consumer);
    }
    const bytes = encodeCertificate(certificate);
    const result = await chain.call(consumer, concatBytes(VERIFY, bytes));
    if (result.reverted) throw new Error("bench: a valid certificate reverted");
    const execution = Number(result.gas);
    const calldata = calldataGas(concatBytes(VERIFY, bytes));
    return { execution, calldata, total: execution + calldata };
  }

  function derived(net: TestNetwork, request: InferenceRequest): Certificate {
    const { collector } = runRequest(net, request, () => ({ output: "Paris" }));
    if (!collector.bundle) throw new Error("bench: no agreement");
    return certificateOf(collector.bundle, net.registry);
  }

  const figures: Record<string, number> = {};
  const record = (name: string, measured: Measured) => {
    figures[`${name}.execution`] = measured.execution;
    figures[`${name}.calldata`] = measured.calldata;
    figures[`${name}.total`] = measured.total;
  };

  const wide = network(64);
  for (const [n, k] of [[5, 4], [7, 5], [31, 21]] as const) {
    const exact = network(n);
    record(`n${n}k${k}.registry${n}`, await measure(exact, derived(exact, testRequest(exact, { n, k }))));
    record(`n${n}k${k}.registry64`, await measure(wide, derived(wide, testRequest(wide, { n, k }))));
  }
  const small = network(7);
  record("n7k5.registry7.direct", await measure(small, derived(small, testRequest(small, { n: 7, k: 5, mode: "direct" }))));

  // Per extra signature: one n=31/k=21 request, certificates of 21..31 votes; least-squares slope.
  const net31 = network(31);
  const request31 = testRequest(net31, { n: 31, k: 21, input: "slope" });
  const base31 = derived(net31, request31);
  const all = votesOf(net31, request31);
  const points: [number, Measured][] = [];
  for (let votes = 21; votes <= 31; votes++) points.push([votes, await measure(net31, { ...base31, votes: all.slice(0, votes) })]);
  for (const part of ["execution", "calldata", "total"] as const) {
    const xs = points.map(([x]) => x);
    const ys = points.map(([, m]) => m[part]);
    const mx = xs.reduce((a, b) => a + b) / xs.length;
    const my = ys.reduce((a, b) => a + b) / ys.length;
    const slope = xs.reduce((sum, x, i) => sum + (x - mx) * ((ys[i] as number) - my), 0) / xs.reduce((sum, x) => sum + (x - mx) ** 2, 0);
    figures[`perSignature.${part}`] = Math.round(slope);
  }
  figures["ecrecover.precompile"] = ECRECOVER_GAS;
  figures["perSignature.totalOverEcrecover"] = Math.round(((figures["perSignature.total"] as number) / ECRECOVER_GAS) * 100) / 100;

  // Per registry member: n=31/k=21 on 31 and on 64 members.
  const perMember = ((figures["n31k21.registry64.total"] as number) - (figures["n31k21.registry31.total"] as number)) / (64 - 31);
  figures["perRegistryMember.total"] = Math.round(perMember);

  // Per evidence token per signature: 64 tokens of evidence on each of the 21 votes, against none.
  const evidence: Evidence = { tokens: Array.from({ length: 64 }, (_, i) => 1000 + i * 37), margins: Array.from({ length: 64 }, (_, i) => 123_456 + i * 4_099) };
  const withEvidence = await measure(net31, { ...base31, votes: votesOf(net31, request31, evidence).slice(0, 21) });
  const without = points[0]?.[1] as Measured;
  figures["perEvidenceTokenPerSignature.total"] = Math.round(((withEvidence.total - without.total) / (21 * 64)) * 10) / 10;

  console.error(`certificate bench: solc ${solcVersion()}`);
  return figures;
}

if (import.meta.main) console.log(await run());
