/**
 * The committed vectors (spec/vectors/*.json) in both directions:
 *   1. regenerated in memory by scripts/gen-vectors.ts, they must equal the committed files byte
 *      for byte (a protocol change shows up as a vector diff, and stale files fail CI);
 *   2. every committed case, read only from the files, is run through the public functions and
 *      must give its expected result: the same runner another implementation would write.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createDefaultPolicyRegistry } from "../../src/agreement/registry.ts";
import { keyPairFromSeed, publicKey, signingPreimage, signingRoot, signRoot } from "../../src/crypto/schemes.ts";
import { isConcordError } from "../../src/errors.ts";
import { drawCommittee, requestSubnet } from "../../src/quorum/committee.ts";
import { createRegistry, registryConfigFromJson } from "../../src/quorum/registry.ts";
import { verifyBundle } from "../../src/quorum/verify.ts";
import { fromHex, toHex } from "../../src/wire/hash.ts";
import { encodeEnvelope, envelopeItems, isEnvelope } from "../../src/wire/envelope.ts";
import { decodeMessage, encodeMessage, MESSAGE_KINDS } from "../../src/wire/messages.ts";
import type { MessageKind, SchemeName } from "../../src/wire/types.ts";
import { buildVectors, renderVectorFile, toVectorJson, type VectorCase, type VectorFile } from "../../scripts/gen-vectors.ts";
import { testKey } from "../helpers/fixtures.ts";

const FILES = ["encoding.json", "signing.json", "committee.json", "bundles.json", "registry.json", "policies.json", "sampler.json", "batches.json"];
const read = (name: string): string => readFileSync(new URL(`../../spec/vectors/${name}`, import.meta.url), "utf8");
const load = (name: string): VectorFile => JSON.parse(read(name)) as VectorFile;
const policies = createDefaultPolicyRegistry();

/** The outcome of running a case: its result, or the code it threw. */
function run(fn: () => unknown): { expected: unknown } | { expectedError: string } {
  try {
    return { expected: fn() };
  } catch (error) {
    if (isConcordError(error)) return { expectedError: error.code };
    throw error;
  }
}

/** Generous: these run every committed case, and CI machines are shared. */
const TIMEOUT = 60_000;

const keys = new Map<string, Uint8Array>();
function keyFor(label: string): Uint8Array {
  let key = keys.get(label);
  if (!key) {
    key = testKey(label).publicKey;
    keys.set(label, key);
  }
  return key;
}

const outcomeOf = (c: VectorCase) => (c.expectedError !== undefined ? { expectedError: c.expectedError } : { expected: c.expected });

describe("spec/vectors are exactly what the generator writes", () => {
  const generated = buildVectors();

  it("generates these files, and nothing else", () => {
    expect([...generated.keys()]).toEqual(FILES);
  });

  for (const name of FILES) {
    it(`${name} has no byte changed`, () => {
      const file = generated.get(name);
      if (!file) throw new Error(`not generated: ${name}`);
      const committed = read(name);
      const fresh = renderVectorFile(file);
      if (committed !== fresh) {
        const at = [...committed].findIndex((ch, i) => ch !== fresh[i]);
        throw new Error(`${name} differs from the generator at character ${at}: run \`npm run vectors\` and review the diff`);
      }
    });
  }

  it("every case has a name, an input and exactly one of expected / expectedError (and may have a note); names are unique", () => {
    for (const name of FILES) {
      const file = load(name);
      expect(file.description.length).toBeGreaterThan(40);
      expect(file.cases.length).toBeGreaterThan(10);
      const names = new Set<string>();
      for (const c of file.cases) {
        const keys = [c.expectedError !== undefined ? "expectedError" : "expected", "input", "name", ...(c.note !== undefined ? ["note"] : [])];
        expect(Object.keys(c).sort()).toEqual(keys);
        expect(names.has(c.name), c.name).toBe(false);
        names.add(c.name);
      }
    }
  });
});

