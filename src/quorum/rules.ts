/**
 * The per-message rules (spec/07-quorum-rules.md), shared by the collector, verifyBundle and the gossip
 * validators, so a rule lives in exactly one place. Each check is preceded by the spec line it
 * enforces; violations throw a ConcordError whose `action` tells gossip what to do.
 * Signatures are checked only when a registry is passed as `keys` (the collector's benchmark
 * and the sequencer's own messages skip them).
 */
import type { BoundPolicy, Vote } from "../agreement/policy.ts";
import type { PolicyRegistry } from "../agreement/policy.ts";
import { verifyMessage } from "../crypto/sign.ts";
import { ConcordError } from "../errors.ts";
import { bytesEqual, outputHash, toHex } from "../wire/hash.ts";
import { commitmentOfReveal, requestId } from "../wire/ids.ts";
import type { BundledRequest, Bytes, CommitClose, InferenceRequest, OutputCommitment, OutputReveal, SignedOutput } from "../wire/types.ts";
import { STALE_AFTER_MS } from "../wire/limits.ts";
import { checkThreshold, drawCommittee } from "./committee.ts";
import type { Registry } from "./registry.ts";

/** Everything derived once from a valid request. */
export interface RequestContext {
  /** The request; signed, except as a commit-reveal bundle carries it. */
  readonly request: BundledRequest;
  readonly id: Bytes;
  readonly idHex: string;
  /** Committee in draw order. */
  readonly committee: readonly string[];
  readonly members: ReadonlySet<string>;
  readonly policy: BoundPolicy;
}

export interface OpenRequestOptions {
  /** Check the sequencer's signature on the request (default true). */
  checkSignature?: boolean;
  /** When given, a request whose deadline has passed is EXPIRED (ignore). */
  now?: number;
  /** Accept a retired policy (verify-only paths). Default false: POLICY_RETIRED. */
  allowRetired?: boolean;
}

/** Validates a request and derives its context (id, committee, bound policy). */
export function openRequest(
  request: BundledRequest,
  registry: Registry,
  policies: PolicyRegistry,
  options: OpenRequestOptions = {},
): RequestContext {
  // [REJECT] The request is for this chain.
  if (request.chain !== registry.chain) throw new ConcordError("CHAIN_MISMATCH", "request for another chain", { details: request.chain });
  // [REJECT] n and k satisfy the threshold rule, and the registry can seat n members.
  checkThreshold(request.n, request.k);
  // [REJECT] The input is not empty.
  if (request.input.length === 0) throw new ConcordError("REQUEST_INVALID", "empty input");
  // The deadline before the signature: a replayed request costs no verify.
  if (options.now !== undefined) checkDeadline(request.deadline, options.now);
  // [REJECT] The request is signed by the sequencer.
  if (options.checkSignature !== false && (request.sig === undefined || !verifyMessage(registry.sequencer, request as InferenceRequest))) {
    throw new ConcordError("SIG_INVALID", "request not signed by the sequencer");
  }
  // [REJECT] The policy is known, not retired (but where verifying archives), and its parameters valid.
  const policy = policies.bind(request.policy, { allowRetired: options.allowRetired === true });
  const id = requestId(request);
  const committee = drawCommittee(registry, id, request.n);
  return { request, id, idHex: toHex(id), committee, members: new Set(committee), policy };
}

/**
 * [REJECT] The deadline is less than STALE_AFTER_MS behind `now` — STALE: honest peers relay
 * only what they accepted in time, so a copy this late is a replay.
 * [IGNORE] The deadline has not passed — EXPIRED.
 */
export function checkDeadline(deadline: number, now: number): void {
  if (now >= deadline + STALE_AFTER_MS) {
    throw new ConcordError("STALE", "deadline long past", { details: `${now - deadline} ms after it` });
  }
  if (now >= deadline) throw new ConcordError("EXPIRED", "request deadline passed", { action: "ignore" });
}

function memberKey(registry: Registry, node: string) {
  const member = registry.byId.get(node);
  if (!member) throw new ConcordError("NOT_IN_COMMITTEE", "node not in the registry", { details: node });
  return member.key;
}

