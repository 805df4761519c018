/**
 * label@1: a third-party agreement policy in one file, as a worked example of the plug point
 * (spec/09-policies.md, "Adding a policy").
 *
 * Outputs are classifier labels. A vote's label is its output with leading and trailing
 * White_Space removed, then lowercased (`normalizeLabel`). A vote whose label is not one of the
 * request's declared labels supports nothing. The request agrees when at least k votes share a
 * label; the canonical output is that label as declared, so "Positive\n" and "positive" both
 * support "positive". Each vote supports at most one label, so with k > n/2 two labels can never
 * both be agreed: the exact policy's safety argument applies unchanged.
 *
 * Parameters: `{ labels: [text, ...] }`, 1..64 distinct labels of 1..64 characters, each already
 * in normal form (`normalizeLabel(label) === label`). Anything else is POLICY_PARAMS, so two
 * verifiers never read one parameter map two ways.
 *
 * @example
 * const policies = createDefaultPolicyRegistry().register(labelPolicy);
 * // a request then names { id: "label", version: 1, params: { labels: ["positive", "negative"] } }
 */
import { clustersByHash, compareClusters, sortVotes } from "../../src/agreement/clusters.ts";
import { checkKeys, paramsError } from "../../src/agreement/params.ts";
import type { AgreementPolicy, PolicyDecision, PolicyRegistry, Vote } from "../../src/agreement/policy.ts";
import { createDefaultPolicyRegistry } from "../../src/agreement/registry.ts";
import { outputHash } from "../../src/wire/hash.ts";
import type { Bytes, PolicyParams } from "../../src/wire/types.ts";

export interface LabelParams {
  /** The declared labels, in normal form. */
  labels: ReadonlySet<string>;
}

const POLICY = "label@1";
const MAX_LABELS = 64;
const MAX_LABEL_CHARS = 64;

/**
 * Unicode White_Space at either end, listed so that other implementations match it exactly
 * (String.prototype.trim also strips U+FEFF, which is not White_Space).
 */
const EDGE_SPACE =
  /^[\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

/**
 * The label a vote names: White_Space trimmed at both ends, then lowercased (Unicode default
 * lowercase, locale-independent). No other normalization: declare labels the way the model writes them.
 * @example normalizeLabel("  Positive\n") // "positive"
 */
export function normalizeLabel(output: string): string {
  return output.replace(EDGE_SPACE, "").toLowerCase();
}

function parseLabelParams(params: PolicyParams): LabelParams {
  checkKeys(POLICY, "", params, ["labels"]);
  const list = params["labels"];
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_LABELS) {
    throw paramsError(POLICY, "labels", `must be a list of 1..${MAX_LABELS} labels`);
  }
  const labels = new Set<string>();
  list.forEach((label, index) => {
    const where = `labels.${index}`;
    if (typeof label !== "string") throw paramsError(POLICY, where, "not text");
    const chars = [...label].length;
    if (chars === 0 || chars > MAX_LABEL_CHARS) throw paramsError(POLICY, where, `must be 1..${MAX_LABEL_CHARS} characters`);
    if (normalizeLabel(label) !== label) throw paramsError(POLICY, where, "not in normal form (trimmed, lowercase)");
    if (labels.has(label)) throw paramsError(POLICY, where, "declared twice");
    labels.add(label);
  });
  return { labels };
}

interface LabelGroup {
  label: string;
  outputHash: Bytes;
  /** Node ids, sorted (votes are visited in node order). */
  members: string[];
}

export const labelPolicy: AgreementPolicy<LabelParams> = {
  id: "label",
  version: 1,
  description: "classifier labels: trimmed and lowercased, one of the declared labels, k votes on one label agree",
  parseParams: parseLabelParams,
  decide(votes, { labels }, { k }): PolicyDecision {
    const groups = new Map<string, LabelGroup>();
    const unrecognized: Vote[] = [];
    // Node order, never arrival order: the decision must not depend on how votes came in.
    for (const vote of sortVotes(votes)) {
      const label = normalizeLabel(vote.output);
      if (!labels.has(label)) {
        unrecognized.push(vote);
        continue;
      }
      const group = groups.get(label);
      if (group) group.members.push(vote.node);
      else groups.set(label, { label, outputHash: outputHash(label), members: [vote.node] });
    }
    // Largest first, then the lowest output hash: one order for every verifier.
    const ranked = [...groups.values()].sort(compareClusters);
    const top = ranked[0];
    if (top && top.members.length >= k) {
      return { agreed: true, output: top.label, outputHash: top.outputHash, supporters: top.members };
    }
    // A declared label never equals an unrecognized vote's output, so no two clusters share a hash.
    const clusters = [...ranked.map(({ outputHash: hash, members }) => ({ outputHash: hash, members })), ...clustersByHash(unrecognized)];
    return { agreed: false, clusters: clusters.sort(compareClusters) };
  },
};

/** The default policies plus label@1. */
export function createLabelPolicyRegistry(): PolicyRegistry {
  return createDefaultPolicyRegistry().register(labelPolicy);
}
