import { describe, expect, it, vi } from "vitest";
import { commitOutput, signClose, signOutput } from "../../../src/quorum/attest.ts";
import { Collector } from "../../../src/quorum/collector.ts";
import { openRequest } from "../../../src/quorum/rules.ts";
import { verifyBundle } from "../../../src/quorum/verify.ts";
import { verifyEquivocation } from "../../../src/quorum/equivocation.ts";
import { signMessage } from "../../../src/crypto/sign.ts";
import type { OutputCommitment } from "../../../src/wire/types.ts";
import { runRequest, salt, testNetwork, testRequest } from "../../helpers/fixtures.ts";
import { codeOf } from "../../helpers/errors.ts";

const net = testNetwork(9);


describe("Collector, commit-reveal", () => {
  it("agrees as soon as k identical reveals are in, without waiting for all n", () => {
    const request = testRequest(net);
    const { collector } = runRequest(net, request, () => ({ output: "Paris" }));
    expect(collector.status).toBe("agreed");
    expect(collector.voteCount).toBe(request.k);
    const bundle = collector.bundle;
    expect(bundle?.outcome.output).toBe("Paris");
    expect(bundle?.outcome.supporters).toHaveLength(request.k);
    expect(() => verifyBundle(bundle!, net.registry, net.policies)).not.toThrow();
  });

  it("ends in NoAgreement with clusters when the committee splits", () => {
    const request = testRequest(net);
    const { collector } = runRequest(net, request, (_node, i) => ({ output: i % 2 === 0 ? "Paris" : "Lyon" }));
    expect(collector.status).toBe("no-agreement");
    const result = collector.noAgreement!;
    expect(result.reason).toBe("exhausted");
    expect(result.clusters.map((c) => c.members.length)).toEqual([4, 3]);
  });

  it("resolves to NoAgreement at the deadline, never silently", () => {
    const request = testRequest(net, { deadline: 100 });
    const context = openRequest(request, net.registry, net.policies);
    const collector = new Collector(context, { keys: net.registry });
    expect(collector.tick(99)).toEqual([]);
    const [event] = collector.tick(100);
    expect(event?.type).toBe("no-agreement");
    expect(collector.noAgreement?.reason).toBe("deadline");
  });

  it("rejects commitments from outside the committee and badly signed ones", () => {
    const request = testRequest(net);
    const context = openRequest(request, net.registry, net.policies);
    const collector = new Collector(context, { keys: net.registry });
    const outsider = [...net.keys.keys()].find((id) => !context.members.has(id))!;
    const attestation = { chain: request.chain, request: context.id, output: "Paris" };
    const foreign = commitOutput(net.keys.get(outsider)!, { ...attestation, node: outsider }, salt("x")).commitment;
    expect(codeOf(() => collector.addCommitment(foreign, 1))).toBe("NOT_IN_COMMITTEE");
    const member = context.committee[0]!;
    const forged = commitOutput(net.keys.get(outsider)!, { ...attestation, node: member }, salt("x")).commitment;
    expect(codeOf(() => collector.addCommitment(forged, 1))).toBe("SIG_INVALID");
  });

  it("turns two different commitments from one node into verifiable evidence and drops its vote", () => {
    const request = testRequest(net);
    const context = openRequest(request, net.registry, net.policies);
    const collector = new Collector(context, { keys: net.registry });
    const node = context.committee[0]!;
    const attestation = { chain: request.chain, request: context.id, node };
    const a = commitOutput(net.keys.get(node)!, { ...attestation, output: "Paris" }, salt("a")).commitment;
    const b = commitOutput(net.keys.get(node)!, { ...attestation, output: "Lyon" }, salt("b")).commitment;
    expect(collector.addCommitment(a, 1)).toEqual([]);
    const [event] = collector.addCommitment(b, 1);
    expect(event?.type).toBe("equivocation");
    if (event?.type !== "equivocation") return;
    expect(verifyEquivocation(event.evidence, net.registry)).toBe(node);
    expect(collector.commitments.map((c) => c.node)).not.toContain(node);
    // Re-sending the identical commitment is a duplicate (ignored, not relayed), not equivocation.
    const again = new Collector(context, { keys: net.registry });
    again.addCommitment(a, 1);
    expect(() => again.addCommitment(a, 1)).toThrow(expect.objectContaining({ code: "DUPLICATE", action: "ignore" }));
  });

  it("defeats the copycat: a copied commitment cannot be opened by the copier", () => {
    const request = testRequest(net);
    const context = openRequest(request, net.registry, net.policies);
    const collector = new Collector(context, { keys: net.registry });
    const [honest, copier, ...rest] = context.committee as [string, string, ...string[]];
    const commit = (node: string, output: string) =>
      commitOutput(net.keys.get(node)!, { chain: request.chain, request: context.id, node, output }, salt(node));
    const honestPair = commit(honest, "Paris");
    // Before the close the copier sees only the honest commitment hash: it signs that hash as its own.
    const copied = signMessage<OutputCommitment>(net.keys.get(copier)!, {
      t: "commitment", v: 1, chain: request.chain, request: context.id, node: copier, commitment: honestPair.commitment.commitment,
    });
    const others = rest.slice(0, request.k - 1).map((node) => commit(node, "Paris"));
    const listed = [honestPair.commitment, copied, ...others.map((p) => p.commitment)];
    for (const commitment of listed) collector.addCommitment(commitment, 1);
    collector.addClose(signClose(net.sequencer, request.chain, context.id, listed), 2);
    // After the close, replaying the honest reveal under the copier's name opens nothing.
    expect(codeOf(() => collector.addReveal({ ...honestPair.reveal, node: copier }, 3))).toBe("COMMITMENT_MISMATCH");
  });

  it("buffers reveals that arrive before the close", () => {
    const request = testRequest(net);
    const context = openRequest(request, net.registry, net.policies);
    const collector = new Collector(context, { keys: net.registry });
    const pairs = context.committee.map((node) =>
      commitOutput(net.keys.get(node)!, { chain: request.chain, request: context.id, node, output: "Paris" }, salt(node)),
    );
    for (const pair of pairs) collector.addCommitment(pair.commitment, 1);
    for (const pair of pairs) collector.addReveal(pair.reveal, 2);
    expect(collector.status).toBe("committing");
    const events = collector.addClose(signClose(net.sequencer, request.chain, context.id, pairs.map((p) => p.commitment)), 3);
    expect(events.map((e) => e.type)).toContain("agreed");
  });

  it("checks an early reveal against its node's verified commitment, and only a forged one costs a signature check", () => {
    const request = testRequest(net);
    const context = openRequest(request, net.registry, net.policies);
    const collector = new Collector(context, { keys: net.registry });
    const [node, other] = context.committee as [string, string];
    const pair = commitOutput(net.keys.get(node)!, { chain: request.chain, request: context.id, node, output: "Paris" }, salt(node));
    collector.addCommitment(pair.commitment, 1);
    const key = net.registry.byId.get(node)!.key;
    const verify = vi.spyOn(key, "verify");
    // The commitment's signature bytes on another output: it opens another hash, so it is checked, and fails.
    expect(codeOf(() => collector.addReveal({ ...pair.reveal, output: "Lyon" }, 2))).toBe("SIG_INVALID");
    expect(verify).toHaveBeenCalledTimes(1);
    // The honest reveal opens the verified commitment with its signature: no second check.
    expect(collector.addReveal(pair.reveal, 2)).toEqual([]);
    expect(verify).toHaveBeenCalledTimes(1);
    verify.mockRestore();
    // A member with no commitment seen yet: its early reveal is checked in full.
    const otherPair = commitOutput(net.keys.get(other)!, { chain: request.chain, request: context.id, node: other, output: "Paris" }, salt(other));
    expect(codeOf(() => collector.addReveal({ ...otherPair.reveal, commitmentSig: pair.reveal.commitmentSig }, 2))).toBe("SIG_INVALID");
    expect(collector.addReveal(otherPair.reveal, 2)).toEqual([]);
  });

  it("reports an equivocation even after the close, the decision or the deadline", () => {
    const request = testRequest(net, { deadline: 50 });
    const context = openRequest(request, net.registry, net.policies);
    const collector = new Collector(context, { keys: net.registry });
    const pairs = context.committee.map((node) => commitOutput(net.keys.get(node)!, { chain: request.chain, request: context.id, node, output: "Paris" }, salt(node)));
    for (const pair of pairs) collector.addCommitment(pair.commitment, 1);
    collector.addClose(signClose(net.sequencer, request.chain, context.id, pairs.map((p) => p.commitment)), 2);
    const [first, second] = context.committee as [string, string];
    const again = (node: string) => commitOutput(net.keys.get(node)!, { chain: request.chain, request: context.id, node, output: "Lyon" }, salt(node)).commitment;
    // After the close:
    expect(collector.addCommitment(again(first), 3).map((e) => e.type)).toEqual(["equivocation"]);
    // After the deadline, before any tick resolved it:
    expect(collector.addCommitment(again(second), 60).map((e) => e.type)).toEqual(["equivocation"]);
    // Anything more from a caught equivocator is ignored (not relayed): no flood of variants.
    expect(codeOf(() => collector.addCommitment(again(first), 3))).toBe("EQUIVOCATION");
    const third = commitOutput(net.keys.get(first)!, { chain: request.chain, request: context.id, node: first, output: "Rome" }, salt(first)).commitment;
    expect(codeOf(() => collector.addCommitment(third, 3))).toBe("EQUIVOCATION");
  });

  it("ignores commitments after the close and anything after the deadline", () => {
    const request = testRequest(net, { deadline: 50 });
    const context = openRequest(request, net.registry, net.policies);
    const collector = new Collector(context, { keys: net.registry });
    const pairs = context.committee.map((node) =>
      commitOutput(net.keys.get(node)!, { chain: request.chain, request: context.id, node, output: "Paris" }, salt(node)),
    );
    for (const pair of pairs.slice(0, request.k)) collector.addCommitment(pair.commitment, 1);
    collector.addClose(signClose(net.sequencer, request.chain, context.id, pairs.slice(0, request.k).map((p) => p.commitment)), 2);
    expect(codeOf(() => collector.addCommitment(pairs[request.k]!.commitment, 3))).toBe("LATE");
    expect(codeOf(() => collector.addReveal(pairs[0]!.reveal, 50))).toBe("EXPIRED");
  });
});

