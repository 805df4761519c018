import { describe, expect, it } from "vitest";
import { isConcordError } from "../../../src/errors.ts";
import { commitOutput, signClose, signOutput } from "../../../src/quorum/attest.ts";
import { checkClose, checkCommitment, checkReveal, checkSignedOutput, openRequest } from "../../../src/quorum/rules.ts";
import { requestId } from "../../../src/wire/ids.ts";
import { STALE_AFTER_MS } from "../../../src/wire/limits.ts";
import { salt, testNetwork, testRequest } from "../../helpers/fixtures.ts";
import { codeOf } from "../../helpers/errors.ts";

const net = testNetwork(9);


const actionOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    if (isConcordError(error)) return error.action;
    throw error;
  }
  return undefined;
};

describe("openRequest", () => {
  it("derives the id, committee and bound policy of a valid request", () => {
    const request = testRequest(net);
    const context = openRequest(request, net.registry, net.policies);
    expect(context.id).toEqual(requestId(request));
    expect(context.committee).toHaveLength(request.n);
    expect(context.members.size).toBe(request.n);
    expect(context.policy.ref).toEqual(request.policy);
  });

  it("rejects each invalid request with its code", () => {
    const request = testRequest(net);
    expect(codeOf(() => openRequest(testRequest(net, { chain: "other" }), net.registry, net.policies))).toBe("CHAIN_MISMATCH");
    expect(codeOf(() => openRequest(testRequest(net, { k: 3 }), net.registry, net.policies))).toBe("REQUEST_INVALID");
    expect(codeOf(() => openRequest(testRequest(net, { input: "" }), net.registry, net.policies))).toBe("REQUEST_INVALID");
    expect(codeOf(() => openRequest(testRequest(net, { n: 10, k: 7 }), net.registry, net.policies))).toBe("REQUEST_INVALID");
    expect(codeOf(() => openRequest({ ...request, input: "forged" }, net.registry, net.policies))).toBe("SIG_INVALID");
    expect(codeOf(() => openRequest(testRequest(net, { policy: { id: "nope", version: 1, params: {} } }), net.registry, net.policies))).toBe("POLICY_UNKNOWN");
    expect(codeOf(() => openRequest(testRequest(net, { policy: { id: "exact", version: 1, params: { a: 1 } } }), net.registry, net.policies))).toBe("POLICY_PARAMS");
  });

  it("ignores (not rejects) an expired request, and skips the signature only when asked", () => {
    const request = testRequest(net, { deadline: 100 });
    expect(codeOf(() => openRequest(request, net.registry, net.policies, { now: 100 }))).toBe("EXPIRED");
    expect(actionOf(() => openRequest(request, net.registry, net.policies, { now: 100 }))).toBe("ignore");
    expect(codeOf(() => openRequest(request, net.registry, net.policies, { now: 99 }))).toBe("ok");
    expect(codeOf(() => openRequest({ ...request, sig: new Uint8Array(64) }, net.registry, net.policies, { checkSignature: false }))).toBe("ok");
  });

  it("judges the deadline before the signature: a replay just past it is ignored, one far past it rejected (STALE)", () => {
    const request = testRequest(net, { deadline: 100 });
    const forged = { ...request, sig: new Uint8Array(64) };
    // A forged signature is not even looked at once the deadline has passed: a replay costs no verify.
    expect(codeOf(() => openRequest(forged, net.registry, net.policies, { now: 100 }))).toBe("EXPIRED");
    expect(codeOf(() => openRequest(request, net.registry, net.policies, { now: 100 + STALE_AFTER_MS - 1 }))).toBe("EXPIRED");
    expect(codeOf(() => openRequest(request, net.registry, net.policies, { now: 100 + STALE_AFTER_MS }))).toBe("STALE");
    expect(actionOf(() => openRequest(request, net.registry, net.policies, { now: 100 + STALE_AFTER_MS }))).toBe("reject");
    expect(codeOf(() => openRequest(forged, net.registry, net.policies, { now: 100 + STALE_AFTER_MS }))).toBe("STALE");
  });
});

