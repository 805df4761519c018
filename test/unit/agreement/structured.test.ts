import { describe, expect, it } from "vitest";
import type { Vote } from "../../../src/agreement/policy.ts";
import { structuredPolicy } from "../../../src/agreement/structured.ts";
import { outputHash, utf8 } from "../../../src/wire/hash.ts";
import type { PolicyParams } from "../../../src/wire/types.ts";

const context = (n: number, k: number) => ({ n, k, requestId: utf8("structured-test") });
const vote = (node: string, output: string): Vote => ({ node, output, outputHash: outputHash(output) });
const decide = (params: PolicyParams, outputs: string[], k: number) =>
  structuredPolicy.decide(
    outputs.map((output, i) => vote(`n${i}`, output)),
    structuredPolicy.parseParams(params),
    context(outputs.length, k),
  );

describe("structured@1 parameters", () => {
  it("sorts fields by name and fills defaults", () => {
    const parsed = structuredPolicy.parseParams({ fields: { b: { type: "number" }, a: { type: "label", optional: true } } });
    expect(parsed.fields).toEqual([
      { name: "a", type: "label", optional: true },
      { name: "b", type: "number", optional: false, decimals: 6, absTol: 0, relTolPpm: 0 },
    ]);
    expect(parsed.extra).toBe("reject");
  });
});

describe("structured@1 decisions", () => {
  it("reads 18-decimal amounts exactly (BigInt) and writes the median back exactly", () => {
    const params = { fields: { amount: { type: "number", decimals: 18, absTol: 1_000 } } };
    const outputs = ['{"amount":1.000000000000000001}', '{"amount":1.000000000000000500}', '{"amount":1.0000000000000009}'];
    expect(decide(params, outputs, 3)).toMatchObject({ agreed: true, output: '{"amount":1.0000000000000005}' });
  });

  it("a trim that removes an outlier can pull the median back inside the honest range", () => {
    // Median of all five is 13; 20 and 21 fall out; the median of the rest (10, 12, 13) is 12.
    const params = { fields: { x: { type: "number", decimals: 0, absTol: 3 } } };
    const outputs = [10, 12, 13, 20, 21].map((x) => JSON.stringify({ x }));
    expect(decide(params, outputs, 3)).toMatchObject({ agreed: true, output: '{"x":12}', supporters: ["n0", "n1", "n2"] });
  });

  it("between groups with equal support, the larger group wins", () => {
    // "a": 3 votes, one trimmed (support 2); "b": 2 votes (support 2). The "a" group is larger.
    const params = { fields: { l: { type: "label" }, x: { type: "number", decimals: 0, absTol: 1 } } };
    const outputs = ['{"l":"a","x":1}', '{"l":"a","x":1}', '{"l":"a","x":9}', '{"l":"b","x":5}', '{"l":"b","x":5}'];
    expect(decide(params, outputs, 2)).toMatchObject({ agreed: true, output: '{"l":"a","x":1}', supporters: ["n0", "n1"] });
  });

  it("without agreement, every vote is in exactly one cluster", () => {
    const params = { fields: { l: { type: "label" }, x: { type: "number", decimals: 0, absTol: 1 } } };
    const outputs = ['{"l":"a","x":1}', '{"l":"a","x":9}', '{"l":"b","x":5}', "not json", '{"l":"b","x":5}'];
    const decision = decide(params, outputs, 4);
    expect(decision.agreed).toBe(false);
    if (decision.agreed) return;
    expect(decision.clusters.flatMap((c) => c.members).sort()).toEqual(["n0", "n1", "n2", "n3", "n4"]);
    expect(decision.clusters[0]).toEqual({ outputHash: outputHash('{"l":"b","x":5}'), members: ["n2", "n4"] });
  });

  it("caps the depth of undeclared values too", () => {
    const params = { fields: { x: { type: "bool" } }, extra: "ignore" };
    const deep = (depth: number) => `{"x":true,"z":${"[".repeat(depth)}${"]".repeat(depth)}}`;
    expect(decide(params, [deep(15), deep(15)], 2).agreed).toBe(true);
    expect(decide(params, [deep(16), deep(16)], 2).agreed).toBe(false);
  });

  it("null is not a value of any declared type", () => {
    const params = { fields: { x: { type: "label", optional: true } } };
    expect(decide(params, ['{"x":null}', '{"x":null}'], 2).agreed).toBe(false);
    expect(decide(params, ["{}", "{}"], 2)).toMatchObject({ agreed: true, output: "{}" });
  });
});
