/**
 * The plug-in example (examples/policies/majority-label.ts) through the real core: a request
 * naming label@1, votes through the Collector in both modes, the bundle through verifyBundle
 * (also after a wire round trip), plus order independence and the registry's error codes.
 */
import { describe, expect, it } from "vitest";
import { createLabelPolicyRegistry, labelPolicy, normalizeLabel } from "../../../examples/policies/majority-label.ts";
import type { PolicyDecision, Vote } from "../../../src/agreement/policy.ts";
import { openRequest } from "../../../src/quorum/rules.ts";
import { verifyBundle } from "../../../src/quorum/verify.ts";
import { outputHash, utf8 } from "../../../src/wire/hash.ts";
import { decodeMessage, encodeMessage } from "../../../src/wire/messages.ts";
import type { PolicyParams, PolicyRef } from "../../../src/wire/types.ts";
import { runRequest, testNetwork, testRequest } from "../../helpers/fixtures.ts";
import { codeOf } from "../../helpers/errors.ts";

const LABELS: PolicyRef = { id: "label", version: 1, params: { labels: ["positive", "negative", "neutral"] } };

// testNetwork builds its own registry (the default policies): the plug-in is registered on it.
const net = testNetwork(9);
net.policies.register(labelPolicy);


const vote = (node: string, output: string): Vote => ({ node, output, outputHash: outputHash(output) });

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

describe("label@1 normalization", () => {
  it("trims White_Space at both ends and lowercases; nothing else", () => {
    expect(normalizeLabel("  Positive\n")).toBe("positive");
    expect(normalizeLabel("\u00a0NEGATIVE\u3000")).toBe("negative");
    expect(normalizeLabel("very  positive")).toBe("very  positive"); // inner spaces stay
    expect(normalizeLabel("\ufeffpositive")).toBe("\ufeffpositive"); // U+FEFF is not White_Space
  });
});

describe("label@1 through the core", () => {
  it("commit-reveal: the Collector agrees on the declared label and verifyBundle accepts the bundle", () => {
    const request = testRequest(net, { policy: LABELS });
    // Committee order: five spellings of "positive", one "negative", one label not declared.
    const outputs = ["Positive", " positive\n", "POSITIVE", "negative", "positive", "Positive.", "positive"];
    const { context, collector } = runRequest(net, request, (_node, index) => ({ output: outputs[index] as string }));

    expect(collector.status).toBe("agreed");
    const bundle = collector.bundle!;
    const supporters = [0, 1, 2, 4, 6].map((i) => context.committee[i] as string).sort();
    expect(bundle.outcome).toEqual({ output: "positive", outputHash: outputHash("positive"), supporters });
    // The policy, its version and its parameters travel in the signed request, hence in the bundle.
    expect(bundle.request.policy).toEqual(LABELS);

    expect(verifyBundle(bundle, net.registry, net.policies).outcome).toEqual(bundle.outcome);
    const decoded = decodeMessage(encodeMessage(bundle), "bundle");
    expect(decoded.request.policy).toEqual(LABELS);
    expect(verifyBundle(decoded, net.registry, net.policies).outcome).toEqual(bundle.outcome);
  });

  it("direct mode agrees and verifies the same way", () => {
    const request = testRequest(net, { policy: LABELS, mode: "direct" });
    const { collector } = runRequest(net, request, () => ({ output: "Neutral" }));
    expect(collector.status).toBe("agreed");
    const bundle = collector.bundle!;
    expect(bundle.outcome.output).toBe("neutral");
    expect(verifyBundle(bundle, net.registry, net.policies).outcome).toEqual(bundle.outcome);
  });

  it("verifyBundle reruns the plug-in: a bundle claiming another label is POLICY_MISMATCH", () => {
    const request = testRequest(net, { policy: LABELS });
    const { collector } = runRequest(net, request, () => ({ output: "negative" }));
    const bundle = collector.bundle!;
    const forged = { ...bundle, outcome: { ...bundle.outcome, output: "positive", outputHash: outputHash("positive") } };
    expect(codeOf(() => verifyBundle(forged, net.registry, net.policies))).toBe("POLICY_MISMATCH");
  });

  it("a split committee ends in NoAgreement carrying the label clusters", () => {
    const request = testRequest(net, { policy: LABELS });
    const outputs = ["positive", "negative", "positive", "negative", "positive", "negative", "maybe"];
    const { context, collector } = runRequest(net, request, (_node, index) => ({ output: outputs[index] as string }));
    expect(collector.status).toBe("no-agreement");
    const result = collector.noAgreement!;
    expect(result.reason).toBe("exhausted");
    expect(result.clusters.map((cluster) => cluster.members.length)).toEqual([3, 3, 1]);
    const members = (label: string) => outputs.flatMap((output, i) => (output === label ? [context.committee[i] as string] : [])).sort();
    for (const label of ["positive", "negative", "maybe"]) {
      expect(result.clusters).toContainEqual({ outputHash: outputHash(label), members: members(label) });
    }
  });
});

