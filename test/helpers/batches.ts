/**
 * Requests run with batch signatures (spec/04, "Batch signatures"): every member signs its
 * commitment (or direct output) in a batch with `batchSize - 1` commitments for other requests,
 * its leaf at a position that varies by member, and the sequencer signs the close in a batch of
 * closes. Deterministic: every byte derives from labels, so the vector generator uses it too.
 */
import type { KeyPair } from "../../src/crypto/schemes.ts";
import { signMessages } from "../../src/crypto/sign.ts";
import { commitmentBody, outputBody, revealOf, type Attestation } from "../../src/quorum/attest.ts";
import { Collector } from "../../src/quorum/collector.ts";
import { openRequest, type RequestContext } from "../../src/quorum/rules.ts";
import { taggedHash } from "../../src/wire/hash.ts";
import { PROTOCOL_VERSION } from "../../src/wire/limits.ts";
import type { AgreedBundle, CommitClose, CommitCloseBody, InferenceRequest, OutputCommitment, OutputCommitmentBody, OutputReveal, SignedOutput, SignedOutputBody } from "../../src/wire/types.ts";
import { salt, type TestNetwork } from "./fixtures.ts";

/** Request ids of the other leaves in a signer's batch: H("batch-filler", signer, decimal(j)). */
export function fillerRequest(signer: string, j: number): Uint8Array {
  return taggedHash("batch-filler", signer, String(j));
}

/**
 * Signs `body` in a batch of `batchSize` with filler bodies (`filler(j)`) for other requests, the
 * real one at `position`; returns the real message.
 */
export function signInBatch<B extends OutputCommitmentBody | SignedOutputBody | CommitCloseBody, M extends OutputCommitment | SignedOutput | CommitClose>(
  key: KeyPair,
  body: B,
  batchSize: number,
  position: number,
  filler: (j: number) => B,
): M {
  const bodies = Array.from({ length: batchSize }, (_, j) => (j === position ? body : filler(j)));
  return signMessages<M>(key, bodies as never)[position] as M;
}

export interface BatchedRun {
  context: RequestContext;
  collector: Collector;
  commitments: OutputCommitment[];
  outputs: SignedOutput[];
  reveals: OutputReveal[];
  close?: CommitClose;
  bundle?: AgreedBundle;
}

/** Runs `request` through a collector, every signature a batch signature of `batchSize` leaves. */
export function batchedRun(net: TestNetwork, request: InferenceRequest, batchSize: number, outputFor: (node: string, index: number) => string = () => "Paris"): BatchedRun {
  const context = openRequest(request, net.registry, net.policies);
  const collector = new Collector(context, { keys: net.registry });
  const run: BatchedRun = { context, collector, commitments: [], outputs: [], reveals: [] };
  for (const [index, node] of context.committee.entries()) {
    const key = net.keys.get(node) as KeyPair;
    const attestation: Attestation = { chain: request.chain, request: context.id, node, output: outputFor(node, index) };
    const position = index % batchSize;
    if (request.mode === "direct") {
      const filler = (j: number) => outputBody({ ...attestation, request: fillerRequest(node, j) }) as SignedOutputBody;
      const output = signInBatch<SignedOutputBody, SignedOutput>(key, outputBody(attestation) as SignedOutputBody, batchSize, position, filler);
      run.outputs.push(output);
      if (!collector.decided) collector.addOutput(output, 1);
      continue;
    }
    const filler = (j: number) => commitmentBody({ ...attestation, request: fillerRequest(node, j) }, salt(node)) as OutputCommitmentBody;
    const commitment = signInBatch<OutputCommitmentBody, OutputCommitment>(key, commitmentBody(attestation, salt(node)) as OutputCommitmentBody, batchSize, position, filler);
    collector.addCommitment(commitment, 1);
    run.commitments.push(commitment);
    run.reveals.push(revealOf(commitment, attestation, salt(node)));
  }
  if (request.mode === "commit-reveal") {
    const refs = [...run.commitments].sort((a, b) => (a.node < b.node ? -1 : 1)).map((c) => ({ node: c.node, commitment: c.commitment }));
    const body: CommitCloseBody = { t: "close", v: PROTOCOL_VERSION, chain: request.chain, request: context.id, commitments: refs };
    run.close = signInBatch<CommitCloseBody, CommitClose>(net.sequencer, body, batchSize, batchSize - 1, (j) => ({ ...body, request: fillerRequest("sequencer", j) }));
    collector.addClose(run.close, 2);
    for (const reveal of run.reveals) if (!collector.decided) collector.addReveal(reveal, 3);
  }
  if (collector.bundle) run.bundle = collector.bundle;
  return run;
}