describe("message rules", () => {
  const request = testRequest(net);
  const context = openRequest(request, net.registry, net.policies);
  const directContext = openRequest(testRequest(net, { mode: "direct" }), net.registry, net.policies);
  const member = context.committee[0] as string;
  const outsider = [...net.keys.keys()].find((id) => !context.members.has(id)) as string;
  const keyOf = (node: string) => net.keys.get(node) ?? testNetwork(1).sequencer;
  const attestation = { chain: request.chain, request: context.id, node: member, output: "Paris" };
  const pairs = context.committee.map((node) => commitOutput(keyOf(node), { ...attestation, node }, salt(node)));

  it("checkCommitment: request, mode, membership and signature", () => {
    const { commitment } = pairs[0] as (typeof pairs)[number];
    expect(codeOf(() => checkCommitment(context, commitment, net.registry))).toBe("ok");
    expect(codeOf(() => checkCommitment(context, { ...commitment, chain: "other" }, net.registry))).toBe("CHAIN_MISMATCH");
    expect(codeOf(() => checkCommitment(context, { ...commitment, request: directContext.id }, net.registry))).toBe("REQUEST_MISMATCH");
    expect(codeOf(() => checkCommitment(directContext, { ...commitment, request: directContext.id }, net.registry))).toBe("MODE_MISMATCH");
    const foreign = commitOutput(keyOf(outsider), { ...attestation, node: outsider }, salt("o")).commitment;
    expect(codeOf(() => checkCommitment(context, foreign, net.registry))).toBe("NOT_IN_COMMITTEE");
    expect(codeOf(() => checkCommitment(context, { ...commitment, commitment: new Uint8Array(32) }, net.registry))).toBe("SIG_INVALID");
    // Without keys, signatures are the caller's business.
    expect(codeOf(() => checkCommitment(context, { ...commitment, commitment: new Uint8Array(32) }))).toBe("ok");
  });

  it("checkClose: between k and n listed commitments from members, signed by the sequencer", () => {
    const commitments = pairs.map((p) => p.commitment);
    const close = signClose(net.sequencer, request.chain, context.id, commitments);
    expect(checkClose(context, close, net.registry).size).toBe(request.n);
    const tooFew = signClose(net.sequencer, request.chain, context.id, commitments.slice(0, request.k - 1));
    expect(codeOf(() => checkClose(context, tooFew, net.registry))).toBe("REQUEST_INVALID");
    const foreign = commitOutput(keyOf(outsider), { ...attestation, node: outsider }, salt("o")).commitment;
    const tooMany = signClose(net.sequencer, request.chain, context.id, [...commitments, foreign]);
    expect(codeOf(() => checkClose(context, tooMany, net.registry))).toBe("REQUEST_INVALID");
    const withOutsider = signClose(net.sequencer, request.chain, context.id, [...commitments.slice(0, request.k), foreign]);
    expect(codeOf(() => checkClose(context, withOutsider, net.registry))).toBe("NOT_IN_COMMITTEE");
    const twice = { ...close, commitments: [close.commitments[0], ...close.commitments.slice(0, request.k)] } as typeof close;
    expect(codeOf(() => checkClose(context, twice, net.registry))).toBe("DUPLICATE");
    const bySomeoneElse = signClose(keyOf(member), request.chain, context.id, commitments);
    expect(codeOf(() => checkClose(context, bySomeoneElse, net.registry))).toBe("SIG_INVALID");
    expect(codeOf(() => checkClose(directContext, { ...close, request: directContext.id }, net.registry))).toBe("MODE_MISMATCH");
  });

  it("checkReveal: listed, opens its commitment, carries its node's signature", () => {
    const close = signClose(net.sequencer, request.chain, context.id, pairs.slice(0, request.k).map((p) => p.commitment));
    const listed = checkClose(context, close, net.registry);
    const { reveal } = pairs[0] as (typeof pairs)[number];
    expect(checkReveal(context, listed, reveal, net.registry).output).toBe("Paris");
    expect(codeOf(() => checkReveal(context, listed, (pairs[request.k] as (typeof pairs)[number]).reveal, net.registry))).toBe("NOT_IN_CLOSE");
    expect(codeOf(() => checkReveal(context, listed, { ...reveal, output: "Lyon" }, net.registry))).toBe("COMMITMENT_MISMATCH");
    expect(codeOf(() => checkReveal(context, listed, { ...reveal, salt: salt("other") }, net.registry))).toBe("COMMITMENT_MISMATCH");
    expect(codeOf(() => checkReveal(context, listed, { ...reveal, commitmentSig: new Uint8Array(64) }, net.registry))).toBe("SIG_INVALID");
    expect(codeOf(() => checkReveal(context, listed, { ...reveal, request: directContext.id }, net.registry))).toBe("REQUEST_MISMATCH");
  });

  it("checkSignedOutput: direct mode only, members only, signed by the node", () => {
    const node = directContext.committee[0] as string;
    const output = signOutput(keyOf(node), { ...attestation, request: directContext.id, node });
    expect(checkSignedOutput(directContext, output, net.registry).node).toBe(node);
    expect(codeOf(() => checkSignedOutput(context, { ...output, request: context.id }, net.registry))).toBe("MODE_MISMATCH");
    expect(codeOf(() => checkSignedOutput(directContext, { ...output, output: "Lyon" }, net.registry))).toBe("SIG_INVALID");
    const stranger = [...net.keys.keys()].find((id) => !directContext.members.has(id)) as string;
    const foreign = signOutput(keyOf(stranger), { ...attestation, request: directContext.id, node: stranger });
    expect(codeOf(() => checkSignedOutput(directContext, foreign, net.registry))).toBe("NOT_IN_COMMITTEE");
  });
});