describe("committed vectors, run independently through the public functions", () => {
  it("encoding.json: canonical bytes decode to the message, and invalid bytes raise their code", () => {
    const file = load("encoding.json");
    const kinds = new Set<string>();
    for (const c of file.cases) {
      const input = c.input as { op?: "envelope"; kind: MessageKind | null; message?: unknown; hex?: string; size?: number };
      // Envelopes: the next test.
      if (input.op === "envelope") continue;
      if (c.expectedError !== undefined) {
        // `size`: the hex, then zero bytes up to that many bytes in all (a 4 MiB input in a few characters).
        const bytes = new Uint8Array(Math.max(input.size ?? 0, (input.hex ?? "").length / 2));
        bytes.set(fromHex(input.hex ?? ""));
        const result = run(() => (input.kind ? decodeMessage(bytes, input.kind) : decodeMessage(bytes)));
        expect(result, c.name).toEqual({ expectedError: c.expectedError });
        continue;
      }
      const kind = input.kind as MessageKind;
      kinds.add(kind);
      const bytes = fromHex((c.expected as { hex: string }).hex);
      const decoded = decodeMessage(bytes, kind);
      expect(toVectorJson(decoded), c.name).toEqual(input.message);
      expect(toHex(encodeMessage(decoded)), c.name).toBe(toHex(bytes));
    }
    expect(kinds).toEqual(new Set(MESSAGE_KINDS));
  }, TIMEOUT);

  it("encoding.json, op envelope: an envelope reads to its items in order, or raises its code; a valid one is written back byte for byte", () => {
    const file = load("encoding.json");
    const cases = file.cases.filter((c) => (c.input as { op?: string }).op === "envelope");
    const codes = new Set<string>();
    for (const c of cases) {
      const input = c.input as { op: "envelope"; hex: string; size?: number };
      const bytes = new Uint8Array(Math.max(input.size ?? 0, input.hex.length / 2));
      bytes.set(fromHex(input.hex));
      const result = run(() => ({ items: envelopeItems(bytes).map(toHex) }));
      expect(result, c.name).toEqual(outcomeOf(c));
      if (c.expectedError !== undefined) {
        codes.add(c.expectedError);
        continue;
      }
      // The other direction: the items encode to exactly the input (the envelope's one spelling).
      expect(isEnvelope(bytes), c.name).toBe(true);
      expect(toHex(encodeEnvelope((c.expected as { items: string[] }).items.map(fromHex))), c.name).toBe(input.hex);
    }
    expect(cases.filter((c) => c.expected !== undefined).length).toBeGreaterThanOrEqual(5);
    expect(cases.filter((c) => c.expectedError !== undefined).length).toBeGreaterThanOrEqual(10);
    expect(codes).toEqual(new Set(["WIRE_DECODE", "WIRE_OVERSIZED"]));
  }, TIMEOUT);

  it("signing.json: roots, keys, signatures and verification", () => {
    const file = load("signing.json");
    const ops = new Set<string>();
    for (const c of file.cases) {
      const input = c.input as Record<string, string> & { op: string; scheme: SchemeName };
      ops.add(input.op);
      const result = run(() => {
        switch (input.op) {
          case "root": {
            const body = fromHex(input.body as string);
            const kind = input.kind as MessageKind;
            return { preimage: toHex(signingPreimage(kind, input.chain as string, body)), root: toHex(signingRoot(input.scheme, kind, input.chain as string, body)) };
          }
          case "key":
            return { publicKey: toHex(keyPairFromSeed(input.scheme, fromHex(input.seed as string)).publicKey) };
          case "sign":
            return { signature: toHex(signRoot(keyPairFromSeed(input.scheme, fromHex(input.seed as string)), fromHex(input.root as string))) };
          case "verify": {
            const [key, root, signature] = [fromHex(input.publicKey as string), fromHex(input.root as string), fromHex(input.signature as string)];
            const valid = publicKey(input.scheme, key).verify(root, signature);
            if (input.scheme === "ed25519") expect(publicKey(input.scheme, key, { ed25519Path: "noble" }).verify(root, signature), c.name).toBe(valid);
            return { valid };
          }
          default:
            throw new Error(`unknown op ${input.op}`);
        }
      });
      expect(result, c.name).toEqual(outcomeOf(c));
      // Labelled keys are reproducible from the label alone (README: deterministic keys).
      if (input.op === "key" && typeof input.label === "string") expect(toHex(testKey(input.label, input.scheme).secretKey)).toBe(input.seed);
    }
    expect(ops).toEqual(new Set(["root", "key", "sign", "verify"]));
  }, TIMEOUT);

  it("committee.json: draws from ids and weights alone", () => {
    const file = load("committee.json");
    for (const c of file.cases) {
      const input = c.input as { nodes: { id: string; weight: number }[]; subnets?: number; request: string; n: number };
      // Keys play no part in the draw: any valid key will do.
      const registry = createRegistry({
        chain: "vectors",
        sequencer: { scheme: "ed25519", publicKey: keyFor("sequencer") },
        nodes: input.nodes.map((node) => ({ ...node, scheme: "ed25519", publicKey: keyFor(node.id) })),
        ...(input.subnets !== undefined ? { subnets: input.subnets } : {}),
      });
      const request = fromHex(input.request);
      const result = run(() => {
        const committee = drawCommittee(registry, request, input.n);
        if (input.subnets === undefined) return { committee };
        const subnetMembers = registry.subnetMembers.map((subnet) => subnet.map((member) => member.id));
        return { subnet: requestSubnet(request, input.subnets), subnetMembers, committee };
      });
      expect(result, c.name).toEqual(outcomeOf(c));
    }
  }, TIMEOUT);

  it("registry.json: a registry file's JSON, loaded (CONFIG when refused)", () => {
    const file = load("registry.json");
    for (const c of file.cases) {
      const result = run(() => {
        const registry = createRegistry(registryConfigFromJson(c.input));
        const members = registry.members.map((member) => member.id);
        if ((c.input as { subnets?: unknown }).subnets === undefined) return { members };
        return { members, subnetMembers: registry.subnetMembers.map((subnet) => subnet.map((member) => member.id)) };
      });
      expect(result, c.name).toEqual(outcomeOf(c));
    }
    expect(file.cases.filter((c) => c.expectedError === "CONFIG").length).toBeGreaterThanOrEqual(15);
  }, TIMEOUT);

  it("bundles.json: decode, then verifyBundle against the registry, on both ed25519 paths", () => {
    const file = load("bundles.json");
    let valid = 0;
    for (const c of file.cases) {
      const input = c.input as { registry: unknown; bundle: string };
      const config = registryConfigFromJson(input.registry);
      for (const path of ["node", "noble"] as const) {
        // The registry is loaded first: one refused at load is CONFIG.
        const result = run(() => {
          const registry = createRegistry(config, { ed25519Path: path });
          return toVectorJson(verifyBundle(decodeMessage(fromHex(input.bundle), "bundle"), registry, policies).outcome);
        });
        expect(result, `${c.name} (${path})`).toEqual(outcomeOf(c));
      }
      if (c.expected !== undefined) valid++;
    }
    expect(valid).toBeGreaterThanOrEqual(3);
    expect(file.cases.length - valid).toBeGreaterThanOrEqual(30);
  }, TIMEOUT);
});
