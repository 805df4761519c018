/**
 * Concord's application-specific peer score (gossipsub's P5): the penalties gossipsub cannot
 * apply as Concord needs them.
 *
 * - **IP colocation.** Gossipsub's own P6 charges every peer behind an IP once more than a
 *   threshold of identities share it, the honest ones with the Sybils, and keeps counting
 *   identities that left for as long as it retains their scores. Twenty identities on the honest
 *   nodes' IP graylisted all of them for an hour. Here (P6 off, see constants.ts) an IP's
 *   identities are counted while connected and in the order they arrived: the first
 *   `colocationThreshold` are free, and each one after them pays weight × surplus², surplus being
 *   how many the IP holds beyond the threshold. Honest nodes that were there before the attack
 *   keep their places, newcomers from a crowded IP pay, and the penalty ends when they leave.
 *   Known peers are exempt and not counted: the operator's bootstrap peers and whitelist (peer
 *   ids, IP addresses, CIDR ranges).
 * - **Unknown topics.** Gossipsub drops a message on a topic outside its allowed list without a
 *   cost to the sender. No honest peer sends one (messages go only to a topic's subscribers), so
 *   each counts as an invalid message does (gossipsub's P4): a counter that decays by
 *   `unknownTopicDecay` a second, weighted by its square.
 *
 * The clock is passed in (`now`, ms) so the arithmetic is testable without timers.
 */
import { BlockList, isIP } from "node:net";
import { peerIdFromString } from "@libp2p/peer-id";
import { ConcordError } from "../errors.ts";

export interface PeerPenaltiesInit {
  /** Identities per IP (not counting known peers) that pay nothing. */
  colocationThreshold: number;
  /** Negative: each identity past the threshold scores this × surplus². */
  colocationWeight: number;
  /** Negative: weight of the squared unknown-topic counter. */
  unknownTopicWeight: number;
  /** The counter's factor per second (0..1). */
  unknownTopicDecay: number;
  /** Exempt from colocation (and from catch-up's per-IP budget): peer ids, IP addresses, CIDR ranges. */
  whitelist: readonly string[];
}

/** What fired, for the caller to log and count. */
export interface PenaltyEvents {
  /** An identity arrived past its IP's threshold: it (and every later one) pays from now on. */
  colocation?(context: { peer: string; ip: string; identities: number; threshold: number }): void;
  unknownTopic?(context: { peer: string; topic: string }): void;
}

/** A parsed whitelist: peer ids, and IP addresses or ranges. */
export interface PeerWhitelist {
  peers: ReadonlySet<string>;
  ips: BlockList;
}

/**
 * Parses whitelist entries: a libp2p peer id, an IPv4 or IPv6 address, or a CIDR range
 * (`10.0.0.0/8`, `fd00::/8`). Throws CONFIG naming the first entry that is none of these.
 * @example parsePeerWhitelist(["127.0.0.1", "10.1.0.0/16"]).ips.check("10.1.2.3") // true
 */
export function parsePeerWhitelist(entries: readonly string[]): PeerWhitelist {
  const peers = new Set<string>();
  const ips = new BlockList();
  for (const entry of entries) {
    const problem = whitelistEntryProblem(entry);
    if (problem !== undefined) throw new ConcordError("CONFIG", "bad peer whitelist entry", { details: `${JSON.stringify(entry)}: ${problem}` });
    const [address, prefix] = entry.split("/") as [string, string | undefined];
    const family = isIP(address) === 6 ? "ipv6" : "ipv4";
    if (isIP(address) === 0) peers.add(entry);
    else if (prefix === undefined) ips.addAddress(address, family);
    else ips.addSubnet(address, Number(prefix), family);
  }
  return { peers, ips };
}

/** Why `entry` is not a peer id, IP address or CIDR range; undefined when it is one. */
export function whitelistEntryProblem(entry: string): string | undefined {
  const [address, prefix, extra] = entry.split("/");
  if (address !== undefined && isIP(address) !== 0) {
    if (extra !== undefined) return "not an IP address or CIDR range";
    if (prefix === undefined) return undefined;
    const bits = isIP(address) === 6 ? 128 : 32;
    return /^[0-9]{1,3}$/.test(prefix) && Number(prefix) <= bits ? undefined : `a CIDR prefix is 0..${bits}`;
  }
  try {
    peerIdFromString(entry);
    return undefined;
  } catch {
    return "not a peer id, IP address or CIDR range";
  }
}

