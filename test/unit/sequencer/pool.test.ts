import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Participant } from "../../../src/node/participant.ts";
import { SlashingProtection } from "../../../src/node/slashing.ts";
import type { InferenceBackend } from "../../../src/runner/backend.ts";
import { createPool, type Pool, type PoolOutcome } from "../../../src/sequencer/pool.ts";
import { SqliteOutcomeStore } from "../../../src/sequencer/store.ts";
import { taggedHash } from "../../../src/wire/hash.ts";
import { LocalBus } from "../../helpers/bus.ts";
import { testNetwork } from "../../helpers/fixtures.ts";

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** A backend that answers from a table: enough to drive the protocol (models are tested elsewhere). */
function tableBackend(answer: (input: string) => string): InferenceBackend {
  return {
    name: "table",
    async run(job) {
      const output = answer(job.input);
      return { output, evidence: { tokens: [...output].map((c) => c.charCodeAt(0)), margins: [...output].map(() => 1_000_000) } };
    },
  };
}

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(options: { answers?: (node: string, input: string) => string; n?: number } = {}) {
  const net = testNetwork(options.n ?? 5);
  const dir = mkdtempSync(join(tmpdir(), "concord-pool-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const bus = new LocalBus();
  const participants = [...net.keys.entries()].map(([nodeId, key]) => {
    const slashing = new SlashingProtection({ path: join(dir, `${nodeId}.sqlite`) });
    slashing.open();
    cleanups.push(() => slashing.close());
    const endpoint = bus.endpoint(nodeId);
    const participant = new Participant({
      nodeId,
      key,
      registry: net.registry,
      policies: net.policies,
      backend: tableBackend((input) => options.answers?.(nodeId, input) ?? `answer to ${input}`),
      slashing,
      clock: Date.now,
      publish: (message) => endpoint.publish(message).then(() => undefined),
      logger: silent,
    });
    endpoint.attach((message) => participant.receive(message));
    cleanups.push(() => participant.stop());
    return participant;
  });
  const store = new SqliteOutcomeStore({ path: join(dir, "pool.sqlite") });
  store.open();
  const pool = createPool({
    registry: net.registry,
    sequencerKey: net.sequencer,
    network: bus.endpoint("sequencer"),
    store,
    defaults: { n: options.n ?? 5, closeGraceMs: 20, deadlineMs: 2_000 },
    tickMs: 5,
  });
  await pool.start();
  cleanups.push(async () => {
    await pool.stop();
    await store.close();
  });
  return { net, bus, pool, participants, store };
}

async function nextOutcomes(pool: Pool, count: number): Promise<PoolOutcome[]> {
  const outcomes: PoolOutcome[] = [];
  for await (const outcome of pool.outcomes()) {
    outcomes.push(outcome);
    if (outcomes.length === count) break;
  }
  return outcomes;
}

const entropy = (label: string) => taggedHash("entropy", label);

describe("Pool", () => {
  it("submits, closes, collects reveals and hands verified bundles to ready()", async () => {
    const { pool } = await setup();
    const waiting = nextOutcomes(pool, 3);
    const ids = await Promise.all(["a", "b", "c"].map((input) => pool.submit({ model: "m", input, entropy: entropy(input) })));
    const outcomes = await waiting;
    expect(outcomes.map((o) => o.kind)).toEqual(["agreed", "agreed", "agreed"]);
    const ready = await pool.ready();
    expect(ready.map((b) => b.outcome.output).sort()).toEqual(["answer to a", "answer to b", "answer to c"]);
    expect(await pool.status(ids[0]!)).toBe("agreed");
    await pool.markIncluded([ids[0]!], 1);
    expect((await pool.ready()).length).toBe(2);
  });

  it("is idempotent by request id and refuses invalid requests with typed errors", async () => {
    const { pool } = await setup();
    const submission = { model: "m", input: "x", entropy: entropy("x"), deadline: Date.now() + 2_000 };
    expect(await pool.submit(submission)).toBe(await pool.submit(submission));
    await expect(pool.submit({ model: "m", input: "", entropy: entropy("y") })).rejects.toMatchObject({ code: "REQUEST_INVALID" });
    await expect(pool.submit({ model: "m", input: "y", entropy: entropy("y"), n: 4, k: 2 })).rejects.toMatchObject({ code: "REQUEST_INVALID" });
    await expect(pool.submit({ model: "m", input: "y", entropy: entropy("y"), policy: { id: "nope", version: 1, params: {} } })).rejects.toMatchObject({
      code: "POLICY_UNKNOWN",
    });
    await expect(pool.submit({ model: "m", input: "y", entropy: entropy("y"), policy: { id: "semantic", version: 1, params: {} } })).rejects.toMatchObject({
      code: "POLICY_RETIRED",
    });
  });

  it("reports disagreement as NoAgreement with its clusters, never silently", async () => {
    const { pool } = await setup({ answers: (node) => (node < "node-03" ? "yes" : "no") });
    const waiting = nextOutcomes(pool, 1);
    await pool.submit({ model: "m", input: "q", entropy: entropy("q") });
    const [outcome] = await waiting;
    expect(outcome?.kind).toBe("no-agreement");
    if (outcome?.kind !== "no-agreement") return;
    expect(outcome.result.clusters.map((c) => c.members.length)).toEqual([3, 2]);
    expect(await pool.ready()).toEqual([]);
  });

  it("applies backpressure when the in-flight limit is reached", async () => {
    const { pool } = await setup();
    (pool.defaults as { maxInFlight: number }).maxInFlight = 1;
    await pool.submit({ model: "m", input: "one", entropy: entropy("one") });
    await expect(pool.submit({ model: "m", input: "two", entropy: entropy("two") })).rejects.toMatchObject({ code: "BACKPRESSURE" });
  });
});
