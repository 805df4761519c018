/**
 * Committee draw and threshold rule (spec/05-committee.md).
 *
 * drawCommittee: stake-weighted sampling without replacement, recomputable by anyone from the
 * registry and the request id. Round r draws x_r = uint256(H("concord/committee", id, r)) mod W,
 * W the total weight still undrawn, and takes the member whose cumulative-weight interval
 * (members in id order) holds x_r. The modulo bias is below W / 2^256: negligible.
 *
 * With S > 1 subnets the draw walks only the members of the request's subnet,
 * uint256(H("concord/subnet", id)) mod S (spec/05, "Subnets").
 */
import { ConcordError } from "../errors.ts";
import { taggedHash, toHex } from "../wire/hash.ts";
import { MAX_COMMITTEE } from "../wire/limits.ts";
import type { Bytes } from "../wire/types.ts";
import type { Registry } from "./registry.ts";

/**
 * The subnet a request belongs to: uint256(H("concord/subnet", requestId)) mod S; 0 when S = 1.
 * @example requestSubnet(id, 4) // 0..3
 */
export function requestSubnet(requestId: Bytes, subnets: number): number {
  if (subnets === 1) return 0;
  return Number(BigInt(`0x${toHex(taggedHash("concord/subnet", requestId))}`) % BigInt(subnets));
}

/**
 * Committee member ids in draw order. Throws REQUEST_INVALID if n exceeds the members it draws
 * from: the registry, or with S > 1 the request's subnet.
 */
export function drawCommittee(registry: Registry, requestId: Bytes, n: number): string[] {
  const subnet = requestSubnet(requestId, registry.subnets);
  const remaining = [...(registry.subnetMembers[subnet] ?? [])];
  if (!Number.isInteger(n) || n < 1 || n > remaining.length) {
    const from = registry.subnets === 1 ? `registry has ${remaining.length}` : `subnet ${subnet} of ${registry.subnets} has ${remaining.length}`;
    throw new ConcordError("REQUEST_INVALID", "committee size out of range", { details: `n=${n}, ${from}` });
  }
  let total = 0n;
  for (const member of remaining) total += BigInt(member.weight);
  const committee: string[] = [];
  const round = new Uint8Array(4);
  for (let r = 0; r < n; r++) {
    new DataView(round.buffer).setUint32(0, r);
    let x = BigInt(`0x${toHex(taggedHash("concord/committee", requestId, round))}`) % total;
    let index = 0;
    for (; index < remaining.length - 1; index++) {
      const weight = BigInt((remaining[index] as { weight: number }).weight);
      if (x < weight) break;
      x -= weight;
    }
    const [chosen] = remaining.splice(index, 1);
    if (!chosen) throw new Error("unreachable: committee draw ran out of members");
    committee.push(chosen.id);
    total -= BigInt(chosen.weight);
  }
  return committee;
}

/** Default threshold: ceil(2n/3), always more than n/2. */
export function defaultThreshold(n: number): number {
  return Math.ceil((2 * n) / 3);
}

/**
 * The threshold rule: 1 <= n <= MAX_COMMITTEE and n/2 < k <= n. With k > n/2 any two sets of k
 * supporters share a member, so without an equivocating member two different exact outputs can
 * never both be agreed (spec/06-commit-reveal.md).
 */
export function checkThreshold(n: number, k: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_COMMITTEE) {
    throw new ConcordError("REQUEST_INVALID", "committee size out of range", { details: `n=${n}, allowed 1..${MAX_COMMITTEE}` });
  }
  if (!Number.isInteger(k) || 2 * k <= n || k > n) {
    throw new ConcordError("REQUEST_INVALID", "threshold must satisfy n/2 < k <= n", { details: `n=${n}, k=${k}` });
  }
}
