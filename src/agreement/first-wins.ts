/**
 * first-wins@1: today's rule, kept only as the baseline every comparison and benchmark reports.
 * Never a default: it rewards the fastest submitter, not the correct one. A lazy or malicious
 * operator that answers first with a cheap or wrong output wins outright, and nothing about the
 * output is checked against any other node.
 *
 * The one exception to order independence: "first" has no meaning without an order, so this
 * policy takes `votes[0]` as given and agrees on it with that node as its only supporter (`k` is
 * ignored). Requests cannot name it (`baselineOnly`: PolicyRegistry.bind refuses it), so the
 * collector never runs it; the simulator and the demo apply it to votes in arrival order to
 * show what today's rule would have accepted on the same draws.
 */
import { ConcordError } from "../errors.ts";
import type { PolicyParams } from "../wire/types.ts";
import type { AgreementPolicy, PolicyDecision } from "./policy.ts";

export type FirstWinsParams = Record<string, never>;

export const firstWinsPolicy: AgreementPolicy<FirstWinsParams> = {
  id: "first-wins",
  version: 1,
  description: "baseline only: the first vote in arrival order wins, k ignored; rewards speed, not correctness",
  // Requests cannot name it (PolicyRegistry.bind refuses): it exists to be compared against.
  baselineOnly: true,
  parseParams(params: PolicyParams): FirstWinsParams {
    const keys = Object.keys(params);
    if (keys.length > 0) {
      throw new ConcordError("POLICY_PARAMS", "first-wins@1 takes no parameters", { details: keys.join(", ") });
    }
    return {};
  },
  decide(votes): PolicyDecision {
    const first = votes[0];
    if (!first) return { agreed: false, clusters: [] };
    return { agreed: true, output: first.output, outputHash: first.outputHash, supporters: [first.node] };
  },
};
