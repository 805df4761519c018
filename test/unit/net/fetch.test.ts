import { describe, expect, it } from "vitest";
import { AskGate, AskLimiter, MAX_ASKS_PER_IP_MINUTE, MAX_ASKS_PER_PEER_MINUTE, MAX_MESSAGES_PER_REQUEST, RecentMessages } from "../../../src/net/fetch.ts";
import { SCORE_THRESHOLDS } from "../../../src/net/constants.ts";
import { taggedHash } from "../../../src/wire/hash.ts";

const id = (label: string) => taggedHash("test/request", label);
const bytes = (length: number, fill: number) => new Uint8Array(length).fill(fill);

describe("RecentMessages", () => {
  it("keeps each request's messages in the order it had them, once each", () => {
    const recent = new RecentMessages();
    recent.add(id("a"), bytes(3, 1));
    recent.add(id("b"), bytes(3, 9));
    recent.add(id("a"), bytes(4, 2));
    recent.add(id("a"), bytes(3, 1));
    expect(recent.get(id("a")).map((payload) => [...payload])).toEqual([[1, 1, 1], [2, 2, 2, 2]]);
    expect(recent.get(id("c"))).toEqual([]);
    expect(recent.bytes).toBe(10);
  });

  it("keeps at most MAX_MESSAGES_PER_REQUEST messages a request", () => {
    const recent = new RecentMessages();
    for (let i = 0; i < MAX_MESSAGES_PER_REQUEST + 5; i++) recent.add(id("a"), Uint8Array.of(i >> 8, i & 0xff));
    expect(recent.get(id("a"))).toHaveLength(MAX_MESSAGES_PER_REQUEST);
  });

  it("drops whole requests, oldest first, past its request and byte bounds", () => {
    const byCount = new RecentMessages({ maxRequests: 2 });
    for (const label of ["a", "b", "c"]) byCount.add(id(label), bytes(1, 1));
    expect([byCount.get(id("a")).length, byCount.get(id("b")).length, byCount.get(id("c")).length]).toEqual([0, 1, 1]);
    expect(byCount.requests).toBe(2);

    const byBytes = new RecentMessages({ maxBytes: 100 });
    byBytes.add(id("a"), bytes(40, 1));
    byBytes.add(id("b"), bytes(40, 2));
    byBytes.add(id("a"), bytes(10, 3));
    byBytes.add(id("c"), bytes(30, 4));
    // 120 bytes: "a" (50, the oldest) goes, whole.
    expect(byBytes.get(id("a"))).toEqual([]);
    expect(byBytes.bytes).toBe(70);
  });

  it("names the requests whose deadline is ahead, latest first, and forgets a dropped one", () => {
    const recent = new RecentMessages({ maxRequests: 3 });
    // "soon" is the oldest kept, so the fourth request pushes it out, deadline and all.
    recent.add(id("soon"), bytes(1, 2), 300);
    recent.add(id("past"), bytes(1, 1), 100);
    // A vote for a request whose own message this peer never kept: no deadline, never named.
    recent.add(id("unknown"), bytes(1, 3));
    recent.add(id("later"), bytes(1, 4), 500);
    expect(recent.open(200, 64)).toEqual([id("later")]);
    const kept = new RecentMessages();
    for (const [label, deadline] of [["a", 300], ["b", 500], ["c", 400]] as const) kept.add(id(label), bytes(1, 1), deadline);
    expect(kept.open(200, 64)).toEqual([id("b"), id("c"), id("a")]);
    expect(kept.open(200, 2)).toEqual([id("b"), id("c")]);
    expect(kept.open(500, 64)).toEqual([]);
  });
});

describe("AskLimiter", () => {
  it("allows each peer its asks a minute, then refuses it until the next minute", () => {
    let now = 1_000_000;
    const limiter = new AskLimiter(() => now, 3);
    expect([1, 2, 3, 4].map(() => limiter.allow("a"))).toEqual([true, true, true, false]);
    expect(limiter.allow("b")).toBe(true);
    now += 59_999;
    expect(limiter.allow("a")).toBe(false);
    now += 1;
    expect(limiter.allow("a")).toBe(true);
  });
});

describe("AskGate", () => {
  const gate = (scores: Record<string, number> = {}, exempt: string[] = []) => {
    let now = 1_000_000;
    return {
      gate: new AskGate({
        now: () => now,
        score: (peer) => scores[peer] ?? 0,
        minScore: SCORE_THRESHOLDS.gossipThreshold,
        ipOf: (peer) => (peer.startsWith("local") ? "127.0.0.1" : `10.0.0.${peer.length}`),
        exempt: (peer) => exempt.includes(peer),
      }),
      later: (ms: number) => void (now += ms),
    };
  };

  it("refuses a peer scored below the gossip threshold", () => {
    const { gate: g } = gate({ bad: SCORE_THRESHOLDS.gossipThreshold - 1, edge: SCORE_THRESHOLDS.gossipThreshold });
    expect(g.admit("bad")).toBe("fetch-score");
    expect(g.admit("edge")).toBeUndefined();
  });

  it("holds every identity behind one IP to one budget a minute, known peers aside", () => {
    const { gate: g, later } = gate({}, ["local-known"]);
    const answered = new Map<string, number>();
    // Ten identities from one IP, each asking as much as it may: together no more than the IP's budget.
    for (let id = 0; id < 10; id++) {
      for (let ask = 0; ask < MAX_ASKS_PER_PEER_MINUTE + 5; ask++) {
        if (g.admit(`local-${id}`) === undefined) answered.set(`local-${id}`, (answered.get(`local-${id}`) ?? 0) + 1);
      }
    }
    expect([...answered.values()].reduce((a, b) => a + b, 0)).toBe(MAX_ASKS_PER_IP_MINUTE);
    expect(g.admit("local-10")).toBe("fetch-ip-budget");
    // A known peer on that IP still has its own asks; a peer elsewhere is unaffected.
    expect(g.admit("local-known")).toBeUndefined();
    expect(g.admit("remote")).toBeUndefined();
    later(60_000);
    expect(g.admit("local-10")).toBeUndefined();
  });
});
