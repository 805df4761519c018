import { describe, expect, it } from "vitest";
import { createDefaultPolicyRegistry } from "../../../src/agreement/registry.ts";
import { isConcordError } from "../../../src/errors.ts";

describe("createDefaultPolicyRegistry", () => {
  it("registers exact, seeded, semantic (1 retired, 2), structured (1, 2) and first-wins", () => {
    const registry = createDefaultPolicyRegistry();
    expect(registry.list().map((p) => `${p.id}@${p.version}`)).toEqual([
      "exact@1",
      "seeded@1",
      "semantic@1",
      "semantic@2",
      "structured@1",
      "structured@2",
      "first-wins@1",
    ]);
    expect(registry.list().filter((p) => p.retired).map((p) => `${p.id}@${p.version}`)).toEqual(["semantic@1"]);
  });

  it("binds a request's policy once and rejects unknown ids and bad parameters", () => {
    const registry = createDefaultPolicyRegistry();
    const bound = registry.bind({ id: "semantic", version: 2, params: { thetaPpm: 900_000 } });
    expect(bound.ref.id).toBe("semantic");
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        if (isConcordError(error)) return error.code;
        throw error;
      }
      return undefined;
    };
    expect(codeOf(() => registry.bind({ id: "semantic", version: 3, params: {} }))).toBe("POLICY_UNKNOWN");
    expect(codeOf(() => registry.bind({ id: "seeded", version: 1, params: { epsPpm: -5 } }))).toBe("POLICY_PARAMS");
  });
});

describe("output schemas", () => {
  it("a bound structured@2 policy carries the JSON Schema nodes decode under; other policies carry none", () => {
    const registry = createDefaultPolicyRegistry();
    const bound = registry.bind({ id: "structured", version: 2, params: { properties: { ok: { type: "boolean" }, why: { type: "string", commentary: true } }, required: ["ok"] } });
    expect(bound.outputSchema).toEqual({
      type: "object",
      properties: { ok: { type: "boolean" }, why: { type: "string" } },
      required: ["ok"],
      additionalProperties: false,
    });
    expect(registry.bind({ id: "exact", version: 1, params: {} }).outputSchema).toBeUndefined();
  });
});

describe("retired policies", () => {
  it("refuses a request that names semantic@1 (POLICY_RETIRED) but still binds it to verify an old bundle", () => {
    const registry = createDefaultPolicyRegistry();
    const ref = { id: "semantic", version: 1, params: { thetaPpm: 900_000 } };
    expect(() => registry.bind(ref)).toThrow(expect.objectContaining({ code: "POLICY_RETIRED" }));
    expect(registry.bind(ref, { allowRetired: true }).ref).toEqual(ref);
  });
});

describe("baseline policies", () => {
  it("refuses a request that names first-wins: it is a baseline, never a rule", () => {
    const registry = createDefaultPolicyRegistry();
    expect(() => registry.bind({ id: "first-wins", version: 1, params: {} })).toThrow(expect.objectContaining({ code: "POLICY_PARAMS" }));
    expect(() => registry.bind({ id: "first-wins", version: 1, params: {} }, { allowBaseline: true })).not.toThrow();
  });
});
