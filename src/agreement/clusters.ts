import { compareBytes, toHex } from "../wire/hash.ts";
import type { Bytes, Cluster } from "../wire/types.ts";
import type { Vote } from "./policy.ts";

/** Sorts votes by node id: the order every policy works in, so arrival order never matters. */
export function sortVotes(votes: readonly Vote[]): Vote[] {
  return [...votes].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}

/** Orders clusters largest first, then by representative hash: one order for every verifier. */
export function compareClusters(a: Cluster, b: Cluster): number {
  return b.members.length - a.members.length || compareBytes(a.outputHash, b.outputHash);
}

/** Groups votes by identical output hash, largest group first. */
export function clustersByHash(votes: readonly Vote[]): Cluster[] {
  const groups = new Map<string, { outputHash: Bytes; members: string[] }>();
  for (const vote of sortVotes(votes)) {
    const key = toHex(vote.outputHash);
    const group = groups.get(key);
    if (group) group.members.push(vote.node);
    else groups.set(key, { outputHash: vote.outputHash, members: [vote.node] });
  }
  return [...groups.values()].sort(compareClusters);
}
