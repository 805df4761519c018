/**
 * The pool's retry policy: a NoAgreement is retried as a new request (fresh entropy, so a fresh
 * committee; optionally the next policy), linked to the first, with a fresh deadline, up to
 * maxRetries; and a restarted pool carries an unfinished chain on where it stopped.
 * No committee answers here (a publish that goes nowhere), so every attempt ends at its deadline.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createPool, type Pool, type PoolOutcome } from "../../../src/sequencer/pool.ts";
import { SqliteOutcomeStore } from "../../../src/sequencer/store.ts";
import { fromHex, taggedHash } from "../../../src/wire/hash.ts";
import { decodeMessage } from "../../../src/wire/messages.ts";
import type { PolicyRef } from "../../../src/wire/types.ts";
import { testNetwork } from "../../helpers/fixtures.ts";

const SEEDED: PolicyRef = { id: "seeded", version: 1, params: {} };
const SEMANTIC: PolicyRef = { id: "semantic", version: 2, params: {} };
const DEADLINE_MS = 1_000;
const nowhere = { attach() {}, publish: async () => undefined };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "concord-pool-retry-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function harness() {
  const net = testNetwork(5);
  let now = Date.UTC(2030, 0, 1);
  const path = join(dir, "pool.sqlite");
  const open = async () => {
    const store = new SqliteOutcomeStore({ path });
    store.open();
    const pool = createPool({
      registry: net.registry,
      sequencerKey: net.sequencer,
      network: nowhere,
      store,
      defaults: { n: 5, deadlineMs: DEADLINE_MS, retry: { maxRetries: 2, escalate: [SEEDED, SEMANTIC] } },
      clock: () => now,
      tickMs: 3_600_000,
    });
    await pool.start();
    const outcomes = pool.outcomes();
    return {
      pool,
      store,
      /** Moves past every deadline in flight, ticks, and returns the next outcome. */
      async expire(): Promise<PoolOutcome> {
        now += DEADLINE_MS + 1;
        pool.tick();
        return (await outcomes.next()).value as PoolOutcome;
      },
      async stop() {
        await pool.stop();
        await store.close();
      },
    };
  };
  return { open, now: () => now };
}

async function requestOf(pool: Pool, store: SqliteOutcomeStore, id: string) {
  await pool.status(id); // waits for queued writes
  const record = await store.get(fromHex(id));
  return { request: decodeMessage(record?.request.encoded as Uint8Array, "request"), retryOf: record?.request.retryOf };
}

describe("pool retries", () => {
  it("retries a NoAgreement as a new linked request with the next policy and a fresh deadline, up to maxRetries", async () => {
    const h = harness();
    const p = await h.open();
    try {
      // An absolute deadline: a retry must not copy it (it has passed by then).
      const first = await p.pool.submit({ model: "m", input: "q", entropy: taggedHash("retry", "q"), deadline: h.now() + DEADLINE_MS });
      const a = await p.expire();
      expect(a).toMatchObject({ kind: "no-agreement", requestId: first });
      const second = a.kind === "no-agreement" ? a.retriedAs : undefined;
      expect(second).toBeDefined();
      const retried = await requestOf(p.pool, p.store, second as string);
      expect(retried.request.policy).toEqual(SEEDED);
      expect(retried.request.deadline).toBe(h.now() + DEADLINE_MS);
      expect(retried.retryOf).toEqual(fromHex(first));
      expect(await p.pool.status(second as string)).toBe("pending");

      const b = await p.expire();
      expect(b).toMatchObject({ kind: "no-agreement", requestId: second, retryOf: first });
      const third = b.kind === "no-agreement" ? b.retriedAs : undefined;
      expect((await requestOf(p.pool, p.store, third as string)).request.policy).toEqual(SEMANTIC);

      const c = await p.expire();
      expect(c).toMatchObject({ kind: "no-agreement", requestId: third, retryOf: first });
      expect(c.kind === "no-agreement" ? c.retriedAs : "?").toBeUndefined();
      expect(p.pool.counters.retries).toBe(2);
    } finally {
      await p.stop();
    }
  });

  it("carries an unfinished retry chain on after a restart: same escalation, same limit", async () => {
    const h = harness();
    const before = await h.open();
    const first = await before.pool.submit({ model: "m", input: "q", entropy: taggedHash("retry", "restart") });
    const a = await before.expire();
    const second = a.kind === "no-agreement" ? (a.retriedAs as string) : "";
    await before.pool.status(second);
    await before.stop();

    const after = await h.open();
    try {
      expect(await after.pool.status(second)).toBe("pending");
      const b = await after.expire();
      expect(b).toMatchObject({ kind: "no-agreement", requestId: second, retryOf: first });
      const third = b.kind === "no-agreement" ? (b.retriedAs as string) : "";
      const retried = await requestOf(after.pool, after.store, third);
      expect(retried.request.policy).toEqual(SEMANTIC);
      expect(retried.retryOf).toEqual(fromHex(first));
      const c = await after.expire();
      expect(c).toMatchObject({ kind: "no-agreement", requestId: third });
      expect(c.kind === "no-agreement" ? c.retriedAs : "?").toBeUndefined();
    } finally {
      await after.stop();
    }
  });
});
