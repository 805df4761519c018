/**
 * Five `concord node` processes and a sequencer (pool, SQLite outcome store, its own libp2p
 * node) in this process, over TCP on 127.0.0.1, reach agreement under every policy the default
 * registry offers.
 *
 * The nodes run the synthetic model, each with another hardware profile (the devnet default), so
 * honest outputs may drift apart as on mixed GPUs. Requests carry a fixed deadline, so their ids
 * (and with them the decode seeds) are the same on every run: the outcomes are reproducible.
 *
 * structured@1 compares JSON, which the synthetic model does not produce: it is tested here
 * in-process (participants over a local bus, JSON answers whose numbers differ per node within
 * the tolerance), and over real node processes in node-byzantine.test.ts (fixed backend).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createDefaultPolicyRegistry } from "../../src/agreement/registry.ts";
import { SYNTHETIC_HARDWARE } from "../../src/cli/devnet.ts";
import { Participant } from "../../src/node/participant.ts";
import { SlashingProtection } from "../../src/node/slashing.ts";
import { verifyBundle } from "../../src/quorum/verify.ts";
import type { InferenceBackend, InferenceJob } from "../../src/runner/backend.ts";
import { runSynthetic } from "../../src/runner/synthetic.ts";
import { certifiedAnswer } from "../../src/sequencer/certified.ts";
import { createPool, type PoolOutcome } from "../../src/sequencer/pool.ts";
import { SqliteOutcomeStore } from "../../src/sequencer/store.ts";
import { fromHex, taggedHash } from "../../src/wire/hash.ts";
import type { AttestationMode, PolicyRef, SamplingParams } from "../../src/wire/types.ts";
import { LocalBus } from "../helpers/bus.ts";
import { testNetwork } from "../helpers/fixtures.ts";
import { clusterForSuite } from "../helpers/processes.ts";

const MODEL_SEED = "concord-synthetic-v1";
/** Far in the future and the same each run: request ids, committees and decode seeds repeat. */
const DEADLINE = Date.UTC(2100, 0, 1);
const GREEDY: SamplingParams = { temperatureMilli: 0, topK: 0, topPPpm: 1_000_000, maxTokens: 24 };
const SAMPLED: SamplingParams = { temperatureMilli: 700, topK: 50, topPPpm: 950_000, maxTokens: 24 };

/** Parameters each policy's parseParams accepts. */
const STRUCTURED: PolicyRef = {
  id: "structured",
  version: 1,
  params: { fields: { label: { type: "label" }, price: { type: "number", decimals: 2, relTolPpm: 10_000 } } },
};
const SYNTHETIC_CASES: { policy: PolicyRef; sampling: SamplingParams }[] = [
  { policy: { id: "exact", version: 1, params: {} }, sampling: GREEDY },
  { policy: { id: "seeded", version: 1, params: { epsPpm: 50_000 } }, sampling: SAMPLED },
  { policy: { id: "semantic", version: 2, params: { thetaPpm: 600_000 } }, sampling: SAMPLED },
];

it("covers every live policy of the default registry (not the first-wins baseline, not retired semantic@1)", () => {
  const key = (p: { id: string; version: number }) => `${p.id}@${p.version}`;
  const offered = createDefaultPolicyRegistry().list().filter((policy) => !policy.baselineOnly && !policy.retired).map(key);
  expect(offered.sort()).toEqual([...SYNTHETIC_CASES.map((c) => key(c.policy)), key(STRUCTURED), "structured@2"].sort());
});

