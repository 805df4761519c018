/**
 * exact@1: agreement means identical outputs (identical output hashes). For deterministic
 * models and structured output. With k > n/2 and no honest node equivocating, two different
 * outputs can never both reach k supporters (spec/05-committee.md).
 */
import { ConcordError } from "../errors.ts";
import { clustersByHash } from "./clusters.ts";
import type { AgreementPolicy } from "./policy.ts";

export type ExactParams = Record<string, never>;

export const exactPolicy: AgreementPolicy<ExactParams> = {
  id: "exact",
  version: 1,
  description: "identical canonical output hashes; for deterministic models and structured output",
  parseParams(params) {
    const keys = Object.keys(params);
    if (keys.length > 0) throw new ConcordError("POLICY_PARAMS", "exact@1 takes no parameters", { details: keys.join(", ") });
    return {};
  },
  decide(votes, _params, { k }) {
    const clusters = clustersByHash(votes);
    const largest = clusters[0];
    if (largest && largest.members.length >= k) {
      const vote = votes.find((v) => v.node === largest.members[0]);
      if (vote) return { agreed: true, output: vote.output, outputHash: largest.outputHash, supporters: largest.members };
    }
    return { agreed: false, clusters };
  },
};
