import { describe, expect, it } from "vitest";
import { checkThreshold, defaultThreshold, drawCommittee, requestSubnet } from "../../../src/quorum/committee.ts";
import { assignSubnets, createRegistry, MAX_SUBNETS } from "../../../src/quorum/registry.ts";
import { taggedHash } from "../../../src/wire/hash.ts";
import { MAX_COMMITTEE } from "../../../src/wire/limits.ts";
import { testNetwork } from "../../helpers/fixtures.ts";
import { codeOf } from "../../helpers/errors.ts";


const id = (i: number) => taggedHash("request", String(i));

describe("drawCommittee", () => {
  const net = testNetwork(12);

  it("is deterministic: the same registry and request id give the same committee", () => {
    for (let i = 0; i < 20; i++) expect(drawCommittee(net.registry, id(i), 7)).toEqual(drawCommittee(net.registry, id(i), 7));
  });

  it("does not depend on the order nodes are listed in the registry file", () => {
    const reversed = createRegistry({ ...net.config, nodes: [...net.config.nodes].reverse() });
    for (let i = 0; i < 20; i++) expect(drawCommittee(reversed, id(i), 7)).toEqual(drawCommittee(net.registry, id(i), 7));
  });

  it("draws n distinct registry members", () => {
    for (let i = 0; i < 50; i++) {
      for (const n of [1, 5, 7, 12]) {
        const committee = drawCommittee(net.registry, id(i), n);
        expect(committee).toHaveLength(n);
        expect(new Set(committee).size).toBe(n);
        for (const member of committee) expect(net.registry.byId.has(member)).toBe(true);
      }
    }
  });

  it("a smaller committee is a prefix of a larger one (draws happen round by round)", () => {
    const full = drawCommittee(net.registry, id(1), 12);
    expect(drawCommittee(net.registry, id(1), 5)).toEqual(full.slice(0, 5));
  });

  it("depends on the request id", () => {
    const committees = new Set(Array.from({ length: 30 }, (_, i) => drawCommittee(net.registry, id(i), 5).join(",")));
    expect(committees.size).toBeGreaterThan(25);
  });

  it("is roughly uniform with equal weights", () => {
    const counts = new Map<string, number>();
    const draws = 3000;
    for (let i = 0; i < draws; i++) for (const m of drawCommittee(net.registry, id(i), 3)) counts.set(m, (counts.get(m) ?? 0) + 1);
    const expected = (draws * 3) / 12;
    for (const count of counts.values()) expect(Math.abs(count - expected)).toBeLessThan(expected * 0.15);
  });

  it("weighted: a heavy node is drawn much more often over many request ids", () => {
    // node-00 has weight 30, the 19 others weight 1: it should win a 1-seat draw 30/49 of the time.
    const weighted = testNetwork(20, { weights: (i) => (i === 0 ? 30 : 1) });
    const draws = 2000;
    let heavyFirst = 0;
    let heavyIn5 = 0;
    let lightIn5 = 0;
    for (let i = 0; i < draws; i++) {
      if (drawCommittee(weighted.registry, id(i), 1)[0] === "node-00") heavyFirst++;
      const five = drawCommittee(weighted.registry, id(i), 5);
      if (five.includes("node-00")) heavyIn5++;
      if (five.includes("node-07")) lightIn5++;
    }
    expect(heavyFirst / draws).toBeGreaterThan(0.55);
    expect(heavyFirst / draws).toBeLessThan(0.67);
    expect(heavyIn5 / draws).toBeGreaterThan(0.9);
    expect(lightIn5 / draws).toBeLessThan(0.3);
    expect(heavyIn5).toBeGreaterThan(4 * lightIn5);
  });

  it("takes a heavy node at most once (sampling without replacement)", () => {
    const weighted = testNetwork(5, { weights: (i) => (i === 0 ? 2 ** 32 - 1 : 1) });
    for (let i = 0; i < 20; i++) {
      const committee = drawCommittee(weighted.registry, id(i), 5);
      expect(new Set(committee).size).toBe(5);
      expect(committee[0]).toBe("node-00");
    }
  });

  it("throws REQUEST_INVALID for n larger than the registry, zero, negative or fractional", () => {
    expect(codeOf(() => drawCommittee(net.registry, id(0), 13))).toBe("REQUEST_INVALID");
    expect(codeOf(() => drawCommittee(net.registry, id(0), 0))).toBe("REQUEST_INVALID");
    expect(codeOf(() => drawCommittee(net.registry, id(0), -1))).toBe("REQUEST_INVALID");
    expect(codeOf(() => drawCommittee(net.registry, id(0), 2.5))).toBe("REQUEST_INVALID");
  });
});

