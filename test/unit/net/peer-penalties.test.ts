/** Concord's application score (src/net/peer-penalties.ts): colocation by arrival order, and unknown topics. */
import { describe, expect, it } from "vitest";
import { COLOCATION_THRESHOLD, COLOCATION_WEIGHT, PEER_SCORE_PARAMS, SCORE_THRESHOLDS, UNKNOWN_TOPIC_DECAY, UNKNOWN_TOPIC_WEIGHT } from "../../../src/net/constants.ts";
import { peerIdFromSeed } from "../../../src/net/gossip.ts";
import { parsePeerWhitelist, PeerPenalties, type PeerPenaltiesInit } from "../../../src/net/peer-penalties.ts";
import { codeOf } from "../../helpers/errors.ts";

const init = (overrides: Partial<PeerPenaltiesInit> = {}): PeerPenaltiesInit => ({
  colocationThreshold: 3,
  colocationWeight: COLOCATION_WEIGHT,
  unknownTopicWeight: UNKNOWN_TOPIC_WEIGHT,
  unknownTopicDecay: UNKNOWN_TOPIC_DECAY,
  whitelist: [],
  ...overrides,
});

describe("colocation", () => {
  it("charges only the identities that came after the first `threshold` from one IP, while they stay", () => {
    const fired: string[] = [];
    const penalties = new PeerPenalties(init(), { colocation: ({ peer }) => fired.push(peer) });
    for (const peer of ["h1", "h2", "h3"]) penalties.connected(peer, "10.0.0.1");
    expect(["h1", "h2", "h3"].map((peer) => penalties.score(peer, 0))).toEqual([0, 0, 0]);
    for (const peer of ["s1", "s2", "s3", "s4", "s5"]) penalties.connected(peer, "10.0.0.1");
    // Five beyond the threshold: each newcomer scores -5 × 5², under the graylist; the first three nothing.
    expect(["h1", "h2", "h3"].map((peer) => penalties.score(peer, 0))).toEqual([0, 0, 0]);
    for (const peer of ["s1", "s2", "s3", "s4", "s5"]) expect(penalties.score(peer, 0)).toBe(COLOCATION_WEIGHT * 25);
    expect(COLOCATION_WEIGHT * 25).toBeLessThan(SCORE_THRESHOLDS.graylistThreshold);
    expect(fired).toEqual(["s1", "s2", "s3", "s4", "s5"]);
    // Another IP is another count.
    penalties.connected("x1", "10.0.0.2");
    expect(penalties.score("x1", 0)).toBe(0);
    // The newcomers leave: the penalty goes with them, nothing is retained.
    for (const peer of ["s1", "s2", "s3", "s4"]) penalties.disconnected(peer);
    expect(penalties.score("s5", 0)).toBe(COLOCATION_WEIGHT);
    penalties.disconnected("s5");
    expect(penalties.identitiesFrom("10.0.0.1")).toBe(3);
  });

  it("exempts bootstrap peers and the whitelist (peer ids, addresses, CIDR ranges), and does not count them", async () => {
    const listed = await peerIdFromSeed(new Uint8Array(32).fill(7));
    const penalties = new PeerPenalties(init({ colocationThreshold: 1, whitelist: [listed, "192.168.1.0/24", "fd00::1"] }));
    penalties.addKnown("bootstrap");
    for (const peer of ["bootstrap", listed, "first", "second"]) penalties.connected(peer, "10.0.0.1");
    expect(penalties.identitiesFrom("10.0.0.1")).toBe(2);
    expect(penalties.score("bootstrap", 0)).toBe(0);
    expect(penalties.score(listed, 0)).toBe(0);
    expect(penalties.score("first", 0)).toBe(0);
    expect(penalties.score("second", 0)).toBe(COLOCATION_WEIGHT);
    for (const peer of ["a", "b", "c"]) penalties.connected(peer, "192.168.1.9");
    for (const peer of ["d", "e"]) penalties.connected(peer, "fd00::1");
    expect(["a", "b", "c", "d", "e"].map((peer) => penalties.score(peer, 0))).toEqual([0, 0, 0, 0, 0]);
    expect(penalties.isExempt("c")).toBe(true);
    // A peer known after it connected stops counting at once.
    penalties.addKnown("first");
    expect(penalties.score("second", 0)).toBe(0);
  });

  it("default: ten free identities per IP, the fifteenth beyond graylisted even at the highest positive score", () => {
    const penalties = new PeerPenalties(init({ colocationThreshold: COLOCATION_THRESHOLD }));
    for (let i = 0; i < COLOCATION_THRESHOLD + 5; i++) penalties.connected(`p${i}`, "127.0.0.1");
    expect(penalties.score(`p${COLOCATION_THRESHOLD - 1}`, 0)).toBe(0);
    expect(penalties.score(`p${COLOCATION_THRESHOLD}`, 0) + PEER_SCORE_PARAMS.topicScoreCap).toBeLessThan(SCORE_THRESHOLDS.graylistThreshold);
    // Gossipsub's own P6 is off: it would charge all fifteen.
    expect(PEER_SCORE_PARAMS.IPColocationFactorWeight).toBe(0);
  });
});

describe("unknown topics", () => {
  it("count like invalid messages: five graylist a fresh peer, and the counter decays by 1% a second", () => {
    const fired: string[] = [];
    const penalties = new PeerPenalties(init(), { unknownTopic: ({ topic }) => fired.push(topic) });
    for (let i = 0; i < 5; i++) penalties.unknownTopic("p", "/not/ours", 0);
    expect(penalties.score("p", 0)).toBe(UNKNOWN_TOPIC_WEIGHT * 25);
    expect(penalties.score("p", 0)).toBeLessThan(SCORE_THRESHOLDS.graylistThreshold);
    expect(penalties.score("p", 10_000)).toBeCloseTo(UNKNOWN_TOPIC_WEIGHT * (5 * 0.99 ** 10) ** 2, 9);
    expect(penalties.score("p", 30_000)).toBeGreaterThan(SCORE_THRESHOLDS.graylistThreshold);
    expect(fired).toHaveLength(5);
    penalties.disconnected("p");
    expect(penalties.score("p", 30_000)).toBe(0);
  });
});

describe("parsePeerWhitelist", () => {
  it("takes peer ids, IPv4 and IPv6 addresses and ranges, and refuses anything else with CONFIG", async () => {
    const peer = await peerIdFromSeed(new Uint8Array(32));
    const list = parsePeerWhitelist([peer, "127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"]);
    expect(list.peers.has(peer)).toBe(true);
    expect(list.ips.check("10.200.1.1", "ipv4")).toBe(true);
    expect(list.ips.check("11.0.0.1", "ipv4")).toBe(false);
    expect(list.ips.check("fd12::3", "ipv6")).toBe(true);
    for (const bad of ["localhost", "10.0.0.0/33", "10.0.0.0/8/1", "::1/129", "12D3KooWnotapeer", ""]) {
      expect(codeOf(() => parsePeerWhitelist([bad])), bad).toBe("CONFIG");
    }
  });
});
