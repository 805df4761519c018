import { describe, expect, it } from "vitest";
import { registryRoot } from "../../../src/cert/registry-root.ts";
import { verifyCertificate } from "../../../src/cert/verify.ts";
import { bundleCertificate, readyWithCertificates } from "../../../src/sequencer/certificates.ts";
import { toHex } from "../../../src/wire/hash.ts";
import type { AgreedBundle } from "../../../src/wire/types.ts";
import { runRequest, testNetwork, testRequest } from "../../helpers/fixtures.ts";

describe("certificates from the sequencer library", () => {
  const net = testNetwork(9, { schemes: () => "secp256k1" });
  const agreed = (input: string, output = "Paris") => runRequest(net, testRequest(net, { input }), () => ({ output })).collector.bundle as AgreedBundle;

  it("bundleCertificate: the ABI bytes a contract verifies against the registry root", () => {
    const bundle = agreed("one");
    const verified = verifyCertificate(bundleCertificate(bundle, net.registry), registryRoot(net.registry));
    expect(toHex(verified.outputHash)).toBe(toHex(bundle.outcome.outputHash));
  });

  it("readyWithCertificates: each ready bundle with its certificate, or the reason it has none", async () => {
    // semantic@2 agrees on near-identical texts, but no k supporters signed one text exactly.
    const semantic = testRequest(net, { policy: { id: "semantic", version: 2, params: {} }, input: "Which city is the capital of France?" });
    const differing = runRequest(net, semantic, (_node, i) => ({ output: i % 2 === 0 ? "The capital of France is Paris." : "The capital of France is Paris!" })).collector.bundle as AgreedBundle;
    const bundles = [agreed("a"), agreed("b", "Lyon")];
    let asked: unknown;
    const pool = {
      async ready(options: { max?: number }) {
        asked = options;
        return [...bundles, differing];
      },
    };
    const out = await readyWithCertificates(pool, net.registry, { max: 3 });
    expect(asked).toEqual({ max: 3 });
    expect(out.map((entry) => entry.bundle)).toHaveLength(3);
    for (const [i, bundle] of bundles.entries()) {
      const certificate = out[i]?.certificate;
      expect(certificate).toBeDefined();
      expect(toHex(verifyCertificate(certificate as Uint8Array, registryRoot(net.registry)).outputHash)).toBe(toHex(bundle.outcome.outputHash));
    }
    expect(out[2]).toMatchObject({ certificate: undefined, unsupported: expect.stringContaining("no certificate") });
  });
});
