/** Deterministic keys, registries and requests for tests: every byte derives from a label. */
import { createDefaultPolicyRegistry } from "../../src/agreement/registry.ts";
import type { PolicyRegistry } from "../../src/agreement/policy.ts";
import { keyPairFromSeed, type KeyPair } from "../../src/crypto/schemes.ts";
import { commitOutput, signClose, signOutput, signRequest } from "../../src/quorum/attest.ts";
import { Collector } from "../../src/quorum/collector.ts";
import { createRegistry, type Registry, type RegistryConfig } from "../../src/quorum/registry.ts";
import { openRequest, type RequestContext } from "../../src/quorum/rules.ts";
import { taggedHash } from "../../src/wire/hash.ts";
import type { Evidence, InferenceRequest, InferenceRequestBody, OutputReveal, SchemeName } from "../../src/wire/types.ts";

export const CHAIN = "concord-test";

export function testKey(label: string, scheme: SchemeName = "ed25519"): KeyPair {
  for (let i = 0; ; i++) {
    try {
      return keyPairFromSeed(scheme, taggedHash("test-key", label, String(i)));
    } catch {
      // secp256k1: a hash above the group order is not a scalar; try the next one.
    }
  }
}

export interface TestNetwork {
  sequencer: KeyPair;
  keys: Map<string, KeyPair>;
  config: RegistryConfig;
  registry: Registry;
  policies: PolicyRegistry;
}

/** A registry of `size` nodes "node-00".."node-NN"; `schemes` picks each node's scheme. */
export function testNetwork(size = 7, options: { schemes?: (i: number) => SchemeName; weights?: (i: number) => number } = {}): TestNetwork {
  const sequencer = testKey("sequencer");
  const keys = new Map<string, KeyPair>();
  const nodes = [];
  for (let i = 0; i < size; i++) {
    const id = `node-${String(i).padStart(2, "0")}`;
    const key = testKey(id, options.schemes?.(i) ?? "ed25519");
    keys.set(id, key);
    nodes.push({ id, scheme: key.scheme, publicKey: key.publicKey, weight: options.weights?.(i) ?? 1 });
  }
  const config: RegistryConfig = { chain: CHAIN, sequencer: { scheme: sequencer.scheme, publicKey: sequencer.publicKey }, nodes };
  return { sequencer, keys, config, registry: createRegistry(config), policies: createDefaultPolicyRegistry() };
}

export function requestBody(overrides: Partial<Omit<InferenceRequestBody, "t" | "v">> = {}): Omit<InferenceRequestBody, "t" | "v"> {
  return {
    chain: CHAIN,
    entropy: taggedHash("entropy", "block-1"),
    model: "synthetic-v1",
    input: "What is the capital of France?",
    sampling: { temperatureMilli: 0, topK: 0, topPPpm: 1_000_000, maxTokens: 32 },
    policy: { id: "exact", version: 1, params: {} },
    mode: "commit-reveal",
    n: 7,
    k: 5,
    deadline: 10_000,
    ...overrides,
  };
}

export function testRequest(net: TestNetwork, overrides: Partial<Omit<InferenceRequestBody, "t" | "v">> = {}): InferenceRequest {
  return signRequest(net.sequencer, requestBody(overrides));
}

export function salt(label: string): Uint8Array {
  return taggedHash("test-salt", label);
}

/**
 * Runs a request to its end through a collector: every committee member in `outputs` commits
 * (or signs, in direct mode), the sequencer closes, members reveal in committee order.
 */
export function runRequest(
  net: TestNetwork,
  request: InferenceRequest,
  outputFor: (node: string, index: number) => { output: string; evidence?: Evidence } | undefined,
): { context: RequestContext; collector: Collector; reveals: OutputReveal[] } {
  const context = openRequest(request, net.registry, net.policies);
  const collector = new Collector(context, { keys: net.registry });
  const reveals: OutputReveal[] = [];
  const commitments = [];
  for (const [index, node] of context.committee.entries()) {
    const answer = outputFor(node, index);
    if (!answer) continue;
    const key = net.keys.get(node) as KeyPair;
    const attestation = { chain: request.chain, request: context.id, node, ...answer };
    if (request.mode === "direct") {
      if (!collector.decided) collector.addOutput(signOutput(key, attestation), 1);
      continue;
    }
    const { commitment, reveal } = commitOutput(key, attestation, salt(node));
    collector.addCommitment(commitment, 1);
    commitments.push(commitment);
    reveals.push(reveal);
  }
  if (request.mode === "commit-reveal" && commitments.length >= request.k) {
    collector.addClose(signClose(net.sequencer, request.chain, context.id, commitments), 2);
    for (const reveal of reveals) if (!collector.decided) collector.addReveal(reveal, 3);
  }
  return { context, collector, reveals };
}
