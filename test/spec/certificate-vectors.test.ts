/**
 * spec/vectors/certificates.json in both directions, as test/spec/vectors.test.ts does for the
 * other files: regenerated in memory by scripts/gen-cert-vectors.ts it must equal the committed
 * file byte for byte, and every committed case, read only from the file, is run through
 * certificateOf / verifyCertificate. test/unit/cert/evm.test.ts runs the verify cases through the
 * Solidity library.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { certificateOf } from "../../src/cert/derive.ts";
import { encodeCertificate } from "../../src/cert/abi.ts";
import { registryRoot } from "../../src/cert/registry-root.ts";
import { verifyCertificate } from "../../src/cert/verify.ts";
import { createDefaultPolicyRegistry } from "../../src/agreement/registry.ts";
import { isConcordError } from "../../src/errors.ts";
import { createRegistry, registryConfigFromJson } from "../../src/quorum/registry.ts";
import { verifyBundle } from "../../src/quorum/verify.ts";
import { fromHex, toHex } from "../../src/wire/hash.ts";
import { decodeMessage } from "../../src/wire/messages.ts";
import { CERTIFICATE_VECTOR_FILE, certificateVectors } from "../../scripts/gen-cert-vectors.ts";
import { renderVectorFile, toVectorJson, type VectorCase, type VectorFile } from "../../scripts/gen-vectors.ts";

const read = (): string => readFileSync(new URL(`../../spec/vectors/${CERTIFICATE_VECTOR_FILE}`, import.meta.url), "utf8");
const TIMEOUT = 60_000;

function run(fn: () => unknown): { expected: unknown } | { expectedError: string } {
  try {
    return { expected: fn() };
  } catch (error) {
    if (isConcordError(error)) return { expectedError: error.code };
    throw error;
  }
}

const outcomeOf = (c: VectorCase) => (c.expectedError !== undefined ? { expectedError: c.expectedError } : { expected: c.expected });

describe("spec/vectors/certificates.json is exactly what the generator writes", () => {
  it("has no byte changed", () => {
    const committed = read();
    const fresh = renderVectorFile(certificateVectors());
    if (committed !== fresh) {
      const at = [...committed].findIndex((ch, i) => ch !== fresh[i]);
      throw new Error(`${CERTIFICATE_VECTOR_FILE} differs from the generator at character ${at}: run \`npm run vectors\` and review the diff`);
    }
  }, TIMEOUT);
});

describe("certificates.json, run independently through the public functions", () => {
  const file = JSON.parse(read()) as VectorFile;
  const policies = createDefaultPolicyRegistry();

  it("every case has a unique name and exactly one of expected / expectedError", () => {
    const names = new Set<string>();
    for (const c of file.cases) {
      expect(Object.keys(c).sort()).toEqual(c.expectedError !== undefined ? ["expectedError", "input", "name"] : ["expected", "input", "name"]);
      expect(names.has(c.name), c.name).toBe(false);
      names.add(c.name);
    }
  });

  it("derive: a verified bundle gives exactly the committed certificate and registry root", () => {
    const cases = file.cases.filter((c) => (c.input as { op: string }).op === "derive");
    expect(cases.length).toBeGreaterThanOrEqual(10);
    for (const c of cases) {
      const input = c.input as { registry: unknown; bundle: string };
      const registry = createRegistry(registryConfigFromJson(input.registry));
      const bundle = decodeMessage(fromHex(input.bundle), "bundle");
      verifyBundle(bundle, registry, policies);
      const result = run(() => ({ certificate: toHex(encodeCertificate(certificateOf(bundle, registry))), registryRoot: toHex(registryRoot(registry)) }));
      expect(result, c.name).toEqual(outcomeOf(c));
    }
  }, TIMEOUT);

  it("verify: every valid certificate verifies, each invalid one raises its code", () => {
    const cases = file.cases.filter((c) => (c.input as { op: string }).op === "verify");
    const codes = new Set<string>();
    for (const c of cases) {
      const input = c.input as { certificate: string; registryRoot: string };
      const result = run(() => toVectorJson(verifyCertificate(fromHex(input.certificate), fromHex(input.registryRoot))));
      expect(result, c.name).toEqual(outcomeOf(c));
      if (c.expectedError) codes.add(c.expectedError);
    }
    expect(cases.filter((c) => c.expected !== undefined).length).toBeGreaterThanOrEqual(10);
    expect(codes).toEqual(new Set(["CERT_INVALID", "REGISTRY_MISMATCH", "REQUEST_INVALID", "POLICY_MISMATCH", "DUPLICATE", "NOT_IN_COMMITTEE", "SIG_INVALID"]));
  }, TIMEOUT);
});
