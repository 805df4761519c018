/**
 * Batch-signed messages through the quorum rules (spec/04 "Batch signatures", spec/08, spec/10):
 * the collector and verifyBundle accept them as plain-signed ones, refuse a bad proof with
 * SIG_INVALID, and equivocation evidence works per request whatever batch each message came in.
 */
import { describe, expect, it } from "vitest";
import { certificateOf } from "../../../src/cert/derive.ts";
import type { KeyPair } from "../../../src/crypto/schemes.ts";
import { signMessages } from "../../../src/crypto/sign.ts";
import { Collector } from "../../../src/quorum/collector.ts";
import { commitmentBody, revealOf } from "../../../src/quorum/attest.ts";
import { equivocationOf, verifyEquivocation } from "../../../src/quorum/equivocation.ts";
import { verifyBundle } from "../../../src/quorum/verify.ts";
import { decodeMessage, encodeMessage } from "../../../src/wire/messages.ts";
import { parseSignature } from "../../../src/wire/signature.ts";
import type { AgreedBundle, CommitClose, OutputCommitment, OutputReveal } from "../../../src/wire/types.ts";
import { codeOf } from "../../helpers/errors.ts";
import { batchedRun, fillerRequest } from "../../helpers/batches.ts";
import { runRequest, salt, testNetwork, testRequest } from "../../helpers/fixtures.ts";
import { sampleNetwork } from "../../spec/samples.ts";

const net = sampleNetwork();

/** The signature field with one byte of its path (or header) XORed. */
function tamper(sig: Uint8Array, offsetFromEnd: number): Uint8Array {
  const out = Uint8Array.from(sig);
  out[out.length - offsetFromEnd] = (out[out.length - offsetFromEnd] as number) ^ 1;
  return out;
}

/** The same field with its leaf index set to `index` (header after the 64- or 65-byte signature). */
function withIndex(sig: Uint8Array, index: number): Uint8Array {
  const parsed = parseSignature(sig);
  if (parsed?.form !== "batch") throw new Error("not a batch signature");
  const out = Uint8Array.from(sig);
  out[parsed.sig.length + 2] = index >> 8;
  out[parsed.sig.length + 3] = index & 0xff;
  return out;
}

describe("batch-signed votes", () => {
  for (const mode of ["commit-reveal", "direct"] as const) {
    it(`${mode}: the collector agrees and verifyBundle accepts the bundle, before and after the wire`, () => {
      const run = batchedRun(net, testRequest(net, { mode }), 5);
      const bundle = run.bundle as AgreedBundle;
      expect(bundle).toBeDefined();
      const sigs = mode === "direct" ? bundle.outputs.map((o) => o.sig) : [...bundle.reveals.map((r) => r.commitmentSig), (bundle.close as CommitClose).sig];
      for (const sig of sigs) expect(parseSignature(sig)?.form).toBe("batch");
      expect(verifyBundle(bundle, net.registry, net.policies).outcome).toEqual(bundle.outcome);
      const decoded = decodeMessage(encodeMessage(bundle), "bundle");
      expect(verifyBundle(decoded, net.registry, net.policies).outcome).toEqual(bundle.outcome);
    });
  }

  it("verifyBundle refuses a wrong path, a wrong index, a wrong count or another batch's signature (SIG_INVALID)", () => {
    const run = batchedRun(net, testRequest(net), 5);
    const bundle = run.bundle as AgreedBundle;
    const first = bundle.reveals[0] as OutputReveal;
    const withReveal = (commitmentSig: Uint8Array): AgreedBundle => ({ ...bundle, reveals: [{ ...first, commitmentSig }, ...bundle.reveals.slice(1)] });
    const verify = (b: AgreedBundle) => codeOf(() => verifyBundle(decodeMessage(encodeMessage(b), "bundle"), net.registry, net.policies));
    expect(verify(withReveal(tamper(first.commitmentSig, 1)))).toBe("SIG_INVALID");
    const index = (parseSignature(first.commitmentSig) as { index: number }).index;
    expect(verify(withReveal(withIndex(first.commitmentSig, (index + 1) % 5)))).toBe("SIG_INVALID");
    const parsed = parseSignature(first.commitmentSig) as { sig: Uint8Array };
    const wrongCount = Uint8Array.from(first.commitmentSig);
    wrongCount[parsed.sig.length + 1] = 6; // count 5 -> 6: same depth, index still below it
    expect(verify(withReveal(wrongCount))).toBe("SIG_INVALID");
    // Another member's batch signature (a real one, over another tree).
    expect(verify(withReveal((bundle.reveals[1] as OutputReveal).commitmentSig))).toBe("SIG_INVALID");
    const close = bundle.close as CommitClose;
    expect(verify({ ...bundle, close: { ...close, sig: tamper(close.sig, 7) } })).toBe("SIG_INVALID");
  });

  it("a close signed again in another batch is a duplicate, not an equivocation (duplicates by body)", () => {
    const run = batchedRun(net, testRequest(net), 5);
    const close = run.close as CommitClose;
    const { sig: _sig, ...body } = close;
    const [again] = signMessages<CommitClose>(net.sequencer, [body, { ...body, request: fillerRequest("elsewhere", 0) }]);
    expect(codeOf(() => run.collector.addClose(again as CommitClose, 2))).toBe("DUPLICATE");
  });

  it("a commitment signed again in another batch is a duplicate (ignored, so not relayed)", () => {
    const request = testRequest(net);
    const run = batchedRun(net, request, 3);
    const fresh = new Collector(run.context, { keys: net.registry });
    const first = run.commitments[0] as OutputCommitment;
    fresh.addCommitment(first, 1);
    const { sig: _sig, ...body } = first;
    const [, again] = signMessages<OutputCommitment>(net.keys.get(first.node) as KeyPair, [{ ...body, request: fillerRequest(first.node, 42) }, body]);
    expect(parseSignature((again as OutputCommitment).sig)?.form).toBe("batch");
    expect(codeOf(() => fresh.addCommitment(again as OutputCommitment, 1))).toBe("DUPLICATE");
  });
});