/** [REJECT] A message names this request, on this chain. */
export function checkRequestRef(context: RequestContext, message: { chain: string; request: Bytes }): void {
  if (message.chain !== context.request.chain) throw new ConcordError("CHAIN_MISMATCH", "message for another chain", { details: message.chain });
  if (!bytesEqual(message.request, context.id)) throw new ConcordError("REQUEST_MISMATCH", "message names another request");
}

/** [REJECT] The node is a member of the request's committee. */
export function checkMember(context: RequestContext, node: string): void {
  if (!context.members.has(node)) throw new ConcordError("NOT_IN_COMMITTEE", "node not in the request's committee", { details: node });
}

function checkMode(context: RequestContext, mode: InferenceRequest["mode"]): void {
  if (context.request.mode !== mode) {
    throw new ConcordError("MODE_MISMATCH", `request uses ${context.request.mode} mode`, { details: `got a ${mode} message` });
  }
}

/** Rules for a commitment (commit-reveal mode). */
export function checkCommitment(context: RequestContext, commitment: OutputCommitment, keys?: Registry): void {
  checkRequestRef(context, commitment);
  // [REJECT] The request is in commit-reveal mode.
  checkMode(context, "commit-reveal");
  checkMember(context, commitment.node);
  // [REJECT] The commitment is signed by its node.
  if (keys && !verifyMessage(memberKey(keys, commitment.node), commitment)) {
    throw new ConcordError("SIG_INVALID", "commitment signature invalid", { details: commitment.node });
  }
}

/** Rules for the sequencer's close. Returns the listed commitments by node. */
export function checkClose(context: RequestContext, close: CommitClose, keys?: Registry): Map<string, Bytes> {
  checkRequestRef(context, close);
  checkMode(context, "commit-reveal");
  // [REJECT] The close lists between k and n commitments, each from a committee member.
  const { n, k } = context.request;
  if (close.commitments.length < k || close.commitments.length > n) {
    throw new ConcordError("REQUEST_INVALID", "close must list between k and n commitments", { details: `${close.commitments.length}` });
  }
  const listed = new Map<string, Bytes>();
  for (const ref of close.commitments) {
    checkMember(context, ref.node);
    if (listed.has(ref.node)) throw new ConcordError("DUPLICATE", "close lists a node twice", { details: ref.node });
    listed.set(ref.node, ref.commitment);
  }
  // [REJECT] The close is signed by the sequencer.
  if (keys && !verifyMessage(keys.sequencer, close)) throw new ConcordError("SIG_INVALID", "close not signed by the sequencer");
  return listed;
}

/** Rules for a reveal, given the close's listed commitments. Returns the vote it casts. */
export function checkReveal(context: RequestContext, listed: ReadonlyMap<string, Bytes>, reveal: OutputReveal, keys?: Registry): Vote {
  checkRequestRef(context, reveal);
  // [REJECT] The reveal's node has a commitment listed in the close.
  const expected = listed.get(reveal.node);
  if (!expected) throw new ConcordError("NOT_IN_CLOSE", "node has no commitment in the close", { details: reveal.node });
  // [REJECT] The reveal opens exactly that commitment.
  const commitment = commitmentOfReveal(reveal);
  if (!bytesEqual(commitment.commitment, expected)) {
    throw new ConcordError("COMMITMENT_MISMATCH", "reveal does not open the listed commitment", { details: reveal.node });
  }
  // [REJECT] The reveal carries its node's signature over that commitment.
  if (keys && !verifyMessage(memberKey(keys, reveal.node), commitment)) {
    throw new ConcordError("SIG_INVALID", "reveal's commitment signature invalid", { details: reveal.node });
  }
  return toVote(reveal);
}

/** Rules for a signed output (direct mode). Returns the vote it casts. */
export function checkSignedOutput(context: RequestContext, output: SignedOutput, keys?: Registry): Vote {
  checkRequestRef(context, output);
  checkMode(context, "direct");
  checkMember(context, output.node);
  // [REJECT] The output is signed by its node.
  if (keys && !verifyMessage(memberKey(keys, output.node), output)) {
    throw new ConcordError("SIG_INVALID", "output signature invalid", { details: output.node });
  }
  return toVote(output);
}

export function toVote(message: OutputReveal | SignedOutput): Vote {
  const vote: Vote = { node: message.node, output: message.output, outputHash: outputHash(message.output) };
  if (message.evidence) vote.evidence = message.evidence;
  return vote;
}