function ipFamily(ip: string): "ipv4" | "ipv6" {
  return isIP(ip) === 6 ? "ipv6" : "ipv4";
}

interface UnknownTopicCount {
  value: number;
  at: number;
}

/** The penalties, per connected peer. Feed it connections and unknown-topic messages; ask it for scores. */
export class PeerPenalties {
  readonly #init: PeerPenaltiesInit;
  readonly #whitelist: PeerWhitelist;
  readonly #events: PenaltyEvents;
  /** Peers known without being listed: bootstrap peers. */
  readonly #known = new Set<string>();
  /** Each connected peer's IP (its first connection's). */
  readonly #ipOf = new Map<string, string>();
  /** Unknown (not exempt) connected identities per IP, in the order they arrived. */
  readonly #byIp = new Map<string, Set<string>>();
  readonly #unknownTopics = new Map<string, UnknownTopicCount>();

  constructor(init: PeerPenaltiesInit, events: PenaltyEvents = {}) {
    this.#init = init;
    this.#whitelist = parsePeerWhitelist(init.whitelist);
    this.#events = events;
  }

  /** A peer the operator named (a bootstrap peer): exempt from colocation. */
  addKnown(peer: string): void {
    if (this.#known.has(peer)) return;
    this.#known.add(peer);
    const ip = this.#ipOf.get(peer);
    if (ip !== undefined) this.#byIp.get(ip)?.delete(peer);
  }

  /** Exempt from colocation and from per-IP budgets: a known peer, or one from a whitelisted IP. */
  isExempt(peer: string, ip: string | undefined = this.#ipOf.get(peer)): boolean {
    if (this.#known.has(peer) || this.#whitelist.peers.has(peer)) return true;
    return ip !== undefined && this.#whitelist.ips.check(ip, ipFamily(ip));
  }

  /** A connection to `peer` opened from `ip` (undefined: a transport without one, e.g. memory). */
  connected(peer: string, ip: string | undefined): void {
    if (ip === undefined || this.#ipOf.has(peer)) return;
    this.#ipOf.set(peer, ip);
    if (this.isExempt(peer, ip)) return;
    let identities = this.#byIp.get(ip);
    if (identities === undefined) {
      identities = new Set();
      this.#byIp.set(ip, identities);
    }
    identities.add(peer);
    if (identities.size > this.#init.colocationThreshold) {
      this.#events.colocation?.({ peer, ip, identities: identities.size, threshold: this.#init.colocationThreshold });
    }
  }

  /** `peer`'s last connection closed: it no longer counts, and its counters go. */
  disconnected(peer: string): void {
    const ip = this.#ipOf.get(peer);
    this.#ipOf.delete(peer);
    this.#unknownTopics.delete(peer);
    if (ip === undefined) return;
    const identities = this.#byIp.get(ip);
    identities?.delete(peer);
    if (identities?.size === 0) this.#byIp.delete(ip);
  }

  /** `peer` sent a message on a topic this node does not use. */
  unknownTopic(peer: string, topic: string, now: number): void {
    const count = this.#unknownTopics.get(peer);
    this.#unknownTopics.set(peer, { value: (count ? this.#decayed(count, now) : 0) + 1, at: now });
    this.#events.unknownTopic?.({ peer, topic });
  }

  /** The penalty (zero or negative) this node adds to `peer`'s gossipsub score. */
  score(peer: string, now: number): number {
    let score = 0;
    const count = this.#unknownTopics.get(peer);
    if (count !== undefined) {
      const value = this.#decayed(count, now);
      score += this.#init.unknownTopicWeight * value * value;
    }
    const ip = this.#ipOf.get(peer);
    const identities = ip === undefined ? undefined : this.#byIp.get(ip);
    if (identities !== undefined && identities.size > this.#init.colocationThreshold && identities.has(peer)) {
      let rank = 0;
      for (const identity of identities) {
        if (identity === peer) break;
        rank++;
      }
      const surplus = identities.size - this.#init.colocationThreshold;
      if (rank >= this.#init.colocationThreshold) score += this.#init.colocationWeight * surplus * surplus;
    }
    return score;
  }

  /** Unknown identities from `ip` now connected (exempt ones not counted). */
  identitiesFrom(ip: string): number {
    return this.#byIp.get(ip)?.size ?? 0;
  }

  ipOf(peer: string): string | undefined {
    return this.#ipOf.get(peer);
  }

  #decayed(count: UnknownTopicCount, now: number): number {
    return count.value * this.#init.unknownTopicDecay ** (Math.max(0, now - count.at) / 1_000);
  }
}
