/**
 * The registry (spec/05-committee.md, "Registry"): one key, one member. A key listed under two
 * node ids gives its holder two votes that verifyBundle counts as two members; a node holding the
 * sequencer's key could sign closes and requests as well as votes. Both are refused at load.
 */
import { describe, expect, it } from "vitest";
import { ConcordError } from "../../../src/errors.ts";
import { createRegistry, registryConfigFromJson, registryConfigToJson, type RegistryConfig } from "../../../src/quorum/registry.ts";
import { codeOf } from "../../helpers/errors.ts";
import { testKey, testNetwork } from "../../helpers/fixtures.ts";

const net = testNetwork(5, { schemes: (i) => (i % 2 === 0 ? "ed25519" : "secp256k1") });

function refusal(config: RegistryConfig): ConcordError {
  try {
    createRegistry(config);
  } catch (error) {
    if (error instanceof ConcordError) return error;
    throw error;
  }
  throw new Error("registry accepted");
}

describe("createRegistry", () => {
  it("accepts distinct keys, whatever the order of the nodes", () => {
    expect(createRegistry(net.config).members.map((member) => member.id)).toEqual(["node-00", "node-01", "node-02", "node-03", "node-04"]);
    expect(createRegistry({ ...net.config, nodes: [...net.config.nodes].reverse() }).members).toHaveLength(5);
  });

  it("refuses one key under two node ids (its holder would cast two votes), for either scheme", () => {
    for (const twin of ["node-00", "node-01"]) {
      const original = net.config.nodes.find((node) => node.id === twin)!;
      const config: RegistryConfig = { ...net.config, nodes: [...net.config.nodes, { ...original, id: "node-09", weight: 3 }] };
      const error = refusal(config);
      expect(error.code).toBe("CONFIG");
      expect(error.message).toContain(`"node-09"`);
      expect(error.message).toContain(`"${twin}"`);
    }
  });

  it("refuses a node holding the sequencer's key", () => {
    const sequencer = testKey("sequencer");
    const config: RegistryConfig = {
      ...net.config,
      nodes: [...net.config.nodes, { id: "node-09", scheme: sequencer.scheme, publicKey: sequencer.publicKey, weight: 1 }],
    };
    const error = refusal(config);
    expect(error.code).toBe("CONFIG");
    expect(error.message).toMatch(/"node-09".*sequencer/);
  });

  it("refuses it from the registry file's JSON too", () => {
    const json = registryConfigToJson(net.config);
    const twin = { ...json.nodes[0]!, id: "node-09" };
    expect(codeOf(() => createRegistry(registryConfigFromJson({ ...json, nodes: [...json.nodes, twin] })))).toBe("CONFIG");
  });
});
