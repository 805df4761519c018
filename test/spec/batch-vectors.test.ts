/**
 * spec/vectors/batches.json, read only from the file and run through the public functions, as
 * another implementation's runner would (test/spec/vectors.test.ts checks the file is exactly
 * what the generator writes).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createDefaultPolicyRegistry } from "../../src/agreement/registry.ts";
import { batchLevels, batchPath, batchSigningPreimage, batchSigningRoot, signBatch, verifySignature } from "../../src/crypto/batch.ts";
import { keyPairFromSeed, publicKey } from "../../src/crypto/schemes.ts";
import { isConcordError } from "../../src/errors.ts";
import { verifyEquivocation } from "../../src/quorum/equivocation.ts";
import { createRegistry, registryConfigFromJson } from "../../src/quorum/registry.ts";
import { verifyBundle } from "../../src/quorum/verify.ts";
import { fromHex, toHex } from "../../src/wire/hash.ts";
import { decodeMessage } from "../../src/wire/messages.ts";
import type { MessageKind, SchemeName } from "../../src/wire/types.ts";

interface Case {
  name: string;
  input: Record<string, unknown>;
  expected?: Record<string, unknown>;
  expectedError?: string;
}

const file = JSON.parse(readFileSync(new URL("../../spec/vectors/batches.json", import.meta.url), "utf8")) as { cases: Case[] };
const policies = createDefaultPolicyRegistry();
const hexes = (value: unknown) => (value as string[]).map(fromHex);

function run(c: Case): Record<string, unknown> {
  const input = c.input;
  switch (input["op"]) {
    case "tree": {
      const levels = batchLevels(hexes(input["leaves"]));
      const leaves = levels[0] as Uint8Array[];
      return { root: toHex((levels[levels.length - 1] as Uint8Array[])[0] as Uint8Array), paths: leaves.map((_, i) => batchPath(levels, i).map(toHex)) };
    }
    case "sign": {
      const scheme = input["scheme"] as SchemeName;
      const leaves = hexes(input["leaves"]);
      const levels = batchLevels(leaves);
      const root = (levels[levels.length - 1] as Uint8Array[])[0] as Uint8Array;
      const chain = input["chain"] as string;
      const signatures = signBatch(keyPairFromSeed(scheme, fromHex(input["seed"] as string)), chain, leaves);
      return { preimage: toHex(batchSigningPreimage(chain, root, leaves.length)), signedRoot: toHex(batchSigningRoot(scheme, chain, root, leaves.length)), signatures: signatures.map(toHex) };
    }
    case "verify": {
      const key = publicKey(input["scheme"] as SchemeName, fromHex(input["publicKey"] as string));
      return { valid: verifySignature(key, input["chain"] as string, fromHex(input["signingRoot"] as string), fromHex(input["signature"] as string)) };
    }
    case "decode":
      decodeMessage(fromHex(input["hex"] as string), input["kind"] as MessageKind);
      return { valid: true };
    case "bundle": {
      const registry = createRegistry(registryConfigFromJson(input["registry"]));
      const { outcome } = verifyBundle(decodeMessage(fromHex(input["bundle"] as string), "bundle"), registry, policies);
      return { output: outcome.output, outputHash: toHex(outcome.outputHash), supporters: outcome.supporters };
    }
    case "equivocation": {
      const registry = createRegistry(registryConfigFromJson(input["registry"]));
      return { node: verifyEquivocation(decodeMessage(fromHex(input["evidence"] as string), "equivocation"), registry) };
    }
    default:
      throw new Error(`unknown op ${String(input["op"])}`);
  }
}

describe("spec/vectors/batches.json", () => {
  it("covers trees of 1, 2, 3, 5 and 64 leaves and every op", () => {
    expect(file.cases.filter((c) => c.input["op"] === "tree").map((c) => (c.input["leaves"] as unknown[]).length)).toEqual([1, 2, 3, 5, 64]);
    expect(new Set(file.cases.map((c) => c.input["op"]))).toEqual(new Set(["tree", "sign", "verify", "decode", "bundle", "equivocation"]));
  });

  for (const c of file.cases) {
    it(c.name, () => {
      try {
        const result = run(c);
        expect(c.expectedError).toBeUndefined();
        expect(result).toEqual(c.expected);
      } catch (error) {
        if (!isConcordError(error)) throw error;
        expect(error.code).toBe(c.expectedError);
      }
    });
  }
});
