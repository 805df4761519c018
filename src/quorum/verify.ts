/**
 * verifyBundle (spec/08-verification.md): the one function a sequencer trusts. It rechecks the
 * request, the committee draw, the close and every vote with its signature, then reruns the
 * policy on the bundle's votes and requires the same outcome. Any failure throws a typed error.
 *
 * Signatures checked: commit-reveal — the close (sequencer) and each reveal's commitment
 * signature (node); the request's own signature is implied, since the close signs the request
 * id, which is the hash of the request body. Direct — the request (sequencer) and each output.
 */
import type { PolicyRegistry, Vote } from "../agreement/policy.ts";
import { ConcordError } from "../errors.ts";
import { bytesEqual } from "../wire/hash.ts";
import { requestId } from "../wire/ids.ts";
import type { AgreedBundle, CommitClose, Outcome, OutputReveal } from "../wire/types.ts";
import type { Registry } from "./registry.ts";
import { checkClose, checkReveal, checkSignedOutput, openRequest, type RequestContext } from "./rules.ts";

export interface VerifiedBundle {
  context: RequestContext;
  outcome: Outcome;
}

const invalid = (details: string) => new ConcordError("BUNDLE_INVALID", "invalid bundle", { details });

export interface VerifyBundleOptions {
  /**
   * Signatures the caller has already checked (Collector.knowsSignature): those of the close and
   * reveals it returns true for are not checked again. Every other rule still applies.
   */
  knownSignature?: (message: CommitClose | OutputReveal) => boolean;
  /**
   * Verify a bundle of a retired policy (semantic@1): for archives and `concord verify`, never
   * for live traffic, since a retired policy's decision has no cost bound. Default false
   * (POLICY_RETIRED).
   */
  allowRetired?: boolean;
  /**
   * The context the caller opened for this request (RequestBook: its entry's). Used when the
   * bundle carries that very request (the same id, and in direct mode the same signature bytes,
   * checked when it was opened) instead of opening it again: the id binds every field that
   * opening checks, and the committee draw (a hash per registry member) gives the same order.
   */
  knownContext?: RequestContext;
}

export function verifyBundle(bundle: AgreedBundle, registry: Registry, policies: PolicyRegistry, options: VerifyBundleOptions = {}): VerifiedBundle {
  const known = options.knownSignature ?? (() => false);
  const { request } = bundle;
  // [REJECT] The bundle, its request and the registry name one chain.
  if (bundle.chain !== registry.chain || request.chain !== registry.chain) {
    throw new ConcordError("CHAIN_MISMATCH", "bundle for another chain", { details: bundle.chain });
  }
  const direct = request.mode === "direct";
  // [REJECT] Direct mode carries the signed request; commit-reveal the body only, since the
  // close signs the request id (an unchecked signature would make the bundle malleable).
  if (direct && request.sig === undefined) throw invalid("direct-mode bundle without the request's signature");
  if (!direct && request.sig !== undefined) throw invalid("commit-reveal bundle carries a request signature: the close signs the request id");
  const reused = options.knownContext;
  const context =
    reused !== undefined && bytesEqual(requestId(request), reused.id) && (!direct || (request.sig !== undefined && reused.request.sig !== undefined && bytesEqual(request.sig, reused.request.sig)))
      ? reused
      : openRequest(request, registry, policies, { checkSignature: direct, allowRetired: options.allowRetired === true });
  const votes: Vote[] = [];
  const seen = new Set<string>();
  const count = (vote: Vote) => {
    // [REJECT] At most one vote per node.
    if (seen.has(vote.node)) throw invalid(`two votes from ${vote.node}`);
    seen.add(vote.node);
    votes.push(vote);
  };
  if (direct) {
    // [REJECT] Direct mode: signed outputs only.
    if (bundle.close || bundle.reveals.length > 0) throw invalid("direct-mode bundle carries a close or reveals");
    for (const output of bundle.outputs) count(checkSignedOutput(context, output, registry));
  } else {
    // [REJECT] Commit-reveal mode: the sequencer's close and reveals that open it.
    if (!bundle.close || bundle.outputs.length > 0) throw invalid("commit-reveal bundle needs a close and reveals only");
    // A known close is the very close the caller checked; only under it do the reveals' listed
    // hashes, and so their known signatures, mean what the caller checked.
    const closeKnown = known(bundle.close);
    const listed = checkClose(context, bundle.close, closeKnown ? undefined : registry);
    for (const reveal of bundle.reveals) count(checkReveal(context, listed, reveal, closeKnown && known(reveal) ? undefined : registry));
  }
  // [REJECT] The policy, rerun on the bundle's votes, agrees on exactly the claimed outcome.
  const { n, k } = request;
  const decision = context.policy.decide(votes, { n, k, requestId: context.id });
  if (!decision.agreed) throw new ConcordError("POLICY_MISMATCH", "the policy does not agree on these votes");
  const { outcome } = bundle;
  if (
    decision.output !== outcome.output ||
    !bytesEqual(decision.outputHash, outcome.outputHash) ||
    decision.supporters.length !== outcome.supporters.length ||
    decision.supporters.some((node, i) => node !== outcome.supporters[i])
  ) {
    throw new ConcordError("POLICY_MISMATCH", "the policy agrees on a different outcome");
  }
  if (decision.supporters.length < k) throw new ConcordError("POLICY_MISMATCH", "fewer than k supporters");
  return { context, outcome };
}