describe("equivocation evidence with batch-signed messages", () => {
  const request = testRequest(net);
  const run = batchedRun(net, request, 3);
  const node = run.context.committee[0] as string;
  const key = net.keys.get(node);
  if (!key) throw new Error("no key");
  const attestation = (output: string) => ({ chain: request.chain, request: run.context.id, node, output });

  it("two commitments for one request in two batches: evidence, verified, on the wire and back", () => {
    const [other] = signMessages<OutputCommitment>(key, [commitmentBody(attestation("Lyon"), salt(node)), commitmentBody({ ...attestation("x"), request: fillerRequest(node, 99) }, salt(node))]);
    const evidence = equivocationOf(run.commitments[0] as OutputCommitment, other as OutputCommitment);
    expect(evidence).toBeDefined();
    const decoded = decodeMessage(encodeMessage(evidence as NonNullable<typeof evidence>), "equivocation");
    expect(verifyEquivocation(decoded, net.registry)).toBe(node);
    // The collector that holds the first one reports the second as equivocation, decided or not.
    const events = run.collector.addCommitment(other as OutputCommitment, 1);
    expect(events.map((e) => e.type)).toEqual(["equivocation"]);
  });

  it("two leaves for one request in one batch (a malicious batcher) are equivocation too", () => {
    const [a, b] = signMessages<OutputCommitment>(key, [commitmentBody(attestation("Paris"), salt(node)), commitmentBody(attestation("Lyon"), salt(node))]);
    expect(parseSignature((a as OutputCommitment).sig)?.form).toBe("batch");
    const evidence = equivocationOf(a as OutputCommitment, b as OutputCommitment);
    expect(verifyEquivocation(evidence as NonNullable<typeof evidence>, net.registry)).toBe(node);
  });

  it("one commitment signed in two batches is the same vote: no evidence", () => {
    const body = commitmentBody(attestation("Paris"), salt(node));
    const [once] = signMessages<OutputCommitment>(key, [body, commitmentBody({ ...attestation("y"), request: fillerRequest(node, 7) }, salt(node))]);
    const [, twice] = signMessages<OutputCommitment>(key, [commitmentBody({ ...attestation("z"), request: fillerRequest(node, 8) }, salt(node)), body]);
    expect(equivocationOf(once as OutputCommitment, twice as OutputCommitment)).toBeUndefined();
    // Its reveal opens the commitment whichever signature field it carries.
    const reveal = revealOf(twice as OutputCommitment, attestation("Paris"), salt(node));
    expect(reveal.commitmentSig).toEqual((twice as OutputCommitment).sig);
  });
});

describe("certificates", () => {
  it("count plainly signed votes only: a bundle whose votes are batch-signed has no certificate (CERT_UNSUPPORTED)", () => {
    const k1 = testNetwork(9, { schemes: () => "secp256k1" });
    const request = testRequest(k1);
    const plain = runRequest(k1, request, () => ({ output: "Paris" })).collector.bundle as AgreedBundle;
    expect(certificateOf(plain, k1.registry).votes).toHaveLength(request.k);
    const batched = batchedRun(k1, request, 4).bundle as AgreedBundle;
    expect(codeOf(() => certificateOf(batched, k1.registry))).toBe("CERT_UNSUPPORTED");
  });
});