describe("subnets (spec/05, Subnets)", () => {
  const net = testNetwork(100);
  const split = (subnets: number, weights?: (i: number) => number) => {
    const base = weights ? testNetwork(100, { weights }) : net;
    return createRegistry({ ...base.config, subnets });
  };

  it("with S = 1 the draw is the whole registry's, byte for byte as before subnets", () => {
    const one = split(1);
    expect(one.subnetMembers).toEqual([one.members]);
    for (let i = 0; i < 20; i++) expect(drawCommittee(one, id(i), 7)).toEqual(drawCommittee(net.registry, id(i), 7));
    expect(requestSubnet(id(0), 1)).toBe(0);
  });

  it("deals equal weights into subnets whose sizes differ by at most one", () => {
    for (const subnets of [2, 3, 4, 7, 64]) {
      const sizes = split(subnets).subnetMembers.map((members) => members.length);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(100);
      expect(Math.max(...sizes) - Math.min(...sizes), `S=${subnets}`).toBeLessThanOrEqual(1);
    }
  });

  it("balances stake too: with weights 1..100 every subnet of 4 holds a quarter of it within the largest weight", () => {
    const registry = split(4, (i) => i + 1);
    const total = 5050;
    for (const members of registry.subnetMembers) {
      const weight = members.reduce((sum, member) => sum + member.weight, 0);
      expect(Math.abs(weight - total / 4)).toBeLessThanOrEqual(100);
    }
  });

  it("gives each member one home subnet, the same whatever order the file lists nodes in", () => {
    const registry = split(4);
    const reversed = createRegistry({ ...net.config, nodes: [...net.config.nodes].reverse(), subnets: 4 });
    for (const member of registry.members) expect(reversed.byId.get(member.id)?.subnet).toBe(member.subnet);
    expect(assignSubnets(net.config.nodes, 4)).toEqual(new Map(registry.members.map((member) => [member.id, member.subnet])));
    for (const [s, members] of registry.subnetMembers.entries()) for (const member of members) expect(member.subnet).toBe(s);
  });

  it("spreads consecutive ids over subnets (the order is a hash of the id, not the id)", () => {
    const registry = split(4);
    const firstEight = registry.members.slice(0, 8).map((member) => member.subnet);
    expect(new Set(firstEight).size).toBeGreaterThan(1);
    expect(firstEight).not.toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
  });

  it("maps request ids uniformly onto subnets", () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[requestSubnet(id(i), 4)]! += 1;
    for (const count of counts) expect(Math.abs(count - 1000)).toBeLessThan(120);
  });

  it("draws a request's committee from its subnet only, with the same draw as a registry of that subnet alone", () => {
    const registry = split(4);
    for (let i = 0; i < 40; i++) {
      const subnet = requestSubnet(id(i), 4);
      const committee = drawCommittee(registry, id(i), 7);
      for (const member of committee) expect(registry.byId.get(member)?.subnet).toBe(subnet);
      const alone = createRegistry({ ...net.config, nodes: net.config.nodes.filter((node) => registry.byId.get(node.id)?.subnet === subnet) });
      expect(committee).toEqual(drawCommittee(alone, id(i), 7));
    }
  });

  it("refuses a committee larger than the request's subnet (REQUEST_INVALID), though the registry could seat it", () => {
    const registry = split(4);
    expect(codeOf(() => drawCommittee(registry, id(0), 25))).toBe("ok");
    expect(codeOf(() => drawCommittee(registry, id(0), 26))).toBe("REQUEST_INVALID");
  });

  it("refuses S outside 1..MAX_SUBNETS or fractional (CONFIG); an empty subnet loads and refuses its draws", () => {
    for (const subnets of [0, -1, 1.5, MAX_SUBNETS + 1]) {
      expect(codeOf(() => createRegistry({ ...net.config, subnets })), `S=${subnets}`).toBe("CONFIG");
    }
    const few = testNetwork(3);
    const sparse = createRegistry({ ...few.config, subnets: 4 });
    expect(sparse.subnetMembers.map((members) => members.length).sort()).toEqual([0, 1, 1, 1]);
    const empty = sparse.subnetMembers.findIndex((members) => members.length === 0);
    const request = Array.from({ length: 50 }, (_, i) => id(i)).find((candidate) => requestSubnet(candidate, 4) === empty) as Uint8Array;
    expect(codeOf(() => drawCommittee(sparse, request, 1))).toBe("REQUEST_INVALID");
    expect(codeOf(() => createRegistry({ ...net.config, nodes: [], subnets: 2 }))).toBe("ok");
  });
});

describe("checkThreshold", () => {
  it("accepts n/2 < k <= n for 1 <= n <= MAX_COMMITTEE", () => {
    for (let n = 1; n <= MAX_COMMITTEE; n++) {
      for (let k = Math.floor(n / 2) + 1; k <= n; k++) expect(codeOf(() => checkThreshold(n, k))).toBe("ok");
    }
  });

  it("rejects k <= n/2, k > n, and n out of range (REQUEST_INVALID)", () => {
    const bad: [number, number][] = [[7, 3], [4, 2], [2, 1], [7, 8], [7, 0], [0, 0], [MAX_COMMITTEE + 1, MAX_COMMITTEE], [7, 4.5], [6.5, 5], [-1, 1]];
    for (const [n, k] of bad) expect(codeOf(() => checkThreshold(n, k)), `n=${n} k=${k}`).toBe("REQUEST_INVALID");
  });

  it("defaultThreshold is ceil(2n/3), always a valid threshold", () => {
    expect([1, 3, 4, 7, 9, 10].map(defaultThreshold)).toEqual([1, 2, 3, 5, 6, 7]);
    for (let n = 1; n <= MAX_COMMITTEE; n++) expect(codeOf(() => checkThreshold(n, defaultThreshold(n)))).toBe("ok");
  });
});
