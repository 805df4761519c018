import { describe, expect, it } from "vitest";
import { createRegistry } from "../../../src/quorum/registry.ts";
import { openRequest } from "../../../src/quorum/rules.ts";
import { verifyBundle } from "../../../src/quorum/verify.ts";
import { toHex } from "../../../src/wire/hash.ts";
import { decodeMessage, encodeMessage } from "../../../src/wire/messages.ts";
import type { AgreedBundle } from "../../../src/wire/types.ts";
import { testKey } from "../../helpers/fixtures.ts";
import { bundleCases, sampleNetwork } from "../../spec/samples.ts";
import { codeOf } from "../../helpers/errors.ts";

const net = sampleNetwork();
const cases = bundleCases(net);
const nobleRegistry = createRegistry(net.config, { ed25519Path: "noble" });


const get = (name: string): AgreedBundle => {
  const found = cases.find((c) => c.name === name);
  if (!found) throw new Error(`no case ${name}`);
  return found.bundle;
};

describe("verifyBundle: valid bundles", () => {
  it("accepts a commit-reveal bundle with both signing schemes and returns its outcome", () => {
    const bundle = get("valid-commit-reveal");
    const schemes = new Set(bundle.reveals.map((r) => net.registry.byId.get(r.node)?.scheme));
    expect(schemes).toEqual(new Set(["ed25519", "secp256k1"]));
    const verified = verifyBundle(bundle, net.registry, net.policies);
    expect(verified.outcome).toEqual(bundle.outcome);
    expect(verified.outcome.supporters).toHaveLength(bundle.request.k);
    expect(toHex(verified.context.id)).toBe(toHex((bundle.close?.request) ?? new Uint8Array()));
  });

  it("accepts a direct bundle with evidence, and one where a minority answered differently", () => {
    expect(verifyBundle(get("valid-direct-evidence"), net.registry, net.policies).outcome.output).toBe("Paris");
    const mixed = get("valid-commit-reveal-minority-ignored");
    expect(mixed.reveals.some((r) => r.output === "Lyon")).toBe(true);
    expect(verifyBundle(mixed, net.registry, net.policies).outcome.supporters).not.toContain(mixed.reveals.find((r) => r.output === "Lyon")?.node);
  });

  it("accepts bundles after a round trip through the wire", () => {
    for (const name of ["valid-commit-reveal", "valid-direct-evidence"]) {
      const decoded = decodeMessage(encodeMessage(get(name)), "bundle");
      expect(codeOf(() => verifyBundle(decoded, net.registry, net.policies))).toBe("ok");
    }
  });
});

describe("verifyBundle with the caller's context for the request (knownContext)", () => {
  const contextOf = (bundle: AgreedBundle) =>
    openRequest(bundle.request, net.registry, net.policies, { checkSignature: bundle.request.mode === "direct" });
  const known = { "commit-reveal": contextOf(get("valid-commit-reveal")), direct: contextOf(get("valid-direct-evidence")) };

  it("reuses it for that very request, and verifies the same", () => {
    for (const name of ["valid-commit-reveal", "valid-direct-evidence"]) {
      const bundle = decodeMessage(encodeMessage(get(name)), "bundle");
      const knownContext = known[bundle.request.mode];
      expect(verifyBundle(bundle, net.registry, net.policies, { knownContext }).context).toBe(knownContext);
    }
  });

  // A request that differs in any field has another id, and a direct request with other
  // signature bytes is opened (and its signature checked) again.
  for (const { name, bundle, code } of cases.filter((c) => c.code !== undefined)) {
    it(`gives every invalid bundle the same code: ${name} -> ${code}`, () => {
      expect(codeOf(() => verifyBundle(bundle, net.registry, net.policies, { knownContext: known[bundle.request.mode] }))).toBe(code);
    });
  }
});

describe("verifyBundle: each way of being invalid has its code", () => {
  for (const { name, bundle, code } of cases.filter((c) => c.code !== undefined)) {
    it(`${name} -> ${code}`, () => {
      expect(codeOf(() => verifyBundle(bundle, net.registry, net.policies))).toBe(code);
      // The pure noble ed25519 path answers the same.
      expect(codeOf(() => verifyBundle(bundle, nobleRegistry, net.policies))).toBe(code);
    });
  }

  it("covers the ways the brief names", () => {
    const names = new Set(cases.map((c) => c.name));
    for (const required of [
      "tampered-output", "wrong-supporters", "reveal-not-in-close", "wrong-salt", "forged-commitment-sig", "forged-close-sig",
      "close-lists-non-member", "wrong-chain", "unknown-policy", "threshold-k-at-most-half", "duplicate-vote", "direct-forged-output-sig",
    ]) expect(names.has(required), required).toBe(true);
  });

  it("rejects a valid bundle under a registry with another sequencer (SIG_INVALID)", () => {
    const other = createRegistry({ ...net.config, sequencer: { scheme: "ed25519", publicKey: testKey("other-sequencer").publicKey } });
    expect(codeOf(() => verifyBundle(get("valid-commit-reveal"), other, net.policies))).toBe("SIG_INVALID");
    expect(codeOf(() => verifyBundle(get("valid-direct-evidence"), other, net.policies))).toBe("SIG_INVALID");
  });

  it("rejects a valid bundle under a registry on another chain (CHAIN_MISMATCH)", () => {
    const other = createRegistry({ ...net.config, chain: "other-chain" });
    expect(codeOf(() => verifyBundle(get("valid-commit-reveal"), other, net.policies))).toBe("CHAIN_MISMATCH");
  });

  it("rejects a reveal whose node's registry key changed (SIG_INVALID)", () => {
    const node = get("valid-commit-reveal").reveals[0]?.node;
    const rotated = createRegistry({
      ...net.config,
      nodes: net.config.nodes.map((n) => (n.id === node ? { ...n, scheme: "ed25519", publicKey: testKey("rotated").publicKey } : n)),
    });
    expect(codeOf(() => verifyBundle(get("valid-commit-reveal"), rotated, net.policies))).toBe("SIG_INVALID");
  });
});
