import { describe, expect, it } from "vitest";
import { firstWinsPolicy } from "../../../src/agreement/first-wins.ts";
import { outputHash, utf8 } from "../../../src/wire/hash.ts";

const vote = (node: string, output: string) => ({ node, output, outputHash: outputHash(output) });

describe("first-wins@1 (baseline only)", () => {
  it("takes votes[0] in the order given: the one policy that depends on arrival order", () => {
    const context = { n: 3, k: 3, requestId: utf8("first-wins") };
    const a = vote("a", "slow but right");
    const z = vote("z", "fast");
    expect(firstWinsPolicy.decide([z, a], {}, context)).toMatchObject({ agreed: true, output: "fast", supporters: ["z"] });
    expect(firstWinsPolicy.decide([a, z], {}, context)).toMatchObject({ agreed: true, output: "slow but right", supporters: ["a"] });
  });

  it("says in its description that it is a baseline", () => {
    expect(firstWinsPolicy.description).toMatch(/baseline/);
  });
});