describe("label@1 decisions do not depend on vote order", () => {
  const bound = net.policies.bind(LABELS);
  const context = { n: 6, k: 4, requestId: utf8("plugin-example/order") };
  const cases: [string, Vote[]][] = [
    ["agreed", [vote("a", "Positive"), vote("b", "positive "), vote("c", "negative"), vote("d", "POSITIVE"), vote("e", "positive"), vote("f", "??")]],
    ["not agreed", [vote("a", "positive"), vote("b", "negative"), vote("c", "neutral"), vote("d", "negative"), vote("e", "??"), vote("f", "!!")]],
  ];
  for (const [name, votes] of cases) {
    it(`${name}: every one of the 720 orders gives the same decision`, () => {
      const reference: PolicyDecision = bound.decide(votes, context);
      expect(reference.agreed).toBe(name === "agreed");
      for (const order of permutations(votes)) expect(bound.decide(order, context)).toEqual(reference);
    });
  }
});

describe("label@1 in the registry", () => {
  it("a registry without the plug-in refuses the request (POLICY_UNKNOWN), as does an unknown version", () => {
    const plain = testNetwork(9);
    expect(codeOf(() => openRequest(testRequest(plain, { policy: LABELS }), plain.registry, plain.policies))).toBe("POLICY_UNKNOWN");
    expect(codeOf(() => openRequest(testRequest(net, { policy: { ...LABELS, version: 2 } }), net.registry, net.policies))).toBe(
      "POLICY_UNKNOWN",
    );
  });

  it("a verifier that lacks the plug-in cannot verify its bundles (POLICY_UNKNOWN)", () => {
    const request = testRequest(net, { policy: LABELS });
    const { collector } = runRequest(net, request, () => ({ output: "positive" }));
    const plain = testNetwork(9);
    expect(codeOf(() => verifyBundle(collector.bundle!, plain.registry, plain.policies))).toBe("POLICY_UNKNOWN");
  });

  it("rejects malformed parameters with POLICY_PARAMS", () => {
    const bad: PolicyParams[] = [
      {},
      { labels: [] },
      { labels: "positive" },
      { labels: [1] },
      { labels: [""] },
      { labels: ["Positive"] },
      { labels: [" positive"] },
      { labels: ["positive", "positive"] },
      { labels: ["x".repeat(65)] },
      { labels: Array.from({ length: 65 }, (_, i) => `l${i}`) },
      { labels: ["positive"], threshold: 1 },
    ];
    for (const params of bad) {
      const request = testRequest(net, { policy: { id: "label", version: 1, params } });
      expect(codeOf(() => openRequest(request, net.registry, net.policies)), JSON.stringify(params)).toBe("POLICY_PARAMS");
    }
  });

  it("createLabelPolicyRegistry adds label@1 to the default policies", () => {
    const keys = createLabelPolicyRegistry()
      .list()
      .map((policy) => `${policy.id}@${policy.version}`);
    expect(keys).toEqual(["exact@1", "seeded@1", "semantic@1", "semantic@2", "structured@1", "structured@2", "first-wins@1", "label@1"]);
    expect(() => createLabelPolicyRegistry().register(labelPolicy)).toThrow(/registered twice/);
  });
});
