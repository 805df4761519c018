/**
 * spec/vectors/policies.json: every agreement policy's known answers (scripts/vectors/policy-cases.ts)
 * run through the default policy registry. Each expectation written in the cases is checked here
 * against the reference code before the file is written, including order independence and the
 * cluster order, so the generator never writes a surprise.
 */
import { createDefaultPolicyRegistry } from "../../src/agreement/registry.ts";
import type { PolicyDecision, Vote } from "../../src/agreement/policy.ts";
import { isConcordError, type ErrorCode } from "../../src/errors.ts";
import { outputHash, taggedHash, toHex } from "../../src/wire/hash.ts";
import type { Bytes } from "../../src/wire/types.ts";
import type { NotedCase, NotedFile } from "./format.ts";
import { policyCases, type Binding, type CaseVote, type PolicyCase } from "./policy-cases.ts";

/** The options PolicyRegistry.bind gets for each binding a case may name. */
const BIND_OPTIONS: Record<Binding, { allowBaseline?: boolean; allowRetired?: boolean }> = {
  request: {},
  "verify-only": { allowRetired: true },
  baseline: { allowBaseline: true },
};

/** The request id a policy case decides under: H("vector-request", "policies", name). No built-in policy reads it. */
function policyRequestId(name: string): Bytes {
  return taggedHash("vector-request", "policies", name);
}

function votesOf(caseVotes: readonly CaseVote[]): Vote[] {
  return caseVotes.map((v) => ({ node: v.node, output: v.output, outputHash: outputHash(v.output), ...(v.evidence ? { evidence: v.evidence } : {}) }));
}

/** A decision as the vector writes it: hashes as hex. */
function decisionJson(decision: PolicyDecision): unknown {
  return decision.agreed
    ? { agreed: true, output: decision.output, outputHash: toHex(decision.outputHash), supporters: decision.supporters }
    : { agreed: false, clusters: decision.clusters.map((c) => ({ outputHash: toHex(c.outputHash), members: c.members })) };
}

function fail(name: string, what: string): never {
  throw new Error(`gen-vectors: policies.json ${name}: ${what}`);
}

/** Binds and decides one case: its decision as vector JSON, or the code binding raised. */
function runCase(c: PolicyCase, order: (votes: Vote[]) => Vote[] = (v) => v): { expected: unknown } | { expectedError: ErrorCode } {
  const registry = createDefaultPolicyRegistry();
  let bound;
  try {
    bound = registry.bind(c.policy, BIND_OPTIONS[c.bind ?? "request"]);
  } catch (error) {
    if (isConcordError(error)) return { expectedError: error.code };
    throw error;
  }
  const decision = bound.decide(order(votesOf(c.votes)), { ...c.context, requestId: policyRequestId(c.name) });
  return { expected: decisionJson(decision) };
}

function checkCase(c: PolicyCase, result: { expected: unknown } | { expectedError: ErrorCode }): void {
  if (c.expectedError !== undefined || "expectedError" in result) {
    const got = "expectedError" in result ? result.expectedError : "a decision";
    if (got !== c.expectedError) fail(c.name, `expected ${c.expectedError ?? "a decision"}, got ${got}`);
    return;
  }
  const decision = result.expected as { agreed: boolean; output?: string; supporters?: string[]; clusters?: { outputHash: string; members: string[] }[] };
  const want = c.expected;
  if (!want) fail(c.name, "neither expected nor expectedError");
  if (want.agreed) {
    if (!decision.agreed || decision.output !== want.output || JSON.stringify(decision.supporters) !== JSON.stringify(want.supporters)) {
      fail(c.name, `expected ${JSON.stringify(want)}, got ${JSON.stringify(decision)}`);
    }
    if (c.policy.id !== "first-wins" && (decision.supporters ?? []).length < c.context.k) fail(c.name, "fewer than k supporters");
    return;
  }
  const members = (decision.clusters ?? []).map((cluster) => cluster.members);
  if (decision.agreed || JSON.stringify(members) !== JSON.stringify(want.clusters)) {
    fail(c.name, `expected clusters ${JSON.stringify(want.clusters)}, got ${JSON.stringify(decision)}`);
  }
  // Rule 4, checked apart from the policy's own sort: larger first, then the lower hash.
  const clusters = decision.clusters ?? [];
  for (let i = 1; i < clusters.length; i++) {
    const [a, b] = [clusters[i - 1], clusters[i]];
    if (a && b && (a.members.length < b.members.length || (a.members.length === b.members.length && a.outputHash > b.outputHash))) {
      fail(c.name, "clusters out of order");
    }
  }
  const voters = c.votes.map((v) => v.node).sort();
  if (JSON.stringify(members.flat().sort()) !== JSON.stringify(voters)) fail(c.name, "a voter is not in exactly one cluster");
}

/** Orders the runner also tries: the decision must not change (first-wins excepted). */
const ORDERS: ((votes: Vote[]) => Vote[])[] = [(v) => [...v].reverse(), (v) => [...v.slice(1), ...v.slice(0, 1)], (v) => [...v].sort((a, b) => (a.output < b.output ? -1 : 1))];

export function policyVectors(): NotedFile {
  const names = new Set<string>();
  const cases = policyCases.map((c): NotedCase => {
    if (names.has(c.name) || !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(c.name)) fail(c.name, "names are unique kebab-case");
    names.add(c.name);
    const result = runCase(c);
    checkCase(c, result);
    if (c.policy.id !== "first-wins" && "expected" in result) {
      for (const order of ORDERS) {
        if (JSON.stringify(runCase(c, order)) !== JSON.stringify(result)) fail(c.name, "the decision depends on the vote order");
      }
    }
    const input = {
      policy: c.policy,
      bind: c.bind ?? "request",
      n: c.context.n,
      k: c.context.k,
      requestId: toHex(policyRequestId(c.name)),
      votes: c.votes,
    };
    return { name: c.name, note: c.note, input, ...result };
  });
  return {
    description:
      "Agreement policy decisions (spec/09-policies.md; src/agreement, createDefaultPolicyRegistry). Bind input.policy as input.bind says " +
      "(request: PolicyRegistry.bind(ref); verify-only: with allowRetired; baseline: with allowBaseline): a failure is expectedError. " +
      "Then decide(input.votes, {n, k, requestId}), each vote's outputHash being outputHash(output) = H('concord/output', utf8(output)). " +
      "expected is the decision: {agreed: true, output, outputHash, supporters} or {agreed: false, clusters: [{outputHash, members}]}. " +
      "Every policy but first-wins@1 must give the same decision for every order of the votes.",
    cases,
  };
}