describe("Collector: a member's own signed messages (signedHere)", () => {
  it("applies its own commitment and output without checking its own signature; others' are checked", () => {
    for (const mode of ["commit-reveal", "direct"] as const) {
      const request = testRequest(net, { mode });
      const context = openRequest(request, net.registry, net.policies);
      const collector = new Collector(context, { keys: net.registry });
      const [own, other] = context.committee as [string, string];
      const attestation = (node: string) => ({ chain: request.chain, request: context.id, node, output: "Paris" });
      const sign = (node: string) =>
        mode === "direct" ? signOutput(net.keys.get(node)!, attestation(node)) : commitOutput(net.keys.get(node)!, attestation(node), salt(node)).commitment;
      const add = (message: ReturnType<typeof sign>, options: { signedHere?: boolean }) =>
        message.t === "output" ? collector.addOutput(message, 1, options) : collector.addCommitment(message, 1, options);
      const verify = vi.spyOn(net.registry.byId.get(own)!.key, "verify");
      const verifyOther = vi.spyOn(net.registry.byId.get(other)!.key, "verify");
      add(sign(own), { signedHere: true });
      add(sign(other), {});
      expect(verify).not.toHaveBeenCalled();
      expect(verifyOther).toHaveBeenCalledTimes(1);
      verify.mockRestore();
      verifyOther.mockRestore();
    }
  });
});

describe("Collector, direct mode", () => {
  it("counts signed outputs and detects two different outputs from one node", () => {
    const request = testRequest(net, { mode: "direct" });
    const { collector } = runRequest(net, request, () => ({ output: "Paris" }));
    expect(collector.status).toBe("agreed");
    expect(() => verifyBundle(collector.bundle!, net.registry, net.policies)).not.toThrow();

    const context = openRequest(request, net.registry, net.policies);
    const fresh = new Collector(context, { keys: net.registry });
    const node = context.committee[0]!;
    const key = net.keys.get(node)!;
    fresh.addOutput(signOutput(key, { chain: request.chain, request: context.id, node, output: "Paris" }), 1);
    const [event] = fresh.addOutput(signOutput(key, { chain: request.chain, request: context.id, node, output: "Lyon" }), 1);
    expect(event?.type).toBe("equivocation");
  });
});