describe("five node processes (synthetic model, mixed hardware profiles) and a pool on loopback", () => {
  const suite = clusterForSuite({ nodes: 5, seed: "node-agreement" });

  it("agree under exact, seeded and semantic, in commit-reveal and direct mode; every bundle verifies", async () => {
    const requests = SYNTHETIC_CASES.flatMap((c) => (["commit-reveal", "commit-reveal", "direct"] as AttestationMode[]).map((mode) => ({ ...c, mode })));
    const submitted = await Promise.all(
      requests.map(async (c, i) => {
        const input = `Summarize the proposal number ${i} to raise the lending cap`;
        const submission = { model: "synthetic-v1", input, entropy: taggedHash("e2e/entropy", String(i)), policy: c.policy, mode: c.mode, sampling: c.sampling, deadline: DEADLINE };
        return { ...c, input, id: await suite.cluster.pool.submit(submission) };
      }),
    );
    const policies = createDefaultPolicyRegistry();
    const hardwareOf = new Map(suite.cluster.devnet.nodes.map((node, i) => [node.id, SYNTHETIC_HARDWARE[i % SYNTHETIC_HARDWARE.length] as string]));
    let k = 0;
    for (const request of submitted) {
      const label = `${request.policy.id} ${request.mode}`;
      const outcome = await suite.cluster.outcome(request.id, 20_000);
      expect(outcome.kind, label).toBe("agreed");
      if (outcome.kind !== "agreed") continue;
      const { bundle } = outcome;
      k = bundle.request.k;
      expect(bundle.request.policy).toEqual(request.policy);
      expect(bundle.request.mode).toBe(request.mode);
      expect(bundle.outcome.supporters.length).toBeGreaterThanOrEqual(bundle.request.k);
      if (request.mode === "commit-reveal") expect(bundle.close?.commitments.length).toBeGreaterThanOrEqual(bundle.request.k);
      // Each vote is what that node's synthetic model, on its hardware profile, computes.
      const job = { requestId: fromHex(request.id), model: "synthetic-v1", input: request.input, sampling: request.sampling };
      for (const vote of [...bundle.reveals, ...bundle.outputs]) {
        expect(vote.output, `${label}: ${vote.node}`).toBe(runSynthetic(MODEL_SEED, hardwareOf.get(vote.node) as string, job).output);
      }
      // The one pure function a sequencer (or anyone) runs on a bundle.
      expect(() => verifyBundle(bundle, suite.cluster.registry, policies), label).not.toThrow();
      expect(await suite.cluster.pool.status(request.id)).toBe("agreed");
    }
    expect((await suite.cluster.pool.ready()).length).toBe(submitted.length);
    expect(suite.cluster.pool.counters).toMatchObject({ agreed: submitted.length, noAgreement: 0, badBundles: 0, evidence: 0 });

    // What the nodes' /metrics say about the same run: at least k members of each five-member
    // committee passed a slashing-protection check and signed (a member whose answer came after
    // the decision signs nothing), none was refused, and at least one aggregator per request
    // published its bundle (the first in draw order; another only if that one was too slow).
    const scrape = async (port: number | null) => (port === null ? "" : await fetch(`http://127.0.0.1:${port}/metrics`).then((response) => response.text()));
    const sample = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
    const texts = await Promise.all(suite.cluster.nodes.map((node) => scrape(node.metricsPort)));
    const signed = texts.map((text) => sample(text, 'concord_signing_check_seconds_count\\{outcome="signed"\\}'));
    for (const count of signed) expect(count).toBeLessThanOrEqual(submitted.length);
    expect(signed.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(submitted.length * k);
    for (const text of texts) expect(text).not.toMatch(/concord_signing_check_seconds_count\{outcome="(refused|failed)"\} [1-9]/);
    const published = texts.reduce((sum, text) => sum + sample(text, "concord_bundles_published_total"), 0);
    expect(published).toBeGreaterThanOrEqual(submitted.length);
    expect(published).toBeLessThan(submitted.length * suite.cluster.nodes.length);
  }, 40_000);
});

describe("structured@1 and structured@2 in-process (the synthetic model does not answer JSON)", () => {
  const cleanups: (() => void | Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** Five participants answering `answer(node)` on a local bus, and a pool; the first outcome. */
  async function agreeOn(policy: PolicyRef, answer: (node: string) => string, jobs: InferenceJob[] = []) {
    const net = testNetwork(5);
    const dir = mkdtempSync(join(tmpdir(), "concord-structured-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const bus = new LocalBus();
    for (const [nodeId, key] of net.keys) {
      const slashing = new SlashingProtection({ path: join(dir, `${nodeId}.sqlite`) });
      slashing.open();
      cleanups.push(() => slashing.close());
      const endpoint = bus.endpoint(nodeId);
      const backend: InferenceBackend = {
        name: "json",
        async run(job) {
          jobs.push(job);
          return { output: answer(nodeId), evidence: { tokens: [], margins: [] } };
        },
      };
      const participant = new Participant({
        nodeId,
        key,
        registry: net.registry,
        policies: net.policies,
        backend,
        slashing,
        clock: Date.now,
        publish: (message) => endpoint.publish(message).then(() => undefined),
        logger: { debug() {}, info() {}, warn() {}, error() {} },
      });
      endpoint.attach((message) => participant.receive(message));
      cleanups.push(() => participant.stop());
    }
    const store = new SqliteOutcomeStore({ path: join(dir, "pool.sqlite") });
    store.open();
    const pool = createPool({ registry: net.registry, sequencerKey: net.sequencer, network: bus.endpoint("sequencer"), store, defaults: { n: 5, closeGraceMs: 20, deadlineMs: 5_000 }, tickMs: 5 });
    await pool.start();
    cleanups.push(async () => {
      await pool.stop();
      await store.close();
    });
    const outcomes = pool.outcomes();
    const id = await pool.submit({ model: "oracle-json", input: "price of ETH in USD", entropy: taggedHash("e2e/structured", policy.version.toString()), policy });
    const { value } = await outcomes.next();
    const outcome = value as PoolOutcome;
    expect(outcome.requestId).toBe(id);
    return { outcome, net };
  }

  it("structured@1 agrees on the lower median price of the supporters, labels exact, numbers within the tolerance", async () => {
    // Node i answers 100.00 + 0.1 i (all within 1% of each other); node-04 says another label.
    const answer = (node: string): string => {
      const i = Number(node.slice(-1));
      return JSON.stringify({ label: node === "node-04" ? "sell" : "buy", price: Number((100 + i / 10).toFixed(2)) });
    };
    const { outcome, net } = await agreeOn(STRUCTURED, answer);
    expect(outcome.kind).toBe("agreed");
    if (outcome.kind !== "agreed") return;
    expect(outcome.bundle.outcome.supporters).toEqual(["node-00", "node-01", "node-02", "node-03"]);
    expect(JSON.parse(outcome.bundle.outcome.output)).toEqual({ label: "buy", price: 100.1 });
    expect(() => verifyBundle(outcome.bundle, net.registry, net.policies)).not.toThrow();
  });

  it("structured@2: every node decodes under the request's schema; the bundle certifies the decision fields, the rationale stays one node's text", async () => {
    const policy: PolicyRef = {
      id: "structured",
      version: 2,
      params: {
        properties: {
          action: { enum: ["buy", "sell", "hold"] },
          price: { type: "number", decimals: 2, relTolPpm: 10_000 },
          rationale: { type: "string", commentary: true },
        },
        required: ["action", "price"],
      },
    };
    // Honest nodes differ in price (within 1%) and rationale; node-04 breaks the schema.
    const answer = (node: string): string => {
      const i = Number(node.slice(-1));
      if (node === "node-04") return JSON.stringify({ action: "BUY NOW", price: 100 });
      return JSON.stringify({ rationale: `reason ${i}`, price: Number((100 + i / 10).toFixed(2)), action: "buy" });
    };
    const jobs: InferenceJob[] = [];
    const { outcome, net } = await agreeOn(policy, answer, jobs);
    expect(jobs.length).toBeGreaterThan(0);
    for (const job of jobs) expect(job.outputSchema).toEqual(net.policies.bind(policy).outputSchema);
    expect(outcome.kind).toBe("agreed");
    if (outcome.kind !== "agreed") return;
    expect(outcome.bundle.outcome.supporters).toEqual(["node-00", "node-01", "node-02", "node-03"]);
    expect(outcome.bundle.outcome.output).toBe('{"action":"buy","price":100.1}');
    expect(() => verifyBundle(outcome.bundle, net.registry, net.policies)).not.toThrow();
    expect(certifiedAnswer(outcome.bundle).structured).toEqual({
      certified: { action: "buy", price: "100.1" },
      certifiedFields: ["action", "price"],
      commentary: { node: "node-00", fields: { rationale: "reason 0" } },
    });
  });
});
