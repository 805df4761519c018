/**
 * The pool and the deadline (spec/06, "Deadline"): nothing counts at or after it, whatever the
 * pool's timer has got round to. The clock is the test's, and the timer never fires by itself.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { isConcordError } from "../../../src/errors.ts";
import { createPool } from "../../../src/sequencer/pool.ts";
import { SqliteOutcomeStore } from "../../../src/sequencer/store.ts";
import { fromHex, taggedHash } from "../../../src/wire/hash.ts";
import { decodeMessage } from "../../../src/wire/messages.ts";
import type { KeyPair } from "../../../src/crypto/schemes.ts";
import { commitOutput } from "../../../src/quorum/attest.ts";
import { runRequest, salt, testNetwork } from "../../helpers/fixtures.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "concord-pool-deadline-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it("ignores a valid bundle that arrives at the deadline, before the timer's tick, and resolves NoAgreement", async () => {
  const net = testNetwork(5);
  let now = Date.UTC(2030, 0, 1);
  const store = new SqliteOutcomeStore({ path: join(dir, "pool.sqlite") });
  store.open();
  const pool = createPool({
    registry: net.registry,
    sequencerKey: net.sequencer,
    network: { attach() {}, publish: async () => undefined },
    store,
    defaults: { n: 5, deadlineMs: 1_000 },
    clock: () => now,
    tickMs: 3_600_000,
  });
  await pool.start();
  try {
    const id = await pool.submit({ model: "m", input: "q", entropy: taggedHash("pool-deadline", "late bundle") });
    const request = decodeMessage((await store.get(fromHex(id)))?.request.encoded as Uint8Array, "request");
    // A committee that agreed, and an aggregator whose bundle is a tick late.
    const { collector } = runRequest(net, request, () => ({ output: "Paris" }));
    const bundle = collector.bundle;
    expect(bundle).toBeDefined();
    if (!bundle) return;
    now = request.deadline;
    let refused: unknown;
    try {
      pool.receive(bundle);
    } catch (error) {
      refused = error;
    }
    expect(isConcordError(refused, "EXPIRED")).toBe(true);
    const outcomes = pool.outcomes();
    const next = outcomes.next();
    pool.tick();
    expect((await next).value).toMatchObject({ kind: "no-agreement", requestId: id, result: { reason: "deadline" } });
    await outcomes.return(undefined);
    expect(await pool.status(id)).toBe("no-agreement");
    expect(await pool.ready()).toEqual([]);
    expect((await store.get(fromHex(id)))?.outcome?.kind).toBe("no-agreement");
  } finally {
    await pool.stop();
    await store.close();
  }
});

it("closes with the time its tick judged by: a clock that passes the deadline while the tick runs does not throw from the timer", async () => {
  // Seen in the soak bench on a loaded machine: the tick checked `now < deadline`, the close it
  // then signed read the clock again, past the deadline, and the EXPIRED thrown from the timer
  // killed the sequencer's process.
  const net = testNetwork(5);
  const start = Date.UTC(2030, 0, 1);
  let now = start;
  let calls: number | undefined;
  const store = new SqliteOutcomeStore({ path: join(dir, "pool.sqlite") });
  store.open();
  const pool = createPool({
    registry: net.registry,
    sequencerKey: net.sequencer,
    network: { attach() {}, publish: async () => undefined },
    store,
    defaults: { n: 5, k: 4, deadlineMs: 1_000, closeGraceMs: 250 },
    // Once armed: the tick's first reading is a millisecond before the deadline, every later one at it.
    clock: () => (calls === undefined ? now : calls++ === 0 ? start + 999 : start + 1_000),
    tickMs: 3_600_000,
  });
  await pool.start();
  try {
    const id = await pool.submit({ model: "m", input: "q", entropy: taggedHash("pool-deadline", "close at the edge") });
    const request = decodeMessage((await store.get(fromHex(id)))?.request.encoded as Uint8Array, "request");
    const { context } = runRequest(net, request, () => undefined);
    for (const node of context.committee.slice(0, 4)) {
      const key = net.keys.get(node) as KeyPair;
      pool.receive(commitOutput(key, { chain: request.chain, request: context.id, node, output: "Paris" }, salt(node)).commitment);
    }
    now = start + 500;
    calls = 0;
    expect(() => pool.tick()).not.toThrow();
    const outcomes = pool.outcomes();
    const next = outcomes.next();
    pool.tick();
    expect((await next).value).toMatchObject({ kind: "no-agreement", requestId: id });
    await outcomes.return(undefined);
  } finally {
    await pool.stop();
    await store.close();
  }
});
