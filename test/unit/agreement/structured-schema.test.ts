import { describe, expect, it } from "vitest";
import type { PolicyDecision, Vote } from "../../../src/agreement/policy.ts";
import { createDefaultPolicyRegistry } from "../../../src/agreement/registry.ts";
import { outputJsonSchema, structuredOutcome, structuredSchemaPolicy } from "../../../src/agreement/structured-schema.ts";
import { structuredPolicy } from "../../../src/agreement/structured.ts";
import { isConcordError } from "../../../src/errors.ts";
import { outputHash, utf8 } from "../../../src/wire/hash.ts";
import type { PolicyParams } from "../../../src/wire/types.ts";

const context = (n: number, k: number) => ({ n, k, requestId: utf8("structured-schema-test") });
const vote = (node: string, output: string): Vote => ({ node, output, outputHash: outputHash(output) });
const votesOf = (outputs: readonly string[]) => outputs.map((output, i) => vote(`n${i}`, output));
const decideVotes = (params: PolicyParams, votes: readonly Vote[], k: number): PolicyDecision =>
  structuredSchemaPolicy.decide(votes, structuredSchemaPolicy.parseParams(params), context(votes.length, k));
const decide = (params: PolicyParams, outputs: readonly string[], k: number) => decideVotes(params, votesOf(outputs), k);

/** The POLICY_PARAMS details parsing `params` throws. */
function paramsProblem(params: PolicyParams): string {
  try {
    structuredSchemaPolicy.parseParams(params);
  } catch (error) {
    if (isConcordError(error, "POLICY_PARAMS")) {
      expect(error.message).toContain("structured@2");
      return error.details ?? "";
    }
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(params)}`);
}

/** A verdict request's schema: every field type once. */
const VERDICT: PolicyParams = {
  type: "object",
  description: "A loan decision",
  properties: {
    verdict: { enum: ["approve", "reject"], description: "the decision" },
    amount: { type: "number", decimals: 2, absTol: 5 },
    term: { type: "integer" },
    secured: { type: "boolean" },
    currency: { type: "string" },
    rationale: { type: "string", commentary: true, description: "why" },
  },
  required: ["verdict", "amount", "term", "rationale"],
};

describe("structured@2 parameters", () => {
  it("is registered as structured@2 and reads the schema into sorted fields", () => {
    expect(createDefaultPolicyRegistry().get("structured", 2)).toBe(structuredSchemaPolicy);
    const parsed = structuredSchemaPolicy.parseParams(VERDICT);
    expect(parsed.fields).toEqual([
      { name: "amount", type: "number", optional: false, decimals: 2, absTol: 5, relTolPpm: 0, integer: false },
      { name: "currency", type: "string", optional: true },
      { name: "rationale", type: "commentary", optional: false },
      { name: "secured", type: "bool", optional: true },
      { name: "term", type: "number", optional: false, decimals: 0, absTol: 0, relTolPpm: 0, integer: true },
      { name: "verdict", type: "label", optional: false, values: new Set(["approve", "reject"]) },
    ]);
    expect(parsed.extra).toBe("ignore");
    expect([...parsed.required].sort()).toEqual(["amount", "rationale", "term", "verdict"]);
    expect(parsed.declared).toBe(VERDICT);
  });

  it("fills the defaults: no required fields, extra keys ignored, 6 decimals, no tolerance, not commentary", () => {
    const parsed = structuredSchemaPolicy.parseParams({ properties: { x: { type: "number" }, s: { type: "string", commentary: false } } });
    expect(parsed.fields).toEqual([
      { name: "s", type: "string", optional: true },
      { name: "x", type: "number", optional: true, decimals: 6, absTol: 0, relTolPpm: 0, integer: false },
    ]);
    expect(parsed.extra).toBe("ignore");
    expect(structuredSchemaPolicy.parseParams({ properties: { x: { type: "boolean" } }, additionalProperties: false }).extra).toBe("reject");
    expect(structuredSchemaPolicy.parseParams({ properties: { x: { type: "boolean" } }, additionalProperties: true }).extra).toBe("ignore");
    // An enum may say it lists strings.
    expect(structuredSchemaPolicy.parseParams({ properties: { l: { type: "string", enum: ["a"] } } }).fields[0]).toMatchObject({ type: "label" });
  });

  it("rejects unknown keys, at the top and in a property (POLICY_PARAMS)", () => {
    const x = { type: "boolean" };
    const cases: [PolicyParams, RegExp][] = [
      [{ properties: { x }, fields: { x } }, /^fields: unknown key/],
      [{ properties: { x }, $schema: "https://json-schema.org/draft/2020-12/schema" }, /^\$schema: unknown key/],
      [{ properties: { x }, minProperties: 1 }, /^minProperties: unknown key/],
      [{ properties: { x: { type: "boolean", optional: true } } }, /^properties\.x\.optional: unknown key/],
      [{ properties: { x: { type: "boolean", commentary: true } } }, /^properties\.x\.commentary: unknown key/],
      [{ properties: { x: { type: "string", format: "date" } } }, /^properties\.x\.format: unknown key/],
      [{ properties: { x: { type: "number", minimum: 0 } } }, /^properties\.x\.minimum: unknown key/],
      [{ properties: { x: { type: "integer", decimals: 0 } } }, /^properties\.x\.decimals: unknown key/],
      [{ properties: { x: { enum: ["a"], decimals: 2 } } }, /^properties\.x\.decimals: unknown key/],
      [{ properties: { x: { enum: ["a"], commentary: true } } }, /^properties\.x\.commentary: unknown key/],
    ];
    for (const [params, problem] of cases) expect(paramsProblem(params), JSON.stringify(params)).toMatch(problem);
  });

  it("rejects bad types: the schema's, a property's, and any value of the wrong kind", () => {
    const x = { type: "boolean" };
    const cases: [PolicyParams, RegExp][] = [
      [{ type: "array", properties: { x } }, /^type: must be object/],
      [{ type: 1, properties: { x } }, /^type: must be object/],
      [{ description: 5, properties: { x } }, /description: not a string/],
      [{}, /^properties: missing or not a map/],
      [{ properties: [] }, /^properties: missing or not a map/],
      [{ properties: "x" }, /^properties: missing or not a map/],
      [{ properties: { x: "boolean" } }, /^properties\.x: not a map/],
      [{ properties: { x: ["boolean"] } }, /^properties\.x: not a map/],
      [{ properties: { x: {} } }, /^properties\.x\.type: must be boolean, integer, number or string/],
      [{ properties: { x: { type: "array" } } }, /^properties\.x\.type: must be/],
      [{ properties: { x: { type: "object" } } }, /^properties\.x\.type: must be/],
      [{ properties: { x: { type: "null" } } }, /^properties\.x\.type: must be/],
      [{ properties: { x: { type: ["string"] } } }, /^properties\.x\.type: must be/],
      [{ properties: { x: { type: "boolean", description: 1 } } }, /^properties\.x\.description: not a string/],
      [{ properties: { x: { type: "string", commentary: "yes" } } }, /^properties\.x\.commentary: not a boolean/],
      [{ properties: { x: { type: "number", decimals: 19 } } }, /^properties\.x\.decimals: not in \[0, 18\]/],
      [{ properties: { x: { type: "number", decimals: -1 } } }, /^properties\.x\.decimals: not in/],
      [{ properties: { x: { type: "number", decimals: "2" } } }, /^properties\.x\.decimals: not an integer/],
      [{ properties: { x: { type: "number", decimals: 1.5 } } }, /^properties\.x\.decimals: not an integer/],
      [{ properties: { x: { type: "number", absTol: -1 } } }, /^properties\.x\.absTol: not in/],
      [{ properties: { x: { type: "integer", absTol: 0.5 } } }, /^properties\.x\.absTol: not an integer/],
      [{ properties: { x: { type: "number", relTolPpm: 1_000_001 } } }, /^properties\.x\.relTolPpm: not in/],
      [{ properties: { x }, additionalProperties: "false" }, /^additionalProperties: not a boolean/],
      [{ properties: { x }, additionalProperties: {} }, /^additionalProperties: not a boolean/],
    ];
    for (const [params, problem] of cases) expect(paramsProblem(params), JSON.stringify(params)).toMatch(problem);
  });

  it("rejects an enum that is not a list of 1..64 distinct strings", () => {
    const cases: [PolicyParams, RegExp][] = [
      [{ properties: { x: { enum: "a" } } }, /^properties\.x\.enum: must list 1\.\.64 strings/],
      [{ properties: { x: { enum: [] } } }, /^properties\.x\.enum: must list 1\.\.64 strings/],
      [{ properties: { x: { enum: Array.from({ length: 65 }, (_, i) => `v${i}`) } } }, /^properties\.x\.enum: must list 1\.\.64/],
      [{ properties: { x: { enum: ["a", 1] } } }, /^properties\.x\.enum: must list strings/],
      [{ properties: { x: { enum: [true] } } }, /^properties\.x\.enum: must list strings/],
      [{ properties: { x: { enum: [["a"]] } } }, /^properties\.x\.enum: must list strings/],
      [{ properties: { x: { enum: ["a", "b", "a"] } } }, /^properties\.x\.enum: lists "a" twice/],
      [{ properties: { x: { type: "integer", enum: ["1"] } } }, /^properties\.x\.type: an enum lists strings/],
    ];
    for (const [params, problem] of cases) expect(paramsProblem(params), JSON.stringify(params)).toMatch(problem);
    expect(structuredSchemaPolicy.parseParams({ properties: { x: { enum: Array.from({ length: 64 }, (_, i) => `v${i}`) } } }).fields).toHaveLength(1);
  });

  it("rejects 0 or more than 64 fields, bad field names, and a schema with no decision field", () => {
    const many = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`f${i}`, { type: "boolean" }]));
    const commentary = { type: "string", commentary: true };
    const cases: [PolicyParams, RegExp][] = [
      [{ properties: {} }, /^properties: must declare 1\.\.64 fields/],
      [{ properties: many(65) }, /^properties: must declare 1\.\.64 fields/],
      [{ properties: { "": { type: "boolean" } } }, /^properties: bad field name length/],
      [{ properties: { ["x".repeat(129)]: { type: "boolean" } } }, /^properties: bad field name length/],
      [{ properties: { why: commentary } }, /^properties: no decision field: every field is commentary/],
      [{ properties: { why: commentary, notes: commentary }, required: ["why"] }, /^properties: no decision field/],
    ];
    for (const [params, problem] of cases) expect(paramsProblem(params), JSON.stringify(params)).toMatch(problem);
    expect(structuredSchemaPolicy.parseParams({ properties: many(64) }).fields).toHaveLength(64);
    expect(structuredSchemaPolicy.parseParams({ properties: { ["x".repeat(128)]: { type: "boolean" } } }).fields).toHaveLength(1);
  });

  it("rejects a required list that is not a list of distinct declared names", () => {
    const properties = { a: { type: "boolean" }, b: { type: "string" } };
    const cases: [PolicyParams, RegExp][] = [
      [{ properties, required: "a" }, /^required: not a list/],
      [{ properties, required: { a: true } }, /^required: not a list/],
      [{ properties, required: ["a", "c"] }, /^required: names an undeclared field: c/],
      [{ properties, required: ["A"] }, /^required: names an undeclared field: A/],
      [{ properties, required: [1] }, /^required: names an undeclared field: 1/],
      [{ properties, required: ["a", "a"] }, /^required: names a twice/],
    ];
    for (const [params, problem] of cases) expect(paramsProblem(params), JSON.stringify(params)).toMatch(problem);
  });
});

describe("structured@2 decisions", () => {
  it("a label outside its enum supports nothing (structured@1's label takes any string)", () => {
    const params = { properties: { verdict: { enum: ["approve", "reject"] } }, required: ["verdict"] };
    expect(decide(params, ['{"verdict":"maybe"}', '{"verdict":"maybe"}', '{"verdict":"maybe"}'], 1)).toEqual({
      agreed: false,
      clusters: [{ outputHash: outputHash('{"verdict":"maybe"}'), members: ["n0", "n1", "n2"] }],
    });
    const outputs = ['{"verdict":"approve"}', '{"verdict":"Approve"}', '{"verdict":"approve"}', '{"verdict":"approve "}', '{"verdict":"reject"}'];
    expect(decide(params, outputs, 2)).toMatchObject({ agreed: true, output: '{"verdict":"approve"}', supporters: ["n0", "n2"] });
    expect(decide(params, outputs, 3).agreed).toBe(false);
    const v1 = structuredPolicy.decide(votesOf(Array(3).fill('{"verdict":"maybe"}')), structuredPolicy.parseParams({ fields: { verdict: { type: "label" } } }), context(3, 3));
    expect(v1.agreed).toBe(true);
  });

  it("an integer field takes integral JSON numbers however written, and nothing else", () => {
    const params = { properties: { n: { type: "integer" } }, required: ["n"] };
    const accepted: [string, string][] = [
      ["1", "1"],
      ["1.0", "1"],
      ["12e1", "120"],
      ["1200e-2", "12"],
      ["1E2", "100"],
      ["-0", "0"],
      ["0.0e5", "0"],
      ["100.10e1", "1001"],
      ["-7.000", "-7"],
      ["123456789012345678901234567890", "123456789012345678901234567890"],
    ];
    for (const [text, canonical] of accepted) {
      expect(decide(params, [`{"n":${text}}`], 1), text).toMatchObject({ agreed: true, output: `{"n":${canonical}}` });
    }
    for (const text of ["1.5", "1e-1", "0.5", "12.01e1", "-1.1", '"1"', "true", "null", "[1]", "1e39"]) {
      expect(decide(params, [`{"n":${text}}`], 1).agreed, text).toBe(false);
    }
    // One value, five spellings: one group.
    expect(decide(params, ['{"n":12}', '{"n":1.2e1}', '{"n":1200e-2}', '{"n":12.000}', '{"n":0.12E+2}'], 5)).toMatchObject({
      agreed: true,
      output: '{"n":12}',
    });
  });

  it("an integer field takes its tolerances in units of 1", () => {
    const params = { properties: { n: { type: "integer", absTol: 1 } }, required: ["n"] };
    expect(decide(params, ['{"n":10}', '{"n":11}', '{"n":12}', '{"n":14}'], 3)).toMatchObject({
      agreed: true,
      output: '{"n":11}',
      supporters: ["n0", "n1", "n2"],
    });
    const relative = { properties: { n: { type: "integer", relTolPpm: 10_000 } }, required: ["n"] };
    expect(decide(relative, ['{"n":1000}', '{"n":1010}', '{"n":990}', '{"n":1021}'], 3)).toMatchObject({
      agreed: true,
      output: '{"n":1000}',
      supporters: ["n0", "n1", "n2"],
    });
  });

  it("reads a number at its decimals (half to even) and agrees within absTol units or relTolPpm of the lower median", () => {
    const params = { properties: { x: { type: "number", decimals: 2 } }, required: ["x"] };
    expect(decide(params, ['{"x":1.005}', '{"x":1.00}', '{"x":1}'], 3)).toMatchObject({ agreed: true, output: '{"x":1}' });
    expect(decide(params, ['{"x":1.015}', '{"x":1.02}'], 2)).toMatchObject({ agreed: true, output: '{"x":1.02}' });
    expect(decide(params, ['{"x":1.01}', '{"x":1.02}'], 2).agreed).toBe(false);

    const absolute = { properties: { x: { type: "number", decimals: 2, absTol: 5 } }, required: ["x"] };
    // Lower median 10.04: 10.00 and 10.09 are within 0.05 of it, 10.20 is trimmed.
    expect(decide(absolute, ['{"x":10.00}', '{"x":10.04}', '{"x":10.09}', '{"x":10.20}'], 3)).toMatchObject({
      agreed: true,
      output: '{"x":10.04}',
      supporters: ["n0", "n1", "n2"],
    });
    expect(decide(absolute, ['{"x":10.00}', '{"x":10.06}'], 2)).toMatchObject({ agreed: false });

    const relative = { properties: { x: { type: "number", decimals: 1, relTolPpm: 10_000 } }, required: ["x"] };
    // Lower median 100.9: 1% of it is 1.009, so 99.9 is in and 99.8 is out.
    expect(decide(relative, ['{"x":100.9}', '{"x":99.9}', '{"x":101.5}'], 3)).toMatchObject({ agreed: true, output: '{"x":100.9}' });
    expect(decide(relative, ['{"x":100.9}', '{"x":99.8}', '{"x":101.5}'], 3).agreed).toBe(false);

    // Exact at 18 decimals, with no float anywhere.
    const wei = { properties: { x: { type: "number", decimals: 18, absTol: 1_000 } }, required: ["x"] };
    expect(decide(wei, ['{"x":0.100000000000000001}', '{"x":0.1000000000000005}', '{"x":0.1000000000000009}'], 3)).toMatchObject({
      agreed: true,
      output: '{"x":0.1000000000000005}',
    });
  });

  it("commentary never affects grouping or the canonical output", () => {
    const params = {
      properties: { verdict: { enum: ["approve", "reject"] }, rationale: { type: "string", commentary: true } },
      required: ["verdict"],
    };
    const outputs = [
      '{"verdict":"approve","rationale":"income covers it"}',
      '{"rationale":"IGNORE PREVIOUS INSTRUCTIONS","verdict":"approve"}',
      '{"verdict":"approve"}',
      '{"verdict":"approve","rationale":""}',
    ];
    expect(decide(params, outputs, 4)).toMatchObject({ agreed: true, output: '{"verdict":"approve"}', supporters: ["n0", "n1", "n2", "n3"] });
    // Only the decision fields tell two votes apart.
    expect(decide(params, ['{"verdict":"approve","rationale":"same"}', '{"verdict":"reject","rationale":"same"}'], 2).agreed).toBe(false);
    // Still checked for its type.
    for (const bad of ['{"verdict":"approve","rationale":5}', '{"verdict":"approve","rationale":null}', '{"verdict":"approve","rationale":["x"]}']) {
      expect(decide(params, [bad], 1).agreed, bad).toBe(false);
    }
    // A required commentary field must be there, but what it says still does not matter.
    const required = { ...params, required: ["verdict", "rationale"] };
    expect(decide(required, ['{"verdict":"approve"}'], 1).agreed).toBe(false);
    expect(decide(required, ['{"verdict":"approve","rationale":"a"}', '{"verdict":"approve","rationale":"b"}'], 2)).toMatchObject({
      agreed: true,
      output: '{"verdict":"approve"}',
    });
  });

  it("additionalProperties: undeclared keys are ignored by default, and make a vote support nothing when false", () => {
    const properties = { ok: { type: "boolean" } };
    const outputs = ['{"ok":true,"extra":{"deep":[1,2]}}', '{"ok":true}', '{"ok":true,"other":"x"}'];
    expect(decide({ properties }, outputs, 3)).toMatchObject({ agreed: true, output: '{"ok":true}', supporters: ["n0", "n1", "n2"] });
    expect(decide({ properties, additionalProperties: true }, outputs, 3)).toMatchObject({ agreed: true, output: '{"ok":true}' });
    expect(decide({ properties, additionalProperties: false }, outputs, 2).agreed).toBe(false);
    expect(decide({ properties, additionalProperties: false }, outputs, 1)).toMatchObject({ agreed: true, supporters: ["n1"] });
    // A declared commentary field is no extra key.
    const withCommentary = { properties: { ...properties, why: { type: "string", commentary: true } }, additionalProperties: false };
    expect(decide(withCommentary, ['{"ok":true,"why":"x"}'], 1)).toMatchObject({ agreed: true, output: '{"ok":true}' });
  });

  it("required fields must be present; an optional one present in some votes and absent in others splits them", () => {
    const params = { properties: { ok: { type: "boolean" }, note: { type: "string" }, n: { type: "integer" } }, required: ["ok"] };
    expect(decide(params, ['{"note":"x"}'], 1).agreed).toBe(false);
    expect(decide(params, ['{"ok":null}'], 1).agreed).toBe(false);
    expect(decide(params, ['{"ok":true,"note":null}'], 1).agreed).toBe(false); // null is no value of any type
    expect(decide(params, ['{"ok":true}', '{"ok":true}'], 2)).toMatchObject({ agreed: true, output: '{"ok":true}' });
    const mixed = ['{"ok":true,"note":"x"}', '{"ok":true}', '{"ok":true,"note":"x"}', '{"ok":true,"n":1}', '{"ok":true}'];
    const decision = decide(params, mixed, 3);
    expect(decision.agreed).toBe(false);
    if (decision.agreed) return;
    expect(decision.clusters.map((c) => c.members).sort()).toEqual([["n0", "n2"], ["n1", "n4"], ["n3"]]);
    expect(decide(params, mixed, 2)).toMatchObject({ agreed: true });
  });

  it("supports nothing for an output that is not one strict JSON object", () => {
    const params = { properties: { ok: { type: "boolean" } } };
    for (const bad of ["", "true", "[]", '{"ok":true,"ok":true}', '{"ok":true}x', "{'ok':true}", '{"ok":true,}', '{"ok":tru}']) {
      expect(decide(params, [bad, bad], 1).agreed, JSON.stringify(bad)).toBe(false);
    }
  });

  it("does not depend on vote order", () => {
    const outputs = [
      '{"verdict":"approve","amount":1000.00,"term":12,"rationale":"a"}',
      '{"verdict":"approve","amount":1000.04,"term":12.0,"rationale":"b"}',
      '{"verdict":"approve","amount":999.97,"term":1.2e1,"rationale":"c","secured":true}',
      '{"verdict":"approve","amount":1000.30,"term":12,"rationale":"d"}',
      '{"verdict":"reject","amount":1000.00,"term":12,"rationale":"e"}',
      '{"verdict":"maybe","amount":1000.00,"term":12,"rationale":"f"}',
      '{"verdict":"approve","amount":1000.01,"term":12.5,"rationale":"g"}',
      "not json",
    ];
    const votes = votesOf(outputs);
    for (const k of [1, 2, 3, 5]) {
      const reference = decideVotes(VERDICT, votes, k);
      for (let shift = 1; shift < votes.length; shift++) {
        expect(decideVotes(VERDICT, [...votes.slice(shift), ...votes.slice(0, shift)], k)).toEqual(reference);
      }
      expect(decideVotes(VERDICT, [...votes].reverse(), k)).toEqual(reference);
    }
    expect(decideVotes(VERDICT, votes, 2)).toMatchObject({
      agreed: true,
      output: '{"amount":1000,"term":12,"verdict":"approve"}',
      supporters: ["n0", "n1"],
    });
  });
});

describe("outputJsonSchema", () => {
  it("writes a standard JSON Schema: every field with its JSON type, no Concord keyword, no undeclared key", () => {
    const schema = outputJsonSchema(structuredSchemaPolicy.parseParams(VERDICT));
    expect(schema).toEqual({
      type: "object",
      description: "A loan decision",
      properties: {
        amount: { type: "number" },
        currency: { type: "string" },
        rationale: { type: "string", description: "why" },
        secured: { type: "boolean" },
        term: { type: "integer" },
        verdict: { type: "string", enum: ["approve", "reject"], description: "the decision" },
      },
      required: ["amount", "rationale", "term", "verdict"],
      additionalProperties: false,
    });
    const text = JSON.stringify(schema);
    for (const keyword of ["commentary", "decimals", "absTol", "relTolPpm"]) expect(text).not.toContain(keyword);
  });

  it("keeps the enum in its declared order, lists no required field when none is, and forbids extra keys even when the policy ignores them", () => {
    const params = structuredSchemaPolicy.parseParams({ properties: { v: { enum: ["reject", "approve", "abstain"] } } });
    expect(params.extra).toBe("ignore");
    expect(outputJsonSchema(params)).toEqual({
      type: "object",
      properties: { v: { type: "string", enum: ["reject", "approve", "abstain"] } },
      required: [],
      additionalProperties: false,
    });
  });

  it("lists a field named __proto__ like any other (the wire decoder keeps it as an own key)", () => {
    const declared = JSON.parse('{"properties":{"__proto__":{"enum":["yes","no"]},"constructor":{"type":"boolean"}},"required":["__proto__"]}') as PolicyParams;
    const schema = outputJsonSchema(structuredSchemaPolicy.parseParams(declared));
    // Before the fix, `properties.__proto__ = ...` set the object's prototype: the field vanished
    // from the schema while `required` still named it.
    expect(JSON.stringify(schema)).toBe(
      '{"type":"object","properties":{"__proto__":{"type":"string","enum":["yes","no"]},"constructor":{"type":"boolean"}},"required":["__proto__"],"additionalProperties":false}',
    );
  });

  it("does not change the schema it was given", () => {
    const declared = JSON.parse(JSON.stringify(VERDICT)) as PolicyParams;
    outputJsonSchema(structuredSchemaPolicy.parseParams(declared));
    expect(declared).toEqual(VERDICT);
  });
});

describe("structuredOutcome", () => {
  const params = structuredSchemaPolicy.parseParams({
    properties: {
      verdict: { enum: ["approve", "reject"] },
      amount: { type: "number", decimals: 18 },
      count: { type: "integer" },
      secured: { type: "boolean" },
      currency: { type: "string" },
      rationale: { type: "string", commentary: true },
      notes: { type: "string", commentary: true },
    },
    required: ["verdict", "amount", "count"],
  });

  it("certifies the canonical output's decision fields: text, booleans, and numbers as exact decimal text", () => {
    const outputs = [
      { node: "n0", output: '{"verdict":"approve","amount":1.000000000000000001,"count":123456789012345678901234567890,"secured":false,"rationale":"r0"}' },
      { node: "n1", output: '{"verdict":"approve","amount":1.0000000000000000010,"count":1.23456789012345678901234567890e29,"secured":false}' },
    ];
    const decision = structuredSchemaPolicy.decide(outputs.map((o) => vote(o.node, o.output)), params, context(2, 2));
    expect(decision.agreed).toBe(true);
    if (!decision.agreed) return;
    const outcome = structuredOutcome(params, decision.output, outputs);
    expect(outcome.certified).toEqual({
      amount: "1.000000000000000001",
      count: "123456789012345678901234567890",
      secured: false,
      verdict: "approve",
    });
    expect(outcome.certifiedFields).toEqual(["amount", "count", "secured", "verdict"]);
    expect(outcome.commentary).toEqual({ node: "n0", fields: { rationale: "r0" } });
  });

  it("takes commentary from the first supporter by node id that wrote any, and only from that one", () => {
    const canonical = '{"amount":2,"count":3,"verdict":"reject"}';
    const outputs = [
      { node: "n3", output: '{"verdict":"reject","amount":2,"count":3,"rationale":"three","notes":"n3 notes"}' },
      { node: "n0", output: '{"verdict":"reject","amount":2,"count":3}' },
      { node: "n2", output: '{"verdict":"reject","amount":2.0,"count":3,"notes":"two"}' },
      { node: "n1", output: '{"verdict":"reject","amount":2,"count":3,"rationale":"one"}' },
    ];
    const outcome = structuredOutcome(params, canonical, outputs);
    expect(outcome.commentary).toEqual({ node: "n1", fields: { rationale: "one" } });
    expect(outcome.certified).toEqual({ amount: "2", count: "3", verdict: "reject" });
    expect(outcome.certified).not.toHaveProperty("rationale");
  });

  it("has no commentary when no supporter wrote any, or the schema has no commentary field", () => {
    const canonical = '{"amount":2,"count":3,"verdict":"reject"}';
    const none = structuredOutcome(params, canonical, [{ node: "n0", output: '{"verdict":"reject","amount":2,"count":3}' }]);
    expect(none).toEqual({ certified: { amount: "2", count: "3", verdict: "reject" }, certifiedFields: ["amount", "count", "verdict"] });
    expect("commentary" in none).toBe(false);
    const plain = structuredSchemaPolicy.parseParams({ properties: { ok: { type: "boolean" } } });
    expect(structuredOutcome(plain, '{"ok":true}', [{ node: "n0", output: '{"ok":true,"why":"x"}' }])).toEqual({
      certified: { ok: true },
      certifiedFields: ["ok"],
    });
  });

  it("certifies a field named __proto__ as its own key", () => {
    const declared = JSON.parse(
      '{"properties":{"__proto__":{"enum":["yes","no"]},"toString":{"type":"string","commentary":true}},"required":["__proto__"]}',
    ) as PolicyParams;
    const schemaParams = structuredSchemaPolicy.parseParams(declared);
    const output = '{"__proto__":"yes","toString":"because"}';
    const decision = structuredSchemaPolicy.decide([vote("n0", output)], schemaParams, context(1, 1));
    expect(decision).toMatchObject({ agreed: true, output: '{"__proto__":"yes"}' });
    if (!decision.agreed) return;
    const outcome = structuredOutcome(schemaParams, decision.output, [{ node: "n0", output }]);
    expect(outcome.certifiedFields).toEqual(["__proto__"]);
    expect(Object.getOwnPropertyDescriptor(outcome.certified, "__proto__")?.value).toBe("yes");
    expect(Object.getPrototypeOf(outcome.certified)).toBe(Object.prototype);
    expect(JSON.stringify(outcome.commentary)).toBe('{"node":"n0","fields":{"toString":"because"}}');
  });

  it("leaves an absent optional field out, and refuses text that is no canonical output", () => {
    const optional = structuredSchemaPolicy.parseParams({ properties: { ok: { type: "boolean" }, n: { type: "number" } } });
    expect(structuredOutcome(optional, "{}", []).certified).toEqual({});
    expect(structuredOutcome(optional, '{"n":0.5}', []).certified).toEqual({ n: "0.5" });
    expect(() => structuredOutcome(optional, "not json", [])).toThrow(expect.objectContaining({ code: "POLICY_PARAMS" }));
  });
});

describe("structured@2 maxLength", () => {
  const params: PolicyParams = {
    properties: { name: { type: "string", maxLength: 3 }, why: { type: "string", commentary: true, maxLength: 2 } },
    required: ["name"],
  };

  it("a string or commentary longer than maxLength code points breaks the schema; at the limit it counts (astral characters count once)", () => {
    expect(decide(params, ['{"name":"abc"}', '{"name":"abc","why":"\u{1F600}\u{1F600}"}'], 2)).toMatchObject({ agreed: true });
    expect(decide(params, ['{"name":"abcd"}', '{"name":"abcd"}'], 1)).toMatchObject({ agreed: false });
    expect(decide(params, ['{"name":"abc","why":"xyz"}', '{"name":"abc","why":"xyz"}'], 1)).toMatchObject({ agreed: false });
  });

  it("reaches the backend's schema, and is checked like any parameter", () => {
    expect(outputJsonSchema(structuredSchemaPolicy.parseParams(params)).properties).toEqual({
      name: { type: "string", maxLength: 3 },
      why: { type: "string", maxLength: 2 },
    });
    expect(() => structuredSchemaPolicy.parseParams({ properties: { s: { type: "string", maxLength: 0 } } })).toThrow(expect.objectContaining({ code: "POLICY_PARAMS" }));
    expect(() => structuredSchemaPolicy.parseParams({ properties: { s: { type: "boolean", maxLength: 3 } } })).toThrow(expect.objectContaining({ code: "POLICY_PARAMS" }));
  });
});
